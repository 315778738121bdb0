/**
 * The one retry policy for every service Signet talks to: registries, the OIDC endpoint, Fulcio,
 * Rekor, the timestamp authority and the GitHub API. CI runners hit rate limits (429), service
 * blips (502/503) and reset connections; one of those must not fail a release. Retries back off
 * exponentially with jitter, honour Retry-After, and are bounded in count and in total time so a
 * service that is really down fails the step within a minute instead of hanging it.
 *
 * What is worth another try differs per call site, so each passes its own classifier (the default,
 * classifyOutcome, knows fetch's errors and Responses); the waiting is the same for all.
 * A foundation module: it imports nothing of Signet's.
 */

export interface RetryOptions {
  /** Retries after the first attempt (so at most retries + 1 calls). Default 5. */
  retries?: number
  /** Lower bound of every backoff delay. Default 500 ms. */
  minDelayMs?: number
  /** Upper bound of a backoff delay (Retry-After may ask for more, within maxTotalMs). Default 10 s. */
  maxDelayMs?: number
  /** No retry starts once this much time has passed since the first attempt. Default 60 s. */
  maxTotalMs?: number
  /** Injectable for tests. */
  sleep?: (ms: number) => Promise<void>
  now?: () => number
  random?: () => number
  /** Called before each wait (for debug logging). */
  onRetry?: (info: RetryInfo) => void
}

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number
  delayMs: number
  reason: string
}

/** What the classifier decides about one outcome. */
export interface RetryVerdict {
  retry: boolean
  /** From Retry-After: the server's own idea of when to come back. */
  retryAfterMs?: number
  reason?: string
}

export const RETRY_DEFAULTS = {
  retries: 5,
  minDelayMs: 500,
  maxDelayMs: 10_000,
  maxTotalMs: 60_000,
} as const

/** Network error codes worth another try: the connection, not the request, failed. */
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/**
 * True for failures of the transport: Node's fetch throws TypeError('fetch failed') with the socket
 * error as `cause`; AbortSignal.timeout() aborts with a TimeoutError.
 */
export function isRetryableError(err: unknown): boolean {
  // A TLS handshake with a plain-HTTP server fails the same way every time.
  if (isTlsMismatch(err)) return false
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e !== 'object') return false
    const { name, code, message } = e as { name?: unknown; code?: unknown; message?: unknown }
    if (name === 'TimeoutError') return true
    if (typeof code === 'string' && RETRYABLE_CODES.has(code)) return true
    if (e instanceof TypeError && message === 'fetch failed') return true
    if (name === 'SignetError') return false
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** True when a TLS handshake met something that does not speak TLS (a plain-HTTP registry). */
export function isTlsMismatch(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    if (typeof e !== 'object') return false
    const { code, message } = e as { code?: unknown; message?: unknown }
    if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG') {
      return true
    }
    if (
      typeof message === 'string' &&
      /wrong version number|packet length too long/i.test(message)
    ) {
      return true
    }
    e = (e as { cause?: unknown }).cause
  }
  return false
}

/** The innermost message of an error chain (Node's fetch says only "fetch failed" on top). */
export function rootMessage(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err)
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    message = e.message
    e = (e as { cause?: unknown }).cause
  }
  return message
}

/**
 * 408 and 429 are "come back later"; 5xx are server trouble, except 501 (Not Implemented) and 505,
 * which will not change on a retry.
 */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505)
}

/** Retry-After as milliseconds from `now`: delta-seconds or an HTTP date; undefined if unusable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const when = Date.parse(text)
  if (Number.isNaN(when)) return undefined
  return Math.max(0, when - now)
}

interface ResponseLike {
  status: number
  headers: { get(name: string): string | null }
  body?: { cancel(): Promise<void> } | null
}

function isResponseLike(value: unknown): value is ResponseLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ResponseLike).status === 'number' &&
    typeof (value as ResponseLike).headers?.get === 'function'
  )
}

/**
 * The default classifier: thrown transport errors, and fetch Responses with a retryable status
 * (Retry-After is honoured on 429 and 503, the two statuses it is defined for in practice).
 */
export function classifyOutcome(
  outcome: { value: unknown } | { error: unknown },
  now: number,
): RetryVerdict {
  if ('error' in outcome) {
    const err = outcome.error
    return {
      retry: isRetryableError(err),
      reason: err instanceof Error ? describeError(err) : String(err),
    }
  }
  const value = outcome.value
  if (!isResponseLike(value) || !isRetryableStatus(value.status)) return { retry: false }
  const retryAfterMs =
    value.status === 429 || value.status === 503
      ? parseRetryAfter(value.headers.get('retry-after'), now)
      : undefined
  return { retry: true, retryAfterMs, reason: `HTTP ${value.status}` }
}

function describeError(err: Error): string {
  const cause = (err as { cause?: unknown }).cause
  const code = (cause as { code?: unknown } | undefined)?.code ?? (err as { code?: unknown }).code
  return typeof code === 'string' ? `${err.message} (${code})` : err.message
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Exponential backoff with full jitter: the nth retry waits minDelayMs to min(maxDelayMs, minDelayMs·2^n). */
export function backoffDelay(
  retry: number,
  options: { minDelayMs: number; maxDelayMs: number },
  random: () => number,
): number {
  const ceiling = Math.min(options.maxDelayMs, options.minDelayMs * 2 ** retry)
  return Math.round(options.minDelayMs + random() * Math.max(0, ceiling - options.minDelayMs))
}

/**
 * Calls `fn` until it succeeds or the outcome is not retryable, within the count and time budget.
 * When the budget runs out on a retryable Response, that Response is returned (so the caller can
 * report the registry's own error); on a retryable error, the last error is thrown.
 * `classify` defaults to {@link classifyOutcome}.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions & {
    classify?: (outcome: { value: T } | { error: unknown }, now: number) => RetryVerdict
    /** Frees a value that is retried (default: cancels a Response body, freeing the socket). */
    release?: (value: T) => Promise<void> | void
  } = {},
): Promise<T> {
  const retries = options.retries ?? RETRY_DEFAULTS.retries
  const minDelayMs = options.minDelayMs ?? RETRY_DEFAULTS.minDelayMs
  const maxDelayMs = Math.max(minDelayMs, options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs)
  const maxTotalMs = options.maxTotalMs ?? RETRY_DEFAULTS.maxTotalMs
  const sleep = options.sleep ?? realSleep
  const now = options.now ?? Date.now
  const random = options.random ?? Math.random
  const classify = options.classify ?? classifyOutcome
  const start = now()

  for (let attempt = 0; ; attempt++) {
    let outcome: { value: T } | { error: unknown }
    try {
      outcome = { value: await fn(attempt) }
    } catch (error) {
      outcome = { error }
    }
    const verdict = classify(outcome, now())
    const finish = (): T => {
      if ('error' in outcome) throw outcome.error
      return outcome.value
    }
    if (!verdict.retry || attempt >= retries) return finish()

    const backoff = backoffDelay(attempt + 1, { minDelayMs, maxDelayMs }, random)
    // The server's Retry-After wins over our guess, even when it is longer than maxDelayMs: coming
    // back earlier only earns another 429. The total budget still bounds it.
    const delayMs = verdict.retryAfterMs !== undefined ? verdict.retryAfterMs : backoff
    if (now() - start + delayMs > maxTotalMs) return finish()

    // A Response we give up on must release its connection.
    if ('value' in outcome) {
      const value = outcome.value
      if (options.release) await options.release(value)
      else if (isResponseLike(value)) await value.body?.cancel().catch(() => undefined)
    }
    options.onRetry?.({ attempt: attempt + 1, delayMs, reason: verdict.reason ?? 'retryable' })
    await sleep(delayMs)
  }
}
