/**
 * resolveImages against an in-memory registry: tags become digests (with a warning), every digest
 * is checked to exist before anything is signed, an index's children are added with their
 * platforms when `recursive`.
 */
import { SignetError } from '../../src/errors'
import type { Inputs } from '../../src/inputs'
import { MEDIA_TYPES } from '../../src/registry/types'
import { METADATA_ACTION_ENV, requestedImages, type Subject } from '../../src/subjects'
import { resolveImages } from '../../src/subjects/resolve'
import { FakeRegistry } from '../infra/fake-registry'
import { recordingLogger } from '../infra/recording-logger'

const repo = { registry: 'registry.test', repository: 'acme/app' }
const NAME = 'registry.test/acme/app'
const ABSENT = `sha256:${'0'.repeat(64)}`

function requested(
  images: string[],
  more: Partial<Pick<Inputs, 'digest' | 'metadata'>> = {},
  env: NodeJS.ProcessEnv = {},
): Subject[] {
  return requestedImages({ images, ...more }, env)
}

describe('resolveImages', () => {
  test('a tag is resolved to the digest it points to, with a warning naming both', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo, { tag: 'v1' })
    const { log, warnings } = recordingLogger()
    const resolved = await resolveImages(registry, requested([`${NAME}:v1`]), {
      recursive: false,
      log,
    })
    expect(resolved).toEqual([
      {
        repo,
        name: NAME,
        digest: image.digest,
        descriptor: image,
        writtenAs: [`${NAME}:v1`],
      },
    ])
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`${NAME}:v1 is a tag`)
    expect(warnings[0]).toContain(image.digest)
  })

  test('a digest is checked to exist and needs no warning', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo)
    const { log, warnings } = recordingLogger()
    const resolved = await resolveImages(registry, requested([`${NAME}@${image.digest}`]), {
      recursive: false,
      log,
    })
    expect(resolved.map((r) => r.digest)).toEqual([image.digest])
    expect(warnings).toEqual([])
    expect(registry.calls).toEqual([{ op: 'headManifest', repo, reference: image.digest }])
  })

  test('a tag that took the digest input is never looked up by tag', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo)
    const { log } = recordingLogger()
    // A push-by-digest build: the tag was never pushed, and that is no obstacle.
    const resolved = await resolveImages(
      registry,
      requested([`${NAME}:never-pushed`], { digest: image.digest }),
      { recursive: false, log },
    )
    expect(resolved.map((r) => [r.digest, r.writtenAs])).toEqual([
      [image.digest, [`${NAME}:never-pushed`]],
    ])
    expect(registry.calls.map((c) => c.reference)).toEqual([image.digest])
  })

  test('two tags of one digest are one image, named by both', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo, { tag: 'v1' })
    registry.seedTag(repo, 'latest', image.digest)
    const { log } = recordingLogger()
    const resolved = await resolveImages(
      registry,
      requested([`${NAME}:v1`, `${NAME}:latest`, `${NAME}@${image.digest}`]),
      { recursive: false, log },
    )
    expect(resolved).toHaveLength(1)
    expect(resolved[0].digest).toBe(image.digest)
    expect(resolved[0].writtenAs).toEqual([
      `${NAME}:v1`,
      `${NAME}:latest`,
      `${NAME}@${image.digest}`,
    ])
  })

  test('one digest in two repositories is two images', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo)
    registry.seedCopy(repo, { ...repo, repository: 'acme/mirror' }, image.digest)
    const { log } = recordingLogger()
    const resolved = await resolveImages(
      registry,
      requested([`${NAME}@${image.digest}`, `registry.test/acme/mirror@${image.digest}`]),
      { recursive: false, log },
    )
    expect(resolved.map((r) => r.repo.repository)).toEqual(['acme/app', 'acme/mirror'])
  })

  test('recursive: an index brings its platform manifests, each with its parent and platform', async () => {
    const registry = new FakeRegistry()
    const { index, children } = registry.seedIndex(
      repo,
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      { tag: 'v1' },
    )
    const { log } = recordingLogger()
    const resolved = await resolveImages(registry, requested([`${NAME}:v1`]), {
      recursive: true,
      log,
    })
    expect(resolved.map((r) => [r.digest, r.parent, r.platform, r.descriptor.mediaType])).toEqual([
      [index.digest, undefined, undefined, MEDIA_TYPES.ociIndex],
      [children[0].digest, index.digest, 'linux/amd64', MEDIA_TYPES.ociManifest],
      [children[1].digest, index.digest, 'linux/arm64/v8', MEDIA_TYPES.ociManifest],
    ])
    // Children carry their own descriptor (no platform field) and no names of their own.
    expect(resolved[1].descriptor).toEqual({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: children[0].digest,
      size: children[0].size,
    })
    expect(resolved[1].writtenAs).toEqual([])
    expect(resolved[1].name).toBe(NAME)
  })

  test('recursive: a Docker manifest list is an index too', async () => {
    const registry = new FakeRegistry()
    const { index } = registry.seedIndex(repo, [{ os: 'linux', architecture: 'amd64' }], {
      mediaType: MEDIA_TYPES.dockerManifestList,
    })
    const { log } = recordingLogger()
    const resolved = await resolveImages(registry, requested([`${NAME}@${index.digest}`]), {
      recursive: true,
      log,
    })
    expect(resolved.map((r) => r.platform)).toEqual([undefined, 'linux/amd64'])
  })

  test('not recursive: the index alone, its manifest never read', async () => {
    const registry = new FakeRegistry()
    const { index } = registry.seedIndex(repo, [{ os: 'linux', architecture: 'amd64' }])
    const { log } = recordingLogger()
    const resolved = await resolveImages(registry, requested([`${NAME}@${index.digest}`]), {
      recursive: false,
      log,
    })
    expect(resolved.map((r) => r.digest)).toEqual([index.digest])
    expect(registry.calls.filter((c) => c.op === 'getManifest')).toEqual([])
  })

  test('recursive: a platform manifest also named directly is one image, the one named', async () => {
    const registry = new FakeRegistry()
    const { index, children } = registry.seedIndex(repo, [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ])
    const { log } = recordingLogger()
    const resolved = await resolveImages(
      registry,
      requested([`${NAME}@${index.digest}`, `${NAME}@${children[1].digest}`]),
      { recursive: true, log },
    )
    expect(resolved.map((r) => r.digest)).toEqual([
      index.digest,
      children[1].digest,
      children[0].digest,
    ])
    expect(resolved[1].writtenAs).toEqual([`${NAME}@${children[1].digest}`])
  })

  test('a missing image is named, with every other missing one, and the input', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo, { tag: 'v1' })
    const { log } = recordingLogger()
    const error = await resolveImages(
      registry,
      requested([`${NAME}@${image.digest}`, `${NAME}:gone`, `${NAME}@${ABSENT}`]),
      { recursive: true, log },
    ).catch((err: unknown) => err)
    expect(error).toBeInstanceOf(SignetError)
    expect(error).toMatchObject({ code: 'IMAGE_NOT_FOUND', input: 'images' })
    const message = (error as Error).message
    expect(message).toContain('input images: not in the registry')
    expect(message).toContain(`${NAME}:gone`)
    expect(message).toContain(`${NAME}@${ABSENT}`)
    expect(message).not.toContain(image.digest)
    expect(message).toContain('push: true')
  })

  test('a missing tag that took the digest input is named by that digest', async () => {
    const registry = new FakeRegistry()
    const { log } = recordingLogger()
    await expect(
      resolveImages(registry, requested([`${NAME}:v1`], { digest: ABSENT }), {
        recursive: false,
        log,
      }),
    ).rejects.toThrow(`not in the registry: ${NAME}@${ABSENT}`)
  })

  test('an image named by docker/metadata-action says where it was read', async () => {
    const registry = new FakeRegistry()
    const { log } = recordingLogger()
    const env = { [METADATA_ACTION_ENV]: JSON.stringify({ tags: [`${NAME}:v1`] }) }
    await expect(
      resolveImages(registry, requested([], {}, env), { recursive: false, log }),
    ).rejects.toThrow(`${METADATA_ACTION_ENV} (docker/metadata-action): not in the registry`)
  })

  test('a registry error is not taken for a missing image', async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(repo)
    registry.fail((c) => c.op === 'headManifest')
    const { log } = recordingLogger()
    await expect(
      resolveImages(registry, requested([`${NAME}@${image.digest}`]), { recursive: false, log }),
    ).rejects.toMatchObject({ code: 'REGISTRY_ERROR' })
  })
})
