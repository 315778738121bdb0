/**
 * From requested images to the digests a run handles: tags resolved (with a warning), every digest
 * checked to exist before anything is signed, index children added when `recursive`. A tag that
 * took the `digest` input arrives here as that digest: it is never looked up, so tags a
 * push-by-digest build never pushed are no obstacle.
 */
import { SignetError } from '../errors'
import type { Logger } from '../report/types'
import {
  isIndexMediaType,
  platformText,
  type Descriptor,
  type ImageIndex,
  type Registry,
  type Repository,
} from '../registry/types'
import { namesOf, type Subject } from '.'
import { mapLimit } from '../concurrency'

export interface ResolvedImage {
  repo: Repository
  /** `registry/repository`, as cosign names it. */
  name: string
  digest: string
  descriptor: Descriptor
  parent?: string
  platform?: string
  /** The names written for this image (several tags of one digest), for the report. */
  writtenAs: string[]
}

export async function resolveImages(
  registry: Registry,
  requested: Subject[],
  options: { recursive: boolean; log: Logger; concurrency?: number },
): Promise<ResolvedImage[]> {
  // subjects/ gives one entry per repository and digest; callers that build their own list may not.
  const unique = new Map<string, Subject>()
  for (const r of requested) {
    const key = `${r.registry}/${r.repository}@${r.digest ?? `:${r.tag}`}`
    const first = unique.get(key)
    if (first) unique.set(key, { ...first, writtenAs: mergeNames(namesOf(first), namesOf(r)) })
    else unique.set(key, r)
  }

  const missing: Subject[] = []
  const found = await mapLimit([...unique.values()], options.concurrency ?? 8, async (r) => {
    const repo = { registry: r.registry, repository: r.repository }
    // Every requested image has a digest or a tag (subjects/ refuses the rest).
    const reference = r.digest ?? r.tag ?? 'latest'
    const descriptor = await registry.headManifest(repo, reference)
    if (!descriptor) {
      missing.push(r)
      return undefined
    }
    if (!r.digest) {
      options.log.warning(
        `${r.written} is a tag; signing the digest it points to now, ${descriptor.digest}. ` +
          'Sign digests, not tags: a tag can move between the push and the signature. ' +
          "Set digest to the build's digest (docker/build-push-action's digest output) " +
          'and every tag takes it without a lookup.',
      )
    }
    return {
      repo,
      name: r.name,
      digest: descriptor.digest,
      descriptor,
      writtenAs: namesOf(r),
    } satisfies ResolvedImage
  })
  if (missing.length > 0) {
    // What was looked up: a tag that took the digest input is named by that digest.
    const list = missing.map((m) => (m.digest ? `${m.name}@${m.digest}` : m.written)).join(', ')
    const source = missing[0].via
      ? `${missing[0].via} (docker/metadata-action)`
      : `input ${missing[0].input}`
    throw new SignetError(
      'IMAGE_NOT_FOUND',
      `${source}: not in the registry: ${list}. ` +
        'The usual cause is a build that was loaded into the local Docker engine but not pushed: ' +
        'set push: true on the build step, and pass its digest',
      { input: missing[0].input },
    )
  }

  const images = new Map<string, ResolvedImage>()
  const add = (image: ResolvedImage): void => {
    const key = `${image.repo.registry}/${image.repo.repository}@${image.digest}`
    const first = images.get(key)
    // Two tags that point to one digest are one image, named by both.
    if (first) first.writtenAs = mergeNames(first.writtenAs, image.writtenAs)
    else images.set(key, image)
  }
  for (const image of found) if (image) add(image)
  if (options.recursive) {
    const indexes = [...images.values()].filter((i) => isIndexMediaType(i.descriptor.mediaType))
    for (const index of indexes) {
      const fetched = await registry.getManifest(index.repo, index.digest)
      if (!fetched) continue
      const parsed = JSON.parse(fetched.bytes.toString('utf8')) as ImageIndex
      for (const child of parsed.manifests ?? []) {
        add({
          repo: index.repo,
          name: index.name,
          digest: child.digest,
          descriptor: { mediaType: child.mediaType, digest: child.digest, size: child.size },
          parent: index.digest,
          platform: platformText(child.platform),
          writtenAs: [],
        })
      }
    }
  }
  return [...images.values()]
}

function mergeNames(first: string[], more: string[]): string[] {
  return [...first, ...more.filter((name) => !first.includes(name))]
}
