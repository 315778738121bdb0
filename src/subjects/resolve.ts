/**
 * The one resolver both modes use: a subject's tag or digest becomes the digest of the manifest
 * it names, and an index the manifests it lists, each with its platform and parent.
 *
 * - A subject that took a digest (a tag plus the `digest` input, issue 9.2) is looked up by that
 *   digest only: tags a push-by-digest build never pushed are no obstacle, and no tag is read.
 * - A tag is resolved with a note in the mode's words (sign and verify each say what they do).
 * - An index is read by its digest and its bytes are checked against it (issue 9.1: a signature
 *   of the index covers what it lists only if these are the bytes it signs); more than
 *   MAX_INDEX_CHILDREN entries is refused (issue 8.9: the registry controls the index).
 * - `FROM --platform` (the subject's platform) keeps only that platform's manifests.
 *
 * resolveSubject() gives an image that could not be resolved as a reason (verify fails that image
 * alone); resolveImages() is sign's list, which stops the run instead.
 */
import { createHash } from 'node:crypto'
import { mapLimit } from '../concurrency'
import { describeError, SignetError } from '../errors'
import type { Logger } from '../report/types'
import {
  isIndexMediaType,
  MAX_INDEX_CHILDREN,
  platformText,
  type Descriptor,
  type ImageIndex,
  type Registry,
  type Repository,
} from '../registry/types'
import { namesOf, type Subject } from '.'

/** What the run does with the digest, for the note about a tag. */
export type ResolveMode = 'sign' | 'verify'

/** A manifest an index lists. */
export interface IndexChild {
  /** As the index lists it: media type, digest and size. */
  descriptor: Descriptor
  /** The digest of the index. */
  parent: string
  /** `os/architecture[/variant]`, when the index says. */
  platform?: string
}

/** A subject resolved: the manifest it names and, when asked for, the ones its index lists. */
export interface Resolved {
  descriptor: Descriptor
  children: IndexChild[]
}

/** A subject that could not be resolved, and why. */
export interface Unresolved {
  /** For the report: "expected …, got …", or what the registry said. */
  reason: string
  /** The digest it is known by: the index's when its listing failed, else the subject's or ''. */
  digest: string
  /** The registry has no manifest by the name looked up. */
  notFound: boolean
  /** For a run that stops on it: the registry's own error, or one made of the reason. */
  error: unknown
}

export type Resolution = Resolved | Unresolved

/** The tag or digest a subject is looked up by: its digest whenever it has one. */
function referenceOf(subject: Pick<Subject, 'digest' | 'tag'>): string {
  return subject.digest ?? subject.tag ?? 'latest'
}

function repositoryOf(subject: Pick<Subject, 'registry' | 'repository'>): Repository {
  return { registry: subject.registry, repository: subject.repository }
}

/** `linux/arm64` matches `linux/arm64` and `linux/arm64/v8`; `linux/arm/v7` only itself. */
function platformMatches(wanted: string, actual: string | undefined): boolean {
  if (!actual) return false
  return actual === wanted || actual.startsWith(`${wanted}/`)
}

/** The digest of `bytes` by the algorithm `digest` names (sha256 or sha512). */
function digestOf(bytes: Buffer, digest: string): string {
  const algorithm = digest.startsWith('sha512:') ? 'sha512' : 'sha256'
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

/** Says that a tag was resolved, in the words of the mode that resolved it. */
function noteTag(mode: ResolveMode, subject: Subject, digest: string, log: Logger): void {
  if (mode === 'sign') {
    log.warning(
      `${subject.written} is a tag; signing the digest it points to now, ${digest}. ` +
        'Sign digests, not tags: a tag can move between the push and the signature. ' +
        "Set digest to the build's digest (docker/build-push-action's digest output) " +
        'and every tag takes it without a lookup.',
    )
    return
  }
  const message =
    `${subject.written} is a tag; verifying the digest it points to now, ${digest}` +
    (subject.dockerfile ? '' : '. Verify digests, not tags: a tag can move.')
  // A Dockerfile names its images by tag as a matter of course: said, not warned.
  if (subject.dockerfile) log.info(message)
  else log.warning(message)
}

/**
 * One subject: the manifest it names (HEAD by referenceOf) and, for an index when `recursive` or
 * a platform is wanted, the manifests the index lists (only the wanted platform's). The children
 * are returned when `recursive`; a wanted platform without `recursive` only has to be listed.
 */
export async function resolveSubject(
  registry: Registry,
  subject: Subject,
  options: { mode: ResolveMode; recursive: boolean; log: Logger },
): Promise<Resolution> {
  const repo = repositoryOf(subject)
  const unresolved = (
    reason: string,
    digest: string,
    how: { cause?: unknown; code?: SignetError['code']; notFound?: boolean } = {},
  ): Unresolved => ({
    reason,
    digest,
    notFound: how.notFound ?? false,
    error:
      how.cause ??
      new SignetError(
        how.code ?? 'REGISTRY_ERROR',
        `${digest ? `${subject.name}@${digest}` : subject.written}: ${reason}`,
      ),
  })

  const reference = referenceOf(subject)
  let descriptor: Descriptor | undefined
  try {
    descriptor = await registry.headManifest(repo, reference)
  } catch (err) {
    return unresolved(
      `could not read the image from its registry: ${describeError(err)}`,
      subject.digest ?? '',
      { cause: err },
    )
  }
  if (!descriptor) {
    return unresolved(
      `expected the image in its registry, got not found (${reference})`,
      subject.digest ?? '',
      { code: 'IMAGE_NOT_FOUND', notFound: true },
    )
  }
  if (!subject.digest) noteTag(options.mode, subject, descriptor.digest, options.log)
  if (!isIndexMediaType(descriptor.mediaType) || (!options.recursive && !subject.platform))
    return { descriptor, children: [] }

  const index = descriptor.digest
  const unreadable = (err: unknown, how: { cause?: unknown } = {}): Unresolved =>
    unresolved(`could not read the image index: ${describeError(err)}`, index, how)
  let fetched
  try {
    fetched = await registry.getManifest(repo, index)
  } catch (err) {
    return unreadable(err, { cause: err })
  }
  // The index's signature covers what it lists only if these are the bytes it signs.
  const got = fetched ? digestOf(fetched.bytes, index) : 'nothing'
  if (!fetched || got !== index)
    return unresolved(`expected the image index ${index} from its registry, got ${got}`, index)
  let listed: ImageIndex['manifests']
  try {
    listed = (JSON.parse(fetched.bytes.toString('utf8')) as ImageIndex).manifests ?? []
  } catch (err) {
    return unreadable(err)
  }
  // A registry controls the index: bound the work one image can cause.
  if (listed.length > MAX_INDEX_CHILDREN)
    return unresolved(
      `expected at most ${MAX_INDEX_CHILDREN} manifests in the image index, got ${listed.length} (Signet's limit on one image's work)`,
      index,
      { code: 'REGISTRY_LIMIT' },
    )
  const children = listed
    .map((child): IndexChild => ({
      descriptor: { mediaType: child.mediaType, digest: child.digest, size: child.size },
      parent: index,
      platform: platformText(child.platform),
    }))
    .filter((c) => !subject.platform || platformMatches(subject.platform, c.platform))
  if (subject.platform && children.length === 0)
    return unresolved(`expected a ${subject.platform} manifest in the index, got none`, index, {
      code: 'IMAGE_NOT_FOUND',
    })
  return { descriptor, children: options.recursive ? children : [] }
}

/** A manifest sign mode signs: a subject's, or one its index lists. */
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

/**
 * Sign's list: every subject resolved, each digest checked to exist before anything is signed
 * (every missing one named at once), index children added when `recursive`. One entry per
 * repository and digest, in the order named, the children after every named image.
 */
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

  const resolved = await mapLimit([...unique.values()], options.concurrency ?? 8, async (r) => ({
    subject: r,
    resolution: await resolveSubject(registry, r, {
      mode: 'sign',
      recursive: options.recursive,
      log: options.log,
    }),
  }))
  // A registry that failed is not taken for a missing image.
  for (const { resolution } of resolved)
    if ('reason' in resolution && !resolution.notFound) throw resolution.error
  const missing = resolved.filter(({ resolution }) => 'reason' in resolution).map((r) => r.subject)
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
    // Two tags that point to one digest are one image, named by both; a platform manifest also
    // named directly is the one named.
    if (first) first.writtenAs = mergeNames(first.writtenAs, image.writtenAs)
    else images.set(key, image)
  }
  const found = resolved.flatMap(({ subject, resolution }) =>
    'reason' in resolution ? [] : [{ subject, ...resolution }],
  )
  for (const { subject, descriptor } of found) {
    add({
      repo: repositoryOf(subject),
      name: subject.name,
      digest: descriptor.digest,
      descriptor,
      writtenAs: namesOf(subject),
    })
  }
  for (const { subject, children } of found) {
    for (const child of children) {
      add({
        repo: repositoryOf(subject),
        name: subject.name,
        digest: child.descriptor.digest,
        descriptor: child.descriptor,
        parent: child.parent,
        platform: child.platform,
        writtenAs: [],
      })
    }
  }
  return [...images.values()]
}

function mergeNames(first: string[], more: string[]): string[] {
  return [...first, ...more.filter((name) => !first.includes(name))]
}
