/**
 * Strict registries (issue 12.5): a registry that keeps tags immutable refuses the second write to
 * a tag, and Signet appends to tags (`.sig`, `.att`, the referrers fallback index). Over HTTP, with
 * the project's registry made strict by a small wrapper that answers an overwrite as ECR, Harbor,
 * ACR and Docker Hub do: one TAG_IMMUTABLE error naming the tag and both ways out, no retry, the
 * tag left as it was; and each way out works on the same strict registry.
 */
import { generateKeyPairSync } from 'node:crypto'
import { SignetError } from '../../src/errors'
import { RegistryClient } from '../../src/registry/client'
import type { Repository } from '../../src/registry/types'
import { parseImageReference } from '../../src/registry/reference'
import { PLANNED_PREDICATE } from '../infra/attestations'
import { signImages, type SignOptions } from '../../src/sign/sign-images'
import { loadSigningKey } from '../../src/sigstore/keys'
import { SigningSession } from '../../src/sigstore/signing-session'
import { isImmutableTagRefusal } from '../../src/storage/immutable-tags'
import type { ResolvedImage } from '../../src/subjects/resolve'
import { pushTestImage } from '../infra/images'
import { startOciRegistry, type CannedAnswer, type OciRegistry } from '../infra/oci-registry'
import { recordingLogger } from '../infra/recording-logger'

const FAST_RETRY = { minDelayMs: 5, maxDelayMs: 20, maxTotalMs: 5_000 }

/** What each registry answers to a manifest PUT over an immutable tag (from their issue trackers). */
const REFUSALS: Record<string, (repository: string, tag: string) => CannedAnswer> = {
  'Amazon ECR (400 TAG_INVALID)': (repository, tag) =>
    json(
      400,
      'TAG_INVALID',
      `The image tag '${tag}' already exists in the '${repository}' repository and cannot be overwritten because the tag is immutable.`,
    ),
  'Harbor (412 PRECONDITION, also If-Match status)': (repository, tag) =>
    json(
      412,
      'PRECONDITION',
      `Failed to process request due to '${repository.split('/').pop()}:${tag}' configured as immutable.`,
    ),
  'Azure Container Registry, locked tag (405)': () =>
    json(
      405,
      'REGISTRY_DISALLOWED_OPERATION',
      'The operation is disallowed on this registry, repository or image.',
    ),
  'Docker Hub (403 DENIED)': (repository, tag) =>
    json(403, 'DENIED', `tag ${tag} of ${repository} is immutable`),
}

function json(status: number, code: string, message: string): CannedAnswer {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ errors: [{ code, message, detail: null }] }),
  }
}

interface Strict {
  registry: OciRegistry
  client: RegistryClient
  /** Manifest PUTs to a tag that were refused. */
  refused: string[]
}

/**
 * The project's registry, strict for repositories under `strict/`: the first PUT of a tag
 * passes, any later one is answered with `refusal`.
 */
async function strictRegistry(
  refusal: (repository: string, tag: string) => CannedAnswer,
  referrers: boolean,
): Promise<Strict> {
  const written = new Set<string>()
  const refused: string[] = []
  const registry = await startOciRegistry({
    referrers,
    intercept: ({ method, url }) => {
      const m = /^\/v2\/(strict\/.+)\/manifests\/([^/]+)$/.exec(url.pathname)
      if (method !== 'PUT' || !m || m[2].includes(':')) return undefined
      const [, repository, tag] = m
      if (!written.has(`${repository}:${tag}`)) {
        written.add(`${repository}:${tag}`)
        return undefined
      }
      refused.push(`${repository}:${tag}`)
      return refusal(repository, tag)
    },
  })
  const client = new RegistryClient({ plainHttp: [registry.host], retry: FAST_RETRY })
  return { registry, client, refused }
}

const newKey = () =>
  loadSigningKey(
    generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ format: 'pem', type: 'pkcs8' })
      .toString(),
    undefined,
  )
const session = () =>
  new SigningSession({
    fulcioURL: 'http://127.0.0.1:9',
    rekorURL: 'http://127.0.0.1:9',
    tlog: false,
    key: newKey(),
  })

let pushed = 0
async function pushImage(strict: Strict, prefix = 'strict/app'): Promise<ResolvedImage> {
  const repo: Repository = { registry: strict.registry.host, repository: `${prefix}${pushed++}` }
  const image = await pushTestImage(strict.client, repo, {
    seed: `${repo.repository}-${Math.random()}`,
  })
  return {
    repo,
    name: `${repo.registry}/${repo.repository}`,
    digest: image.digest,
    descriptor: { mediaType: image.mediaType, digest: image.digest, size: image.size },
    writtenAs: [],
  }
}

async function sign(strict: Strict, image: ResolvedImage, options: Partial<SignOptions> = {}) {
  const { log } = recordingLogger()
  return signImages(strict.client, session(), [image], {
    format: 'legacy',
    annotations: {},
    log,
    ...options,
  })
}

const stem = (digest: string): string => digest.replace(':', '-')

const attestation = PLANNED_PREDICATE

let running: OciRegistry[] = []
afterEach(async () => {
  await Promise.all(running.map((r) => r.stop()))
  running = []
})

async function start(
  refusal: (repository: string, tag: string) => CannedAnswer,
  referrers = false,
): Promise<Strict> {
  const strict = await strictRegistry(refusal, referrers)
  running.push(strict.registry)
  return strict
}

describe('a registry that refuses to overwrite a tag', () => {
  it.each(Object.entries(REFUSALS))(
    '%s: one TAG_IMMUTABLE error naming the tag and both ways out; the tag keeps what it held',
    async (_label, refusal) => {
      const strict = await start(refusal)
      const image = await pushImage(strict)
      const first = await sign(strict, image)
      expect(first.errors).toEqual([])
      const tag = `${stem(image.digest)}.sig`
      const before = await strict.client.getManifest(image.repo, tag)

      // Another signer's signature must be appended to the same tag: refused.
      const second = await sign(strict, image)
      expect(second.results[0].signed).toBe(false)
      expect(second.errors).toHaveLength(1)
      const error = second.errors[0] as SignetError
      expect(error).toBeInstanceOf(SignetError)
      expect(error.code).toBe('TAG_IMMUTABLE')
      expect(error.input).toBe('signature-repository')
      expect(error.message).toContain(`${image.repo.repository}:${tag}`)
      expect(error.message).toContain('immutable')
      expect(error.message).toContain('signature-repository')
      expect(error.message).toContain('signature-format: bundle')
      expect(error.message).toContain('referrers API')
      expect(second.results[0].error).toContain('signature-repository')
      // Refused once, not retried; nothing half-written: the tag is what the first run wrote.
      expect(strict.refused).toEqual([`${image.repo.repository}:${tag}`])
      const after = await strict.client.getManifest(image.repo, tag)
      expect(after?.descriptor.digest).toBe(before?.descriptor.digest)
    },
  )

  it('bundle format without the referrers API overwrites the fallback index: refused, said so', async () => {
    const strict = await start(REFUSALS['Amazon ECR (400 TAG_INVALID)'])
    const image = await pushImage(strict)
    const options = { format: 'bundle' as const, attestations: [attestation] }
    // The signature and the attestation are two referrers, listed in the fallback index tag in
    // one write: the first run creates the tag, overwriting nothing.
    expect((await sign(strict, image, options)).errors).toEqual([])
    expect(strict.refused).toEqual([])
    // A second signer adds its referrers to that tag: an overwrite.
    const run = await sign(strict, image, options)
    expect(run.results[0].signed).toBe(false)
    expect((run.errors[0] as SignetError).code).toBe('TAG_IMMUTABLE')
    expect((run.errors[0] as SignetError).message).toContain(`:${stem(image.digest)}:`)
    expect(strict.refused).toEqual([`${image.repo.repository}:${stem(image.digest)}`])
  })

  it('way out 1: signature-repository in a repository whose tags can be overwritten', async () => {
    const strict = await start(REFUSALS['Amazon ECR (400 TAG_INVALID)'])
    const image = await pushImage(strict)
    const store = parseImageReference(`${strict.registry.host}/mutable/signatures${pushed++}`)
    const options = {
      format: 'both' as const,
      attestations: [attestation],
      signatureRepository: store,
    }
    expect((await sign(strict, image, options)).errors).toEqual([])
    expect((await sign(strict, image, options)).errors).toEqual([])
    expect(strict.refused).toEqual([])
    const sig = (await strict.client.getManifest(store, `${stem(image.digest)}.sig`))!
    expect((JSON.parse(sig.bytes.toString('utf8')) as { layers: unknown[] }).layers).toHaveLength(2)
  })

  it('way out 2: signature-format: bundle on a registry with the referrers API writes no tag', async () => {
    const strict = await start(REFUSALS['Harbor (412 PRECONDITION, also If-Match status)'], true)
    const image = await pushImage(strict)
    const options = { format: 'bundle' as const, attestations: [attestation] }
    expect((await sign(strict, image, options)).errors).toEqual([])
    expect((await sign(strict, image, options)).errors).toEqual([])
    expect(strict.refused).toEqual([])
    const listed = await strict.client.referrers(image.repo, image.digest)
    expect(listed?.manifests).toHaveLength(4)
  })
})

describe('isImmutableTagRefusal', () => {
  const repo: Repository = { registry: 'registry.test', repository: 'acme/immutable' }
  const where = { repo, tag: 'sha256-abc.sig', overwriting: true }
  const error = (message: string, code: 'REGISTRY_ERROR' | 'REGISTRY_AUTH' = 'REGISTRY_ERROR') =>
    new SignetError(code, message)

  it('does not take a repository or host named "immutable" for the answer', () => {
    const path = 'registry registry.test: PUT /v2/acme/immutable/manifests/sha256-abc.sig failed'
    expect(isImmutableTagRefusal(error(`${path}: HTTP 500: internal error`), where)).toBe(false)
    expect(
      isImmutableTagRefusal(error(`${path}: HTTP 400: MANIFEST_INVALID: bad`), {
        ...where,
        repo: { registry: 'immutable.test', repository: 'immutable' },
      }),
    ).toBe(false)
    expect(
      isImmutableTagRefusal(error(`${path}: HTTP 400: TAG_INVALID: tag is immutable`), where),
    ).toBe(true)
  })

  it('takes vaguer answers only for a tag that existed', () => {
    const disallowed = error(
      'registry registry.test: PUT /v2/x/manifests/t failed: HTTP 405: The operation is disallowed on this registry, repository or image',
    )
    expect(isImmutableTagRefusal(disallowed, where)).toBe(true)
    expect(isImmutableTagRefusal(disallowed, { ...where, overwriting: false })).toBe(false)
  })

  it('leaves other failures alone', () => {
    expect(isImmutableTagRefusal(new SignetError('CONCURRENT_WRITE', 'immutable'), where)).toBe(
      false,
    )
    expect(isImmutableTagRefusal(new Error('immutable'), where)).toBe(false)
  })
})
