/**
 * Which images a run handles: `images` (+ `digest`), build/bake `metadata`, or, when neither is
 * set, the tags docker/metadata-action exported (+ `digest`): requestedImages, pure but for the
 * environment it is handed. Verify adds the images of its Dockerfiles: subjectsToVerify. Tags
 * left without a digest are resolved later, against the registry, by ./resolve.ts.
 */
import { SignetError, isSignetError } from '../errors'
import { INPUT, type Inputs, type VerifyInputs } from '../inputs'
import { parseImageReference, validateDigest, type ImageReference } from '../registry/reference'
import type { DockerfileLocation } from '../report/types'
import { dockerfileSubjects, type ReplacedByContext } from './from-dockerfiles'
import { METADATA_ACTION_ENV, metadataActionTags, refuseMetadataActionTag } from './metadata-action'

export { METADATA_ACTION_ENV }
export type { ReplacedByContext }

/**
 * An image a run signs or verifies, and where it was named: in an input (images, metadata,
 * metadata-action's variable) or in a Dockerfile. Both modes resolve it with ./resolve.ts.
 */
export interface Subject {
  registry: string
  repository: string
  /** `registry/repository` as cosign writes it in payloads. */
  name: string
  tag?: string
  digest?: string
  /**
   * What was written, for messages: in the input (the first of `writtenAs`), or in the
   * Dockerfile after ARG substitution.
   */
  written: string
  /**
   * Every name written for this image, in order: several tags of one repository that take one
   * digest are one image, and the report can still name each tag. requestedImages always sets it;
   * optional for callers that describe an image only to reach its registry.
   */
  writtenAs?: string[]
  /** The input it came from, for messages. */
  input: string
  /** Where the name was read when no input named it: the DOCKER_METADATA_OUTPUT_JSON variable. */
  via?: typeof METADATA_ACTION_ENV
  /** Where a Dockerfile names it (input dockerfile), for results and annotations. */
  dockerfile?: DockerfileLocation
  /** `FROM --platform`: of an index, only the manifests of this platform are wanted. */
  platform?: string
}

interface BuildMetadata {
  'containerimage.digest'?: unknown
  'image.name'?: unknown
}

function fromBuildMetadata(entry: BuildMetadata, where: string): Subject[] {
  const names = typeof entry['image.name'] === 'string' ? entry['image.name'] : ''
  const digest = entry['containerimage.digest']
  const list = names
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '')
  if (list.length === 0) return []
  if (typeof digest !== 'string' || digest === '') {
    throw new SignetError(
      'METADATA_INVALID',
      `input metadata${where} has image.name but no containerimage.digest: the build did not push; ` +
        'set push: true on the build step',
      { input: INPUT.metadata },
    )
  }
  validateDigest(digest, INPUT.metadata)
  return list.map((text) => {
    const ref = parseImageReference(text, INPUT.metadata)
    return {
      registry: ref.registry,
      repository: ref.repository,
      name: ref.name,
      digest,
      written: `${ref.name}@${digest}`,
      writtenAs: [text],
      input: INPUT.metadata,
    }
  })
}

/** The `metadata` output of docker/build-push-action (one build) or docker/bake-action (by target). */
export function parseBuildMetadata(text: string): Subject[] {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new SignetError(
      'METADATA_INVALID',
      'input metadata is not JSON: pass the metadata output of docker/build-push-action or docker/bake-action as is',
      { input: INPUT.metadata },
    )
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignetError('METADATA_INVALID', 'input metadata must be a JSON object', {
      input: INPUT.metadata,
    })
  }
  const record = value as Record<string, unknown>
  let images: Subject[]
  if ('image.name' in record || 'containerimage.digest' in record) {
    images = fromBuildMetadata(record, '')
  } else {
    images = Object.entries(record).flatMap(([target, entry]) =>
      typeof entry === 'object' && entry !== null
        ? fromBuildMetadata(entry as BuildMetadata, ` (target ${target})`)
        : [],
    )
  }
  if (images.length === 0) {
    throw new SignetError(
      'METADATA_INVALID',
      'input metadata names no image: the build needs tags (image.name) and push: true',
      { input: INPUT.metadata },
    )
  }
  return images
}

/**
 * One name of `images` (or of metadata-action's tags): a name with a digest keeps it; a name with a
 * tag or with neither takes the `digest` input when there is one, so the tag is never looked up
 * (docker/metadata-action's tags with docker/build-push-action's digest, and tags a push-by-digest
 * build never pushed). `name:tag@digest` already says its digest: a different `digest` is a
 * contradiction, not a choice.
 */
function fromName(
  ref: ImageReference,
  text: string,
  digestInput: string | undefined,
): Pick<Subject, 'tag' | 'digest'> {
  if (ref.digest) {
    if (ref.tag && digestInput && digestInput !== ref.digest) {
      throw new SignetError(
        'INPUT_INVALID',
        `input digest ${digestInput} differs from the digest "${text}" names: a tagged name takes ` +
          'the digest input, so one of them is wrong; drop the digest from the name, or fix digest',
        { input: INPUT.digest },
      )
    }
    return { digest: ref.digest }
  }
  if (digestInput) return { digest: digestInput }
  if (!ref.tag) {
    throw new SignetError(
      'IMAGE_REFERENCE_INVALID',
      `input images: "${text}" has neither a digest nor a tag; write name@sha256:… or set the digest input`,
      { input: INPUT.images },
    )
  }
  return { tag: ref.tag }
}

function toRequested(
  ref: ImageReference,
  text: string,
  place: Pick<Subject, 'tag' | 'digest' | 'input' | 'via'>,
): Subject {
  return {
    registry: ref.registry,
    repository: ref.repository,
    name: ref.name,
    written: text,
    writtenAs: [text],
    ...place,
  }
}

/** The tags docker/metadata-action exported, as images: each takes `digest` when it is given. */
function fromMetadataAction(tags: string[], digestInput: string | undefined): Subject[] {
  return tags.map((text) => {
    let ref: ImageReference
    try {
      ref = parseImageReference(text, METADATA_ACTION_ENV)
    } catch (err) {
      // Its message names the variable as the input; the error must name one the user can set.
      if (isSignetError(err)) refuseMetadataActionTag(text, err.message)
      throw err
    }
    if (!ref.tag && !ref.digest) refuseMetadataActionTag(text)
    return toRequested(ref, text, {
      ...fromName(ref, text, digestInput),
      input: INPUT.images,
      via: METADATA_ACTION_ENV,
    })
  })
}

/** The names written for an image: its writtenAs, or the one it was written as. */
export function namesOf(image: Pick<Subject, 'written' | 'writtenAs'>): string[] {
  return image.writtenAs ? [...image.writtenAs] : [image.written]
}

/**
 * One image per repository and digest (or, while unresolved, per repository and tag), in the order
 * first named: every tag of metadata-action's output names the same build, and signing it once per
 * tag would write the same signature again. The names are kept in `writtenAs`.
 */
function mergeSameImage(images: Subject[]): Subject[] {
  const merged = new Map<string, Subject>()
  for (const image of images) {
    const key = `${image.registry}/${image.repository}${image.digest ? `@${image.digest}` : `:${image.tag}`}`
    const first = merged.get(key)
    if (!first) {
      merged.set(key, { ...image, writtenAs: namesOf(image) })
      continue
    }
    const names = namesOf(first)
    for (const text of namesOf(image)) if (!names.includes(text)) names.push(text)
    first.writtenAs = names
  }
  return [...merged.values()]
}

/**
 * The images a run names: `images` (a tagged or bare name takes `digest`), then `metadata`; with
 * both empty, the tags docker/metadata-action exported in DOCKER_METADATA_OUTPUT_JSON (read from
 * `env`, process.env by default). One entry per repository and digest.
 */
export function requestedImages(
  inputs: Pick<Inputs, 'images' | 'digest' | 'metadata'>,
  env: NodeJS.ProcessEnv = process.env,
  mode: Inputs['mode'] = 'sign',
): Subject[] {
  if (inputs.digest !== undefined) validateDigest(inputs.digest, INPUT.digest)
  const images: Subject[] = inputs.images.map((text) => {
    const ref = parseImageReference(text, INPUT.images)
    return toRequested(ref, text, { ...fromName(ref, text, inputs.digest), input: INPUT.images })
  })
  if (inputs.metadata) images.push(...parseBuildMetadata(inputs.metadata))
  // Only when nothing names an image: a variable left by an earlier step never adds to what is named.
  const exported =
    inputs.images.length === 0 && !inputs.metadata ? metadataActionTags(env) : undefined
  if (exported) images.push(...fromMetadataAction(exported, inputs.digest))
  if (images.length === 0) {
    throw new SignetError(
      'NO_IMAGES',
      exported
        ? `no images to ${mode}: ${METADATA_ACTION_ENV} (docker/metadata-action) lists no tags; ` +
            'check its tags input, or set images'
        : `no images to ${mode}: set images (name@sha256:…, or names with digest) or metadata (from docker/build-push-action)`,
      { input: INPUT.images },
    )
  }
  return mergeSameImage(images)
}

/**
 * What a verify run checks, in the order named: the images of images/metadata (or, with nothing
 * named at all, of metadata-action's variable), then those of the Dockerfiles. A Dockerfile image
 * a build context replaced with something that is no registry image comes decided already.
 */
export async function subjectsToVerify(
  inputs: Pick<
    VerifyInputs,
    'images' | 'digest' | 'metadata' | 'dockerfiles' | 'buildArgs' | 'buildContexts'
  >,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<(Subject | ReplacedByContext)[]> {
  const { cwd, env } = options
  const subjects: (Subject | ReplacedByContext)[] = []
  // With nothing named at all, the tags docker/metadata-action exported are the images.
  const metadataActionOnly =
    inputs.images.length === 0 &&
    !inputs.metadata &&
    inputs.dockerfiles.length === 0 &&
    env[METADATA_ACTION_ENV] !== undefined
  if (inputs.images.length > 0 || inputs.metadata || metadataActionOnly) {
    subjects.push(...requestedImages(inputs, env, 'verify'))
  }
  subjects.push(
    ...(await dockerfileSubjects(inputs.dockerfiles, cwd, {
      buildArgs: inputs.buildArgs,
      buildContexts: inputs.buildContexts,
    })),
  )
  if (subjects.length === 0) {
    throw new SignetError(
      'NO_IMAGES',
      inputs.dockerfiles.length > 0
        ? 'input dockerfile: the Dockerfiles name no image (only scratch or build stages)'
        : 'no images to verify: set images (name@sha256:… or name:tag), metadata or dockerfile',
      { input: inputs.dockerfiles.length > 0 ? INPUT.dockerfile : INPUT.images },
    )
  }
  return subjects
}
