/**
 * Which images a run handles when a workflow passes what docker/metadata-action and
 * docker/build-push-action publish: tags with the build's digest, or nothing but the
 * DOCKER_METADATA_OUTPUT_JSON variable metadata-action exports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sha256Digest } from '../../src/formats/digest'
import {
  MAX_INDEX_CHILDREN,
  MEDIA_TYPES,
  type Descriptor,
  type FetchedManifest,
  type Registry,
  type Repository,
} from '../../src/registry/types'
import { silentLogger } from '../../src/report/types'
import { resolveImages, resolveSubject, type Resolution } from '../../src/subjects/resolve'
import { requestedImages, subjectsToVerify, type Subject } from '../../src/subjects'
import { asyncErrorOf, errorOf } from '../infra/expect'
import { FakeRegistry } from '../infra/fake-registry'
import { recordingLogger } from '../infra/recording-logger'

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

// --- one resolver for both modes ----------------------------------------------------------------

const REPO = { registry: 'registry.test', repository: 'acme/app' }
const NAME = 'registry.test/acme/app'

/** A logger that keeps what it is told, by level. */

/** A subject as subjects/ makes them: from images (with digest), or from a Dockerfile line. */
function subject(written: string, more: Partial<Subject> = {}): Subject {
  const [image] = requestedImages({ images: [written] }, {})
  return { ...image, ...more }
}

/** A registry that answers one index: `bytes` for it, under `digest` (theirs by default). */
function indexRegistry(bytes: Buffer, digest = sha256Digest(bytes)): Registry {
  const descriptor = { mediaType: MEDIA_TYPES.ociIndex, digest, size: bytes.length }
  return {
    headManifest: async () => descriptor,
    getManifest: async (): Promise<FetchedManifest> => ({
      descriptor: { ...descriptor, digest: sha256Digest(bytes) },
      bytes,
    }),
  } as unknown as Registry
}

function indexOf(count: number): Buffer {
  const manifests = Array.from({ length: count }, (_, i) => ({
    mediaType: MEDIA_TYPES.ociManifest,
    digest: sha256Digest(`child ${i}`),
    size: 100,
    platform: { os: 'linux', architecture: `arch${i}` },
  }))
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }),
  )
}

function failedReason(resolution: Resolution): string {
  if (!('reason' in resolution)) throw new Error('expected the subject unresolved')
  return resolution.reason
}

describe('one resolver for both modes (resolveSubject)', () => {
  it.each(['sign', 'verify'] as const)(
    'issue 9.2: a tag that took digest is looked up by the digest only (%s)',
    async (mode) => {
      const registry = new FakeRegistry()
      const image = registry.seedImage(REPO)
      const log = recordingLogger()
      const [tagged] = requestedImages(
        { images: [`${NAME}:never-pushed`], digest: image.digest },
        {},
      )
      const resolution = await resolveSubject(registry, tagged, { mode, recursive: true, log })
      expect(resolution).toEqual({ descriptor: image, children: [] })
      expect(registry.calls).toEqual([{ op: 'headManifest', repo: REPO, reference: image.digest }])
      expect(log.lines).toEqual([])
    },
  )

  it("a tag is resolved with a note in the mode's words; a Dockerfile's tag is said, not warned", async () => {
    const registry = new FakeRegistry()
    const image = registry.seedImage(REPO, { tag: 'v1' })
    const notes = async (mode: 'sign' | 'verify', more: Partial<Subject> = {}) => {
      const log = recordingLogger()
      await resolveSubject(registry, subject(`${NAME}:v1`, more), { mode, recursive: false, log })
      return log.lines.map((l): [string, string] => [l.level, l.message])
    }
    expect(await notes('sign')).toEqual([
      [
        'warning',
        expect.stringMatching(
          `^${NAME}:v1 is a tag; signing the digest it points to now, ${image.digest}. Sign digests, not tags`,
        ),
      ],
    ])
    expect(await notes('verify')).toEqual([
      [
        'warning',
        `${NAME}:v1 is a tag; verifying the digest it points to now, ${image.digest}. Verify digests, not tags: a tag can move.`,
      ],
    ])
    const dockerfile = { file: 'Dockerfile', line: 1, use: 'FROM' }
    expect(await notes('verify', { dockerfile, input: 'dockerfile' })).toEqual([
      ['info', `${NAME}:v1 is a tag; verifying the digest it points to now, ${image.digest}`],
    ])
  })

  it('an index lists its children with platform and parent when recursive, and is not read otherwise', async () => {
    const registry = new FakeRegistry()
    const { index, children } = registry.seedIndex(REPO, [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ])
    const named = subject(`${NAME}@${index.digest}`)
    const options = { mode: 'verify' as const, log: silentLogger }
    const resolution = await resolveSubject(registry, named, { ...options, recursive: true })
    expect(resolution).toEqual({
      descriptor: index,
      children: children.map((child, i) => ({
        descriptor: { mediaType: child.mediaType, digest: child.digest, size: child.size },
        parent: index.digest,
        platform: ['linux/amd64', 'linux/arm64/v8'][i],
      })),
    })
    registry.calls.length = 0
    expect(await resolveSubject(registry, named, { ...options, recursive: false })).toEqual({
      descriptor: index,
      children: [],
    })
    expect(registry.calls.map((c) => c.op)).toEqual(['headManifest'])
  })

  it('FROM --platform keeps the platform asked for (a variant under it too), and fails when the index has none', async () => {
    const registry = new FakeRegistry()
    const { index, children } = registry.seedIndex(REPO, [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64', variant: 'v8' },
    ])
    const wanting = (platform: string) =>
      subject(`${NAME}@${index.digest}`, { platform, input: 'dockerfile' })
    const options = { mode: 'verify' as const, log: silentLogger }
    const arm = await resolveSubject(registry, wanting('linux/arm64'), {
      ...options,
      recursive: true,
    })
    expect('children' in arm && arm.children.map((c) => [c.descriptor.digest, c.platform])).toEqual(
      [[children[1].digest, 'linux/arm64/v8']],
    )
    // Without recursive, the index is what is checked: the platform only has to be listed.
    const alone = await resolveSubject(registry, wanting('linux/amd64'), {
      ...options,
      recursive: false,
    })
    expect(alone).toEqual({ descriptor: index, children: [] })
    const none = await resolveSubject(registry, wanting('linux/s390x'), {
      ...options,
      recursive: false,
    })
    expect(none).toMatchObject({
      reason: 'expected a linux/s390x manifest in the index, got none',
      digest: index.digest,
      notFound: false,
    })
  })

  it('issue 9.1: an index whose bytes are not its digest is not expanded, in either mode', async () => {
    const claimed = sha256Digest('the index that was signed')
    const registry = indexRegistry(indexOf(2), claimed)
    const named = subject(`${NAME}@${claimed}`)
    const resolution = await resolveSubject(registry, named, {
      mode: 'verify',
      recursive: true,
      log: silentLogger,
    })
    expect(resolution).toMatchObject({
      reason: `expected the image index ${claimed} from its registry, got ${sha256Digest(indexOf(2))}`,
      digest: claimed,
      notFound: false,
    })
    const err = await asyncErrorOf(
      resolveImages(registry, [named], { recursive: true, log: silentLogger }),
    )
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toBe(`${NAME}@${claimed}: ${failedReason(resolution)}`)
  })

  it(`issue 8.9: an index of more than ${MAX_INDEX_CHILDREN} manifests is refused, in either mode`, async () => {
    const within = indexRegistry(indexOf(MAX_INDEX_CHILDREN))
    const over = indexRegistry(indexOf(MAX_INDEX_CHILDREN + 1))
    const named = subject(`${NAME}:v1`)
    const options = { mode: 'verify' as const, recursive: true, log: silentLogger }
    const ok = await resolveSubject(within, named, options)
    expect('children' in ok && ok.children).toHaveLength(MAX_INDEX_CHILDREN)
    const refused = await resolveSubject(over, named, options)
    expect(failedReason(refused)).toBe(
      `expected at most ${MAX_INDEX_CHILDREN} manifests in the image index, got ${MAX_INDEX_CHILDREN + 1} (Signet's limit on one image's work)`,
    )
    const err = await asyncErrorOf(
      resolveImages(over, [named], { recursive: true, log: silentLogger }),
    )
    expect(err.code).toBe('REGISTRY_LIMIT')
  })

  it("a missing image is notFound by the reference looked up; a registry error is the registry's", async () => {
    const registry = new FakeRegistry()
    const options = { mode: 'verify' as const, recursive: true, log: silentLogger }
    expect(await resolveSubject(registry, subject(`${NAME}:gone`), options)).toMatchObject({
      reason: 'expected the image in its registry, got not found (gone)',
      digest: '',
      notFound: true,
    })
    const image = registry.seedImage(REPO)
    registry.fail((c) => c.op === 'headManifest')
    const failed = await resolveSubject(registry, subject(`${NAME}@${image.digest}`), options)
    expect(failed).toMatchObject({
      reason:
        'could not read the image from its registry: registry fake: failure injected: HTTP 500',
      digest: image.digest,
      notFound: false,
      error: expect.objectContaining({ code: 'REGISTRY_ERROR' }),
    })
  })
})

// --- what verify checks ---------------------------------------------------------------------------

describe('the subjects of a verify run (subjectsToVerify)', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'signet-subjects-'))
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const none = {
    images: [],
    metadata: undefined,
    dockerfiles: [],
    buildArgs: {},
    buildContexts: {},
  }

  it('images first, then each Dockerfile image with where it is named, the platform FROM wants, and :latest', async () => {
    writeFileSync(
      join(dir, 'Dockerfile'),
      'FROM --platform=linux/arm64 ghcr.io/acme/base AS base\nFROM base\nCOPY --from=ghcr.io/acme/tools:1 / /\n',
    )
    const subjects = await subjectsToVerify(
      { ...none, images: [`ghcr.io/acme/app@${DIGEST}`], dockerfiles: ['Dockerfile'] },
      { cwd: dir, env: {} },
    )
    expect(subjects).toEqual([
      expect.objectContaining({ name: 'ghcr.io/acme/app', digest: DIGEST, input: 'images' }),
      expect.objectContaining({
        name: 'ghcr.io/acme/base',
        tag: 'latest',
        written: 'ghcr.io/acme/base',
        input: 'dockerfile',
        dockerfile: { file: 'Dockerfile', line: 1, use: 'FROM' },
        platform: 'linux/arm64',
      }),
      expect.objectContaining({
        name: 'ghcr.io/acme/tools',
        tag: '1',
        input: 'dockerfile',
        dockerfile: { file: 'Dockerfile', line: 3, use: 'COPY --from' },
      }),
    ])
  })

  it('issue 8.1: an image a build context replaces with no registry image comes decided', async () => {
    writeFileSync(join(dir, 'Dockerfile.ctx'), 'FROM alpine:3.20\nFROM ghcr.io/acme/tools:1\n')
    const subjects = await subjectsToVerify(
      {
        ...none,
        dockerfiles: ['Dockerfile.ctx'],
        buildContexts: {
          'alpine:3.20': './vendor/alpine',
          'ghcr.io/acme/tools:1': 'oci-layout://./l:1',
        },
      },
      { cwd: dir, env: {} },
    )
    expect(subjects).toEqual([
      {
        written: 'alpine:3.20',
        dockerfile: {
          file: 'Dockerfile.ctx',
          line: 1,
          use: 'FROM',
          context: 'alpine:3.20=./vendor/alpine',
        },
        verdict: 'skipped',
        reason:
          'replaced by build context alpine:3.20=./vendor/alpine: nothing is pulled from a registry for it',
      },
      expect.objectContaining({
        written: 'ghcr.io/acme/tools:1',
        verdict: 'failed',
        reason: expect.stringMatching(
          /^expected an image Signet can verify, got build context ghcr.io\/acme\/tools:1=oci-layout:/,
        ),
      }),
    ])
  })

  it('nothing to verify is an error naming the input to set', async () => {
    writeFileSync(join(dir, 'Dockerfile.scratch'), 'FROM scratch\n')
    const empty = await asyncErrorOf(subjectsToVerify(none, { cwd: dir, env: {} }))
    expect([empty.code, empty.input, empty.message]).toEqual([
      'NO_IMAGES',
      'images',
      'no images to verify: set images (name@sha256:… or name:tag), metadata or dockerfile',
    ])
    const scratch = await asyncErrorOf(
      subjectsToVerify({ ...none, dockerfiles: ['Dockerfile.scratch'] }, { cwd: dir, env: {} }),
    )
    expect([scratch.code, scratch.input]).toEqual(['NO_IMAGES', 'dockerfile'])
  })

  it("issue 9.2: with nothing named, metadata-action's tags are the images, and take digest", async () => {
    const subjects = await subjectsToVerify(
      { ...none, digest: DIGEST },
      {
        cwd: dir,
        env: { DOCKER_METADATA_OUTPUT_JSON: metadataActionJson(['ghcr.io/acme/app:1.2.3']) },
      },
    )
    expect(subjects).toEqual([
      expect.objectContaining({
        name: 'ghcr.io/acme/app',
        digest: DIGEST,
        via: 'DOCKER_METADATA_OUTPUT_JSON',
      }),
    ])
  })
})
