/**
 * Finding what claims to sign an image digest, everywhere cosign and actions/attest put it:
 * - cosign's legacy tags: `sha256-<hex>.sig` (one simple-signing layer per signature) and
 *   `sha256-<hex>.att` (one DSSE envelope layer per attestation);
 * - OCI referrers of the digest (the referrers API, or the `sha256-<hex>` fallback index tag on
 *   registries without it) whose manifest carries a Sigstore bundle (cosign v3, actions/attest).
 *
 * Nothing found here is trusted: the verifier checks every piece. Discovery only reads, and it
 * reads each referrer's manifest itself rather than trusting the descriptor in the index (an index
 * copied from another image lists referrers whose subject is that other image: they are dropped,
 * and the drop is reported). Bounded: at most MAX_REFERRERS referrers and MAX_LAYERS layers are
 * read, and every blob has a size cap.
 */
import { LEGACY_ANNOTATIONS, attestationTag, signatureTag } from '../formats/cosign-legacy'
import { BUNDLE_ANNOTATIONS, referrersFallbackTag } from '../formats/referrers'
import { describeError } from '../errors'
import { mapLimit } from '../concurrency'
import {
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Registry,
  type Repository,
} from '../registry/types'
import type { LegacySignature } from './legacy'

/** cosign reads at most this many signature layers; so does Signet (a DoS bound). */
const MAX_LAYERS = 100
const MAX_REFERRERS = 100
const MAX_SIGNATURE_BYTES = 1024 * 1024
/** Attestations hold SBOMs: sign mode refuses more than 16 MB; allow the envelope's base64 growth. */
const MAX_ATTESTATION_BYTES = 24 * 1024 * 1024
const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle'
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1'
const BUNDLE_PREDICATE_TYPE_ANNOTATION = BUNDLE_ANNOTATIONS.predicateType

export interface FoundLegacySignature {
  /** `repo:sha256-….sig` and the layer's position. */
  reference: string
  signature: LegacySignature
}

export interface FoundLegacyAttestation {
  reference: string
  /** The layer's DSSE envelope; not read when no rule needs an attestation of its type. */
  envelope?: Buffer
  annotations: Record<string, string>
}

export interface FoundBundle {
  /** `repo@sha256:…` of the referrer manifest. */
  reference: string
  /** The parsed bundle JSON (checked by the verifier); not read when no rule needs its type. */
  json?: unknown
  /** The envelope's (unverified) statement's, else the referrer's annotation: for sorting only. */
  predicateType?: string
}

export interface Discovery {
  signatures: FoundLegacySignature[]
  attestations: FoundLegacyAttestation[]
  bundles: FoundBundle[]
  /** Things found and set aside, for the report (e.g. a referrer of another image). */
  notes: string[]
  /** How referrers were listed. */
  referrersFrom: 'api' | 'fallback-tag'
}

function parseJson<T>(bytes: Buffer): T | undefined {
  try {
    return JSON.parse(bytes.toString('utf8')) as T
  } catch {
    return undefined
  }
}

async function legacyLayers(
  registry: Registry,
  repo: Repository,
  tag: string,
  maxBytes: number,
  notes: string[],
  skip: (annotations: Record<string, string>) => boolean = () => false,
): Promise<{ reference: string; bytes?: Buffer; annotations: Record<string, string> }[]> {
  const fetched = await registry.getManifest(repo, tag, [
    MEDIA_TYPES.ociManifest,
    MEDIA_TYPES.dockerManifest,
  ])
  if (!fetched) return []
  const manifest = parseJson<ImageManifest>(fetched.bytes)
  const reference = `${repo.registry}/${repo.repository}:${tag}`
  if (!manifest || !Array.isArray(manifest.layers)) {
    notes.push(`${reference} is not an image manifest: ignored`)
    return []
  }
  if (manifest.layers.length > MAX_LAYERS)
    notes.push(`${reference} has ${manifest.layers.length} layers: read the first ${MAX_LAYERS}`)
  const layers = manifest.layers.slice(0, MAX_LAYERS)
  const read = await mapLimit(layers, 8, async (layer, i) => {
    const found = { reference: `${reference} layer ${i + 1}`, annotations: layer.annotations ?? {} }
    if (skip(found.annotations)) return found
    try {
      return { ...found, bytes: await registry.getBlob(repo, layer.digest, maxBytes) }
    } catch (err) {
      notes.push(`${reference} layer ${i + 1} could not be read: ${describeError(err)}`)
      return undefined
    }
  })
  return read.filter((l) => l !== undefined)
}

/** The predicate type a DSSE bundle claims, read without verifying (to sort, never to trust). */
export function claimedPredicateType(bundleJson: unknown): string | undefined {
  const content = (bundleJson as { dsseEnvelope?: { payload?: unknown } } | undefined)?.dsseEnvelope
  if (typeof content?.payload !== 'string') return undefined
  const statement = parseJson<{ predicateType?: unknown }>(Buffer.from(content.payload, 'base64'))
  return typeof statement?.predicateType === 'string' ? statement.predicateType : undefined
}

/** The referrers of `digest`: the API when the registry serves it, else the fallback tag. */
async function listReferrers(
  registry: Registry,
  repo: Repository,
  digest: string,
): Promise<{ descriptors: Descriptor[]; from: Discovery['referrersFrom'] }> {
  const index = await registry.referrers(repo, digest)
  if (index) return { descriptors: index.manifests ?? [], from: 'api' }
  const fallback = await registry.getManifest(repo, referrersFallbackTag(digest), [
    MEDIA_TYPES.ociIndex,
  ])
  const parsed = fallback ? parseJson<ImageIndex>(fallback.bytes) : undefined
  return { descriptors: parsed?.manifests ?? [], from: 'fallback-tag' }
}

async function bundleReferrers(
  registry: Registry,
  repo: Repository,
  digest: string,
  notes: string[],
  needsAttestation: (predicateType: string) => boolean,
): Promise<{ bundles: FoundBundle[]; from: Discovery['referrersFrom'] }> {
  const { descriptors, from } = await listReferrers(registry, repo, digest)
  const unique = [...new Map(descriptors.map((d) => [d.digest, d])).values()]
  if (unique.length > MAX_REFERRERS)
    notes.push(`${unique.length} referrers: read the first ${MAX_REFERRERS}`)
  const found = await mapLimit(unique.slice(0, MAX_REFERRERS), 8, async (descriptor) => {
    const reference = `${repo.registry}/${repo.repository}@${descriptor.digest}`
    // The index says little that can be trusted: read the manifest it points to.
    let manifest: ImageManifest | undefined
    try {
      const fetched = await registry.getManifest(repo, descriptor.digest, [MEDIA_TYPES.ociManifest])
      manifest = fetched ? parseJson<ImageManifest>(fetched.bytes) : undefined
    } catch (err) {
      notes.push(`referrer ${reference} could not be read: ${describeError(err)}`)
      return []
    }
    if (!manifest || !Array.isArray(manifest.layers)) return []
    const artifactType = manifest.artifactType ?? manifest.config?.mediaType ?? ''
    const bundleLayers = manifest.layers.filter((l) =>
      l.mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX),
    )
    if (!artifactType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX) && bundleLayers.length === 0) return []
    if (manifest.subject?.digest !== digest) {
      notes.push(
        `referrer ${reference} is about ${manifest.subject?.digest ?? 'no image'}, not this ` +
          'digest: ignored',
      )
      return []
    }
    const bundles: FoundBundle[] = []
    const annotated = manifest.annotations?.[BUNDLE_PREDICATE_TYPE_ANNOTATION]
    for (const layer of bundleLayers.slice(0, MAX_LAYERS)) {
      if (annotated && annotated !== COSIGN_SIGN_PREDICATE && !needsAttestation(annotated)) {
        bundles.push({ reference, predicateType: annotated })
        continue
      }
      try {
        const bytes = await registry.getBlob(repo, layer.digest, MAX_ATTESTATION_BYTES)
        const json = parseJson<unknown>(bytes)
        bundles.push({
          reference,
          json,
          // The statement's own claim first: that is what verification will check.
          predicateType: claimedPredicateType(json) ?? annotated,
        })
      } catch (err) {
        notes.push(`referrer ${reference} could not be read: ${describeError(err)}`)
      }
    }
    return bundles
  })
  return { bundles: found.flat(), from }
}

/**
 * Everything that claims to sign or attest `digest` in `repo`. `needsAttestation` says which
 * attestation types will be checked: an attestation whose annotation names another type is listed
 * without downloading it (SBOMs run to megabytes). Trusting the annotation here can only hide an
 * attestation, which fails a requirement closed; one that claims a needed type is read and its
 * verified statement decides.
 */
export async function discover(
  registry: Registry,
  repo: Repository,
  digest: string,
  needsAttestation: (predicateType: string) => boolean = () => true,
): Promise<Discovery> {
  const notes: string[] = []
  const unneeded = (annotations: Record<string, string>): boolean => {
    const annotated = annotations[LEGACY_ANNOTATIONS.predicateType]
    return Boolean(annotated) && !needsAttestation(annotated)
  }
  const [sigLayers, attLayers, referrers] = await Promise.all([
    legacyLayers(registry, repo, signatureTag(digest), MAX_SIGNATURE_BYTES, notes),
    legacyLayers(registry, repo, attestationTag(digest), MAX_ATTESTATION_BYTES, notes, unneeded),
    bundleReferrers(registry, repo, digest, notes, needsAttestation),
  ])
  return {
    signatures: sigLayers.flatMap((l) =>
      l.bytes
        ? [{ reference: l.reference, signature: { payload: l.bytes, annotations: l.annotations } }]
        : [],
    ),
    attestations: attLayers.map((l) => ({
      reference: l.reference,
      envelope: l.bytes,
      annotations: l.annotations,
    })),
    bundles: referrers.bundles,
    notes,
    referrersFrom: referrers.from,
  }
}

/**
 * The predicate type a legacy `.att` layer claims: its (unverified) statement's, which is what
 * verification checks, else the annotation (old cosign wrote none).
 */
export function claimedAttestationType(att: FoundLegacyAttestation): string | undefined {
  const envelope = att.envelope && parseJson<{ payload?: unknown }>(att.envelope)
  const statement =
    typeof envelope?.payload === 'string'
      ? parseJson<{ predicateType?: unknown }>(Buffer.from(envelope.payload, 'base64'))
      : undefined
  if (typeof statement?.predicateType === 'string') return statement.predicateType
  return att.annotations[LEGACY_ANNOTATIONS.predicateType] || undefined
}
