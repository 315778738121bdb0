import { SignetError } from '../../src/errors'
import { classifyTokenRequest, GitHubOidcProvider } from '../../src/sigstore/oidc'
import {
  backoffDelay,
  boundedReason,
  describeRetry,
  displayURL,
  formatDuration,
  isRetryableError,
  isRetryableStatus,
  OUTAGE_BACKOFF,
  parseRetryAfter,
  RetryBudget,
  withRetry,
} from '../../src/retry'

/** A fake clock: sleep advances it, so budgets are tested without waiting. */
function fakeClock(start = 1_000_000) {
  let now = start
  const sleeps: number[] = []
  return {
    now: () => now,
    sleep: async (ms: number) => {
      sleeps.push(ms)
      now += ms
    },
    advance: (ms: number) => {
      now += ms
    },
    sleeps,
  }
}

function response(status: number, headers: Record<string, string> = {}): Response {
  return new Response(status === 204 ? null : 'body', { status, headers })
}

function fetchFailed(code: string): TypeError {
  return new TypeError('fetch failed', { cause: Object.assign(new Error(code), { code }) })
}

describe('classification', () => {
  it('retries 408, 429 and 5xx except 501/505', () => {
    for (const s of [408, 429, 500, 502, 503, 504, 599]) expect(isRetryableStatus(s)).toBe(true)
    for (const s of [200, 201, 301, 400, 401, 403, 404, 412, 501, 505]) {
      expect(isRetryableStatus(s)).toBe(false)
    }
  })

  it('retries transport failures, not other errors', () => {
    expect(isRetryableError(fetchFailed('ECONNRESET'))).toBe(true)
    expect(isRetryableError(fetchFailed('ECONNREFUSED'))).toBe(true)
    expect(isRetryableError(new TypeError('fetch failed'))).toBe(true)
    expect(isRetryableError(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe(true)
    expect(isRetryableError(new DOMException('timed out', 'TimeoutError'))).toBe(true)
    expect(isRetryableError(new SignetError('REGISTRY_AUTH', 'no'))).toBe(false)
    expect(isRetryableError(new TypeError('x is not a function'))).toBe(false)
    expect(isRetryableError(new Error('boom'))).toBe(false)
    expect(isRetryableError('string')).toBe(false)
  })

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z')
    expect(parseRetryAfter('7', now)).toBe(7000)
    expect(parseRetryAfter('0', now)).toBe(0)
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000)
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now)).toBe(0)
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter(null, now)).toBeUndefined()
  })

  it('backs off exponentially with full jitter between min and a capped ceiling', () => {
    const o = { minDelayMs: 500, maxDelayMs: 10_000 }
    expect(backoffDelay(0, o, () => 0)).toBe(500)
    expect(backoffDelay(0, o, () => 1)).toBe(500)
    expect(backoffDelay(1, o, () => 1)).toBe(1000)
    expect(backoffDelay(3, o, () => 1)).toBe(4000)
    expect(backoffDelay(10, o, () => 1)).toBe(10_000)
    expect(backoffDelay(10, o, () => 0.5)).toBe(5250)
  })
})

describe('withRetry', () => {
  it('returns the first success', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => response(200))
    const res = await withRetry(fn, clock)
    expect(res.status).toBe(200)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(clock.sleeps).toEqual([])
  })

  it('retries retryable statuses and errors until success', async () => {
    const clock = fakeClock()
    const outcomes: (() => Response)[] = [
      () => response(503),
      () => {
        throw fetchFailed('ECONNRESET')
      },
      () => response(429),
      () => response(200),
    ]
    let i = 0
    const res = await withRetry(async () => outcomes[i++](), { ...clock, random: () => 0 })
    expect(res.status).toBe(200)
    expect(i).toBe(4)
    expect(clock.sleeps).toEqual([500, 500, 500])
  })

  it('does not retry a non-retryable status or error', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => response(404))
    expect((await withRetry(fn, clock)).status).toBe(404)
    expect(fn).toHaveBeenCalledTimes(1)

    const failing = jest.fn(async () => {
      throw new SignetError('REGISTRY_AUTH', 'denied')
    })
    await expect(withRetry(failing, clock)).rejects.toThrow('denied')
    expect(failing).toHaveBeenCalledTimes(1)
  })

  it('gives up after `retries`, returning the last response or throwing the last error', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => response(502))
    const res = await withRetry(fn, { ...clock, retries: 3 })
    expect(res.status).toBe(502)
    expect(fn).toHaveBeenCalledTimes(4)

    const err = fetchFailed('ECONNREFUSED')
    const throwing = jest.fn(async () => {
      throw err
    })
    await expect(withRetry(throwing, { ...clock, retries: 2 })).rejects.toBe(err)
    expect(throwing).toHaveBeenCalledTimes(3)
  })

  it('stops when the total time budget would be exceeded', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => {
      clock.advance(4000) // each attempt is slow
      return response(503)
    })
    const res = await withRetry(fn, {
      ...clock,
      retries: 100,
      minDelayMs: 1000,
      maxDelayMs: 1000,
      maxTotalMs: 12_000,
    })
    expect(res.status).toBe(503)
    // Attempts end at t=4000 and 9000, each followed by a 1 s wait; the third ends at 14000, and
    // another wait would end past 12000: stop.
    expect(fn).toHaveBeenCalledTimes(3)
    expect(clock.sleeps).toEqual([1000, 1000])
  })

  it('honours Retry-After in seconds and as a date on 429 and 503', async () => {
    const clock = fakeClock(Date.parse('2026-01-01T00:00:00Z'))
    const answers = [
      response(429, { 'retry-after': '3' }),
      response(503, { 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }),
      response(200),
    ]
    let i = 0
    const res = await withRetry(async () => answers[i++], { ...clock, random: () => 0 })
    expect(res.status).toBe(200)
    // 3 s, then until 00:00:05 (2 s after the first wait ended at 00:00:03).
    expect(clock.sleeps).toEqual([3000, 2000])
  })

  it('ignores Retry-After on other statuses (backoff instead)', async () => {
    const clock = fakeClock()
    const answers = [response(500, { 'retry-after': '30' }), response(200)]
    let i = 0
    await withRetry(async () => answers[i++], { ...clock, random: () => 0 })
    expect(clock.sleeps).toEqual([500])
  })

  it('does not wait past the budget for a long Retry-After', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => response(429, { 'retry-after': '120' }))
    const res = await withRetry(fn, { ...clock, maxTotalMs: 60_000 })
    expect(res.status).toBe(429)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(clock.sleeps).toEqual([])
  })

  it('cancels the body of a response it retries past, and reports retries', async () => {
    const clock = fakeClock()
    const first = response(503)
    const cancel = jest.spyOn(first.body!, 'cancel')
    const answers = [first, response(200)]
    let i = 0
    const onRetry = jest.fn()
    await withRetry(async () => answers[i++], { ...clock, onRetry, random: () => 0 })
    expect(cancel).toHaveBeenCalled()
    expect(onRetry).toHaveBeenCalledWith({
      attempt: 1,
      delayMs: 500,
      reason: 'HTTP 503',
      service: undefined,
      leftMs: 59_500,
    })
  })

  it('uses a custom classifier', async () => {
    const clock = fakeClock()
    let i = 0
    const value = await withRetry(async () => ++i, {
      ...clock,
      classify: (o) => ({ retry: 'value' in o && o.value < 3 }),
    })
    expect(value).toBe(3)
  })

  it('has CI-sized defaults: 5 retries within a minute', async () => {
    const clock = fakeClock()
    const fn = jest.fn(async () => response(503))
    await withRetry(fn, { now: clock.now, sleep: clock.sleep, random: () => 1 })
    expect(fn).toHaveBeenCalledTimes(6)
    expect(clock.sleeps).toEqual([1000, 2000, 4000, 8000, 10_000])
  })
})

/** A fake fetch answering in turn (a function throws, as a failed connection does). */
function fakeFetch(answers: (Response | (() => never))[]) {
  const calls: string[] = []
  const impl = jest.fn(async (input: string | URL) => {
    calls.push(input.toString())
    const answer = answers.shift()
    if (!answer) throw new Error('no more answers')
    return typeof answer === 'function' ? answer() : answer
  })
  return { fetch: impl as unknown as typeof fetch, calls }
}

const JWT = ['{"alg":"none"}', '{"sub":"repo:acme/app"}', 'sig']
  .map((p) => Buffer.from(p).toString('base64url'))
  .join('.')
const runnerEnv = {
  ACTIONS_ID_TOKEN_REQUEST_URL: 'http://runner.invalid/token?api-version=2.0',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
}
const tokenAnswer = () => Response.json({ value: JWT })

describe('the OIDC token request on the one policy', () => {
  function provider(answers: (Response | (() => never))[]) {
    const clock = fakeClock()
    const fake = fakeFetch(answers)
    const mask = jest.fn()
    const oidc = new GitHubOidcProvider(runnerEnv, {
      mask,
      fetch: fake.fetch,
      retry: { sleep: clock.sleep, now: clock.now, random: () => 0 },
    })
    return { oidc, clock, fake, mask }
  }

  it('classifies: retryable statuses and failures are retried, Signet verdicts are final', () => {
    const now = Date.now()
    expect(classifyTokenRequest({ value: response(503) }, now).retry).toBe(true)
    expect(classifyTokenRequest({ value: response(429) }, now).retry).toBe(true)
    expect(classifyTokenRequest({ value: response(403) }, now).retry).toBe(false)
    expect(classifyTokenRequest({ value: JWT }, now).retry).toBe(false)
    expect(classifyTokenRequest({ error: fetchFailed('ECONNRESET') }, now).retry).toBe(true)
    // A body cut short is the connection's failure; an answer that is not JSON is final.
    const cutShort = new TypeError('terminated', {
      cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    })
    expect(classifyTokenRequest({ error: cutShort }, now).retry).toBe(true)
    expect(classifyTokenRequest({ error: new SyntaxError('Unexpected token <') }, now).retry).toBe(
      false,
    )
    expect(
      classifyTokenRequest({ error: new SignetError('OIDC_UNAVAILABLE', 'refused') }, now).retry,
    ).toBe(false)
  })

  it('a 503 then 200: the token, after one backoff', async () => {
    const { oidc, clock, fake, mask } = provider([response(503), tokenAnswer()])
    expect(await oidc.getToken()).toBe(JWT)
    expect(fake.calls).toHaveLength(2)
    expect(new URL(fake.calls[1]).searchParams.get('audience')).toBe('sigstore')
    expect(clock.sleeps).toEqual([500])
    expect(mask).toHaveBeenCalledWith(JWT)
  })

  it("honours the runner's Retry-After on 429, and retries a dropped connection", async () => {
    const { oidc, clock } = provider([
      response(429, { 'retry-after': '2' }),
      () => {
        throw fetchFailed('ECONNRESET')
      },
      tokenAnswer(),
    ])
    expect(await oidc.getToken()).toBe(JWT)
    expect(clock.sleeps).toEqual([2000, 500])
  })

  it('a refusal (403) is final: one request, the fix named', async () => {
    const { oidc, fake } = provider([response(403), tokenAnswer()])
    await expect(oidc.getToken()).rejects.toMatchObject({
      code: 'OIDC_UNAVAILABLE',
      input: 'key',
      message: expect.stringContaining('the runner refused an OIDC token (HTTP 403)'),
    })
    expect(fake.calls).toHaveLength(1)
  })

  it('four answers of 502: three retries, then the last cause named', async () => {
    const { oidc, fake, clock, mask } = provider([
      response(502),
      response(502),
      response(502),
      response(502),
      tokenAnswer(),
    ])
    await expect(oidc.getToken()).rejects.toMatchObject({
      code: 'OIDC_UNAVAILABLE',
      input: 'key',
      message: 'could not fetch the workflow OIDC token: Error: HTTP 502',
    })
    expect(fake.calls).toHaveLength(4)
    expect(clock.sleeps).toHaveLength(3)
    expect(mask).not.toHaveBeenCalled()
  })
})

/** A budget on a fake clock, its log lines kept. */
function fakeBudget(timeoutMs: number, random = () => 1) {
  const clock = fakeClock()
  const lines: string[] = []
  const budget = new RetryBudget(timeoutMs, {
    now: clock.now,
    sleep: clock.sleep,
    random,
    log: (line) => lines.push(line),
  })
  return { clock, lines, budget }
}

describe("the run's budget (retry-timeout): a deadline per service outage, not a count", () => {
  it('retries until the deadline, backing off from 1 s to at most 30 s, the last try at the deadline', async () => {
    const { clock, lines, budget } = fakeBudget(10 * 60_000)
    const fn = jest.fn(async () => response(503))
    const res = await withRetry(fn, { budget, service: 'Rekor (https://rekor.test)' })
    expect(res.status).toBe(503)
    // random() = 1: the full ceiling each time, doubling from 2 s up to the 30 s cap.
    expect(clock.sleeps.slice(0, 6)).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000])
    expect(Math.max(...clock.sleeps)).toBe(OUTAGE_BACKOFF.maxDelayMs)
    // Waited exactly the budget: no wait ran past it, and the last try was made at it.
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(10 * 60_000)
    expect(fn).toHaveBeenCalledTimes(clock.sleeps.length + 1)
    expect(lines).toHaveLength(clock.sleeps.length)
    expect(lines[0]).toBe(
      'Rekor (https://rekor.test): HTTP 503; retry 1 in 2 s, 9 min 58 s left of retry-timeout',
    )
    expect(lines.at(-1)).toMatch(/retry \d+ in \d+ s, the last before retry-timeout runs out$/)
  })

  it('jitters each wait between 1 s and its ceiling', async () => {
    const draws = [0, 0.5, 0.25]
    const { clock, budget } = fakeBudget(60_000, () => draws.shift() ?? 0)
    let i = 0
    await withRetry(async () => (i++ < 3 ? response(502) : response(200)), { budget, service: 's' })
    expect(clock.sleeps).toEqual([1000, 2500, 2750])
  })

  it('shares one outage among the calls to a service: a later call gets only what is left', async () => {
    const { clock, budget } = fakeBudget(60_000)
    const down = jest.fn(async () => response(503))
    await withRetry(down, { budget, service: 'registry r.test' })
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000)
    // The same service, still down: one try, no wait.
    const later = jest.fn(async () => response(503))
    expect((await withRetry(later, { budget, service: 'registry r.test' })).status).toBe(503)
    expect(later).toHaveBeenCalledTimes(1)
    // Another service has its own budget.
    const other = jest.fn(async () => response(503))
    clock.sleeps.length = 0
    await withRetry(other, { budget, service: 'registry s.test' })
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000)
  })

  it('an answer ends the outage: the next failure starts a full budget', async () => {
    const { clock, budget } = fakeBudget(20_000)
    const answers = [503, 503, 200, 503, 503, 503, 503, 503, 503, 503, 503]
    const fn = async () => response(answers.shift() ?? 503)
    expect((await withRetry(fn, { budget, service: 'svc' })).status).toBe(200)
    clock.sleeps.length = 0
    expect((await withRetry(fn, { budget, service: 'svc' })).status).toBe(503)
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(20_000)
  })

  it('counts the outage of the service the verdict names (a signature reaches Rekor, then the TSA)', async () => {
    const { budget } = fakeBudget(10_000)
    let tries = 0
    await expect(
      withRetry(
        async () => {
          tries++
          throw new Error('down')
        },
        { budget, service: 'signing', classify: () => ({ retry: true, service: 'the TSA' }) },
      ),
    ).rejects.toThrow('down')
    expect(tries).toBeGreaterThan(1)
    // The TSA's outage is spent; Rekor's is untouched.
    const tsa = jest.fn(async () => response(503))
    await withRetry(tsa, { budget, service: 'the TSA' })
    expect(tsa).toHaveBeenCalledTimes(1)
    const rekor = jest.fn(async () => response(503))
    await withRetry(rekor, { budget, service: 'Rekor' })
    expect(rekor.mock.calls.length).toBeGreaterThan(1)
  })

  it('retry-timeout 0: each call is tried once', async () => {
    const { clock, lines, budget } = fakeBudget(0)
    const fn = jest.fn(async () => response(503))
    expect((await withRetry(fn, { budget, service: 'svc' })).status).toBe(503)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(clock.sleeps).toEqual([])
    expect(lines).toEqual([])
    expect(budget.exhaustedHint()).toMatch(/not retried \(retry-timeout is 0\)/)
  })

  it('fails at once on what is not worth a retry: 4xx, a TLS mismatch, a bad answer', async () => {
    const { clock, budget } = fakeBudget(60_000)
    for (const status of [400, 401, 403, 404, 501]) {
      const fn = jest.fn(async () => response(status))
      expect((await withRetry(fn, { budget, service: 'svc' })).status).toBe(status)
      expect(fn).toHaveBeenCalledTimes(1)
    }
    const tls = new TypeError('fetch failed', {
      cause: Object.assign(new Error('wrong version number'), {
        code: 'ERR_SSL_WRONG_VERSION_NUMBER',
      }),
    })
    for (const err of [tls, new SyntaxError('Unexpected token < in JSON')]) {
      const fn = jest.fn(async () => Promise.reject(err))
      await expect(withRetry(fn, { budget, service: 'svc' })).rejects.toBe(err)
      expect(fn).toHaveBeenCalledTimes(1)
    }
    expect(clock.sleeps).toEqual([])
  })

  it('retries 408 and 429 too, and honours Retry-After; one beyond the deadline ends it at once', async () => {
    const { clock, budget } = fakeBudget(60_000)
    const answers = [response(408), response(429, { 'retry-after': '45' }), response(200)]
    expect((await withRetry(async () => answers.shift()!, { budget, service: 'svc' })).status).toBe(
      200,
    )
    expect(clock.sleeps).toEqual([2000, 45_000])
    const far = jest.fn(async () => response(503, { 'retry-after': '3600' }))
    expect((await withRetry(far, { budget, service: 'other' })).status).toBe(503)
    expect(far).toHaveBeenCalledTimes(1)
  })

  it('a capped budget keeps the clock and log, with the shorter timeout', async () => {
    const { clock, lines, budget } = fakeBudget(10 * 60_000)
    const tuf = budget.capped(60_000)
    expect(tuf.timeoutMs).toBe(60_000)
    await withRetry(async () => response(503), { budget: tuf, service: 'the TUF mirror' })
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBe(60_000)
    expect(lines[0]).toMatch(/^the TUF mirror: HTTP 503; retry 1 in 2 s, 58 s left/)
    expect(budget.capped(20 * 60_000).timeoutMs).toBe(10 * 60_000)
  })

  it('says in the hint how long was tried and what to do', () => {
    expect(new RetryBudget(5000).exhaustedHint()).toBe(
      'still unavailable after retrying for 5 s (retry-timeout); run again later, or raise retry-timeout to wait out a longer outage',
    )
  })
})

describe('the retry log line', () => {
  it('names the service, what it answered (one bounded line) and the time left', () => {
    expect(
      describeRetry({
        attempt: 3,
        delayMs: 8000,
        reason: 'HTTP 503 (down\nfor\u001b[31m maintenance)',
        service: 'Fulcio (https://fulcio.test)',
        leftMs: 9 * 60_000 + 31_000,
      }),
    ).toBe(
      'Fulcio (https://fulcio.test): HTTP 503 (down for [31m maintenance); retry 3 in 8 s, 9 min 31 s left of retry-timeout',
    )
    expect(boundedReason('x'.repeat(500))).toHaveLength(201)
  })

  it('shows a service URL without user-info, query or fragment', () => {
    expect(displayURL('https://user:secret@rekor.test/base/?token=abc#x')).toBe(
      'https://rekor.test/base/',
    )
    expect(displayURL('https://rekor.test')).toBe('https://rekor.test')
    expect(displayURL('not a url')).toBe('(not a URL)')
  })

  it('formats durations for people', () => {
    expect(formatDuration(850)).toBe('850 ms')
    expect(formatDuration(12_400)).toBe('12 s')
    expect(formatDuration(120_000)).toBe('2 min')
    expect(formatDuration(571_000)).toBe('9 min 31 s')
    expect(formatDuration(-5)).toBe('0 ms')
  })
})
