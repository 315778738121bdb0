/**
 * The one retry policy for every service Signet talks to: registries, the OIDC endpoint, Fulcio,
 * Rekor, the timestamp authority, TUF and the GitHub API. CI runners hit rate limits (429), service
 * blips (502/503) and reset connections; one of those must not fail a release. Retries back off
 * exponentially with jitter, honour Retry-After, and are bounded in time.
 *
 * A run bounds them with a RetryBudget (the `retry-timeout` input): each service may be
 * unavailable for that long, counted from its first failure and shared by every call to it, before
 * the run gives up on it. Sigstore's public services have had outages of most of an hour; a budget
 * per outage rather than per call means fifty images waiting on one Rekor outage wait once, not
 * fifty times. Without a budget (library callers, tests), RETRY_DEFAULTS bound each call on its
 * own: a few retries within a minute.
 *
 * What is worth another try differs per call site, so each passes its own classifier (the default,
 * classifyOutcome, knows fetch's errors and Responses); the waiting is the same for all.
 * A foundation module: it imports nothing of Signet's.
 */

export interface RetryOptions {
  /**
   * The run's budget: when set, it supplies the backoff, the deadline (its timeout, counted from
   * the service's first failure in the current outage) and the log line of each retry, and
   * `retries`, `minDelayMs`, `maxDelayMs` and `maxTotalMs` are ignored.
   */
  budget?: RetryBudget
  /** The service called, for the budget's outage and the log: `Rekor (https://…)`. */
  service?: string
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
  /** The service (the verdict's, else the options'), when one is named. */
  service?: string
  /** Time left before this service's deadline, after this wait. */
  leftMs: number
}

/** What the classifier decides about one outcome. */
export interface RetryVerdict {
  retry: boolean
  /** From Retry-After: the server's own idea of when to come back. */
  retryAfterMs?: number
  reason?: string
  /**
   * The service that failed, when the call reaches more than one (a signature goes to Rekor, then
   * the timestamp authority): its outage is the one counted. Else the options' service.
   */
  service?: string
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

/** The backoff of a run's budget: from 1 s, doubling, at most 30 s apart (with jitter). */
export const OUTAGE_BACKOFF = { minDelayMs: 1000, maxDelayMs: 30_000 } as const

/** What a reason may show in the log: one line, bounded (it may come from a server). */
const MAX_REASON_CHARS = 200

/** A duration as the log says it: `850 ms`, `12 s`, `9 min 31 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`
  const seconds = Math.round(ms / 1000)
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  const rest = seconds % 60
  return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`
}

/** A server-controlled reason made safe for one log line: control characters out, bounded. */
export function boundedReason(reason: string): string {
  const line = reason.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return line.length > MAX_REASON_CHARS ? `${line.slice(0, MAX_REASON_CHARS)}…` : line
}

/** A service URL as the log shows it: no user-info, query or fragment (they may hold secrets). */
export function displayURL(url: string): string {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`
  } catch {
    return '(not a URL)'
  }
}

/** One service's current outage: since its first failure that no success has followed. */
interface Outage {
  since?: number
}

/**
 * The run's retry budget (`retry-timeout`): how long each service may stay unavailable before the
 * run gives up on it, shared by every call to that service, with the run's clock and log. One per
 * run; every client is given it (RetryOptions.budget) and names its service per call.
 */
export class RetryBudget {
  private readonly outages = new Map<string, Outage>()
  readonly now: () => number
  readonly sleep: (ms: number) => Promise<void>
  readonly random: () => number

  constructor(
    /** 0: every call is tried once. */
    readonly timeoutMs: number,
    private readonly hooks: {
      /** Where each retry's line goes (the run's logger). */
      log?: (line: string) => void
      now?: () => number
      sleep?: (ms: number) => Promise<void>
      random?: () => number
    } = {},
  ) {
    this.now = hooks.now ?? Date.now
    this.sleep = hooks.sleep ?? realSleep
    this.random = hooks.random ?? Math.random
  }

  /**
   * A budget of at most `maxMs`, with this one's clock, and its log unless another is given (its
   * outages are its own).
   */
  capped(maxMs: number, log?: (line: string) => void): RetryBudget {
    return new RetryBudget(Math.min(this.timeoutMs, maxMs), { ...this.hooks, ...(log && { log }) })
  }

  /** The outage record of a service (created on first use). */
  outage(service: string): Outage {
    let outage = this.outages.get(service)
    if (!outage) {
      outage = {}
      this.outages.set(service, outage)
    }
    return outage
  }

  /** Logs one retry: which service, what it answered, when the next try is and how long is left. */
  report(info: RetryInfo): void {
    this.hooks.log?.(describeRetry(info))
  }

  /** What a failure message adds once the budget is spent: how long was tried, and what to do. */
  exhaustedHint(): string {
    return this.timeoutMs > 0
      ? `still unavailable after retrying for ${formatDuration(this.timeoutMs)} (retry-timeout); run again later, or raise retry-timeout to wait out a longer outage`
      : 'not retried (retry-timeout is 0); run again later, or set retry-timeout to wait out an outage'
  }
}

/** The log line of one retry. */
export function describeRetry(info: RetryInfo): string {
  const left =
    info.leftMs > 0
      ? `${formatDuration(info.leftMs)} left of retry-timeout`
      : 'the last before retry-timeout runs out'
  return (
    `${info.service ?? 'a service'}: ${boundedReason(info.reason)}; ` +
    `retry ${info.attempt} in ${formatDuration(info.delayMs)}, ${left}`
  )
}

/**
 * Calls `fn` until it succeeds or the outcome is not retryable, within the count and time budget.
 * When the budget runs out on a retryable Response, that Response is returned (so the caller can
 * report the registry's own error); on a retryable error, the last error is thrown.
 * `classify` defaults to {@link classifyOutcome}.
 *
 * With a RetryBudget, the deadline is the service's outage start plus the budget's timeout: a call
 * that starts during an outage gets what is left of it. A wait never runs past the deadline (the
 * last try is made at it), except that a Retry-After beyond it ends the retrying at once.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions & {
    classify?: (outcome: { value: T } | { error: unknown }, now: number) => RetryVerdict
    /** Frees a value that is retried (default: cancels a Response body, freeing the socket). */
    release?: (value: T) => Promise<void> | void
  } = {},
): Promise<T> {
  const budget = options.budget
  const retries = budget
    ? budget.timeoutMs > 0
      ? Infinity
      : 0
    : (options.retries ?? RETRY_DEFAULTS.retries)
  const minDelayMs = budget
    ? OUTAGE_BACKOFF.minDelayMs
    : (options.minDelayMs ?? RETRY_DEFAULTS.minDelayMs)
  const maxDelayMs = budget
    ? OUTAGE_BACKOFF.maxDelayMs
    : Math.max(minDelayMs, options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs)
  const maxTotalMs = budget ? budget.timeoutMs : (options.maxTotalMs ?? RETRY_DEFAULTS.maxTotalMs)
  const sleep = options.sleep ?? budget?.sleep ?? realSleep
  const now = options.now ?? budget?.now ?? Date.now
  const random = options.random ?? budget?.random ?? Math.random
  const classify = options.classify ?? classifyOutcome
  // Without a budget, the call is its own outage, from its first attempt.
  const ownOutage: Outage = { since: now() }
  const outageOf = (service: string | undefined): Outage =>
    budget && service !== undefined ? budget.outage(service) : ownOutage
  // The outages this call has seen: when it ends with an answer, each of them is over (a call
  // that reaches Rekor then the TSA reached Rekor before the TSA could answer).
  const seen = new Set<Outage>([outageOf(options.service)])

  for (let attempt = 0; ; attempt++) {
    let outcome: { value: T } | { error: unknown }
    try {
      outcome = { value: await fn(attempt) }
    } catch (error) {
      outcome = { error }
    }
    const at = now()
    const verdict = classify(outcome, at)
    const service = verdict.service ?? options.service
    const outage = outageOf(service)
    const finish = (): T => {
      if ('error' in outcome) throw outcome.error
      return outcome.value
    }
    if (!verdict.retry) {
      // The service answered (well, or with a final refusal): whatever outage it had is over.
      seen.add(outage)
      for (const o of seen) if (o !== ownOutage) o.since = undefined
      return finish()
    }
    if (attempt >= retries) return finish()
    seen.add(outage)
    outage.since ??= at
    const leftMs = outage.since + maxTotalMs - at
    if (leftMs <= 0) return finish()

    const backoff = backoffDelay(attempt + 1, { minDelayMs, maxDelayMs }, random)
    // The server's Retry-After wins over our guess, even when it is longer than maxDelayMs: coming
    // back earlier only earns another 429. When it is beyond the deadline, waiting is pointless.
    let delayMs: number
    if (verdict.retryAfterMs !== undefined) {
      if (verdict.retryAfterMs > leftMs) return finish()
      delayMs = verdict.retryAfterMs
    } else if (budget) {
      // The last try is made at the deadline rather than given up a backoff early.
      delayMs = Math.min(backoff, leftMs)
    } else {
      if (backoff > leftMs) return finish()
      delayMs = backoff
    }

    // A Response we give up on must release its connection.
    if ('value' in outcome) {
      const value = outcome.value
      if (options.release) await options.release(value)
      else if (isResponseLike(value)) await value.body?.cancel().catch(() => undefined)
    }
    const info: RetryInfo = {
      attempt: attempt + 1,
      delayMs,
      reason: verdict.reason ?? 'retryable',
      service,
      leftMs: leftMs - delayMs,
    }
    budget?.report(info)
    options.onRetry?.(info)
    await sleep(delayMs)
  }
}
