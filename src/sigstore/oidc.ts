/**
 * The workflow's OIDC token, as `@actions/core`'s getIDToken fetches it, without @actions/core so
 * that the signing code runs outside the runner too (the demo, the benchmark).
 */
import { SignetError } from '../errors'
import { proxyConfigured } from '../net/proxy'
import { serviceSender, type Answer } from '../net/node-http'
import { readLimited } from '../registry/http'
import {
  classifyOutcome,
  isRetryableError,
  isRetryableStatus,
  rootMessage,
  withRetry,
  type RetryOptions,
  type RetryVerdict,
} from '../retry'

export interface IdentityProvider {
  getToken(): Promise<string>
}

const NO_TOKEN_HINT =
  'keyless signing needs the workflow OIDC token: add `permissions: id-token: write` to the job ' +
  '(pull requests from forks never get one; sign on push, or use `key`)'

export interface GitHubOidcOptions {
  /** `sigstore`, as Fulcio expects. */
  audience?: string
  /**
   * Called with the token as soon as it is fetched, before anything can print it; in the action
   * this is the runner's `::add-mask::` (Logger.mask), as `core.getIDToken` masks its token.
   */
  mask?: (secret: string) => void
  /** The retry policy's options for the token request (tests pass a fake sleep; onRetry logs). */
  retry?: RetryOptions
  /**
   * Injectable for tests. Otherwise node:http (loading fetch's undici for this one request held
   * sign's first request back: +46 ms over `node -e 0`, +21 ms without it, `BENCH_ONLY=startup
   * npm run bench`), or the global fetch when a proxy variable is set (src/net/ routes fetch).
   */
  fetch?: typeof fetch
  /** The clock a token's expiry is judged by (tests); the retry budget's, else Date.now. */
  now?: () => number
}

/**
 * A token with less than this left is fetched anew rather than handed to Fulcio: a certificate
 * renewed after a long outage needs a token Fulcio still accepts when it checks it.
 */
export const TOKEN_MARGIN_MS = 60_000

/**
 * The runner's endpoint is asked 4 times at most (3 retries after 0.5-1 s, 0.5-2 s and 0.5-4 s,
 * unless it sends Retry-After): it is on the runner's own network, so what lasts longer is not a
 * blip.
 */
export const OIDC_RETRY: RetryOptions = { retries: 3, minDelayMs: 500 }

/** The token endpoint's answer is read up to this much (a JWT is a few KiB). */
const MAX_TOKEN_ANSWER_BYTES = 256 * 1024
/** One try at the token endpoint, at most (the retries have their own budget). */
const TOKEN_REQUEST_TIMEOUT_MS = 60_000

/**
 * What is worth another try when asking the runner for its token: a retryable status (408, 429,
 * 5xx; Retry-After honoured), and a failed connection or a body cut short. A refusal (401, 403), an
 * answer without a token (a SignetError) and one that is not JSON are final: under a retry-timeout
 * of minutes, retrying a bad answer would only hold the run.
 */
export function classifyTokenRequest(
  outcome: { value: unknown } | { error: unknown },
  now: number,
): RetryVerdict {
  if (!('error' in outcome)) return classifyOutcome(outcome, now)
  if (outcome.error instanceof SignetError) return { retry: false }
  return { retry: isRetryableError(outcome.error), reason: rootMessage(outcome.error) }
}

export class GitHubOidcProvider implements IdentityProvider {
  private token?: Promise<string>
  private readonly audience: string
  private readonly mask: (secret: string) => void
  private readonly retry: RetryOptions
  private readonly get: (url: URL, headers: Record<string, string>) => Promise<Answer>
  private readonly now: () => number

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    options: GitHubOidcOptions = {},
  ) {
    this.audience = options.audience ?? 'sigstore'
    this.mask = options.mask ?? (() => undefined)
    this.retry = { ...OIDC_RETRY, ...options.retry }
    const fetchImpl = options.fetch
    if (fetchImpl) {
      this.get = (url, headers) => fetchImpl(url, { headers })
    } else {
      const send = serviceSender(proxyConfigured(env))
      this.get = (url, headers) =>
        send(url, { method: 'GET', headers, timeoutMs: TOKEN_REQUEST_TIMEOUT_MS })
    }
    this.now = options.now ?? options.retry?.budget?.now ?? Date.now
  }

  /** True when the runner offers a token (the job has `id-token: write`). */
  available(): boolean {
    return Boolean(this.env.ACTIONS_ID_TOKEN_REQUEST_URL && this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
  }

  preflight(): void {
    if (!this.available())
      throw new SignetError('OIDC_UNAVAILABLE', NO_TOKEN_HINT, { input: 'key' })
  }

  async getToken(): Promise<string> {
    // One token per run while it lasts: the runner's endpoint is not hammered. A certificate
    // renewed after a long wait may need a new one.
    const current = this.token
    if (current) {
      const token = await current
      if (!expiresWithin(token, TOKEN_MARGIN_MS, this.now())) return token
      if (this.token !== current) return this.token as Promise<string>
    }
    this.token = this.fetchToken()
    return this.token
  }

  private async fetchToken(): Promise<string> {
    this.preflight()
    const url = new URL(this.env.ACTIONS_ID_TOKEN_REQUEST_URL as string)
    url.searchParams.append('audience', this.audience)
    let answer: Answer | string
    try {
      answer = await withRetry<Answer | string>(
        async () => {
          const response = await this.get(url, {
            accept: 'application/json',
            authorization: `Bearer ${this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}`,
          })
          // A retryable status goes back to the policy as is (Retry-After and all).
          if (isRetryableStatus(response.status)) return response
          return this.readToken(response)
        },
        { service: 'the OIDC token endpoint', ...this.retry, classify: classifyTokenRequest },
      )
    } catch (err) {
      if (err instanceof SignetError) throw err
      throw this.unreachable(err)
    }
    if (typeof answer === 'string') return answer
    // Still failing when the retries ran out.
    await answer.body?.cancel().catch(() => undefined)
    throw this.unreachable(new Error(`HTTP ${answer.status}`))
  }

  /** The token in a final answer; a refusal or an answer without one is a SignetError. */
  private async readToken(response: Answer): Promise<string> {
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined)
      throw new SignetError(
        'OIDC_UNAVAILABLE',
        `the runner refused an OIDC token (HTTP ${response.status}); ${NO_TOKEN_HINT}`,
        { input: 'key' },
      )
    }
    const text = await readLimited(
      response,
      MAX_TOKEN_ANSWER_BYTES,
      'the OIDC token answer',
      () =>
        new SignetError('OIDC_UNAVAILABLE', 'the runner answered with more than an OIDC token', {
          input: 'key',
        }),
    )
    const body = JSON.parse(text.toString('utf8')) as { value?: unknown }
    if (typeof body.value !== 'string' || body.value.split('.').length !== 3) {
      throw new SignetError('OIDC_UNAVAILABLE', 'the runner answered without an OIDC token', {
        input: 'key',
      })
    }
    // Masked before it leaves this function: whatever logs it later logs ***.
    this.mask(body.value)
    return body.value
  }

  private unreachable(cause: unknown): SignetError {
    const hint = this.retry.budget ? `; ${this.retry.budget.exhaustedHint()}` : ''
    return new SignetError(
      'OIDC_UNAVAILABLE',
      `could not fetch the workflow OIDC token: ${String(cause)}${hint}`,
      { input: 'key', cause },
    )
  }
}

/** True when the token's `exp` claim is less than `marginMs` after `now` (false without one). */
function expiresWithin(token: string, marginMs: number, now: number): boolean {
  let exp: unknown
  try {
    exp = decodeJwtClaims(token).exp
  } catch {
    return false
  }
  return typeof exp === 'number' && exp * 1000 - now < marginMs
}

/** The JWT's claims, unverified: Fulcio verifies the token; we only read what we report. */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1]
  if (!part) throw new SignetError('OIDC_UNAVAILABLE', 'the OIDC token is not a JWT')
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** The claim Fulcio's proof of possession signs: e-mail for e-mail issuers, else `sub`. */
export function challengeSubject(claims: Record<string, unknown>): string {
  const emailIssuers = ['https://accounts.google.com', 'https://oauth2.sigstore.dev/auth']
  const subject =
    typeof claims.iss === 'string' && emailIssuers.includes(claims.iss) ? claims.email : claims.sub
  if (typeof subject !== 'string' || subject === '') {
    throw new SignetError('OIDC_UNAVAILABLE', 'the OIDC token has no subject')
  }
  return subject
}
