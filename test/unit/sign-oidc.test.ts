/**
 * GitHubOidcProvider against a fake runner token endpoint on loopback: the token is fetched once
 * per run, masked before anyone can print it, and every failure is named. Retries run against a
 * fake fetch on fake timers, so the backoff costs no wall time.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { challengeSubject, decodeJwtClaims, GitHubOidcProvider } from '../../src/sigstore/oidc'

const REQUEST_TOKEN = 'runner-request-token'
const jwt = (claims: Record<string, unknown>) =>
  ['{"alg":"none"}', JSON.stringify(claims), 'sig']
    .map((p) => Buffer.from(p).toString('base64url'))
    .join('.')
const TOKEN = jwt({
  sub: 'repo:acme/app:ref:refs/heads/main',
  iss: 'https://token.actions.githubusercontent.com',
})

interface Answer {
  status: number
  body: unknown
}

/** The runner's token endpoint: answers in turn (the last one repeats), records each request. */
let server: Server
let url: string
let answers: Answer[]
let seen: IncomingMessage[]

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(req)
    const answer = answers.length > 1 ? answers.shift()! : answers[0]
    res.writeHead(answer.status, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(answer.body))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  // As the runner hands it over: the URL already holds a query.
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`
})
afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())))
beforeEach(() => {
  answers = [{ status: 200, body: { value: TOKEN } }]
  seen = []
})

const runnerEnv = () => ({
  ACTIONS_ID_TOKEN_REQUEST_URL: url,
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
})

describe('GitHubOidcProvider', () => {
  test('issue 11: asks over node:http, and over fetch (which the proxy routing steers) with a proxy set', async () => {
    const fetchSpy = jest.spyOn(globalThis, 'fetch')
    try {
      expect(await new GitHubOidcProvider(runnerEnv()).getToken()).toBe(TOKEN)
      expect(fetchSpy).not.toHaveBeenCalled()
      expect(seen).toHaveLength(1)
      const proxied = { ...runnerEnv(), HTTP_PROXY: 'http://proxy.invalid:3128' }
      fetchSpy.mockResolvedValueOnce(
        new Response(JSON.stringify({ value: TOKEN }), {
          status: 200,
          headers: { 'Content-Type': 'application/json' },
        }),
      )
      expect(await new GitHubOidcProvider(proxied).getToken()).toBe(TOKEN)
      expect(fetchSpy).toHaveBeenCalledTimes(1)
    } finally {
      fetchSpy.mockRestore()
    }
  })

  test('asks the runner for a sigstore token with its request token', async () => {
    const provider = new GitHubOidcProvider(runnerEnv())
    expect(await provider.getToken()).toBe(TOKEN)
    expect(seen).toHaveLength(1)
    const requested = new URL(seen[0].url!, 'http://x')
    expect(requested.pathname).toBe('/token')
    expect(requested.searchParams.get('api-version')).toBe('2.0')
    expect(requested.searchParams.get('audience')).toBe('sigstore')
    expect(seen[0].headers.authorization).toBe(`Bearer ${REQUEST_TOKEN}`)
  })

  test('another audience when asked', async () => {
    await new GitHubOidcProvider(runnerEnv(), { audience: 'other' }).getToken()
    expect(new URL(seen[0].url!, 'http://x').searchParams.get('audience')).toBe('other')
  })

  test('one token per run, however many ask and however concurrently', async () => {
    const provider = new GitHubOidcProvider(runnerEnv())
    const tokens = await Promise.all([
      provider.getToken(),
      provider.getToken(),
      provider.getToken(),
    ])
    tokens.push(await provider.getToken())
    expect(new Set(tokens)).toEqual(new Set([TOKEN]))
    expect(seen).toHaveLength(1)
  })

  test('the token is masked as soon as it is fetched, once', async () => {
    const mask = jest.fn()
    const provider = new GitHubOidcProvider(runnerEnv(), { mask })
    expect(mask).not.toHaveBeenCalled()
    await Promise.all([provider.getToken(), provider.getToken()])
    expect(mask).toHaveBeenCalledTimes(1)
    expect(mask).toHaveBeenCalledWith(TOKEN)
  })

  test('no token offered (no id-token: write): preflight and getToken name the fix', async () => {
    const provider = new GitHubOidcProvider({ ACTIONS_ID_TOKEN_REQUEST_URL: url })
    expect(provider.available()).toBe(false)
    expect(() => provider.preflight()).toThrow(
      expect.objectContaining({
        code: 'OIDC_UNAVAILABLE',
        input: 'key',
        message: expect.stringContaining('permissions: id-token: write'),
      }),
    )
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'OIDC_UNAVAILABLE' })
    expect(seen).toEqual([])
  })

  test('a refusal (HTTP 403) is not retried and says so', async () => {
    answers = [{ status: 403, body: { message: 'no' } }]
    const mask = jest.fn()
    const provider = new GitHubOidcProvider(runnerEnv(), { mask })
    await expect(provider.getToken()).rejects.toMatchObject({
      code: 'OIDC_UNAVAILABLE',
      input: 'key',
      message: expect.stringContaining('the runner refused an OIDC token (HTTP 403)'),
    })
    expect(seen).toHaveLength(1)
    expect(mask).not.toHaveBeenCalled()
  })

  test.each([
    ['no value', {}],
    ['a value that is no JWT', { value: 'opaque' }],
    ['a value that is no string', { value: 42 }],
  ])('an answer with %s is refused and nothing is masked', async (_what, body) => {
    answers = [{ status: 200, body }]
    const mask = jest.fn()
    await expect(new GitHubOidcProvider(runnerEnv(), { mask }).getToken()).rejects.toMatchObject({
      code: 'OIDC_UNAVAILABLE',
      message: 'the runner answered without an OIDC token',
    })
    expect(mask).not.toHaveBeenCalled()
  })
})

describe('GitHubOidcProvider retries (fake fetch, fake timers)', () => {
  let fetchSpy: jest.SpyInstance
  beforeEach(() => {
    jest.useFakeTimers()
    fetchSpy = jest.spyOn(globalThis, 'fetch')
  })
  afterEach(() => {
    fetchSpy.mockRestore()
    jest.useRealTimers()
  })

  /** The global fetch as called at each request (the spy). */
  const globalFetch: typeof fetch = (input, init) => fetch(input, init)
  const respond = (status: number, body: unknown = {}) =>
    new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })

  /** Runs getToken to its end, letting the backoff pauses pass. */
  async function settle<T>(promise: Promise<T>): Promise<T> {
    const outcome = promise.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    )
    await jest.advanceTimersByTimeAsync(10_000)
    const result = await outcome
    if ('error' in result) throw result.error
    return result.value
  }

  test('a 5xx, a 429 and a network error are retried, then the token is had', async () => {
    fetchSpy
      .mockResolvedValueOnce(respond(503))
      .mockResolvedValueOnce(respond(429))
      .mockRejectedValueOnce(new TypeError('fetch failed'))
      .mockResolvedValueOnce(respond(200, { value: TOKEN }))
    const mask = jest.fn()
    const token = await settle(
      new GitHubOidcProvider(runnerEnv(), { mask, fetch: globalFetch }).getToken(),
    )
    expect(token).toBe(TOKEN)
    expect(fetchSpy).toHaveBeenCalledTimes(4)
    expect(mask).toHaveBeenCalledWith(TOKEN)
  })

  test('four failures in a row: the last cause is named', async () => {
    fetchSpy.mockResolvedValue(respond(502))
    await expect(
      settle(new GitHubOidcProvider(runnerEnv(), { fetch: globalFetch }).getToken()),
    ).rejects.toMatchObject({
      code: 'OIDC_UNAVAILABLE',
      input: 'key',
      message: 'could not fetch the workflow OIDC token: Error: HTTP 502',
    })
    expect(fetchSpy).toHaveBeenCalledTimes(4)
  })
})

describe('GitHubOidcProvider: a token that runs short is fetched anew', () => {
  const jwt = (exp: number) =>
    ['{"alg":"none"}', JSON.stringify({ sub: 'repo:acme/app', exp }), 'sig']
      .map((p) => Buffer.from(p).toString('base64url'))
      .join('.')

  test('the same token while more than a minute of it is left, then a new one', async () => {
    let now = 1_800_000_000_000
    const tokens = [jwt(now / 1000 + 300), jwt(now / 1000 + 900)]
    const fetchImpl = jest.fn(async () => Response.json({ value: tokens.shift() }))
    const provider = new GitHubOidcProvider(runnerEnv(), {
      fetch: fetchImpl as unknown as typeof fetch,
      now: () => now,
    })
    const first = await provider.getToken()
    now += 200_000
    expect(await provider.getToken()).toBe(first)
    expect(fetchImpl).toHaveBeenCalledTimes(1)
    // 50 s left: Fulcio might refuse it by the time it checks.
    now += 50_000
    const second = await provider.getToken()
    expect(second).not.toBe(first)
    expect(fetchImpl).toHaveBeenCalledTimes(2)
  })
})

describe('decodeJwtClaims and challengeSubject', () => {
  test('the claims of a JWT, unverified', () => {
    expect(decodeJwtClaims(jwt({ sub: 's', n: 1 }))).toEqual({ sub: 's', n: 1 })
    expect(() => decodeJwtClaims('opaque')).toThrow(
      expect.objectContaining({ code: 'OIDC_UNAVAILABLE', message: 'the OIDC token is not a JWT' }),
    )
  })

  test('Fulcio signs the subject, or the e-mail for e-mail issuers', () => {
    expect(
      challengeSubject({ iss: 'https://token.actions.githubusercontent.com', sub: 'repo:a/b' }),
    ).toBe('repo:a/b')
    expect(
      challengeSubject({ iss: 'https://accounts.google.com', sub: '1234', email: 'a@example.com' }),
    ).toBe('a@example.com')
    expect(() => challengeSubject({ iss: 'https://accounts.google.com', sub: '1234' })).toThrow(
      'the OIDC token has no subject',
    )
  })
})
