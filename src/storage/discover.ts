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
 * and the drop is reported).
 *
 * Bounded work per image, whoever runs the registry: every blob is downloaded once per image
 * however many layers or referrers name it, and only when a rule needs it; each has a size cap;
 * everything read (manifests and blobs) counts against a per-image byte budget; and the listings
 * are capped (MAX_SIGNATURE_LAYERS, MAX_BUNDLE_REFERRERS here, MAX_LISTED_REFERRERS and
 * MAX_REFERRER_PAGES in src/registry/types.ts). Over the budget or a referrers cap the image fails
 * with a REGISTRY_LIMIT error naming the limit; text from the registry reaches notes only bounded.
 *
 * With a signature repository (cosign's COSIGN_REPOSITORY, see signature-repository.ts), the tags
 * and referrers are read there instead of in the image's repository, as cosign reads them.
 *
 * With a GitHub source (`github-attestations: true`), the digest's attestations in GitHub's
 * artifact attestations API (where actions/attest stores them by default) join the bundles too,
 * read under the same byte budget (src/github/attestation-lookup.ts).
 */
import { LEGACY_ANNOTATIONS, attestationTag, signatureTag } from '../formats/cosign-tags'
import { BUNDLE_ANNOTATIONS, referrersFallbackTag } from '../formats/referrers'
import { describeError, isSignetError, type SignetError } from '../errors'
import { mapLimit } from '../concurrency'
import { registryText } from '../registry/client'
import { isDigest } from '../registry/reference'
import {
  MAX_LISTED_REFERRERS,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  registryLimit,
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
  type Registry,
  type Repository,
} from '../registry/types'
import type { GitHubAttestationSource } from '../github/attestation-lookup'
import type { LegacySignature } from '../verify/sig-layer'

/**
 * Layers read from one manifest (a `.sig`, an `.att`, a bundle referrer); the rest are left with a
 * note. A DoS bound: more layers can only add candidates, never make a rule pass that would fail.
 */
export const MAX_SIGNATURE_LAYERS = 100
/** Sigstore bundle referrers of one image read (a manifest and a bundle each); more fail the image. */
export const MAX_BUNDLE_REFERRERS = 100
/** One simple-signing payload (a `.sig` layer), at most. */
export const MAX_SIGNATURE_BYTES = 1024 * 1024
/** Attestations hold SBOMs: sign mode refuses more than 16 MB; allow the envelope's base64 growth. */
export const MAX_ATTESTATION_BYTES = 24 * 1024 * 1024
/**
 * What discovery reads for one image by default, manifests and blobs together (each blob once).
 * Room for the 24 MiB attestations an image may carry, two of them, and everything else.
 */
export const DEFAULT_DISCOVERY_MAX_BYTES = 64 * 1024 * 1024
/** Reads in flight for one image. */
const READ_CONCURRENCY = 8
const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle'
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1'
const BUNDLE_PREDICATE_TYPE_ANNOTATION = BUNDLE_ANNOTATIONS.predicateType

export interface DiscoverOptions {
  /** Bytes of manifests and blobs read for the image, at most. Default DEFAULT_DISCOVERY_MAX_BYTES. */
  maxBytes?: number
  /** Also read the digest's attestations from GitHub's artifact attestations API. */
  github?: GitHubAttestationSource
  /**
   * A rule requires attestations of this image (default true): a failed GitHub lookup then fails
   * the image, since an unread attestation could be the one the rule needs or one with a banned
   * component. When false, a failed lookup is a warning and a note.
   */
  attestationsRequired?: boolean
  /**
   * Where the tags and referrers are (cosign's COSIGN_REPOSITORY), when not in the image's own
   * repository. GitHub's attestations are still looked up by the image's name.
   */
  signatureRepository?: Repository
}

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
  /** `repo@sha256:…` of the referrer manifest; `github:<owner>/attestations/<id>` from GitHub. */
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
  /** How referrers were listed (unset when they were not read). */
  referrersFrom?: 'api' | 'fallback-tag'
  /** Formats whose places were not read (a signature of another format had decided). */
  unread?: SignatureFormat[]
  /** The signature repository the tags and referrers were read from, when not the image's. */
  signatureRepository?: string
}

function parseJson<T>(bytes: Buffer): T | undefined {
  try {
    return JSON.parse(bytes.toString('utf8')) as T
  } catch {
    return undefined
  }
}

/** 64 MiB, or the exact count when it is not a whole number of MiB. */
function formatBytes(n: number): string {
  const mib = n / (1024 * 1024)
  return Number.isInteger(mib) ? `${mib} MiB` : `${n} bytes`
}

/** A limit of Signet's: it fails the image, where other read errors become notes. */
function isLimit(err: unknown): boolean {
  return isSignetError(err) && err.code === 'REGISTRY_LIMIT'
}

/** A read error as a note may show it: bounded, one line. */
function noteOf(err: unknown): string {
  return registryText(describeError(err), 300)
}

/**
 * Everything discovery reads for one image goes through here: the byte budget is charged before a
 * read whose size is known (so concurrent reads cannot overshoot it) and after one whose size is
 * not (a manifest by tag, at most MAX_MANIFEST_BYTES), and each blob is downloaded once.
 */
class ImageReader {
  private spent = 0
  /** Once over the budget, every later read fails too: reads still queued stop at once. */
  private over?: SignetError
  private readonly blobs = new Map<string, Promise<Buffer>>()

  constructor(
    private readonly registry: Registry,
    readonly repo: Repository,
    private readonly maxBytes: number,
  ) {}

  /** Counts `bytes` against the image's budget; throws REGISTRY_LIMIT past it. */
  charge(bytes: number, what: string): void {
    if (this.over) throw this.over
    if (this.spent + bytes > this.maxBytes) {
      throw (this.over = registryLimit(
        `reading ${what} (${bytes} bytes) would take what is read for this image past ${this.maxBytes} bytes`,
        `${formatBytes(this.maxBytes)} of signatures, attestations and their manifests`,
      ))
    }
    this.spent += bytes
  }

  /** A manifest; `size` (from a descriptor) is charged first and is the most read. */
  async manifest(
    reference: string,
    accept: string[],
    size?: number,
  ): Promise<FetchedManifest | undefined> {
    const what = `manifest ${reference}`
    if (size !== undefined) this.charge(size, what)
    const fetched = await this.registry.getManifest(this.repo, reference, accept, size)
    if (fetched && size === undefined) this.charge(fetched.bytes.length, what)
    return fetched
  }

  /**
   * A blob of `size` bytes (its descriptor's; no more is read), downloaded once per image: a blob
   * that several layers or referrers name is charged and fetched the first time only.
   */
  blob(digest: string, size: number): Promise<Buffer> {
    let pending = this.blobs.get(digest)
    if (!pending) {
      this.charge(size, `blob ${digest}`)
      pending = this.registry.getBlob(this.repo, digest, size)
      this.blobs.set(digest, pending)
    }
    return pending
  }
}

/** A descriptor's size when it is one: a non-negative integer. */
function validSize(size: unknown): size is number {
  return typeof size === 'number' && Number.isSafeInteger(size) && size >= 0
}

/**
 * Why a layer cannot be read, or undefined when it can: a digest and size that are what they
 * should be, and a size within `cap`. Registry-supplied values are not quoted.
 */
function unreadable(layer: Descriptor | null, cap: number): string | undefined {
  if (typeof layer !== 'object' || layer === null) return 'is not a descriptor'
  if (typeof layer.digest !== 'string' || !isDigest(layer.digest)) return 'has an invalid digest'
  if (!validSize(layer.size)) return 'has no valid size'
  if (layer.size > cap) return `is ${layer.size} bytes, more than the ${cap} allowed`
  return undefined
}

async function legacyLayers(
  reader: ImageReader,
  tag: string,
  maxBytes: number,
  notes: string[],
  skip: (annotations: Record<string, string>) => boolean = () => false,
): Promise<{ reference: string; bytes?: Buffer; annotations: Record<string, string> }[]> {
  const fetched = await reader.manifest(tag, [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest])
  if (!fetched) return []
  const manifest = parseJson<ImageManifest>(fetched.bytes)
  const reference = `${reader.repo.registry}/${reader.repo.repository}:${tag}`
  if (!manifest || !Array.isArray(manifest.layers)) {
    notes.push(`${reference} is not an image manifest: ignored`)
    return []
  }
  if (manifest.layers.length > MAX_SIGNATURE_LAYERS) {
    notes.push(
      `${reference} has ${manifest.layers.length} layers: read the first ${MAX_SIGNATURE_LAYERS}`,
    )
  }
  const layers = manifest.layers.slice(0, MAX_SIGNATURE_LAYERS)
  const read = await mapLimit(layers, READ_CONCURRENCY, async (layer, i) => {
    const where = `${reference} layer ${i + 1}`
    const annotations = isStringRecord(layer?.annotations) ? layer.annotations : {}
    const found = { reference: where, annotations }
    if (skip(found.annotations)) return found
    const why = unreadable(layer, maxBytes)
    if (why !== undefined) {
      notes.push(`${where} ${why}: ignored`)
      return undefined
    }
    try {
      return { ...found, bytes: await reader.blob(layer.digest, layer.size) }
    } catch (err) {
      if (isLimit(err)) throw err
      notes.push(`${where} could not be read: ${noteOf(err)}`)
      return undefined
    }
  })
  return read.filter((l) => l !== undefined)
}

/** Annotations as the spec has them (string to string); anything else is treated as none. */
function isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  )
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
  reader: ImageReader,
  registry: Registry,
  digest: string,
): Promise<{ descriptors: Descriptor[]; from: Discovery['referrersFrom'] }> {
  const index = await registry.referrers(reader.repo, digest)
  if (index) return { descriptors: index.manifests ?? [], from: 'api' }
  const tag = referrersFallbackTag(digest)
  const fallback = await reader.manifest(tag, [MEDIA_TYPES.ociIndex])
  const parsed = fallback ? parseJson<ImageIndex>(fallback.bytes) : undefined
  const descriptors = Array.isArray(parsed?.manifests) ? parsed.manifests : []
  if (descriptors.length > MAX_LISTED_REFERRERS) {
    throw registryLimit(
      `the referrers index ${reader.repo.registry}/${reader.repo.repository}:${tag} has more than ${MAX_LISTED_REFERRERS} entries`,
      `${MAX_LISTED_REFERRERS} referrers`,
    )
  }
  return { descriptors, from: 'fallback-tag' }
}

/**
 * cosign v3's fallback index lists its bundle referrers with this artifactType (the empty config's
 * media type), not the bundle's: the manifest itself says what it is.
 */
const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json'

/** A listed referrer that may hold a Sigstore bundle: of a bundle type, or of no stated type. */
function mayBeBundle(descriptor: Descriptor): boolean {
  const type = descriptor.artifactType
  return (
    typeof type !== 'string' ||
    type === '' ||
    type === OCI_EMPTY_MEDIA_TYPE ||
    type.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)
  )
}

async function bundleReferrers(
  reader: ImageReader,
  registry: Registry,
  digest: string,
  notes: string[],
  needsAttestation: (predicateType: string) => boolean,
): Promise<{ bundles: FoundBundle[]; from: Discovery['referrersFrom'] }> {
  const { descriptors, from } = await listReferrers(reader, registry, digest)
  const listed = descriptors.filter(
    (d): d is Descriptor => typeof d === 'object' && d !== null && typeof d.digest === 'string',
  )
  const valid = listed.filter((d) => isDigest(d.digest))
  if (valid.length < listed.length) {
    notes.push(`${listed.length - valid.length} listed referrer(s) with an invalid digest: ignored`)
  }
  // The listing's artifactType can only hide a referrer by lying, which fails a rule closed; it
  // spares reading every SBOM and other artifact attached to the image.
  const unique = [...new Map(valid.filter(mayBeBundle).map((d) => [d.digest, d])).values()]
  if (unique.length > MAX_BUNDLE_REFERRERS) {
    throw registryLimit(
      `${reader.repo.registry}/${reader.repo.repository} lists ${unique.length} Sigstore bundle referrers of ${digest}`,
      `${MAX_BUNDLE_REFERRERS} bundle referrers`,
    )
  }
  const found = await mapLimit(unique, READ_CONCURRENCY, async (descriptor) => {
    const reference = `${reader.repo.registry}/${reader.repo.repository}@${descriptor.digest}`
    // The index says little that can be trusted: read the manifest it points to, no larger than
    // the index says (its digest fixes its size).
    const size =
      validSize(descriptor.size) && descriptor.size <= MAX_MANIFEST_BYTES
        ? descriptor.size
        : undefined
    let manifest: ImageManifest | undefined
    try {
      const fetched = await reader.manifest(descriptor.digest, [MEDIA_TYPES.ociManifest], size)
      manifest = fetched ? parseJson<ImageManifest>(fetched.bytes) : undefined
    } catch (err) {
      if (isLimit(err)) throw err
      notes.push(`referrer ${reference} could not be read: ${noteOf(err)}`)
      return []
    }
    if (!manifest || !Array.isArray(manifest.layers)) return []
    const artifactType = manifest.artifactType ?? manifest.config?.mediaType ?? ''
    const bundleLayers = manifest.layers.filter(
      (l) => typeof l?.mediaType === 'string' && l.mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX),
    )
    if (
      (typeof artifactType !== 'string' || !artifactType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)) &&
      bundleLayers.length === 0
    )
      return []
    const subject = manifest.subject?.digest
    if (subject !== digest) {
      const about = typeof subject === 'string' && isDigest(subject) ? subject : 'no valid digest'
      notes.push(`referrer ${reference} is about ${about}, not this digest: ignored`)
      return []
    }
    const bundles: FoundBundle[] = []
    const annotations = isStringRecord(manifest.annotations) ? manifest.annotations : {}
    const annotated = annotations[BUNDLE_PREDICATE_TYPE_ANNOTATION]
    for (const layer of bundleLayers.slice(0, MAX_SIGNATURE_LAYERS)) {
      if (annotated && annotated !== COSIGN_SIGN_PREDICATE && !needsAttestation(annotated)) {
        bundles.push({ reference, predicateType: annotated })
        continue
      }
      const why = unreadable(layer, MAX_ATTESTATION_BYTES)
      if (why) {
        notes.push(`referrer ${reference}: a bundle layer ${why}: ignored`)
        continue
      }
      try {
        const json = parseJson<unknown>(await reader.blob(layer.digest, layer.size))
        bundles.push({
          reference,
          json,
          // The statement's own claim first: that is what verification will check.
          predicateType: claimedPredicateType(json) ?? annotated,
        })
      } catch (err) {
        if (isLimit(err)) throw err
        notes.push(`referrer ${reference} could not be read: ${noteOf(err)}`)
      }
    }
    return bundles
  })
  return { bundles: found.flat(), from }
}

/**
 * The digest's bundles in GitHub's artifact attestations API, as found bundles. Like a referrer,
 * a bundle of a type no rule needs is listed without its JSON (GitHub sends it inline, so it was
 * read and charged all the same); a signature bundle (Signet's sign mode stores those too) is kept.
 */
async function githubBundles(
  reader: ImageReader,
  image: Repository,
  digest: string,
  notes: string[],
  needsAttestation: (predicateType: string) => boolean,
  options: DiscoverOptions,
): Promise<FoundBundle[]> {
  if (!options.github) return []
  const found = await options.github.lookup({
    name: `${image.registry}/${image.repository}`,
    digest,
    charge: (bytes, what) => reader.charge(bytes, what),
    required: options.attestationsRequired ?? true,
  })
  notes.push(...found.notes)
  return found.bundles.map((bundle) => {
    const predicateType = claimedPredicateType(bundle.json)
    const needed =
      !predicateType || predicateType === COSIGN_SIGN_PREDICATE || needsAttestation(predicateType)
    return {
      reference: bundle.reference,
      ...(needed ? { json: bundle.json } : {}),
      ...(predicateType ? { predicateType } : {}),
    }
  })
}

/** Where a format's signatures are: cosign's `.sig`/`.att` tags, or bundles (referrers, GitHub). */
export type SignatureFormat = 'legacy' | 'bundle'
export const SIGNATURE_FORMATS: readonly SignatureFormat[] = ['bundle', 'legacy']

/**
 * Everything that claims to sign or attest `digest` in `repo` (or in `options.signatureRepository`;
 * and, given `options.github`, in GitHub's artifact attestations API). `needsAttestation` says which
 * attestation types will be checked: an attestation whose annotation names another type is listed
 * without downloading it (SBOMs run to megabytes). Trusting the annotation here can only hide an
 * attestation, which fails a requirement closed; one that claims a needed type is read and its
 * verified statement decides. Throws REGISTRY_LIMIT when the image's signatures and attestations
 * are over `options.maxBytes` or a referrers cap, naming the limit.
 */
export async function discover(
  registry: Registry,
  repo: Repository,
  digest: string,
  needsAttestation: (predicateType: string) => boolean = () => true,
  options: DiscoverOptions = {},
): Promise<Discovery> {
  return new ImageDiscovery(registry, repo, digest, needsAttestation, options).read(
    SIGNATURE_FORMATS,
  )
}

/**
 * Discovery of one image a format at a time: a verifier that finds its answer among the bundles
 * need not read cosign's legacy tags (two requests an image), and reads them when it does not.
 * Each format's places are read once; everything read counts against the one budget of the image.
 */
export class ImageDiscovery {
  private readonly store: Repository
  private readonly reader: ImageReader
  private readonly notes: string[] = []
  private readonly parts = new Map<SignatureFormat, Promise<Partial<Discovery>>>()

  constructor(
    private readonly registry: Registry,
    private readonly repo: Repository,
    private readonly digest: string,
    private readonly needsAttestation: (predicateType: string) => boolean = () => true,
    private readonly options: DiscoverOptions = {},
  ) {
    this.store = options.signatureRepository ?? repo
    this.reader = new ImageReader(
      registry,
      this.store,
      options.maxBytes ?? DEFAULT_DISCOVERY_MAX_BYTES,
    )
  }

  /** What the places of `formats` (and of every format read before) hold. */
  async read(formats: readonly SignatureFormat[]): Promise<Discovery> {
    for (const format of formats) {
      if (!this.parts.has(format)) {
        this.parts.set(format, format === 'legacy' ? this.legacy() : this.bundles())
      }
    }
    const parts = await Promise.all(
      SIGNATURE_FORMATS.flatMap((f) => {
        const part = this.parts.get(f)
        return part ? [part] : []
      }),
    )
    const { store, repo } = this
    const elsewhere = store.registry !== repo.registry || store.repository !== repo.repository
    const unread = SIGNATURE_FORMATS.filter((f) => !this.parts.has(f))
    return {
      signatures: parts.flatMap((p) => p.signatures ?? []),
      attestations: parts.flatMap((p) => p.attestations ?? []),
      bundles: parts.flatMap((p) => p.bundles ?? []),
      notes: [...this.notes],
      referrersFrom: parts.find((p) => p.referrersFrom)?.referrersFrom,
      ...(unread.length > 0 ? { unread } : {}),
      ...(elsewhere ? { signatureRepository: `${store.registry}/${store.repository}` } : {}),
    }
  }

  private async legacy(): Promise<Partial<Discovery>> {
    const { reader, digest, notes } = this
    const unneeded = (annotations: Record<string, string>): boolean => {
      const annotated = annotations[LEGACY_ANNOTATIONS.predicateType]
      return Boolean(annotated) && !this.needsAttestation(annotated)
    }
    const [sigLayers, attLayers] = await Promise.all([
      legacyLayers(reader, signatureTag(digest), MAX_SIGNATURE_BYTES, notes),
      legacyLayers(reader, attestationTag(digest), MAX_ATTESTATION_BYTES, notes, unneeded),
    ])
    return {
      signatures: sigLayers.flatMap((l) =>
        l.bytes
          ? [
              {
                reference: l.reference,
                signature: { payload: l.bytes, annotations: l.annotations },
              },
            ]
          : [],
      ),
      attestations: attLayers.map((l) => ({
        reference: l.reference,
        envelope: l.bytes,
        annotations: l.annotations,
      })),
    }
  }

  private async bundles(): Promise<Partial<Discovery>> {
    const { reader, registry, repo, digest, notes, needsAttestation, options } = this
    const [referrers, fromGitHub] = await Promise.all([
      bundleReferrers(reader, registry, digest, notes, needsAttestation),
      githubBundles(reader, repo, digest, notes, needsAttestation, options),
    ])
    return { bundles: [...referrers.bundles, ...fromGitHub], referrersFrom: referrers.from }
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
