/**
 * Which images a run handles: `images` (+ `digest`) and build/bake `metadata`. Pure: tags are
 * resolved to digests later, against the registry.
 */
import { SignetError } from '../errors'
import { INPUT, type Inputs } from '../inputs'
import { parseImageReference, validateDigest } from '../registry/reference'

export interface RequestedImage {
  registry: string
  repository: string
  /** `registry/repository` as cosign writes it in payloads. */
  name: string
  tag?: string
  digest?: string
  /** What the user wrote, for messages. */
  written: string
  /** The input it came from, for messages. */
  input: string
}

interface BuildMetadata {
  'containerimage.digest'?: unknown
  'image.name'?: unknown
}

function fromBuildMetadata(entry: BuildMetadata, where: string): RequestedImage[] {
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
      input: INPUT.metadata,
    }
  })
}

/** The `metadata` output of docker/build-push-action (one build) or docker/bake-action (by target). */
export function parseBuildMetadata(text: string): RequestedImage[] {
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
  let images: RequestedImage[]
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

export function requestedImages(
  inputs: Pick<Inputs, 'images' | 'digest' | 'metadata'>,
): RequestedImage[] {
  if (inputs.digest !== undefined) validateDigest(inputs.digest, INPUT.digest)
  const images: RequestedImage[] = inputs.images.map((text) => {
    const ref = parseImageReference(text, INPUT.images)
    let digest = ref.digest
    if (!digest && !ref.tag) {
      if (!inputs.digest) {
        throw new SignetError(
          'IMAGE_REFERENCE_INVALID',
          `input images: "${text}" has neither a digest nor a tag; write name@sha256:… or set the digest input`,
          { input: INPUT.images },
        )
      }
      digest = inputs.digest
    }
    return {
      registry: ref.registry,
      repository: ref.repository,
      name: ref.name,
      tag: digest ? undefined : ref.tag,
      digest,
      written: text,
      input: INPUT.images,
    }
  })
  if (inputs.metadata) images.push(...parseBuildMetadata(inputs.metadata))
  if (images.length === 0) {
    throw new SignetError(
      'NO_IMAGES',
      'no images to sign: set images (name@sha256:…, or names with digest) or metadata (from docker/build-push-action)',
      { input: INPUT.images },
    )
  }
  return images
}
