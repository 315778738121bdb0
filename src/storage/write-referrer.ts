/**
 * Writes a Sigstore bundle as an OCI referrer, as cosign v3 does: the referrers API where the
 * registry serves it, else the `sha256-<hex>` fallback index tag.
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

export async function writeBundleReferrer(
  registry: Registry,
  repo: Repository,
  subject: Descriptor,
  bundleJson: Buffer,
  predicateType: string,
  support: ReferrersSupport,
  options?: TagUpdateOptions & { now?: Date },
): Promise<WrittenReferrer> {
  const referrer = buildBundleReferrer(
    bundleJson,
    subject,
    predicateType,
    options?.now ?? new Date(),
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
  if (await support.check(registry, repo, subject.digest, put.ociSubject)) {
    return { digest: referrer.descriptor.digest }
  }
  const tag = referrersFallbackTag(subject.digest)
  // The merge keeps the descriptor only, not the referrer and its bundle: a read-back after the
  // run's settle window does not hold every image's bundle (a large SBOM's, each) until then.
  const descriptor = referrer.descriptor
  await updateTag<ImageIndex>(
    registry,
    repo,
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
        const next = addToFallbackIndex(current, descriptor)
        return next && { bytes: next.bytes, mediaType: MEDIA_TYPES.ociIndex, blobs: [] }
      },
    },
    options,
  )
  return { digest: referrer.descriptor.digest, fallbackTag: tag }
}
