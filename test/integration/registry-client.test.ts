/**
 * The registry client against real HTTP: Debian's docker-registry (distribution 2.8, anonymous and
 * htpasswd), and the project's own OCI registry (referrers API, bearer tokens, injected failures,
 * redirects to a storage host). crane judges that what we push is a well-formed image.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  RegistryClient,
  realmMayReceiveCredentials,
  type RegistryClientOptions,
} from '../../src/registry/client'
import { staticCredentials, type CredentialProvider } from '../../src/registry/credentials'
import {
  MAX_LISTED_REFERRERS,
  MAX_REFERRER_PAGES,
  MEDIA_TYPES,
  type Repository,
} from '../../src/registry/types'
import { startDockerRegistry, startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { pushTestImage } from '../infra/images'
import { startOciRegistry, type OciRegistry, type OciRegistryOptions } from '../infra/oci-registry'
import { toolPath } from '../infra/tools'
import { asyncErrorOf } from '../infra/expect'
import { RetryBudget } from '../../src/retry'

const USER = { username: 'signet', password: 'correct horse battery staple' }
const FAST_RETRY = { minDelayMs: 5, maxDelayMs: 20, maxTotalMs: 10_000 }
const BUNDLE_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
const EMPTY = Buffer.from('{}')

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

let counter = 0
const uniqueRepo = (host: string, prefix: string): Repository => ({
  registry: host,
  repository: `${prefix}/repo${++counter}`,
})

function client(host: string, credentials?: CredentialProvider, extra: RegistryClientOptions = {}) {
  return new RegistryClient({
    plainHttp: [host],
    retry: FAST_RETRY,
    ...(credentials ? { credentials } : {}),
    ...extra,
  })
}

/**
 * crane, run without blocking the event loop: the in-memory registry lives in this process and
 * must keep answering while crane talks to it (runTool's execFileSync would deadlock).
 */
function crane(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(toolPath('crane'), args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`crane ${args.join(' ')} failed: ${stderr}${err.message}`))
      else resolve(stdout)
    })
  })
}

/** A cosign-3-style bundle referrer for `subject` (D.2), with `artifactType` and annotations. */
async function pushReferrer(
  registry: RegistryClient,
  repo: Repository,
  subject: { mediaType: string; digest: string; size: number },
  options: { artifactType?: string; content?: string } = {},
) {
  const artifactType = options.artifactType ?? BUNDLE_TYPE
  const config = await registry.pushBlob(repo, EMPTY, MEDIA_TYPES.ociEmpty)
  const layer = await registry.pushBlob(
    repo,
    Buffer.from(options.content ?? `{"bundle":${counter++}}`),
    artifactType,
  )
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType,
      config,
      layers: [layer],
      subject,
      annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
    }),
  )
  const digest = sha256(manifest)
  const put = await registry.putManifest(repo, digest, manifest, MEDIA_TYPES.ociManifest)
  return { digest, size: manifest.length, put }
}

interface Setup {
  name: string
  kind: 'distribution' | 'oci'
  auth?: 'basic' | 'bearer'
  start(): Promise<TestRegistry & { oci?: OciRegistry }>
}

/** The project's OCI registry, stopped after the file's tests. */
const started: { stop(): Promise<void> }[] = []
afterAll(async () => {
  await Promise.all(started.map((r) => r.stop()))
})
async function start(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const r = await startOciRegistry(options)
  started.push(r)
  return r
}

async function oci(options: OciRegistryOptions): Promise<TestRegistry & { oci: OciRegistry }> {
  const r = await startOciRegistry(options)
  return { host: r.host, kind: 'oci', referrers: options.referrers ?? true, stop: r.stop, oci: r }
}

const SETUPS: Setup[] = [
  { name: 'docker-registry (anonymous)', kind: 'distribution', start: () => startDockerRegistry() },
  {
    name: 'docker-registry (htpasswd)',
    kind: 'distribution',
    auth: 'basic',
    start: () => startDockerRegistry({ htpasswd: USER }),
  },
  { name: 'oci registry (anonymous)', kind: 'oci', start: () => oci({}) },
  {
    name: 'oci registry (basic)',
    kind: 'oci',
    auth: 'basic',
    start: () => oci({ basicAuth: USER }),
  },
  {
    name: 'oci registry (bearer)',
    kind: 'oci',
    auth: 'bearer',
    start: () => oci({ bearerAuth: USER }),
  },
]

describe.each(SETUPS)('$name', (setup) => {
  let registry: TestRegistry & { oci?: OciRegistry }
  let credentials: CredentialProvider | undefined
  let c: RegistryClient

  beforeAll(async () => {
    registry = await setup.start()
    credentials = setup.auth ? staticCredentials({ [registry.host]: USER }) : undefined
  })
  afterAll(async () => {
    await registry?.stop()
  })
  beforeEach(() => {
    c = client(registry.host, credentials)
  })

  it('issue 11: mounts a blob it pushed to another repository of the registry (two requests fewer)', async () => {
    const bytes = Buffer.from(`shared config ${Math.random()}`)
    const [a, b, fresh] = [1, 2, 3].map(() => uniqueRepo(registry.host, 'mount'))
    await c.pushBlob(a, bytes, 'application/octet-stream')
    const before = c.requestCount
    await c.pushBlob(b, bytes, 'application/octet-stream')
    const mounting = c.requestCount - before
    expect(await c.hasBlob(b, sha256(bytes))).toBe(true)
    expect(await c.getBlob(b, sha256(bytes))).toEqual(bytes)
    // The same push by a client that has not pushed it anywhere: HEAD, POST and PUT.
    const other = client(registry.host, credentials)
    const otherBefore = other.requestCount
    await other.pushBlob(fresh, bytes, 'application/octet-stream')
    expect(mounting).toBeLessThanOrEqual(other.requestCount - otherBefore - 2)
  })

  it('pushes and reads blobs, skipping a blob that is already there', async () => {
    const repo = uniqueRepo(registry.host, 'blobs')
    const bytes = Buffer.from(`hello ${Math.random()}`)
    const pushed = await c.pushBlob(repo, bytes, 'application/octet-stream')
    expect(pushed).toEqual({
      mediaType: 'application/octet-stream',
      digest: sha256(bytes),
      size: bytes.length,
    })
    expect(await c.hasBlob(repo, pushed.digest)).toBe(true)
    expect(await c.getBlob(repo, pushed.digest)).toEqual(bytes)

    // The same client remembers what it uploaded: no request at all.
    const before = c.requestCount
    await c.pushBlob(repo, bytes, 'application/octet-stream')
    expect(c.requestCount - before).toBe(0)
    // Another client (another job) finds it with one HEAD and uploads nothing (after its first
    // request has settled authentication).
    const other = client(registry.host, credentials)
    await other.pushBlob(repo, Buffer.from(`warm-up ${Math.random()}`), 'application/octet-stream')
    const otherBefore = other.requestCount
    await other.pushBlob(repo, bytes, 'application/octet-stream')
    expect(other.requestCount - otherBefore).toBe(1)

    expect(await c.hasBlob(repo, sha256(Buffer.from('absent')))).toBe(false)
    const missing = await asyncErrorOf(c.getBlob(repo, sha256(Buffer.from('absent'))))
    expect(missing.code).toBe('REGISTRY_ERROR')
    expect(missing.message).toContain(`/v2/${repo.repository}/blobs/`)

    const tooBig = await asyncErrorOf(c.getBlob(repo, pushed.digest, 3))
    expect(tooBig.message).toMatch(/more than the 3/)
  })

  it.each(['oci', 'docker'] as const)(
    'pushes and reads %s manifests, by tag and digest',
    async (format) => {
      const repo = uniqueRepo(registry.host, format)
      const image = await pushTestImage(c, repo, { tag: 'v1', seed: `single-${format}`, format })
      const wantType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest
      expect(image.mediaType).toBe(wantType)

      const byDigest = await c.getManifest(repo, image.digest)
      expect(byDigest?.descriptor).toEqual({
        mediaType: wantType,
        digest: image.digest,
        size: image.size,
      })
      expect(sha256(byDigest!.bytes)).toBe(image.digest)
      const byTag = await c.getManifest(repo, 'v1')
      expect(byTag?.descriptor.digest).toBe(image.digest)
      expect(await c.headManifest(repo, 'v1')).toEqual({
        mediaType: wantType,
        digest: image.digest,
        size: image.size,
      })
      expect(await c.headManifest(repo, image.digest)).toEqual(byDigest?.descriptor)

      expect(await c.getManifest(repo, 'absent')).toBeUndefined()
      expect(await c.headManifest(repo, 'absent')).toBeUndefined()
      expect(await c.listTags(repo)).toEqual(['v1'])
    },
  )

  it.each(['oci', 'docker'] as const)(
    'pushes a multi-platform %s index that crane validates',
    async (format) => {
      const repo = uniqueRepo(registry.host, `index-${format}`)
      const image = await pushTestImage(c, repo, {
        tag: 'multi',
        platforms: ['linux/amd64', 'linux/arm64/v8'],
        seed: `multi-${format}`,
        format,
      })
      const wantType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList
      expect(image.mediaType).toBe(wantType)
      expect(image.children.map((ch) => ch.platform)).toEqual([
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ])
      const index = await c.getManifest(repo, 'multi')
      expect(index?.descriptor).toEqual({
        mediaType: wantType,
        digest: image.digest,
        size: image.size,
      })
      const parsed = JSON.parse(index!.bytes.toString('utf8')) as {
        manifests: { digest: string }[]
      }
      expect(parsed.manifests.map((m) => m.digest)).toEqual(image.children.map((ch) => ch.digest))

      if (!setup.auth) {
        // crane downloads every layer and checks digests and diff_ids.
        await crane([
          'validate',
          '--insecure',
          '--remote',
          `${registry.host}/${repo.repository}@${image.digest}`,
        ])
      }
    },
  )

  it('pushes referrers and detects whether the referrers API is served', async () => {
    const repo = uniqueRepo(registry.host, 'referrers')
    const image = await pushTestImage(c, repo, { seed: 'referred' })
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size }
    const a = await pushReferrer(c, repo, subject)
    const b = await pushReferrer(c, repo, subject, { artifactType: 'application/spdx+json' })
    const listed = await c.referrers(repo, image.digest)
    if (registry.referrers) {
      expect(a.put.ociSubject).toBe(image.digest)
      expect(listed?.mediaType).toBe(MEDIA_TYPES.ociIndex)
      expect(listed?.manifests.map((m) => m.digest).sort()).toEqual([a.digest, b.digest].sort())
      const entry = listed!.manifests.find((m) => m.digest === a.digest)
      expect(entry).toEqual({
        mediaType: MEDIA_TYPES.ociManifest,
        digest: a.digest,
        size: a.size,
        artifactType: BUNDLE_TYPE,
        annotations: { 'dev.sigstore.bundle.content': 'dsse-envelope' },
      })
      const filtered = await c.referrers(repo, image.digest, BUNDLE_TYPE)
      expect(filtered?.manifests.map((m) => m.digest)).toEqual([a.digest])
      const none = await c.referrers(repo, sha256(Buffer.from('no such subject')))
      expect(none?.manifests).toEqual([])
    } else {
      // distribution 2.8: the manifest is stored, OCI-Subject is absent, the API is a 404.
      expect(a.put.ociSubject).toBeUndefined()
      expect(listed).toBeUndefined()
      expect((await c.getManifest(repo, a.digest))?.descriptor.digest).toBe(a.digest)
    }
  })

  it('reports the registry error message, method and path', async () => {
    const repo = uniqueRepo(registry.host, 'errors')
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256(Buffer.from('nope')), size: 4 },
        layers: [],
      }),
    )
    const err = await asyncErrorOf(c.putManifest(repo, 'broken', manifest, MEDIA_TYPES.ociManifest))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toContain(`PUT /v2/${repo.repository}/manifests/broken`)
    expect(err.message).toMatch(/HTTP 400: MANIFEST_BLOB_UNKNOWN/)
    expect(err.message).not.toContain(USER.password)
  })

  if (setup.auth) {
    it('fails with REGISTRY_AUTH on a wrong password, naming the registry and the way out', async () => {
      const wrong = client(
        registry.host,
        staticCredentials({ [registry.host]: { ...USER, password: 'wrong' } }),
      )
      const repo = uniqueRepo(registry.host, 'auth')
      const err = await asyncErrorOf(
        wrong.pushBlob(repo, Buffer.from('x'), 'application/octet-stream'),
      )
      expect(err.code).toBe('REGISTRY_AUTH')
      expect(err.message).toContain(registry.host)
      expect(err.message).toContain('static credentials')
      expect(err.message).toContain('registry-username')
      expect(err.message).not.toContain('wrong')
    })

    it('fails with REGISTRY_AUTH without credentials, pointing at docker/login-action', async () => {
      const anonymous = client(registry.host)
      const err = await asyncErrorOf(
        anonymous.getManifest(uniqueRepo(registry.host, 'anon'), 'latest'),
      )
      expect(err.code).toBe('REGISTRY_AUTH')
      expect(err.message).toContain(`registry ${registry.host}`)
      expect(err.message).toContain('docker/login-action')
    })
  }

  if (setup.kind === 'distribution') {
    it('ignores If-Match where the registry does not implement it', async () => {
      const repo = uniqueRepo(registry.host, 'ifmatch')
      const image = await pushTestImage(c, repo, { tag: 'x', seed: 'ifmatch-dist' })
      const fetched = await c.getManifest(repo, 'x')
      const put = await c.putManifest(repo, 'x', fetched!.bytes, image.mediaType, {
        ifMatch: '"sha256:nope"',
      })
      expect(put.digest).toBe(image.digest)
    })
  }
})

describe('oci registry specifics', () => {
  it('asks a registry without the referrers API once per run', async () => {
    const server = await startOciRegistry({ referrers: false })
    try {
      const once = client(server.host)
      const digests = await Promise.all(
        ['x', 'y'].map(async (seed) => {
          const repo = uniqueRepo(server.host, 'no-referrers')
          return { repo, digest: (await pushTestImage(once, repo, { seed })).digest }
        }),
      )
      for (const { repo, digest } of digests)
        expect(await once.referrers(repo, digest)).toBeUndefined()
      const asked = server.log.filter((r) => r.url.includes('/referrers/'))
      expect(asked).toHaveLength(1)
    } finally {
      await server.stop()
    }
  })

  it('asks once when many listings start together (they wait for the first answer)', async () => {
    const server = await startOciRegistry({ referrers: false })
    try {
      const together = client(server.host)
      const images = await Promise.all(
        ['a', 'b', 'c', 'd'].map(async (seed) => {
          const repo = uniqueRepo(server.host, 'no-referrers-together')
          return { repo, digest: (await pushTestImage(together, repo, { seed })).digest }
        }),
      )
      const listed = await Promise.all(images.map((i) => together.referrers(i.repo, i.digest)))
      expect(listed).toEqual([undefined, undefined, undefined, undefined])
      expect(server.log.filter((r) => r.url.includes('/referrers/'))).toHaveLength(1)
    } finally {
      await server.stop()
    }
  })

  it('lists every image on a registry with the API when many listings start together', async () => {
    const server = await startOciRegistry({ referrers: true })
    try {
      const together = client(server.host)
      const images = await Promise.all(
        ['a', 'b', 'c'].map(async (seed) => {
          const repo = uniqueRepo(server.host, 'referrers-together')
          return { repo, digest: (await pushTestImage(together, repo, { seed })).digest }
        }),
      )
      const listed = await Promise.all(images.map((i) => together.referrers(i.repo, i.digest)))
      expect(listed.map((l) => l?.manifests)).toEqual([[], [], []])
      expect(server.log.filter((r) => r.url.includes('/referrers/'))).toHaveLength(3)
    } finally {
      await server.stop()
    }
  })

  it('survives a registry that fails one request in five', async () => {
    const r = await start({ failEvery: 5, bearerAuth: USER })
    const retries: string[] = []
    const c = client(r.host, staticCredentials({ [r.host]: USER }), {
      retry: { ...FAST_RETRY, onRetry: (i) => retries.push(i.reason) },
    })
    const repo = uniqueRepo(r.host, 'flaky')
    const image = await pushTestImage(c, repo, {
      tag: 't',
      platforms: ['linux/amd64', 'linux/arm64'],
      seed: 'flaky',
    })
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size }
    const ref = await pushReferrer(c, repo, subject)
    expect((await c.referrers(repo, image.digest))?.manifests.map((m) => m.digest)).toEqual([
      ref.digest,
    ])
    expect((await c.getManifest(repo, 't'))?.descriptor.digest).toBe(image.digest)
    for (const child of image.children)
      expect((await c.headManifest(repo, child.digest))?.digest).toBe(child.digest)
    expect(retries.length).toBeGreaterThanOrEqual(Math.floor(r.requests / 5) - 1)
    expect(retries.every((reason) => reason === 'HTTP 503')).toBe(true)
    expect(r.log.filter((l) => l.url.startsWith('/token')).length).toBeLessThanOrEqual(3)
  })

  it('honours Retry-After', async () => {
    const r = await start({ failEvery: 2, retryAfter: '1' })
    const delays: number[] = []
    const c = client(r.host, undefined, {
      retry: { ...FAST_RETRY, onRetry: (i) => delays.push(i.delayMs) },
    })
    const repo = uniqueRepo(r.host, 'later')
    const started = Date.now()
    expect(await c.headManifest(repo, 'a')).toBeUndefined() // request 1
    expect(await c.headManifest(repo, 'b')).toBeUndefined() // request 2 → 503 Retry-After: 1, then 3
    expect(delays).toEqual([1000])
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
  })

  it('gives up with REGISTRY_ERROR when the registry keeps failing', async () => {
    const r = await start({ failEvery: 1, failStatus: 502 })
    const c = client(r.host, undefined, { retry: { ...FAST_RETRY, retries: 2 } })
    const err = await asyncErrorOf(c.getManifest(uniqueRepo(r.host, 'down'), 'x'))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toMatch(
      /GET \/v2\/down\/repo\d+\/manifests\/x failed: HTTP 502: UNAVAILABLE: injected failure/,
    )
    expect(r.requests).toBe(3)
  })

  it.each([
    ['basic', { basicAuth: USER }],
    ['bearer', { bearerAuth: USER }],
  ] as const)(
    'never sends %s credentials to the storage host a blob GET redirects to',
    async (_, auth) => {
      const r = await start({ ...auth, redirectBlobs: true })
      const c = client(r.host, staticCredentials({ [r.host]: USER }))
      const repo = uniqueRepo(r.host, 'redirect')
      const bytes = Buffer.from('stored elsewhere')
      const { digest } = await c.pushBlob(repo, bytes, 'application/octet-stream')
      expect(await c.getBlob(repo, digest)).toEqual(bytes)
      const registryGet = r.log.find(
        (l) => l.method === 'GET' && l.url.includes(`/blobs/${digest}`),
      )
      expect(registryGet?.authorization).toBeDefined()
      expect(r.storageRequests).toHaveLength(1)
      expect(r.storageRequests[0].url).toContain('signature=pre-signed')
      expect(r.storageRequests[0].authorization).toBeUndefined()
    },
  )

  it('asks the token realm once per repository and access', async () => {
    const r = await start({ bearerAuth: USER })
    const c = client(r.host, staticCredentials({ [r.host]: USER }))
    const repo = uniqueRepo(r.host, 'tokens')
    await pushTestImage(c, repo, {
      tag: 'v1',
      platforms: ['linux/amd64', 'linux/arm64'],
      seed: 'tokens',
    })
    await c.getManifest(repo, 'v1')
    const tokenRequests = r.log.filter((l) => l.url.startsWith('/token'))
    expect(tokenRequests).toHaveLength(1)
    expect(tokenRequests[0].url).toContain(
      encodeURIComponent(`repository:${repo.repository}:pull,push`),
    )
    // Only the very first request went out without a token.
    expect(r.log.filter((l) => l.url.startsWith('/v2/') && !l.authorization)).toHaveLength(1)
    // A second repository: its token is fetched up front, without another 401.
    const other = uniqueRepo(r.host, 'tokens')
    const before = r.requests
    expect(await c.getManifest(other, 'none')).toBeUndefined()
    expect(r.requests - before).toBe(2)
  })

  it('exchanges an identity token with the OAuth2 refresh grant', async () => {
    const r = await start({ bearerAuth: USER })
    const c = client(r.host, {
      get: async () => ({ identityToken: USER.password, source: 'docker config' }),
    })
    const repo = uniqueRepo(r.host, 'identity')
    const blob = await c.pushBlob(repo, Buffer.from('refresh'), 'application/octet-stream')
    expect(await c.hasBlob(repo, blob.digest)).toBe(true)
    expect(r.log.some((l) => l.method === 'POST' && l.url === '/token')).toBe(true)
  })

  it('wrong bearer credentials fail at the token realm with REGISTRY_AUTH', async () => {
    const r = await start({ bearerAuth: USER })
    const c = client(r.host, staticCredentials({ [r.host]: { ...USER, password: 'wrong' } }))
    const err = await asyncErrorOf(c.pushBlob(uniqueRepo(r.host, 'x'), Buffer.from('x'), 'a/b'))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(err.message).toContain('token')
    expect(err.message).toContain('incorrect username or password')
  })

  it('turns a 412 on If-Match into CONCURRENT_WRITE, and accepts the current ETag', async () => {
    const r = await start()
    const c = client(r.host)
    const repo = uniqueRepo(r.host, 'ifmatch')
    const image = await pushTestImage(c, repo, { tag: 'idx', seed: 'ifmatch' })
    const current = await c.getManifest(repo, 'idx')
    expect(current?.etag).toBe(`"${image.digest}"`)
    const other = await pushTestImage(c, repo, { seed: 'ifmatch-2' })
    const otherBytes = (await c.getManifest(repo, other.digest))!.bytes
    const stale = await asyncErrorOf(
      c.putManifest(repo, 'idx', otherBytes, other.mediaType, { ifMatch: `"${other.digest}"` }),
    )
    expect(stale.code).toBe('CONCURRENT_WRITE')
    const ok = await c.putManifest(repo, 'idx', otherBytes, other.mediaType, {
      ifMatch: current!.etag!,
    })
    expect(ok.digest).toBe(other.digest)
  })

  it('follows referrers pagination and filters client-side when the server did not', async () => {
    const r = await start({ referrersPageSize: 1 })
    // Strip the artifactType query on the way out: the registry then neither filters nor says so.
    const unfiltering: typeof fetch = (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input))
      url.searchParams.delete('artifactType')
      return fetch(url, init)
    }
    const c = client(r.host, undefined, { fetch: unfiltering })
    const repo = uniqueRepo(r.host, 'pages')
    const image = await pushTestImage(c, repo, { seed: 'pages' })
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size }
    const refs = [
      await pushReferrer(c, repo, subject),
      await pushReferrer(c, repo, subject, { artifactType: 'application/spdx+json' }),
      await pushReferrer(c, repo, subject),
    ]
    const before = r.requests
    const all = await c.referrers(repo, image.digest)
    expect(r.requests - before).toBe(3)
    expect(all?.manifests.map((m) => m.digest).sort()).toEqual(refs.map((x) => x.digest).sort())
    const bundles = await c.referrers(repo, image.digest, BUNDLE_TYPE)
    expect(bundles?.manifests.map((m) => m.digest).sort()).toEqual(
      [refs[0].digest, refs[2].digest].sort(),
    )
  })

  it('treats a registry without the API as unsupported (referrers: false)', async () => {
    const r = await start({ referrers: false })
    const c = client(r.host)
    const repo = uniqueRepo(r.host, 'noapi')
    const image = await pushTestImage(c, repo, { seed: 'noapi' })
    const ref = await pushReferrer(c, repo, {
      mediaType: image.mediaType,
      digest: image.digest,
      size: image.size,
    })
    expect(ref.put.ociSubject).toBeUndefined()
    expect(await c.referrers(repo, image.digest)).toBeUndefined()
  })
})

describe('startTestRegistry', () => {
  it.each([
    ['distribution', {}, 'distribution', false],
    ['oci', {}, 'oci', true],
    ['oci', { referrers: false }, 'oci', false],
  ] as const)('%s %j', async (kind, options, wantKind, wantReferrers) => {
    const r = await startTestRegistry(kind, options)
    try {
      expect(r.kind).toBe(wantKind)
      expect(r.referrers).toBe(wantReferrers)
      const c = client(r.host)
      const repo = uniqueRepo(r.host, 'kinds')
      const image = await pushTestImage(c, repo, { seed: `kinds-${kind}` })
      const ref = await pushReferrer(c, repo, {
        mediaType: image.mediaType,
        digest: image.digest,
        size: image.size,
      })
      expect((await c.referrers(repo, image.digest)) !== undefined).toBe(wantReferrers)
      expect(ref.put.ociSubject !== undefined).toBe(wantReferrers)
    } finally {
      await r.stop()
    }
  })
})

describe('answers that need a fake fetch', () => {
  const repo: Repository = { registry: 'registry.test', repository: 'acme/app' }
  const digest = sha256(Buffer.from('subject'))

  function fake(answer: (url: URL, init?: RequestInit) => Response): {
    c: RegistryClient
    calls: { url: string; authorization?: string }[]
  } {
    const calls: { url: string; authorization?: string }[] = []
    const f: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input)
      const auth = (init?.headers as Record<string, string> | undefined)?.authorization
      calls.push({ url: url.href, ...(auth ? { authorization: auth } : {}) })
      return answer(url, init)
    }
    return { c: new RegistryClient({ fetch: f, retry: { ...FAST_RETRY, retries: 0 } }), calls }
  }

  it('issue 11: a registry that will not mount gets ordinary uploads, and is not asked again', async () => {
    const bytes = Buffer.from('{}')
    const { c, calls } = fake((url, init) => {
      const method = init?.method ?? 'GET'
      if (method === 'POST' && url.searchParams.has('mount'))
        return new Response('', { status: 403 })
      if (method === 'HEAD') return new Response(null, { status: 404 })
      if (method === 'POST')
        return new Response('', { status: 202, headers: { location: `${url.pathname}session` } })
      return new Response('', { status: 201 })
    })
    const repos = ['acme/one', 'acme/two', 'acme/three'].map((repository) => ({
      registry: 'registry.test',
      repository,
    }))
    for (const r of repos) await c.pushBlob(r, bytes, 'application/vnd.oci.empty.v1+json')
    const asked = (path: string) =>
      calls
        .filter((call) => new URL(call.url).pathname.startsWith(path))
        .map((call) => {
          const u = new URL(call.url)
          return u.searchParams.has('mount')
            ? 'mount'
            : u.searchParams.has('digest')
              ? 'put'
              : 'other'
        })
    expect(asked('/v2/acme/one/')).toEqual(['other', 'other', 'put'])
    // Refused once (403): then HEAD, POST and PUT, as for the third repository.
    expect(asked('/v2/acme/two/')).toEqual(['mount', 'other', 'other', 'put'])
    expect(asked('/v2/acme/three/')).toEqual(['other', 'other', 'put'])
  })

  it.each([400, 404, 405, 406])('referrers: %i means unsupported', async (status) => {
    const { c, calls } = fake(() => new Response('no', { status }))
    expect(await c.referrers(repo, digest)).toBeUndefined()
    expect(calls[0].url).toBe(`https://registry.test/v2/acme/app/referrers/${digest}`)
  })

  it('referrers: a 200 that is not an OCI index means unsupported', async () => {
    const { c } = fake(
      () =>
        new Response('{"manifests":[]}', {
          status: 200,
          headers: { 'content-type': 'application/json' },
        }),
    )
    expect(await c.referrers(repo, digest)).toBeUndefined()
  })

  it('referrers: a 500 is an error', async () => {
    const { c } = fake(
      () => new Response('{"errors":[{"code":"X","message":"boom"}]}', { status: 500 }),
    )
    const err = await asyncErrorOf(c.referrers(repo, digest))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toContain('HTTP 500: X: boom')
  })

  it('refuses a manifest whose bytes do not match the requested digest', async () => {
    const { c } = fake(
      () =>
        new Response('{"schemaVersion":2}', {
          status: 200,
          headers: { 'content-type': MEDIA_TYPES.ociManifest },
        }),
    )
    const err = await asyncErrorOf(c.getManifest(repo, digest))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toContain(`not the requested ${digest}`)
  })

  it('refuses a blob whose bytes do not match its digest', async () => {
    const { c } = fake(() => new Response('tampered', { status: 200 }))
    const err = await asyncErrorOf(c.getBlob(repo, digest))
    expect(err.message).toContain(`the content's digest is ${sha256(Buffer.from('tampered'))}`)
  })

  it('refuses manifests over 4 MiB before sending or while reading', async () => {
    const { c, calls } = fake(
      () =>
        new Response(Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), {
          status: 200,
          headers: { 'content-type': MEDIA_TYPES.ociManifest },
        }),
    )
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20)
    expect(
      (await asyncErrorOf(c.putManifest(repo, 'x', big, MEDIA_TYPES.ociManifest))).message,
    ).toContain('at most')
    expect(calls).toHaveLength(0)
    expect((await asyncErrorOf(c.getManifest(repo, 'x'))).message).toMatch(/more than the 4194304/)
  })

  it('takes the media type from the manifest when Content-Type is generic', async () => {
    const body = JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.dockerManifest })
    const { c } = fake(
      () => new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
    )
    expect((await c.getManifest(repo, 'x'))?.descriptor.mediaType).toBe(MEDIA_TYPES.dockerManifest)
  })

  it('appends digest to an upload Location that already has a query, resolving it if relative', async () => {
    const { c, calls } = fake((_url, init) => {
      if (init?.method === 'HEAD') return new Response(null, { status: 404 })
      if (init?.method === 'POST') {
        return new Response(null, { status: 202, headers: { location: 'abc?_state=s1' } })
      }
      return new Response(null, { status: 201 })
    })
    const bytes = Buffer.from('upload me')
    await c.pushBlob(repo, bytes, 'application/octet-stream')
    expect(calls[2].url).toBe(
      `https://registry.test/v2/acme/app/blobs/uploads/abc?_state=s1&digest=${encodeURIComponent(sha256(bytes))}`,
    )
  })

  it('sends bearer tokens only to the registry host, and refuses https → http redirects', async () => {
    const { c, calls } = fake((url) => {
      if (url.host === 'auth.test') return Response.json({ access_token: 'tok', expires_in: 300 })
      if (url.pathname.startsWith('/v2/') && calls.filter((x) => x.url === url.href).length === 1) {
        return new Response(null, {
          status: 401,
          headers: {
            'www-authenticate': 'Bearer realm="https://auth.test/token",service="registry.test"',
          },
        })
      }
      if (url.host === 'registry.test') {
        return new Response(null, { status: 302, headers: { location: 'http://cdn.test/blob' } })
      }
      return new Response('x')
    })
    const err = await asyncErrorOf(c.getBlob(repo, digest))
    expect(err.message).toContain('refusing a redirect from https to http:')
    expect(calls.map((x) => [new URL(x.url).host, x.authorization])).toEqual([
      ['registry.test', undefined],
      ['auth.test', undefined],
      ['registry.test', 'Bearer tok'],
    ])
  })
})

describe('manifest PUTs on the one retry policy (fake fetch)', () => {
  const repo: Repository = { registry: 'registry.test', repository: 'acme/app' }
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }))
  const distributionError = (code: string) =>
    Response.json(
      { errors: [{ code, message: `${code.toLowerCase()} said the registry` }] },
      {
        status: 400,
      },
    )

  /** A client whose fetch answers PUTs in turn and counts them; retries logged, no real waits. */
  function putting(answers: (() => Response)[], retries = 5) {
    const puts: string[] = []
    const reasons: string[] = []
    const f: typeof fetch = async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : input)
      if (init?.method !== 'PUT' && init?.method !== 'GET') throw new Error('unexpected request')
      if (init.method === 'GET')
        return Response.json({ errors: [{ code: 'BLOB_UNKNOWN' }] }, { status: 400 })
      puts.push(url.pathname)
      const answer = answers.shift() ?? (() => new Response(null, { status: 201 }))
      return answer()
    }
    const c = new RegistryClient({
      fetch: f,
      retry: { ...FAST_RETRY, retries, onRetry: (i) => reasons.push(i.reason) },
    })
    return { c, puts, reasons }
  }

  it.each(['DIGEST_INVALID', 'BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN'])(
    'a 400 %s (a blob just written, not seen yet), then 201: the same PUT again',
    async (code) => {
      const { c, puts, reasons } = putting([() => distributionError(code)])
      const put = await c.putManifest(repo, 'v1', manifest, MEDIA_TYPES.ociManifest)
      expect(put.digest).toBe(sha256(manifest))
      expect(puts).toEqual(['/v2/acme/app/manifests/v1', '/v2/acme/app/manifests/v1'])
      expect(reasons).toHaveLength(1)
      expect(reasons[0]).toContain(code)
    },
  )

  it('a 503 and then DIGEST_INVALID share one budget: three attempts, then 201', async () => {
    const { c, puts, reasons } = putting([
      () => new Response(null, { status: 503 }),
      () => distributionError('DIGEST_INVALID'),
    ])
    await c.putManifest(repo, 'v1', manifest, MEDIA_TYPES.ociManifest)
    expect(puts).toHaveLength(3)
    expect(reasons[0]).toBe('HTTP 503')
    expect(reasons[1]).toContain('DIGEST_INVALID')
  })

  it("a race that outlasts the budget fails with the registry's words", async () => {
    const { c, puts } = putting(
      Array.from({ length: 10 }, () => () => distributionError('DIGEST_INVALID')),
      2,
    )
    const err = await asyncErrorOf(c.putManifest(repo, 'v1', manifest, MEDIA_TYPES.ociManifest))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toContain(
      'PUT /v2/acme/app/manifests/v1 failed: HTTP 400: DIGEST_INVALID: digest_invalid said the registry',
    )
    expect(puts).toHaveLength(3)
  })

  it('another 400 is final: one PUT', async () => {
    const { c, puts, reasons } = putting([() => distributionError('MANIFEST_INVALID')])
    const err = await asyncErrorOf(c.putManifest(repo, 'v1', manifest, MEDIA_TYPES.ociManifest))
    expect(err.message).toContain('HTTP 400: MANIFEST_INVALID')
    expect(puts).toHaveLength(1)
    expect(reasons).toEqual([])
  })

  it("the race is a manifest PUT's: a GET answered 400 BLOB_UNKNOWN is not retried", async () => {
    const { c, reasons } = putting([])
    const err = await asyncErrorOf(c.getBlob(repo, sha256(Buffer.from('x'))))
    expect(err.message).toContain('HTTP 400: BLOB_UNKNOWN')
    expect(reasons).toEqual([])
  })
})

describe("retry-timeout: the registry on the run's budget (fake fetch, fake clock)", () => {
  const repo: Repository = { registry: 'registry.test', repository: 'acme/app' }
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [] }))

  function budgeted(timeoutMs: number, answer: () => Response | Promise<Response>) {
    let now = 1_000_000
    const slept: number[] = []
    const lines: string[] = []
    const budget = new RetryBudget(timeoutMs, {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms)
        now += ms
      },
      log: (line) => lines.push(line),
    })
    let requests = 0
    const f: typeof fetch = async () => {
      requests++
      return answer()
    }
    const c = new RegistryClient({ fetch: f, retry: { budget } })
    return { c, slept, lines, requests: () => requests }
  }

  it('a registry down longer than retry-timeout: tried for exactly that long, each retry logged, then an error saying so', async () => {
    const { c, slept, lines, requests } = budgeted(
      5 * 60_000,
      () => new Response(null, { status: 503 }),
    )
    const err = await asyncErrorOf(c.headManifest(repo, 'v1'))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toMatch(
      /HEAD \/v2\/acme\/app\/manifests\/v1 failed: HTTP 503; still unavailable after retrying for 5 min \(retry-timeout\).*raise retry-timeout/,
    )
    expect(slept.reduce((a, b) => a + b, 0)).toBe(5 * 60_000)
    expect(Math.max(...slept)).toBeLessThanOrEqual(30_000)
    expect(requests()).toBe(slept.length + 1)
    expect(lines).toHaveLength(slept.length)
    expect(lines[0]).toMatch(
      /^the registry registry\.test: HTTP 503; retry 1 in .*left of retry-timeout$/,
    )
  })

  it('a registry that cannot be reached: the error says how long it was tried', async () => {
    const { c, requests } = budgeted(10_000, () => {
      throw new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      })
    })
    const err = await asyncErrorOf(c.headManifest(repo, 'v1'))
    expect(err.message).toMatch(
      /could not reach the registry registry\.test: .*; still unavailable after retrying for 10 s \(retry-timeout\)/,
    )
    expect(requests()).toBeGreaterThan(1)
  })

  it('a blob race is retried five times at most, not for the whole budget', async () => {
    const { c, requests } = budgeted(10 * 60_000, () =>
      Response.json({ errors: [{ code: 'DIGEST_INVALID' }] }, { status: 400 }),
    )
    const err = await asyncErrorOf(c.putManifest(repo, 'v1', manifest, MEDIA_TYPES.ociManifest))
    expect(err.message).toContain('HTTP 400: DIGEST_INVALID')
    expect(requests()).toBe(6)
  })

  it('a refusal is final at once, whatever the budget', async () => {
    const { c, requests, lines } = budgeted(10 * 60_000, () => new Response(null, { status: 404 }))
    expect(await c.headManifest(repo, 'v1')).toBeUndefined()
    expect(requests()).toBe(1)
    expect(lines).toEqual([])
  })
})

describe('issue 8: a hostile registry', () => {
  const basicOf = (c: { username: string; password: string }): string =>
    `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`

  it('issue 8.3: a registry whose token realm is on another host never sends it the credentials', async () => {
    const r = await start({ bearerAuth: USER, anonymousPull: true, tokenRealm: 'other-host' })
    const repo = uniqueRepo(r.host, 'realm')
    // Both hosts are listed in plain-http: only where the credentials may go is at stake.
    const c = client(r.host, staticCredentials({ [r.host]: USER }), {
      plainHttp: [r.host, r.realmHost!],
    })
    // A public image: the realm hands out a pull token to anyone, so the read succeeds.
    expect(await c.getManifest(repo, 'absent')).toBeUndefined()
    expect(r.realmRequests.length).toBeGreaterThan(0)
    for (const received of r.realmRequests) {
      expect(received.authorization).toBeUndefined()
      expect(received.body ?? '').not.toContain(USER.password)
    }
    expect(r.log.map((l) => l.authorization ?? '')).not.toContain(basicOf(USER))
  })

  it('issue 8.3: an identity token is never posted to a token realm on another host', async () => {
    const r = await start({ bearerAuth: USER, anonymousPull: true, tokenRealm: 'other-host' })
    const c = client(
      r.host,
      { get: async () => ({ identityToken: USER.password, source: 'docker config' }) },
      { plainHttp: [r.host, r.realmHost!] },
    )
    expect(await c.getManifest(uniqueRepo(r.host, 'idtoken'), 'absent')).toBeUndefined()
    expect(r.realmRequests.length).toBeGreaterThan(0)
    expect(r.realmRequests.every((q) => q.method === 'GET' && !q.authorization)).toBe(true)
    expect(r.realmRequests.map((q) => `${q.url} ${q.body ?? ''}`).join('\n')).not.toContain(
      USER.password,
    )
  })

  it('issue 8.3: a private image behind a realm on another host fails saying the credentials were withheld', async () => {
    const r = await start({ bearerAuth: USER, tokenRealm: 'other-host' })
    const c = client(r.host, staticCredentials({ [r.host]: USER }), {
      plainHttp: [r.host, r.realmHost!],
    })
    const err = await asyncErrorOf(c.getManifest(uniqueRepo(r.host, 'private'), 'v1'))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(err.message).toContain(`its token service is on another host (${r.realmHost})`)
    expect(r.realmRequests.every((q) => !q.authorization)).toBe(true)
  })

  it('keeps the credentials off the host a token realm redirects to (a guard issue 8.3 relies on)', async () => {
    const r = await start({ bearerAuth: USER, tokenRealm: 'redirect' })
    const c = client(r.host, staticCredentials({ [r.host]: USER }), {
      plainHttp: [r.host, r.realmHost!],
    })
    // The credentials reach the realm on the registry's own host, not the host it redirects to.
    const err = await asyncErrorOf(c.getManifest(uniqueRepo(r.host, 'bounced'), 'v1'))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(r.log.find((l) => l.url.startsWith('/token'))?.authorization).toBe(basicOf(USER))
    expect(r.realmRequests.length).toBeGreaterThan(0)
    expect(r.realmRequests.every((q) => !q.authorization)).toBe(true)
  })

  it('issue 8.3: a token realm that redirects the refresh grant to another host is not followed', async () => {
    const r = await start({ bearerAuth: USER, tokenRealm: 'redirect' })
    const c = client(
      r.host,
      { get: async () => ({ identityToken: USER.password, source: 'docker config' }) },
      { plainHttp: [r.host, r.realmHost!] },
    )
    const err = await asyncErrorOf(c.getManifest(uniqueRepo(r.host, 'bounced-post'), 'v1'))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(err.message).toContain('redirected the request')
    expect(r.realmRequests.map((q) => q.body ?? '').join('\n')).not.toContain(USER.password)
  })

  it('issue 8.4: an http token realm is refused unless its host is listed in plain-http, even with no credentials', async () => {
    const r = await start({ bearerAuth: USER, anonymousPull: true, tokenRealm: 'other-host' })
    const anonymous = client(r.host) // plain-http lists the registry, not the realm's host
    const err = await asyncErrorOf(anonymous.getManifest(uniqueRepo(r.host, 'http-realm'), 'v1'))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(err.input).toBe('plain-http')
    expect(err.message).toContain('not HTTPS')
    expect(r.realmRequests).toHaveLength(0)
    // Listed, it is asked (anonymously) as any realm is.
    const listed = client(r.host, undefined, { plainHttp: [r.host, r.realmHost!] })
    expect(await listed.getManifest(uniqueRepo(r.host, 'http-realm'), 'absent')).toBeUndefined()
    expect(r.realmRequests.length).toBeGreaterThan(0)
  })

  const HOSTILE_TEXT =
    '## Verified ✅\n::error::pwned\r\n| forged | row |\n<img src=x onerror=alert(1)>\u2028\u001b[31m'
  const cleanAndBounded = (message: string): void => {
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/)
    expect(message).not.toContain('SECRET-DETAIL')
    // The registry's text is cut at 200 characters (the rest of the message is Signet's).
    expect(message).not.toMatch(/x{200}|y{200}/)
    expect(message.length).toBeLessThan(700)
  }

  it.each([
    ['an HTML page', 'text/html', `<html><body><h1>Oops</h1>\n${HOSTILE_TEXT}</body></html>`],
    ['plain text', 'text/plain', `${HOSTILE_TEXT}\n`.repeat(100)],
  ])(
    'issue 8.4: an error body that is %s never reaches the message',
    async (_, contentType, body) => {
      const r = await start({
        intercept: ({ url }) =>
          url.pathname.includes('/manifests/')
            ? { status: 400, headers: { 'content-type': contentType }, body }
            : undefined,
      })
      const err = await asyncErrorOf(client(r.host).getManifest(uniqueRepo(r.host, 'html'), 'v1'))
      expect(err.code).toBe('REGISTRY_ERROR')
      expect(err.message).toMatch(/manifests\/v1 failed: HTTP 400$/)
      for (const bit of ['<', 'Oops', '::error::', 'Verified', '|']) {
        expect(err.message).not.toContain(bit)
      }
    },
  )

  it('issue 8.4: of a distribution error JSON only the code and message are shown, on one line and bounded', async () => {
    const body = JSON.stringify({
      errors: [
        {
          code: 'DENIED',
          message: `${HOSTILE_TEXT}${'x'.repeat(5000)}`,
          detail: { text: 'SECRET-DETAIL' },
        },
        { code: 'SECOND', message: 'SECRET-DETAIL' },
      ],
    })
    const r = await start({
      intercept: ({ url }) =>
        url.pathname.includes('/blobs/')
          ? { status: 403, headers: { 'content-type': 'application/json' }, body }
          : undefined,
    })
    const repo = uniqueRepo(r.host, 'json')
    const err = await asyncErrorOf(client(r.host).getBlob(repo, sha256(Buffer.from('x'))))
    expect(err.code).toBe('REGISTRY_AUTH')
    expect(err.message).toContain('HTTP 403: DENIED: ## Verified ✅ ::error::pwned')
    cleanAndBounded(err.message)
  })

  it('issue 8.4: an error code that is not a code is dropped, and the token realm is held to the same rule', async () => {
    const r = await start({
      bearerAuth: USER,
      intercept: ({ url }) =>
        url.pathname === '/token'
          ? {
              status: 500,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                errors: [{ code: '<b>FORGED</b>', message: `${HOSTILE_TEXT}${'y'.repeat(900)}` }],
              }),
            }
          : undefined,
    })
    const c = client(r.host, staticCredentials({ [r.host]: USER }), {
      retry: { ...FAST_RETRY, retries: 0 },
    })
    const err = await asyncErrorOf(c.getManifest(uniqueRepo(r.host, 'token-error'), 'v1'))
    expect(err.code).toBe('REGISTRY_ERROR')
    expect(err.message).toContain('HTTP 500: ## Verified')
    expect(err.message).not.toContain('FORGED')
    cleanAndBounded(err.message)
  })

  it('issue 8.4: a token answer that is not JSON, or whose token is not one, is not quoted', async () => {
    for (const answer of [
      '<html>not json SECRET-DETAIL</html>',
      '{"token":"a\\nb SECRET-DETAIL"}',
    ]) {
      const r = await start({
        bearerAuth: USER,
        intercept: ({ url }) =>
          url.pathname === '/token'
            ? { status: 200, headers: { 'content-type': 'application/json' }, body: answer }
            : undefined,
      })
      const err = await asyncErrorOf(client(r.host).getManifest(uniqueRepo(r.host, 'tok'), 'v1'))
      expect(err.code).toBe('REGISTRY_ERROR')
      cleanAndBounded(err.message)
    }
  })

  it('issue 8.4: media types a registry answers with are media types, or not taken', async () => {
    const manifest = Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: '<img src=x>\n::error::x', layers: [] }),
    )
    const r = await start({
      intercept: ({ url }) =>
        url.pathname.includes('/manifests/')
          ? { status: 200, headers: { 'content-type': 'text/html <b>x</b>' }, body: manifest }
          : undefined,
    })
    const fetched = await client(r.host).getManifest(uniqueRepo(r.host, 'mt'), 'v1')
    expect(fetched?.descriptor.mediaType).toBe(MEDIA_TYPES.ociManifest)
  })

  it('issue 8.9: a referrers listing whose pages never end fails on the page limit', async () => {
    const subject = sha256(Buffer.from('endless'))
    const r = await start({
      intercept: ({ url }) => {
        if (!url.pathname.includes('/referrers/')) return undefined
        const page = Number(url.searchParams.get('page') ?? 0)
        return {
          status: 200,
          headers: {
            'content-type': MEDIA_TYPES.ociIndex,
            link: `<${url.pathname}?page=${page + 1}>; rel="next"`,
          },
          body: JSON.stringify({
            schemaVersion: 2,
            mediaType: MEDIA_TYPES.ociIndex,
            manifests: [
              {
                mediaType: MEDIA_TYPES.ociManifest,
                digest: sha256(Buffer.from(`${page}`)),
                size: 1,
              },
            ],
          }),
        }
      },
    })
    const err = await asyncErrorOf(client(r.host).referrers(uniqueRepo(r.host, 'pages'), subject))
    expect(err.code).toBe('REGISTRY_LIMIT')
    expect(err.message).toContain(`at most ${MAX_REFERRER_PAGES} pages of referrers per image`)
    expect(r.log.filter((l) => l.url.includes('/referrers/'))).toHaveLength(MAX_REFERRER_PAGES)
  })

  it('issue 8.9: a referrers listing of 10,000 entries fails on the entry limit', async () => {
    const manifests = Array.from({ length: 10_000 }, (_, i) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: sha256(Buffer.from(`referrer ${i}`)),
      size: 500,
      artifactType: BUNDLE_TYPE,
    }))
    const r = await start({
      intercept: ({ url }) =>
        url.pathname.includes('/referrers/')
          ? {
              status: 200,
              headers: { 'content-type': MEDIA_TYPES.ociIndex },
              body: JSON.stringify({
                schemaVersion: 2,
                mediaType: MEDIA_TYPES.ociIndex,
                manifests,
              }),
            }
          : undefined,
    })
    const err = await asyncErrorOf(
      client(r.host).referrers(uniqueRepo(r.host, 'many'), sha256(Buffer.from('popular'))),
    )
    expect(err.code).toBe('REGISTRY_LIMIT')
    expect(err.message).toContain(`more than ${MAX_LISTED_REFERRERS} entries`)
    expect(err.message).toContain(`at most ${MAX_LISTED_REFERRERS} referrers per image`)
  })
})

describe('realmMayReceiveCredentials', () => {
  it.each([
    // registry host, realm, may the registry's credentials go there
    ['ghcr.io', 'https://ghcr.io/token', true],
    ['ghcr.io:443', 'https://GHCR.io:443/token', true],
    ['127.0.0.1:5000', 'http://127.0.0.1:5000/token', true],
    ['registry-1.docker.io', 'https://auth.docker.io/token', true],
    ['index.docker.io', 'https://auth.docker.io/token', true],
    ['registry.gitlab.com', 'https://gitlab.com/jwt/auth', true],
    ['registry.acme.co.uk', 'https://acme.co.uk/token', true],
    ['a.b.registry.example.com:5000', 'https://example.com/token', true],
    ['127.0.0.1:5000', 'http://127.0.0.1:5001/token', false],
    ['ghcr.io', 'https://ghcr.io:8443/token', false],
    ['evil.example', 'https://ghcr.io/token', false],
    ['evil.example', 'https://auth.docker.io/token', false],
    ['registry.example.com', 'https://api.example.com/token', false],
    ['registry.gitlab.com', 'https://gitlab.com:8443/jwt/auth', false],
    ['gitlab.com.evil.example', 'https://gitlab.com/jwt/auth', false],
    ['evilgitlab.com', 'https://gitlab.com/jwt/auth', false],
    ['registry.example.co.uk', 'https://co.uk/token', false],
    ['registry.example.com.au', 'https://com.au/token', false],
    ['registry.example.com', 'https://com/token', false],
    ['10.1.2.3', 'https://2.3/token', false],
    ['registry.example.com', 'https://[::1]/token', false],
  ])('%s → %s: %s', (registry, realm, allowed) => {
    expect(realmMayReceiveCredentials(registry, new URL(realm))).toBe(allowed)
  })
})
