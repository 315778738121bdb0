/** Writes cosign legacy signatures: layers appended to the `sha256-<hex>.sig` manifest. */
import { appendLegacyLayers, signatureTag, type LegacyLayer } from '../formats/cosign-tags'
import { MEDIA_TYPES, type ImageManifest, type Registry, type Repository } from '../registry/types'
import { updateTag, type TagUpdateOptions } from './tag-update'

export async function appendToLegacyTag(
  registry: Registry,
  repo: Repository,
  tag: string,
  layers: LegacyLayer[],
  options?: TagUpdateOptions,
): Promise<void> {
  // Upload the layers first, so that only the config and the manifest lie between reading the
  // tag and writing it: the shorter that window, the fewer concurrent writes collide.
  await Promise.all(layers.map((l) => registry.pushBlob(repo, l.bytes, l.mediaType)))
  await updateTag<ImageManifest>(
    registry,
    repo,
    tag,
    {
      parse: (current) =>
        current ? (JSON.parse(current.bytes.toString('utf8')) as ImageManifest) : undefined,
      merge: (current) => {
        const parts = appendLegacyLayers(current, layers)
        return (
          parts && {
            bytes: parts.manifestBytes,
            mediaType: MEDIA_TYPES.ociManifest,
            // The layers went up before the read; only the config is new here.
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
