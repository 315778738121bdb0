/** Writes cosign legacy signatures: layers appended to the `sha256-<hex>.sig` manifest. */
import {
  appendLegacyLayers,
  signatureTag,
  uploadedLayer,
  type LegacyLayer,
} from '../formats/cosign-tags'
import { MEDIA_TYPES, type ImageManifest, type Registry, type Repository } from '../registry/types'
import { updateTag, type TagUpdateOptions } from './tag-update'

export async function appendToLegacyTag(
  registry: Registry,
  repo: Repository,
  tag: string,
  layers: LegacyLayer[],
  options?: TagUpdateOptions,
): Promise<void> {
  // Upload the layers first, and the config the manifest gets when the tag does not exist yet
  // (the usual case: a digest signed for the first time), so that only the manifest lies between
  // reading the tag and writing it. The shorter that read-to-write time, the fewer concurrent
  // writes collide, and the shorter the settle pause (tag-update.ts) scaled to it. When the tag
  // does exist, that config is one unused upload; the merge's own config then goes up as before.
  const alone = appendLegacyLayers(undefined, layers)
  await Promise.all(
    (alone?.blobs ?? []).map((b) =>
      registry.pushBlob(repo, b.bytes, b.mediaType, { fresh: b.fresh }),
    ),
  )
  // The merge names the layers by digest: a read-back after the run's settle window does not
  // keep their bytes (a large SBOM's envelope, per image) in memory until then.
  const uploaded = layers.map(uploadedLayer)
  await updateTag<ImageManifest>(
    registry,
    repo,
    tag,
    {
      parse: (current) =>
        current ? (JSON.parse(current.bytes.toString('utf8')) as ImageManifest) : undefined,
      merge: (current) => {
        const parts = appendLegacyLayers(current, uploaded)
        return (
          parts && {
            bytes: parts.manifestBytes,
            mediaType: MEDIA_TYPES.ociManifest,
            // The layers went up before the read; only the config is new here (and, for a tag
            // that did not exist, it went up too: the registry client uploads a blob once a run).
            blobs: parts.blobs.filter((b) => b.mediaType === MEDIA_TYPES.ociConfig),
          }
        )
      },
    },
    options,
  )
}

export async function writeLegacySignature(
  registry: Registry,
  repo: Repository,
  digest: string,
  layer: LegacyLayer,
  options?: TagUpdateOptions,
): Promise<string> {
  const tag = signatureTag(digest)
  await appendToLegacyTag(registry, repo, tag, [layer], options)
  return tag
}
