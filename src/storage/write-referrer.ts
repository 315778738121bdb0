/**
 * Writes a Sigstore bundle as an OCI referrer, as cosign v3 does: the referrers API where the
 * registry serves it, else the `sha256-<hex>` fallback index tag, which lists every referrer one
 * run writes for an image in one tag update (ReferrerBatch).
 */
import { addToFallbackIndex, buildBundleReferrer, referrersFallbackTag } from '../formats/referrers'
import {
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type Registry,
  type Repository,
} from '../registry/types'
import { updateTag, type TagUpdateOptions } from './tag-update'

export interface WrittenReferrer {
  digest: string
  /** The fallback tag, when the registry has no referrers API. */
  fallbackTag?: string
}

/** Remembers, per registry, whether it maintains referrers itself. */
export class ReferrersSupport {
  private readonly known = new Map<string, Promise<boolean>>()

  async check(
    registry: Registry,
    repo: Repository,
    subjectDigest: string,
    ociSubject?: string,
  ): Promise<boolean> {
    let answer = this.known.get(repo.registry)
    if (!answer) {
      // OCI-Subject alone is not enough (ECR sends it without serving referrers): ask the API.
      answer = ociSubject
        ? registry.referrers(repo, subjectDigest).then((index) => index !== undefined)
        : Promise.resolve(false)
      this.known.set(repo.registry, answer)
    }
    return answer
  }
}

/**
 * The referrers one run writes for one subject (its signature bundle, its attestation bundles),
 * listed in the fallback index in ONE tag update: each write() stores its referrer manifest by
 * digest (independent of the others), and commit() then adds every descriptor at once (read,
 * write, read back in the shared settle window). Referrers written one update each would meet
 * each other as concurrent writers and pay the read-back and re-merge over and over.
 * A concurrent signer's entries are kept as with one referrer (updateTag merges until stable).
 * An image whose work fails before commit() lists none of them: it is reported not signed, and
 * its manifests stay unlisted (a re-run signs it anew, as it would have had nothing been written).
 */
export class ReferrerBatch {
  private readonly pending: Descriptor[] = []
  private committed = false

  constructor(
    private readonly registry: Registry,
    private readonly repo: Repository,
    private readonly subject: Descriptor,
    private readonly support: ReferrersSupport,
    private readonly options: TagUpdateOptions & { now?: Date } = {},
  ) {}

  /**
   * Stores the bundle's referrer manifest. Where the registry keeps referrers itself that is all;
   * else the record names the fallback tag commit() adds it to.
   */
  async write(bundleJson: Buffer, predicateType: string): Promise<WrittenReferrer> {
    if (this.committed) throw new Error('ReferrerBatch: write after commit')
    const { registry, repo, subject } = this
    const referrer = buildBundleReferrer(
      bundleJson,
      subject,
      predicateType,
      this.options.now ?? new Date(),
    )
    await Promise.all(
      referrer.blobs.map((b) => registry.pushBlob(repo, b.bytes, b.mediaType, { fresh: b.fresh })),
    )
    const put = await registry.putManifest(
      repo,
      referrer.descriptor.digest,
      referrer.manifestBytes,
      MEDIA_TYPES.ociManifest,
    )
    if (await this.support.check(registry, repo, subject.digest, put.ociSubject)) {
      return { digest: referrer.descriptor.digest }
    }
    // The batch keeps the descriptor only, not the referrer and its bundle: a read-back after the
    // run's settle window does not hold every image's bundle (a large SBOM's, each) until then.
    this.pending.push(referrer.descriptor)
    return { digest: referrer.descriptor.digest, fallbackTag: referrersFallbackTag(subject.digest) }
  }

  /**
   * Lists every referrer written so far in the fallback index, in one update; nothing when none
   * needs it. With `deferTo`, returns after the write and confirms in the settle window.
   */
  async commit(): Promise<void> {
    this.committed = true
    if (this.pending.length === 0) return
    const tag = referrersFallbackTag(this.subject.digest)
    const descriptors = this.pending
    await updateTag<ImageIndex>(
      this.registry,
      this.repo,
      tag,
      {
        parse: (current) => {
          if (!current) return undefined
          const index = JSON.parse(current.bytes.toString('utf8')) as ImageIndex
          if (!Array.isArray(index.manifests)) {
            throw new Error(`${tag} exists but is not an OCI index; it cannot hold referrers`)
          }
          return index
        },
        merge: (current) => {
          const next = addToFallbackIndex(current, ...descriptors)
          return next && { bytes: next.bytes, mediaType: MEDIA_TYPES.ociIndex, blobs: [] }
        },
      },
      this.options,
    )
  }
}

/** One referrer written and listed on its own (a batch of one). */
export async function writeBundleReferrer(
  registry: Registry,
  repo: Repository,
  subject: Descriptor,
  bundleJson: Buffer,
  predicateType: string,
  support: ReferrersSupport,
  options?: TagUpdateOptions & { now?: Date },
): Promise<WrittenReferrer> {
  const batch = new ReferrerBatch(registry, repo, subject, support, options)
  const written = await batch.write(bundleJson, predicateType)
  await batch.commit()
  return written
}
