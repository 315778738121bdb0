/** Sign mode: every resolved digest signed once, in the chosen formats, in parallel with a bound. */
import { bundleToJSON, type Bundle } from '@sigstore/bundle'
import { mapLimit } from './concurrency'
import { legacyAnnotations } from './formats/cosign-legacy'
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from './formats/simple-signing'
import {
  buildSignatureStatement,
  COSIGN_SIGN_PREDICATE_TYPE,
  serializeStatement,
} from './formats/statement'
import type { SignatureFormat } from './inputs'
import { writeLegacySignature } from './publish/legacy'
import { ReferrersSupport, writeBundleReferrer } from './publish/referrer'
import type { Registry } from './registry/types'
import type { ImageResult, Logger, SignatureRecord } from './report/types'
import type { ResolvedImage } from './resolve'
import type { SigningSession } from './sigstore/signing'
import { describe } from './sigstore/keyless-signer'

/**
 * Images signed at once. The work is waiting on registries and Rekor, not computing, so a
 * generous bound helps; it stays bounded so a registry is not flooded.
 */
export const SIGN_CONCURRENCY = 16

export interface SignOptions {
  format: SignatureFormat
  annotations: Record<string, string>
  concurrency?: number
  log: Logger
}

export interface SignRun {
  results: ImageResult[]
  /** Every bundle produced, for the bundle-path output. */
  bundles: Bundle[]
  /** Why images were not signed, in result order (for the step's one error). */
  errors: unknown[]
}

function tlogFacts(bundle: Bundle): Pick<SignatureRecord, 'rekorLogIndex' | 'rekorIntegratedTime'> {
  const entry = bundle.verificationMaterial.tlogEntries[0]
  return entry
    ? { rekorLogIndex: Number(entry.logIndex), rekorIntegratedTime: Number(entry.integratedTime) }
    : {}
}

export async function signImages(
  registry: Registry,
  session: SigningSession,
  images: ResolvedImage[],
  options: SignOptions,
): Promise<SignRun> {
  const bundles: Bundle[] = []
  const errors: unknown[] = []
  const support = new ReferrersSupport()
  const results = await mapLimit(images, options.concurrency ?? SIGN_CONCURRENCY, async (image) => {
    const result: ImageResult = {
      image: image.name,
      digest: image.digest,
      mediaType: image.descriptor.mediaType,
      parent: image.parent,
      platform: image.platform,
      signed: false,
      signatures: [],
    }
    try {
      // The two formats are independent writes: do them at once.
      const [legacy, bundle] = await Promise.all([
        options.format !== 'bundle'
          ? signLegacy(registry, session, image, options.annotations)
          : undefined,
        options.format !== 'legacy'
          ? signBundle(registry, session, image, options.annotations, support)
          : undefined,
      ])
      for (const signed of [legacy, bundle]) {
        if (!signed) continue
        bundles.push(signed.bundle)
        result.signatures.push(signed.record)
      }
      result.signed = true
    } catch (err) {
      errors.push(err)
      result.error = describe(err)
      options.log.warning(`${image.name}@${image.digest}: not signed: ${result.error}`)
    }
    return result
  })
  return { results, bundles, errors }
}

interface Written {
  bundle: Bundle
  record: SignatureRecord
}

async function signLegacy(
  registry: Registry,
  session: SigningSession,
  image: ResolvedImage,
  annotations: Record<string, string>,
): Promise<Written> {
  const payload = buildSimpleSigningPayload(image.name, image.digest, annotations)
  const signed = await session.signPayload(payload)
  const tag = await writeLegacySignature(registry, image.repo, image.digest, {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    bytes: payload,
    annotations: legacyAnnotations(signed.legacy),
  })
  return {
    bundle: signed.bundle,
    record: { format: 'legacy', reference: `${image.name}:${tag}`, ...tlogFacts(signed.bundle) },
  }
}

async function signBundle(
  registry: Registry,
  session: SigningSession,
  image: ResolvedImage,
  annotations: Record<string, string>,
  support: ReferrersSupport,
): Promise<Written> {
  const statement = serializeStatement(buildSignatureStatement(image.digest, annotations))
  const signed = await session.signStatement(statement)
  const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(signed.bundle)))
  const written = await writeBundleReferrer(
    registry,
    image.repo,
    image.descriptor,
    bundleJson,
    COSIGN_SIGN_PREDICATE_TYPE,
    support,
  )
  return {
    bundle: signed.bundle,
    record: {
      format: 'bundle',
      reference: `${image.name}@${written.digest}`,
      fallbackTag: written.fallbackTag,
      ...tlogFacts(signed.bundle),
    },
  }
}
