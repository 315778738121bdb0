/** Sign mode: every resolved digest signed once, in the chosen formats, in parallel with a bound. */
import { bundleToJSON, type Bundle } from '@sigstore/bundle'
import { ByteBudget, mapLimit } from '../concurrency'
import { describeError } from '../errors'
import { appliesTo, type PlannedAttestation } from './attestation-plan'
import {
  attestationTag,
  DSSE_ENVELOPE_MEDIA_TYPE,
  legacyAnnotations,
  type LegacyLayer,
} from '../formats/cosign-tags'
import { describeStoreFailure, type AttestationStore } from '../github/attestation-store'
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from '../formats/simple-signing'
import {
  buildSignatureStatement,
  COSIGN_SIGN_PREDICATE_TYPE,
  serializeAttestationStatement,
  serializeStatement,
} from '../formats/statement'
import type { SignatureFormat } from '../inputs'
import { appendToLegacyTag, writeLegacySignature } from '../storage/write-tags'
import { ReferrersSupport, writeBundleReferrer } from '../storage/write-referrer'
import { SettleWindow, type TagUpdateOptions } from '../storage/tag-update'
import { signatureStore, type SignatureStore } from '../storage/signature-repository'
import type { ImageReference } from '../registry/reference'
import type { Registry } from '../registry/types'
import type { AttestationRecord, ImageResult, Logger, SignatureRecord } from '../report/types'
import type { ResolvedImage } from '../subjects/resolve'
import type { SigningSession } from '../sigstore/signing-session'

/**
 * Images signed at once. The work is waiting on registries and Rekor, not computing, so a
 * generous bound helps; it stays bounded so a registry is not flooded.
 */
export const SIGN_CONCURRENCY = 16

export interface SignOptions {
  format: SignatureFormat
  annotations: Record<string, string>
  /** Attested to each requested image (not to the platform manifests `recursive` adds). */
  attestations?: PlannedAttestation[]
  /** GitHub's attestations API, when github-attestations is on. */
  githubStore?: AttestationStore
  /**
   * Receives every bundle of an image once the image is signed: its tags read back holding its
   * signatures (bundle-path). A bundle whose tag never settled is not handed out.
   */
  onBundle?: (bundle: Bundle) => void
  /** Where signatures and attestations go instead of each image's repository (COSIGN_REPOSITORY). */
  signatureRepository?: ImageReference
  concurrency?: number
  log: Logger
}

export interface SignRun {
  results: ImageResult[]
  /** How many bundles went to onBundle (those of the images signed). */
  bundleCount: number
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
  let bundleCount = 0
  const collect = (bundle: Bundle): void => {
    bundleCount++
    options.onBundle?.(bundle)
  }
  const support = new ReferrersSupport()
  const concurrency = options.concurrency ?? SIGN_CONCURRENCY
  // Every image's shared tags are written first, then one settle pause for the whole run, then
  // every tag is read back (tag-update.ts): no image holds its slot through a pause.
  const window = new SettleWindow({ concurrency })
  const attestRun: AttestRun = {
    registry,
    session,
    format: options.format,
    support,
    budget: new ByteBudget(ATTESTATION_MEMORY_BUDGET),
    log: options.log,
  }
  const written = await mapLimit(images, concurrency, async (image) => {
    const confirmations: Promise<number>[] = []
    const store = signatureStore(image, options.signatureRepository)
    // Handed out once the image's tags are confirmed, after the settle window (below).
    const made: Bundle[] = []
    const tagOptions: TagUpdateOptions = { deferTo: { window, confirmations } }
    const result: ImageResult = {
      image: image.name,
      digest: image.digest,
      mediaType: image.descriptor.mediaType,
      parent: image.parent,
      platform: image.platform,
      signed: false,
      signatures: [],
      attestations: [],
    }
    try {
      // The formats and the attestations are independent writes: do them at once.
      const attestations = image.parent
        ? []
        : (options.attestations ?? []).filter((a) => appliesTo(a, image.name, image.digest))
      const [legacy, bundle, attested] = await Promise.all([
        options.format !== 'bundle'
          ? signLegacy(registry, session, image, store, options.annotations, tagOptions)
          : undefined,
        options.format !== 'legacy'
          ? signBundle(registry, session, image, store, options.annotations, support, tagOptions)
          : undefined,
        attestImage(attestRun, image, store, attestations, tagOptions),
      ])
      for (const signed of [legacy, bundle]) {
        if (!signed) continue
        made.push(signed.bundle)
        result.signatures.push(signed.record)
      }
      for (const a of attested) {
        made.push(a.bundle)
        result.attestations.push(...a.records)
      }
      if (options.githubStore) {
        const toStore = [bundle?.bundle, ...attested.map((a) => a.bundle)].filter(
          (b): b is Bundle => b !== undefined,
        )
        await storeOnGitHub(options.githubStore, toStore, image, result, options.log)
      }
      result.signed = true
    } catch (err) {
      return { result, confirmations, made: [], failure: { reason: err } }
    }
    return { result, confirmations, made }
  })
  window.close()
  // An image is signed once every tag it wrote has been read back holding its signatures.
  const errors: unknown[] = []
  const results: ImageResult[] = []
  for (const { result, confirmations, made, failure } of written) {
    const confirmed = await Promise.allSettled(confirmations)
    const unconfirmed = confirmed.find((c) => c.status === 'rejected')
    const reason: unknown = failure ? failure.reason : (unconfirmed?.reason as unknown)
    if (failure || unconfirmed) {
      result.signed = false
      result.error = describeError(reason)
      errors.push(reason)
      options.log.warning(`${result.image}@${result.digest}: not signed: ${result.error}`)
    } else {
      for (const bundle of made) collect(bundle)
    }
    results.push(result)
  }
  return { results, bundleCount, errors }
}

interface Written {
  bundle: Bundle
  record: SignatureRecord
}

async function signLegacy(
  registry: Registry,
  session: SigningSession,
  image: ResolvedImage,
  store: SignatureStore,
  annotations: Record<string, string>,
  tagOptions: TagUpdateOptions,
): Promise<Written> {
  const payload = buildSimpleSigningPayload(image.name, image.digest, annotations)
  const signed = await session.signPayload(payload)
  const tag = await writeLegacySignature(
    registry,
    store.repo,
    image.digest,
    {
      mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
      bytes: payload,
      annotations: legacyAnnotations(signed.legacy),
    },
    tagOptions,
  )
  return {
    bundle: signed.bundle,
    record: { format: 'legacy', reference: `${store.name}:${tag}`, ...tlogFacts(signed.bundle) },
  }
}

async function signBundle(
  registry: Registry,
  session: SigningSession,
  image: ResolvedImage,
  store: SignatureStore,
  annotations: Record<string, string>,
  support: ReferrersSupport,
  tagOptions: TagUpdateOptions,
): Promise<Written> {
  const statement = serializeStatement(buildSignatureStatement(image.digest, annotations))
  const signed = await session.signStatement(statement)
  const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(signed.bundle)))
  const written = await writeBundleReferrer(
    registry,
    store.repo,
    image.descriptor,
    bundleJson,
    COSIGN_SIGN_PREDICATE_TYPE,
    support,
    tagOptions,
  )
  return {
    bundle: signed.bundle,
    record: {
      format: 'bundle',
      reference: `${store.name}@${written.digest}`,
      fallbackTag: written.fallbackTag,
      ...tlogFacts(signed.bundle),
    },
  }
}

/** Bytes of attestation encodings held at once across images (see ByteBudget). */
const ATTESTATION_MEMORY_BUDGET = 64 * 1024 * 1024

/** Kyverno's limit on a bundle layer it reads. */
const KYVERNO_MAX_BUNDLE_BYTES = 10 * 1024 * 1024

interface Attested {
  bundle: Bundle
  records: AttestationRecord[]
}

/**
 * Each attestation signed once (one DSSE envelope, one Rekor entry) and written in the chosen
 * formats: the envelope as a `.att` layer (all of an image's in one tag update) and the bundle as
 * a referrer.
 */
async function attestImage(
  run: AttestRun,
  image: ResolvedImage,
  store: SignatureStore,
  attestations: PlannedAttestation[],
  tagOptions: TagUpdateOptions,
): Promise<Attested[]> {
  if (attestations.length === 0) return []
  // The statement, its base64 in the envelope, the bundle and the layer each hold the predicate.
  const bytes = attestations.reduce((n, a) => n + 5 * a.predicateJson.length, 0)
  return run.budget.use(bytes, async () =>
    writeAttestations(run, image, store, attestations, tagOptions),
  )
}

/** What every image's attestations share in one run. */
interface AttestRun {
  registry: Registry
  session: SigningSession
  format: SignatureFormat
  support: ReferrersSupport
  budget: ByteBudget
  log: Logger
}

async function writeAttestations(
  { registry, session, format, support, log }: AttestRun,
  image: ResolvedImage,
  store: SignatureStore,
  attestations: PlannedAttestation[],
  tagOptions: TagUpdateOptions,
): Promise<Attested[]> {
  const signed = await Promise.all(
    attestations.map(async (a) => ({
      attestation: a,
      signed: await session.signStatement(
        serializeAttestationStatement(image.name, image.digest, a.predicateType, a.predicateJson),
      ),
    })),
  )
  const attested: Attested[] = signed.map((s) => ({ bundle: s.signed.bundle, records: [] }))
  const writes: Promise<void>[] = []
  if (format !== 'bundle') {
    const layers: LegacyLayer[] = signed.map((s) => ({
      mediaType: DSSE_ENVELOPE_MEDIA_TYPE,
      bytes: s.signed.envelopeJson,
      annotations: legacyAnnotations(s.signed.legacy, s.attestation.predicateType),
    }))
    const tag = attestationTag(image.digest)
    writes.push(
      appendToLegacyTag(registry, store.repo, tag, layers, tagOptions).then(() => {
        signed.forEach((s, i) =>
          attested[i].records.push({
            predicateType: s.attestation.predicateType,
            format: 'legacy',
            reference: `${store.name}:${tag}`,
            ...tlogFacts(s.signed.bundle),
          }),
        )
      }),
    )
  }
  if (format !== 'legacy') {
    signed.forEach((s, i) => {
      const bundleJson = Buffer.from(JSON.stringify(bundleToJSON(s.signed.bundle)))
      if (bundleJson.length > KYVERNO_MAX_BUNDLE_BYTES) {
        log.warning(
          `${image.name}@${image.digest}: the ${s.attestation.predicateType} bundle is ` +
            `${(bundleJson.length / 1024 / 1024).toFixed(1)} MB; Kyverno reads no bundle over 10 MB ` +
            '(the predicate is base64-encoded inside, a third larger than the file)',
        )
      }
      writes.push(
        writeBundleReferrer(
          registry,
          store.repo,
          image.descriptor,
          bundleJson,
          s.attestation.predicateType,
          support,
          tagOptions,
        ).then((written) => {
          attested[i].records.push({
            predicateType: s.attestation.predicateType,
            format: 'bundle',
            reference: `${store.name}@${written.digest}`,
            fallbackTag: written.fallbackTag,
            ...tlogFacts(s.signed.bundle),
          })
        }),
      )
    })
  }
  await Promise.all(writes)
  return attested
}

/** GitHub's attestations API is a copy for `gh attestation verify`: a failure there only warns. */
async function storeOnGitHub(
  store: AttestationStore,
  bundles: Bundle[],
  image: ResolvedImage,
  result: ImageResult,
  log: Logger,
): Promise<void> {
  for (const bundle of bundles) {
    try {
      const stored = await store.store(bundleToJSON(bundle), image.digest)
      const predicateType = predicateTypeOf(bundle)
      // One signed attestation is written in each format asked for: every record of it gets the
      // URL, so which write finished first does not decide where a reader finds it.
      for (const record of result.attestations) {
        if (record.predicateType === predicateType && stored.url) {
          record.githubAttestation = stored.url
        }
      }
    } catch (err) {
      log.warning(`${image.name}@${image.digest}: ${describeStoreFailure(err)}`)
      return
    }
  }
}

function predicateTypeOf(bundle: Bundle): string | undefined {
  if (bundle.content.$case !== 'dsseEnvelope') return undefined
  try {
    return (
      JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8')) as { predicateType?: string }
    ).predicateType
  } catch {
    return undefined
  }
}
