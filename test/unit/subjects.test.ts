/**
 * Which images a run handles when a workflow passes what docker/metadata-action and
 * docker/build-push-action publish: tags with the build's digest, or nothing but the
 * DOCKER_METADATA_OUTPUT_JSON variable metadata-action exports.
 */
import {
  MEDIA_TYPES,
  type Descriptor,
  type Registry,
  type Repository,
} from '../../src/registry/types'
import { silentLogger } from '../../src/report/types'
import { resolveImages } from '../../src/subjects/resolve'
import { requestedImages } from '../../src/subjects'
import { asyncErrorOf, errorOf } from '../infra/expect'

const DIGEST = `sha256:${'1f'.repeat(32)}`
const OTHER = `sha256:${'2e'.repeat(32)}`

/** What docker/metadata-action exports as DOCKER_METADATA_OUTPUT_JSON (its `json` output). */
function metadataActionJson(tags: string[]): string {
  return JSON.stringify({
    tags,
    labels: {
      'org.opencontainers.image.created': '2025-01-01T00:00:00.000Z',
      'org.opencontainers.image.revision': '0123456789abcdef0123456789abcdef01234567',
      'org.opencontainers.image.source': 'https://github.com/acme/app',
      'org.opencontainers.image.version': '1.2.3',
    },
    annotations: ['manifest:org.opencontainers.image.version=1.2.3'],
  })
}

const summary = (images: ReturnType<typeof requestedImages>) =>
  images.map((i) => ({ name: i.name, digest: i.digest, tag: i.tag, writtenAs: i.writtenAs }))

describe('tags plus digest (docker/metadata-action tags, docker/build-push-action digest)', () => {
  it('issue 9.2: a tag in images takes digest and is never resolved', () => {
    const images = requestedImages(
      {
        images: ['ghcr.io/acme/app:1.2.3', 'docker.io/acme/app:1.2.3'],
        digest: DIGEST,
      },
      {},
    )
    expect(summary(images)).toEqual([
      {
        name: 'ghcr.io/acme/app',
        digest: DIGEST,
        tag: undefined,
        writtenAs: ['ghcr.io/acme/app:1.2.3'],
      },
      {
        name: 'index.docker.io/acme/app',
        digest: DIGEST,
        tag: undefined,
        writtenAs: ['docker.io/acme/app:1.2.3'],
      },
    ])
  })

  it('issue 9.2: several tags of one repository with one digest are one subject, every name kept', () => {
    const tags = ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:1.2', 'ghcr.io/acme/app:latest']
    const images = requestedImages({ images: tags, digest: DIGEST }, {})
    expect(images).toHaveLength(1)
    expect(images[0]).toMatchObject({
      registry: 'ghcr.io',
      repository: 'acme/app',
      digest: DIGEST,
      written: 'ghcr.io/acme/app:1.2.3',
      writtenAs: tags,
      input: 'images',
    })
    expect(images[0].tag).toBeUndefined()
    // the same image written twice, and by digest beside its tags, is still one subject
    const again = requestedImages(
      { images: [...tags, tags[0], `ghcr.io/acme/app@${DIGEST}`], digest: DIGEST },
      {},
    )
    expect(again).toHaveLength(1)
    expect(again[0].writtenAs).toEqual([...tags, `ghcr.io/acme/app@${DIGEST}`])
  })

  it('issue 9.2: the tags of build-push-action metadata are one subject per repository and digest', () => {
    const images = requestedImages(
      {
        images: [],
        metadata: JSON.stringify({
          'containerimage.digest': DIGEST,
          'image.name': 'ghcr.io/acme/app:sha-1,ghcr.io/acme/app:latest,docker.io/acme/app:latest',
        }),
      },
      {},
    )
    expect(images.map((i) => [i.name, i.digest, i.writtenAs])).toEqual([
      ['ghcr.io/acme/app', DIGEST, ['ghcr.io/acme/app:sha-1', 'ghcr.io/acme/app:latest']],
      ['index.docker.io/acme/app', DIGEST, ['docker.io/acme/app:latest']],
    ])
  })

  it('issue 9.2: name:tag@digest is that digest, with or without an equal digest input', () => {
    for (const digest of [undefined, DIGEST]) {
      const [image] = requestedImages({ images: [`ghcr.io/acme/app:v1@${DIGEST}`], digest }, {})
      expect(image).toMatchObject({ name: 'ghcr.io/acme/app', digest: DIGEST })
      expect(image.tag).toBeUndefined()
    }
  })

  it('issue 9.2: name:tag@digest with another digest input is an error naming digest', () => {
    const err = errorOf(() =>
      requestedImages({ images: [`ghcr.io/acme/app:v1@${DIGEST}`], digest: OTHER }, {}),
    )
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.input).toBe('digest')
    expect(err.message).toContain(OTHER)
    expect(err.message).toContain(`ghcr.io/acme/app:v1@${DIGEST}`)
  })

  it('issue 9.2: a name pinned by digest alone keeps its digest beside a digest input', () => {
    const images = requestedImages(
      { images: [`ghcr.io/acme/base@${OTHER}`, 'ghcr.io/acme/app:v1'], digest: DIGEST },
      {},
    )
    expect(images.map((i) => `${i.name}@${i.digest}`)).toEqual([
      `ghcr.io/acme/base@${OTHER}`,
      `ghcr.io/acme/app@${DIGEST}`,
    ])
  })

  it('issue 9.2: without digest, tags are still tags to resolve', () => {
    const images = requestedImages({ images: ['ghcr.io/acme/app:v1', 'ghcr.io/acme/app:v2'] }, {})
    expect(images.map((i) => [i.tag, i.digest])).toEqual([
      ['v1', undefined],
      ['v2', undefined],
    ])
  })
})

describe('DOCKER_METADATA_OUTPUT_JSON (exported by docker/metadata-action)', () => {
  const tags = ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:latest', 'docker.io/acme/app:1.2.3']

  it('issue 9.2: with images empty, the tags metadata-action exported take digest', () => {
    const images = requestedImages(
      { images: [], digest: DIGEST },
      { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson(tags) },
    )
    expect(summary(images)).toEqual([
      {
        name: 'ghcr.io/acme/app',
        digest: DIGEST,
        tag: undefined,
        writtenAs: ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:latest'],
      },
      {
        name: 'index.docker.io/acme/app',
        digest: DIGEST,
        tag: undefined,
        writtenAs: ['docker.io/acme/app:1.2.3'],
      },
    ])
    expect(images[0].via).toBe('DOCKER_METADATA_OUTPUT_JSON')
  })

  it('issue 9.2: without digest, the tags metadata-action exported are tags to resolve', () => {
    const images = requestedImages(
      { images: [] },
      { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson(tags) },
    )
    expect(images.map((i) => [i.name, i.tag, i.digest])).toEqual([
      ['ghcr.io/acme/app', '1.2.3', undefined],
      ['ghcr.io/acme/app', 'latest', undefined],
      ['index.docker.io/acme/app', '1.2.3', undefined],
    ])
  })

  it('issue 9.2: images or metadata, when given, win over the variable', () => {
    const env = { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson(tags) }
    const named = requestedImages({ images: ['ghcr.io/acme/other:v1'], digest: DIGEST }, env)
    expect(named.map((i) => i.name)).toEqual(['ghcr.io/acme/other'])
    const metadata = JSON.stringify({
      'containerimage.digest': DIGEST,
      'image.name': 'ghcr.io/acme/built:v1',
    })
    expect(requestedImages({ images: [], metadata }, env).map((i) => i.name)).toEqual([
      'ghcr.io/acme/built',
    ])
  })

  it('issue 9.2: the variable is read from process.env by default', () => {
    const saved = process.env.DOCKER_METADATA_OUTPUT_JSON
    process.env.DOCKER_METADATA_OUTPUT_JSON = metadataActionJson(['ghcr.io/acme/app:v9'])
    try {
      expect(requestedImages({ images: [], digest: DIGEST }).map((i) => i.name)).toEqual([
        'ghcr.io/acme/app',
      ])
    } finally {
      if (saved === undefined) delete process.env.DOCKER_METADATA_OUTPUT_JSON
      else process.env.DOCKER_METADATA_OUTPUT_JSON = saved
    }
  })

  it.each([
    ['not JSON', '{tags', /not JSON/],
    ['no tags array', JSON.stringify({ labels: {} }), /tags/],
    ['a tag that is not a string', JSON.stringify({ tags: [7] }), /tags/],
    // metadata-action run without its images input writes bare tags
    [
      'bare tags (metadata-action without images)',
      metadataActionJson(['1.2.3', 'latest']),
      /images/,
    ],
  ])('issue 9.2: refuses a DOCKER_METADATA_OUTPUT_JSON with %s', (_what, value, message) => {
    const err = errorOf(() =>
      requestedImages({ images: [], digest: DIGEST }, { DOCKER_METADATA_OUTPUT_JSON: value }),
    )
    expect(err.code).toBe('METADATA_INVALID')
    expect(err.input).toBe('images')
    expect(err.message).toContain('DOCKER_METADATA_OUTPUT_JSON')
    expect(err.message).toMatch(message)
  })

  it('issue 9.2: an empty tag list says where it looked', () => {
    const err = errorOf(() =>
      requestedImages(
        { images: [], digest: DIGEST },
        { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson([]) },
      ),
    )
    expect(err.code).toBe('NO_IMAGES')
    expect(err.message).toMatch(/no images to sign/)
    expect(err.message).toContain('DOCKER_METADATA_OUTPUT_JSON')
  })
})

describe('resolving what tags plus digest name', () => {
  it('issue 9.2: only the digest is looked up, and the image keeps every tag written for it', async () => {
    const lookedUp: string[] = []
    const registry = {
      headManifest: async (repo: Repository, reference: string): Promise<Descriptor> => {
        lookedUp.push(`${repo.repository}:${reference}`)
        return { mediaType: MEDIA_TYPES.ociManifest, digest: reference, size: 100 }
      },
    } as unknown as Registry
    const tags = ['ghcr.io/acme/app:1.2.3', 'ghcr.io/acme/app:1.2', 'ghcr.io/acme/app:latest']
    const warnings: string[] = []
    const resolved = await resolveImages(
      registry,
      requestedImages({ images: tags, digest: DIGEST }, {}),
      { recursive: true, log: { ...silentLogger, warning: (m) => warnings.push(m) } },
    )
    expect(lookedUp).toEqual([`acme/app:${DIGEST}`])
    expect(resolved.map((r) => [r.name, r.digest, r.writtenAs])).toEqual([
      ['ghcr.io/acme/app', DIGEST, tags],
    ])
    expect(warnings).toEqual([])
  })

  it('issue 9.2: a digest that is not there is named by the digest looked up, and where it was read', async () => {
    const registry = { headManifest: async () => undefined } as unknown as Registry
    const err = await asyncErrorOf(
      resolveImages(
        registry,
        requestedImages(
          { images: [], digest: DIGEST },
          { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson(['ghcr.io/acme/app:1.2.3']) },
        ),
        { recursive: true, log: silentLogger },
      ),
    )
    expect(err.code).toBe('IMAGE_NOT_FOUND')
    expect(err.message).toContain(`ghcr.io/acme/app@${DIGEST}`)
    expect(err.message).toContain('DOCKER_METADATA_OUTPUT_JSON')
  })
})
