import { createHash, randomBytes } from 'node:crypto'
import { createServer, Server } from 'node:net'
import { bundleToJSON, toDSSEBundle, type SerializedBundle } from '@sigstore/bundle'
import {
  attestationsStoreFromEnv,
  AttestationStoreError,
  describeStoreFailure,
  GitHubAttestationStore,
  serverUrlFromApiUrl,
  storeOrWarn,
} from '../../src/github/attestation-store'
import { RetryBudget } from '../../src/retry'
import {
  createGitHubAttestationSource,
  GitHubAttestationLookupError,
  MAX_GITHUB_ATTESTATIONS,
  nextLink,
  ownerFor,
  parseOwnerInput,
  type GitHubLookupRequest,
} from '../../src/github/attestation-lookup'
import type { Logger } from '../../src/report/types'
import { errorOf } from '../infra/expect'
import { GitHubApiStandIn, startGitHubApiStandIn } from '../infra/github-api'
import { listenOnLoopback, refusingOrigin } from '../infra/listen'

const TOKEN = 'ghs_unitTestToken123'
const DIGEST = `sha256:${createHash('sha256').update('image manifest').digest('hex')}`

/** A DSSE bundle as the signer makes it: an in-toto statement about DIGEST, with a certificate. */
function dsseBundle(): SerializedBundle {
  const statement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'ghcr.io/octo/app', digest: { sha256: DIGEST.slice('sha256:'.length) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {},
  }
  return bundleToJSON(
    toDSSEBundle({
      artifact: Buffer.from(JSON.stringify(statement)),
      artifactType: 'application/vnd.in-toto+json',
      signature: randomBytes(64),
      certificate: randomBytes(300),
    }),
  )
}

/** The failures we expect are AttestationStoreErrors; anything else fails the test. */
async function storeFailure(store: GitHubAttestationStore): Promise<AttestationStoreError> {
  const err: unknown = await store.store(dsseBundle(), DIGEST).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(err instanceof AttestationStoreError))
    throw new Error(`expected a store error: ${String(err)}`)
  return err
}

describe('GitHubAttestationStore against the API stand-in', () => {
  let api: GitHubApiStandIn
  const store = (options: Partial<ConstructorParameters<typeof GitHubAttestationStore>[0]> = {}) =>
    new GitHubAttestationStore({
      token: TOKEN,
      repository: 'octo/app',
      apiUrl: api.url,
      serverUrl: 'https://github.com',
      minRetryDelayMs: 5,
      ...options,
    })

  beforeEach(async () => {
    api = await startGitHubApiStandIn({ tokens: [TOKEN] })
  })
  afterEach(async () => {
    await api.stop()
  })

  it('stores the bundle and returns the id and the attestation URL', async () => {
    const bundle = dsseBundle()
    const result = await store().store(bundle, DIGEST)

    expect(result).toEqual({ id: 1, url: 'https://github.com/octo/app/attestations/1' })
    expect(api.attestations).toHaveLength(1)
    const [stored] = api.attestations
    expect(stored.repository).toBe('octo/app')
    expect(stored.path).toBe('/repos/octo/app/attestations')
    expect(stored.bundle).toEqual(JSON.parse(JSON.stringify(bundle)))
    expect(stored.subjectDigests).toEqual([DIGEST])
    expect(stored.authorization).toBe(`token ${TOKEN}`)
    expect(api.requests[0].userAgent).toMatch(/^signet /)
    expect(api.requests[0].apiVersion).toBe('2022-11-28')
  })

  it('gives each stored bundle its own id, and lists them by subject digest', async () => {
    expect((await store().store(dsseBundle(), DIGEST)).id).toBe(1)
    expect((await store().store(dsseBundle(), DIGEST)).id).toBe(2)
    const res = await fetch(`${api.url}/repos/octo/app/attestations/${DIGEST}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { attestations: { id: number }[] }
    expect(body.attestations.map((a) => a.id)).toEqual([1, 2])
  })

  it('retries 5xx and 429 and then stores', async () => {
    api.respondWith(500, { message: 'Server Error' })
    api.respondWith(502, { message: 'Bad Gateway' })
    api.respondWith(429, { message: 'Too many requests' }, 1, { 'retry-after': '0' })
    const result = await store().store(dsseBundle(), DIGEST)

    expect(result.id).toBe(1)
    expect(api.requests.map((r) => r.status)).toEqual([500, 502, 429, 201])
  })

  it('retries a secondary rate limit (403 with Retry-After)', async () => {
    api.respondWith(403, { message: 'You have exceeded a secondary rate limit.' }, 1, {
      'retry-after': '0',
    })
    expect((await store().store(dsseBundle(), DIGEST)).id).toBe(1)
    expect(api.requests).toHaveLength(2)
  })

  it('gives up after `retries` on a server that keeps failing', async () => {
    api.respondWith(503, { message: 'Service Unavailable' }, 10)
    const err = await storeFailure(store({ retries: 2 }))

    expect(err.kind).toBe('server')
    expect(err.attempts).toBe(3)
    expect(api.requests).toHaveLength(3)
    const warning = describeStoreFailure(err)
    expect(warning).toContain('after 3 attempt(s)')
    expect(warning).toContain('Service Unavailable')
  })

  it("retry-timeout: the run's budget bounds the retries (not `retries`), each logged", async () => {
    api.respondWith(503, { message: 'Service Unavailable' }, 8)
    const lines: string[] = []
    let now = 1_000_000
    const budget = new RetryBudget(10 * 60_000, {
      now: () => now,
      sleep: async (ms) => {
        now += ms
      },
      log: (line) => lines.push(line),
    })
    expect((await store({ retries: 2, budget }).store(dsseBundle(), DIGEST)).id).toBe(1)
    expect(api.requests).toHaveLength(9)
    expect(lines).toHaveLength(8)
    expect(lines[0]).toMatch(
      new RegExp(
        `^the GitHub API \\(${api.url}\\): HTTP 503 \\(Service Unavailable\\); retry 1 in .*left of retry-timeout$`,
      ),
    )
    expect(lines.join('\n')).not.toContain(TOKEN)
  })

  it('403 "Resource not accessible by integration" names attestations: write, without retrying', async () => {
    api.respondWith(403, {
      message: 'Resource not accessible by integration',
      documentation_url: 'https://docs.github.com/rest/repos/attestations#create-an-attestation',
    })
    const err = await storeFailure(store())

    expect(err.kind).toBe('permission')
    expect(err.githubMessage).toBe('Resource not accessible by integration')
    expect(api.requests).toHaveLength(1)
    const warning = describeStoreFailure(err)
    expect(warning).toContain('`attestations: write`')
    expect(warning).toContain('Resource not accessible by integration')
    expect(warning).toContain(DIGEST)
    expect(warning).not.toContain(TOKEN)
  })

  it('404 "Resource not accessible by integration" is the same permission problem', async () => {
    api.respondWith(404, { message: 'Resource not accessible by integration' })
    const err = await storeFailure(store())
    expect(err.kind).toBe('permission')
    expect(describeStoreFailure(err)).toContain('`attestations: write`')
  })

  it("passes GitHub's own message on for user-owned private repositories", async () => {
    const message = 'Feature not available for user-owned private repositories.'
    api.respondWith(404, { message, documentation_url: 'https://docs.github.com/rest' })
    const err = await storeFailure(store())

    expect(err.kind).toBe('plan')
    expect(api.requests).toHaveLength(1)
    const warning = describeStoreFailure(err)
    expect(warning).toContain(`"${message}"`)
    expect(warning).toContain('GitHub Enterprise Cloud')
    expect(warning).toContain('github-attestations: false')
  })

  it('a plain 404 points at repository visibility or a server without the API', async () => {
    api.respondWith(404, { message: 'Not Found' })
    const err = await storeFailure(store())
    expect(err.kind).toBe('not-found')
    const warning = describeStoreFailure(err)
    expect(warning).toContain('404')
    expect(warning).toContain('attestations: write')
    expect(warning).toContain('GitHub Enterprise Server')
  })

  it('422 from GitHub is reported as a rejected bundle, not retried', async () => {
    api.respondWith(422, { message: 'Invalid request.\n\nbundle is invalid' })
    const err = await storeFailure(store())
    expect(err.kind).toBe('rejected')
    expect(api.requests).toHaveLength(1)
    expect(describeStoreFailure(err)).toContain('bundle is invalid')
  })

  it('without a token: no request, and the warning names the github-token input', async () => {
    const err = await storeFailure(store({ token: '' }))
    expect(err.kind).toBe('no-token')
    expect(api.requests).toHaveLength(0)
    const warning = describeStoreFailure(err)
    expect(warning).toContain('`github-token`')
    expect(warning).toContain('attestations: write')
  })

  it('a token GitHub does not accept: 401, the warning names the github-token input', async () => {
    const err = await storeFailure(store({ token: 'ghs_revoked' }))
    expect(err.kind).toBe('bad-credentials')
    expect(err.status).toBe(401)
    expect(api.requests).toHaveLength(1)
    const warning = describeStoreFailure(err)
    expect(warning).toContain('`github-token`')
    expect(warning).toContain('Bad credentials')
    expect(warning).not.toContain('ghs_revoked')
  })

  it('storeOrWarn turns a failure into one warning and never rejects', async () => {
    api.respondWith(403, { message: 'Resource not accessible by integration' })
    const warnings: string[] = []
    const logger: Logger = {
      info: () => undefined,
      debug: () => undefined,
      warning: (m) => warnings.push(m),
      group: async (_n, fn) => fn(),
    }
    expect(await storeOrWarn(store(), dsseBundle(), DIGEST, logger)).toBeUndefined()
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain('attestations: write')
    expect(await storeOrWarn(store(), dsseBundle(), DIGEST, logger)).toEqual({
      id: 1,
      url: 'https://github.com/octo/app/attestations/1',
    })
  })
})

describe('GHES-style API URL', () => {
  it('keeps the /api/v3 prefix and derives the web URL from it', async () => {
    const api = await startGitHubApiStandIn({ pathPrefix: '/api/v3' })
    try {
      expect(api.url).toMatch(/\/api\/v3$/)
      const store = new GitHubAttestationStore({
        token: TOKEN,
        repository: 'octo/app',
        apiUrl: `${api.url}/`,
      })
      const result = await store.store(dsseBundle(), DIGEST)
      const origin = new URL(api.url).origin
      expect(result).toEqual({ id: 1, url: `${origin}/octo/app/attestations/1` })
      expect(api.attestations[0].path).toBe('/api/v3/repos/octo/app/attestations')
    } finally {
      await api.stop()
    }
  })
})

describe('network failures', () => {
  it('an unreachable API is retried, then reported with its URL', async () => {
    const refusing = await refusingOrigin()
    try {
      const apiUrl = refusing.origin
      const store = new GitHubAttestationStore({
        token: TOKEN,
        repository: 'octo/app',
        apiUrl,
        retries: 2,
        minRetryDelayMs: 5,
      })
      const err = await storeFailure(store)

      expect(err.kind).toBe('network')
      expect(err.attempts).toBe(3)
      const warning = describeStoreFailure(err)
      expect(warning).toContain(`no answer from ${apiUrl} after 3 attempt(s)`)
      expect(warning).toMatch(/ECONNREFUSED|connect/)
      expect(warning).toContain('HTTPS_PROXY')
    } finally {
      await refusing.release()
    }
  })

  it('an API that accepts the connection and never answers times out', async () => {
    const sockets = new Set<import('node:net').Socket>()
    const server: Server = createServer((s) => sockets.add(s))
    const port = await listenOnLoopback(server)
    try {
      const store = new GitHubAttestationStore({
        token: TOKEN,
        repository: 'octo/app',
        apiUrl: `http://127.0.0.1:${port}`,
        retries: 1,
        minRetryDelayMs: 5,
        timeoutMs: 200,
      })
      const err = await storeFailure(store)
      expect(err.kind).toBe('network')
      expect(err.attempts).toBe(2)
      expect(describeStoreFailure(err)).toContain('no answer within 200 ms')
    } finally {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

describe('the stand-in checks requests like GitHub', () => {
  let api: GitHubApiStandIn
  beforeAll(async () => {
    api = await startGitHubApiStandIn()
  })
  afterAll(async () => {
    await api.stop()
  })
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${api.url}/repos/octo/app/attestations`, { method: 'POST', body, headers })

  it('401 Requires authentication without an Authorization header', async () => {
    const res = await post(JSON.stringify({ bundle: dsseBundle() }), {
      'content-type': 'application/json',
    })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ message: 'Requires authentication' })
  })

  it('415 for a body that is not JSON, 400 for broken JSON', async () => {
    const auth = { authorization: `token ${TOKEN}` }
    expect((await post('{}', { ...auth, 'content-type': 'text/plain' })).status).toBe(415)
    expect((await post('{', { ...auth, 'content-type': 'application/json' })).status).toBe(400)
  })

  it('422 without a bundle or with a bundle that is not a Sigstore bundle', async () => {
    const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
    expect((await post('{}', headers)).status).toBe(422)
    expect((await post(JSON.stringify({ bundle: { mediaType: 'x' } }), headers)).status).toBe(422)
    expect(api.attestations).toHaveLength(0)
  })

  it('404 for other routes and methods', async () => {
    const headers = { authorization: `token ${TOKEN}` }
    expect((await fetch(`${api.url}/repos/octo/app/attestations`, { headers })).status).toBe(404)
    expect((await fetch(`${api.url}/user`, { headers })).status).toBe(404)
  })

  it('serves canned failures queued at start', async () => {
    const failing = await startGitHubApiStandIn({
      failNext: [{ status: 500, body: { message: 'boom' }, count: 2 }],
    })
    try {
      const store = new GitHubAttestationStore({
        token: TOKEN,
        repository: 'octo/app',
        apiUrl: failing.url,
        minRetryDelayMs: 5,
      })
      expect((await store.store(dsseBundle(), DIGEST)).id).toBe(1)
      expect(failing.requests.map((r) => r.status)).toEqual([500, 500, 201])
    } finally {
      await failing.stop()
    }
  })
})

describe('attestationsStoreFromEnv', () => {
  it('is undefined outside a workflow run (no or malformed GITHUB_REPOSITORY)', () => {
    expect(attestationsStoreFromEnv({}, TOKEN)).toBeUndefined()
    expect(attestationsStoreFromEnv({ GITHUB_REPOSITORY: 'just-a-name' }, TOKEN)).toBeUndefined()
  })

  it('defaults to github.com', () => {
    const store = attestationsStoreFromEnv({ GITHUB_REPOSITORY: 'octo/app' }, TOKEN)
    expect(store?.repository).toBe('octo/app')
    expect(store?.apiUrl).toBe('https://api.github.com')
    expect(store?.serverUrl).toBe('https://github.com')
  })

  it('reads GITHUB_API_URL and GITHUB_SERVER_URL (GHES, GHE.com)', () => {
    const ghes = attestationsStoreFromEnv(
      {
        GITHUB_REPOSITORY: 'octo/app',
        GITHUB_API_URL: 'https://ghes.example/api/v3',
        GITHUB_SERVER_URL: 'https://ghes.example',
      },
      TOKEN,
    )
    expect(ghes?.apiUrl).toBe('https://ghes.example/api/v3')
    expect(ghes?.serverUrl).toBe('https://ghes.example')
    const ghec = attestationsStoreFromEnv(
      { GITHUB_REPOSITORY: 'octo/app', GITHUB_API_URL: 'https://api.acme.ghe.com' },
      TOKEN,
    )
    expect(ghec?.serverUrl).toBe('https://acme.ghe.com')
  })

  it('without a token still gives a store, whose failure explains github-token', async () => {
    const store = attestationsStoreFromEnv({ GITHUB_REPOSITORY: 'octo/app' }, undefined)
    expect(store).toBeDefined()
    const err = await storeFailure(store!)
    expect(err.kind).toBe('no-token')
    expect(describeStoreFailure(err)).toContain('github-token')
  })
})

describe('serverUrlFromApiUrl and describeStoreFailure edge cases', () => {
  it('maps API URLs to web URLs', () => {
    expect(serverUrlFromApiUrl('https://api.github.com')).toBe('https://github.com')
    expect(serverUrlFromApiUrl('https://api.acme.ghe.com/')).toBe('https://acme.ghe.com')
    expect(serverUrlFromApiUrl('https://ghes.example/api/v3/')).toBe('https://ghes.example')
    expect(serverUrlFromApiUrl('http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080')
  })

  it('describes a foreign error without crashing', () => {
    expect(describeStoreFailure(new Error('boom'))).toContain('boom')
    expect(describeStoreFailure('text')).toContain('text')
  })
})

describe('reading attestations back (verify mode, github-attestations)', () => {
  let api: GitHubApiStandIn
  const warnings: string[] = []
  const log: Logger = {
    info: () => undefined,
    debug: () => undefined,
    warning: (m) => warnings.push(m),
    group: (_name, fn) => fn(),
  }
  const source = (options: { token?: string; owner?: string } = {}) =>
    createGitHubAttestationSource({
      token: options.token ?? TOKEN,
      owner: options.owner ?? 'octo',
      apiUrl: api.url,
      log,
      minRetryDelayMs: 5,
    })
  const request = (overrides: Partial<GitHubLookupRequest> = {}): GitHubLookupRequest => ({
    name: 'registry.example/octo/app',
    digest: DIGEST,
    charge: () => undefined,
    required: true,
    ...overrides,
  })
  const lookupFailure = async (
    promise: Promise<unknown>,
  ): Promise<GitHubAttestationLookupError> => {
    const err = await promise.then(
      () => undefined,
      (e: unknown) => e,
    )
    if (!(err instanceof GitHubAttestationLookupError))
      throw new Error(`expected a lookup error: ${String(err)}`)
    return err
  }

  beforeEach(async () => {
    warnings.length = 0
    api = await startGitHubApiStandIn({ tokens: [TOKEN] })
  })
  afterEach(async () => {
    await api.stop()
  })

  it('issue 9.4: lists what sign mode stored, as the bundles it stored', async () => {
    const bundle = dsseBundle()
    await new GitHubAttestationStore({
      token: TOKEN,
      repository: 'octo/app',
      apiUrl: api.url,
    }).store(bundle, DIGEST)
    const found = await source().lookup(request())
    expect(found.bundles).toEqual([
      { reference: 'github:octo/attestations/1', json: JSON.parse(JSON.stringify(bundle)) },
    ])
  })

  it('issue 9.4: a 401 names github-token and never the token', async () => {
    const err = await lookupFailure(source({ token: 'ghs_wrongToken42' }).lookup(request()))
    expect(err.kind).toBe('bad-credentials')
    expect(err.message).toMatch(/HTTP 401.*`github-token`/)
    expect(err.message).not.toContain('ghs_wrongToken42')
  })

  it('issue 9.4: without a token, a required lookup fails without a request', async () => {
    const err = await lookupFailure(source({ token: '' }).lookup(request()))
    expect(err.kind).toBe('no-token')
    expect(err.message).toContain('`github-token`')
    expect(api.requests).toEqual([])
  })

  it('issue 9.4: a rate limit is retried, then the listing read', async () => {
    api.add('octo/app', dsseBundle())
    api.respondWith(429, { message: 'Too many requests' }, 1, { 'retry-after': '0' })
    const found = await source().lookup(request())
    expect(found.bundles).toHaveLength(1)
    expect(api.requests.map((r) => r.status)).toEqual([429, 200])
  })

  it('issue 9.4: an entry without an inline bundle is noted, not read', async () => {
    api.add('octo/app', null, [DIGEST])
    const found = await source().lookup(request())
    expect(found.bundles).toEqual([])
    expect(found.notes).toEqual([
      'github:octo/attestations/1 (entry 1 of page 1) has no inline bundle: not read',
    ])
  })

  it('issue 9.4: more attestations than Signet reads fail the image, naming the limit', async () => {
    const bundle = dsseBundle()
    for (let i = 0; i <= MAX_GITHUB_ATTESTATIONS; i++) api.add('octo/app', bundle)
    await expect(source().lookup(request({ required: false }))).rejects.toMatchObject({
      code: 'REGISTRY_LIMIT',
      message: expect.stringContaining(
        `Signet reads at most ${MAX_GITHUB_ATTESTATIONS} GitHub artifact attestations per image`,
      ) as unknown,
    })
  })

  it('issue 9.4: an answer that is not a listing fails closed when required, warns otherwise', async () => {
    api.respondWith(200, { attestations: 'nope' }, 2)
    const err = await lookupFailure(source().lookup(request()))
    expect(err.message).toMatch(/not a list of attestations/)
    const found = await source().lookup(request({ required: false }))
    expect(found.bundles).toEqual([])
    expect(found.notes[0]).toMatch(/not a list of attestations/)
    expect(warnings).toHaveLength(1)
  })
})

describe('whose attestations: ownerFor, parseOwnerInput, nextLink', () => {
  it('issue 9.4: the owner comes from a ghcr.io image name, or from the input', () => {
    expect(ownerFor('ghcr.io/octo-org/app')).toEqual({ owner: 'octo-org' })
    expect(ownerFor('ghcr.io/octo-org/tools/app')).toEqual({ owner: 'octo-org' })
    expect(ownerFor('ghcr.io:443/octo-org/app')).toEqual({ owner: 'octo-org' })
    expect(ownerFor('docker.io/library/alpine')).toBeUndefined()
    expect(ownerFor('ghcr.io/app')).toBeUndefined()
    expect(ownerFor('ghcr.io.evil.example/octo/app')).toBeUndefined()
    expect(ownerFor('ghcr.io/octo-org/app', 'other-org')).toEqual({ owner: 'other-org' })
    expect(ownerFor('docker.io/library/alpine', 'octo/app')).toEqual({ owner: 'octo', repo: 'app' })
    expect(ownerFor('ghcr.io/octo-org/app', '  ')).toEqual({ owner: 'octo-org' })
  })

  it.each([['a/b/c'], ['-octo'], ['octo org'], ['octo/'], ['octo/..'], ['../x'], ['x'.repeat(40)]])(
    'issue 9.4: github-attestations-owner %j is refused, naming the input',
    (text) => {
      const err = errorOf(() => parseOwnerInput(text))
      expect(err.code).toBe('INPUT_INVALID')
      expect(err.input).toBe('github-attestations-owner')
      expect(() =>
        createGitHubAttestationSource({ token: TOKEN, owner: text, log: silentLog() }),
      ).toThrow(/github-attestations-owner/)
    },
  )

  it('reads rel="next" from a Link header', () => {
    expect(nextLink(undefined)).toBeUndefined()
    expect(nextLink('<https://api.github.com/x?after=Y>; rel="next"')).toBe(
      'https://api.github.com/x?after=Y',
    )
    expect(nextLink('<https://a/prev>; rel="prev", <https://a/n?a=1,2>; rel="next"')).toBe(
      'https://a/n?a=1,2',
    )
    expect(nextLink('<https://a/n>; rel=next')).toBe('https://a/n')
    expect(nextLink('<https://a/n>; rel="prev next"')).toBe('https://a/n')
    expect(nextLink('<https://a/last>; rel="last", <https://a/x>; rel="nextish"')).toBeUndefined()
  })
})

function silentLog(): Logger {
  return {
    info: () => undefined,
    debug: () => undefined,
    warning: () => undefined,
    group: (_n, fn) => fn(),
  }
}
