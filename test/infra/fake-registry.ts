/**
 * An OCI registry in memory behind Signet's `Registry` interface, for unit tests of what sign
 * mode writes: no HTTP, no process, no port.
 *
 * It is strict where real registries are strict, so that a wrong order of writes fails here as it
 * would against distribution: a manifest is refused while a blob or a manifest it names is
 * missing, and a manifest PUT by digest must hash to that digest. It can advertise the referrers
 * API (answering OCI-Subject and listing referrers) or not (the fallback tag schema), or play ECR
 * (OCI-Subject sent, no API). Every call is recorded, and any call can be made to fail.
 */
import { SignetError } from '../../src/errors'
import { sha256Digest } from '../../src/formats/digest'
import {
  MEDIA_TYPES,
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type ImageManifest,
  type PutManifestResult,
  type Registry,
  type Repository,
} from '../../src/registry/types'

export type RegistryOperation =
  'headManifest' | 'getManifest' | 'putManifest' | 'pushBlob' | 'getBlob' | 'referrers'

/** One call as the fake saw it; `reference` is the tag or digest (the blob digest for blobs). */
export interface RegistryCall {
  op: RegistryOperation
  repo: Repository
  reference?: string
  mediaType?: string
}

export interface FakeRegistryOptions {
  /**
   * What the registry does with a manifest's `subject`: 'api' answers OCI-Subject and serves the
   * referrers API; 'none' does neither (the fallback tag schema is needed); 'subject-header-only'
   * answers OCI-Subject but serves no API, as ECR did.
   */
  referrers?: 'api' | 'none' | 'subject-header-only'
}

interface StoredManifest {
  bytes: Buffer
  mediaType: string
}

interface StoredRepository {
  manifests: Map<string, StoredManifest>
  tags: Map<string, string>
  blobs: Map<string, Buffer>
}

interface Failure {
  when: (call: RegistryCall) => boolean
  error: () => Error
  remaining: number
}

/** The platform of a seeded image, as an index names it. */
export interface Platform {
  os: string
  architecture: string
  variant?: string
}

const WRITES: RegistryOperation[] = ['putManifest', 'pushBlob']

export class FakeRegistry implements Registry {
  readonly referrersMode: NonNullable<FakeRegistryOptions['referrers']>
  /** Every call, oldest first. */
  readonly calls: RegistryCall[] = []
  private readonly repositories = new Map<string, StoredRepository>()
  private readonly failures: Failure[] = []
  private seeded = 0

  constructor(options: FakeRegistryOptions = {}) {
    this.referrersMode = options.referrers ?? 'api'
  }

  // --- failure injection -------------------------------------------------------------------------

  /**
   * Makes calls that match `when` throw (a REGISTRY_ERROR like the HTTP client's for a 500, unless
   * `error` says otherwise), `times` times (every time by default).
   */
  fail(
    when: (call: RegistryCall) => boolean,
    options: { error?: () => Error; times?: number } = {},
  ): void {
    this.failures.push({
      when,
      error:
        options.error ??
        (() => new SignetError('REGISTRY_ERROR', 'registry fake: failure injected: HTTP 500')),
      remaining: options.times ?? Infinity,
    })
  }

  // --- what the tests read -----------------------------------------------------------------------

  /** The manifest and blob uploads made so far (seeding is not a call). */
  writes(): RegistryCall[] {
    return this.calls.filter((c) => WRITES.includes(c.op))
  }

  /** The tags of a repository, sorted. */
  tags(repo: Repository): string[] {
    return [...this.repo(repo).tags.keys()].sort()
  }

  /** The parsed manifest a tag or digest names; undefined when there is none. */
  manifest<T = ImageManifest | ImageIndex>(repo: Repository, reference: string): T | undefined {
    const stored = this.lookup(repo, reference)
    return stored && (JSON.parse(stored.bytes.toString('utf8')) as T)
  }

  blob(repo: Repository, digest: string): Buffer | undefined {
    return this.repo(repo).blobs.get(digest)
  }

  // --- seeding (not recorded as calls, never fails) ------------------------------------------------

  /** Stores a single-platform image (config and one layer, each unique) under `tag`, if given. */
  seedImage(repo: Repository, options: { tag?: string; platform?: Platform } = {}): Descriptor {
    const n = this.seeded++
    const stored = this.repo(repo)
    const config = Buffer.from(JSON.stringify({ ...options.platform, seed: n, rootfs: {} }))
    const layer = Buffer.from(`layer ${n}`)
    stored.blobs.set(sha256Digest(config), config)
    stored.blobs.set(sha256Digest(layer), layer)
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: MEDIA_TYPES.ociConfig,
        digest: sha256Digest(config),
        size: config.length,
      },
      layers: [
        {
          mediaType: 'application/vnd.oci.image.layer.v1.tar',
          digest: sha256Digest(layer),
          size: layer.length,
        },
      ],
    }
    return this.store(repo, manifest, MEDIA_TYPES.ociManifest, options.tag)
  }

  /** Stores an index of one image per platform under `tag`; returns the index and its children. */
  seedIndex(
    repo: Repository,
    platforms: Platform[],
    options: { tag?: string; mediaType?: string } = {},
  ): { index: Descriptor; children: Descriptor[] } {
    const children = platforms.map((platform) => ({
      ...this.seedImage(repo, { platform }),
      platform,
    }))
    const mediaType = options.mediaType ?? MEDIA_TYPES.ociIndex
    const index: ImageIndex = { schemaVersion: 2, mediaType, manifests: children }
    return { index: this.store(repo, index, mediaType, options.tag), children }
  }

  /** Points `tag` at a manifest the repository holds. */
  seedTag(repo: Repository, tag: string, digest: string): void {
    const stored = this.repo(repo)
    if (!stored.manifests.has(digest)) throw new Error(`registry fake: no ${digest} to tag`)
    stored.tags.set(tag, digest)
  }

  /** Copies a manifest and the blobs it names into another repository (a cross-repository mount). */
  seedCopy(from: Repository, to: Repository, digest: string): void {
    const source = this.repo(from)
    const target = this.repo(to)
    const stored = source.manifests.get(digest)
    if (!stored) throw new Error(`registry fake: no ${digest} in ${from.repository} to copy`)
    const parsed = JSON.parse(stored.bytes.toString('utf8')) as Partial<ImageManifest>
    for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
      const blob = d && source.blobs.get(d.digest)
      if (d && blob) target.blobs.set(d.digest, blob)
    }
    target.manifests.set(digest, stored)
  }

  // --- Registry --------------------------------------------------------------------------------------

  async headManifest(repo: Repository, reference: string): Promise<Descriptor | undefined> {
    await this.enter({ op: 'headManifest', repo, reference })
    const stored = this.lookup(repo, reference)
    return stored && descriptorOf(stored)
  }

  async getManifest(repo: Repository, reference: string): Promise<FetchedManifest | undefined> {
    await this.enter({ op: 'getManifest', repo, reference })
    const stored = this.lookup(repo, reference)
    if (!stored) return undefined
    const descriptor = descriptorOf(stored)
    return { descriptor, bytes: Buffer.from(stored.bytes), etag: descriptor.digest }
  }

  async putManifest(
    repo: Repository,
    reference: string,
    bytes: Buffer,
    mediaType: string,
  ): Promise<PutManifestResult> {
    await this.enter({ op: 'putManifest', repo, reference, mediaType })
    const digest = sha256Digest(bytes)
    if (reference.includes(':') && reference !== digest) {
      throw registryError(`PUT manifests/${reference}: the manifest's digest is ${digest}`)
    }
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<ImageManifest & ImageIndex>
    const stored = this.repo(repo)
    // What distribution checks: every blob a manifest names, and every manifest an index lists.
    for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
      if (d && !stored.blobs.has(d.digest)) {
        throw registryError(`PUT manifests/${reference}: MANIFEST_BLOB_UNKNOWN ${d.digest}`)
      }
    }
    for (const d of parsed.manifests ?? []) {
      if (!stored.manifests.has(d.digest)) {
        throw registryError(`PUT manifests/${reference}: MANIFEST_UNKNOWN ${d.digest}`)
      }
    }
    stored.manifests.set(digest, { bytes: Buffer.from(bytes), mediaType })
    if (!reference.includes(':')) stored.tags.set(reference, digest)
    const answersSubject = parsed.subject !== undefined && this.referrersMode !== 'none'
    return { digest, ...(answersSubject ? { ociSubject: parsed.subject?.digest } : {}) }
  }

  async pushBlob(repo: Repository, bytes: Buffer, mediaType: string): Promise<Descriptor> {
    const digest = sha256Digest(bytes)
    await this.enter({ op: 'pushBlob', repo, reference: digest, mediaType })
    this.repo(repo).blobs.set(digest, Buffer.from(bytes))
    return { mediaType, digest, size: bytes.length }
  }

  async getBlob(repo: Repository, digest: string): Promise<Buffer> {
    await this.enter({ op: 'getBlob', repo, reference: digest })
    const blob = this.repo(repo).blobs.get(digest)
    if (!blob) throw registryError(`GET blobs/${digest}: HTTP 404: BLOB_UNKNOWN`)
    return Buffer.from(blob)
  }

  async referrers(
    repo: Repository,
    digest: string,
    artifactType?: string,
  ): Promise<ImageIndex | undefined> {
    await this.enter({ op: 'referrers', repo, reference: digest })
    if (this.referrersMode !== 'api') return undefined
    const manifests: Descriptor[] = []
    for (const [d, stored] of this.repo(repo).manifests) {
      const m = JSON.parse(stored.bytes.toString('utf8')) as Partial<ImageManifest>
      if (m.subject?.digest !== digest) continue
      const type = m.artifactType ?? m.config?.mediaType
      if (artifactType !== undefined && type !== artifactType) continue
      manifests.push({
        mediaType: stored.mediaType,
        digest: d,
        size: stored.bytes.length,
        ...(type ? { artifactType: type } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })
    }
    return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }
  }

  // --- internals ---------------------------------------------------------------------------------------

  /** Records the call, yields (so concurrent callers interleave as over HTTP), then fails it if asked. */
  private async enter(call: RegistryCall): Promise<void> {
    this.calls.push(call)
    await new Promise((resolve) => setImmediate(resolve))
    const failure = this.failures.find((f) => f.remaining > 0 && f.when(call))
    if (failure) {
      failure.remaining -= 1
      throw failure.error()
    }
  }

  private repo(repo: Repository): StoredRepository {
    const key = `${repo.registry}/${repo.repository}`
    let stored = this.repositories.get(key)
    if (!stored) {
      stored = { manifests: new Map(), tags: new Map(), blobs: new Map() }
      this.repositories.set(key, stored)
    }
    return stored
  }

  private lookup(repo: Repository, reference: string): StoredManifest | undefined {
    const stored = this.repo(repo)
    const digest = reference.includes(':') ? reference : stored.tags.get(reference)
    return digest === undefined ? undefined : stored.manifests.get(digest)
  }

  private store(
    repo: Repository,
    content: ImageManifest | ImageIndex,
    mediaType: string,
    tag?: string,
  ): Descriptor {
    const bytes = Buffer.from(JSON.stringify(content))
    const stored = this.repo(repo)
    const digest = sha256Digest(bytes)
    stored.manifests.set(digest, { bytes, mediaType })
    if (tag) stored.tags.set(tag, digest)
    return { mediaType, digest, size: bytes.length }
  }
}

function descriptorOf(stored: StoredManifest): Descriptor {
  return {
    mediaType: stored.mediaType,
    digest: sha256Digest(stored.bytes),
    size: stored.bytes.length,
  }
}

function registryError(what: string): SignetError {
  return new SignetError('REGISTRY_ERROR', `registry fake: ${what}`)
}
