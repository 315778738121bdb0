/** Where the Sigstore services are, and how hard to try them. */
import { RETRY_DEFAULTS, type RetryOptions } from '../retry'

export const PUBLIC_GOOD = {
  fulcioURL: 'https://fulcio.sigstore.dev',
  rekorURL: 'https://rekor.sigstore.dev',
  tsaURL: 'https://timestamp.sigstore.dev',
} as const

/** The same service as Sigstore's public-good one: the same origin (an endpoint path may follow). */
function isPublicGood(url: string, publicGoodURL: string): boolean {
  try {
    return new URL(url).origin === new URL(publicGoodURL).origin
  } catch {
    return false
  }
}

/**
 * Whether every service a run uses is Sigstore's public-good one: Fulcio when keyless, Rekor
 * unless `tlog: false`, the TSA when one is set. Compared by origin, so a look-alike host
 * (`https://timestamp.sigstore.dev.example.com`) is not taken for the public good.
 */
export function usesOnlyPublicGood(services: {
  keyless: boolean
  fulcioURL: string
  rekorURL: string
  tlog: boolean
  tsaURL?: string
}): boolean {
  return (
    (!services.keyless || isPublicGood(services.fulcioURL, PUBLIC_GOOD.fulcioURL)) &&
    (!services.tlog || isPublicGood(services.rekorURL, PUBLIC_GOOD.rekorURL)) &&
    (services.tsaURL === undefined || isPublicGood(services.tsaURL, PUBLIC_GOOD.tsaURL))
  )
}

/**
 * Fulcio, Rekor and the TSA on the one retry policy: 6 retries from 400 ms, at most 8 s apart, in
 * 60 s at most (RETRY_DEFAULTS.maxTotalMs): about 25 s of waiting in all, enough for a blip of a
 * few seconds, bounded so a real outage fails the step rather than hanging it.
 *
 * sigstore-js's clients do the retrying, given these numbers (sigstoreJsRetry), rather than Signet
 * wrapping them in withRetry with their own retries off, because that keeps the behaviour: their
 * loop retries every request that got no answer and every 408, 429 and 5xx, and handles Rekor's
 * "entry already exists" inside the witness; and what comes out after the last try is the same
 * InternalError that signing-errors.ts maps to an input. A wrapper would have to re-derive that
 * from sigstore-js's error shapes (its HTTPError, make-fetch-happen's FetchError), reaching
 * further into its internals, and could still not honour Retry-After: sigstore-js keeps no
 * headers of a failed answer.
 */
export const SIGSTORE_RETRY_OPTIONS: RetryOptions = {
  retries: 6,
  minDelayMs: 400,
  maxDelayMs: 8000,
  maxTotalMs: RETRY_DEFAULTS.maxTotalMs,
}

/** make-fetch-happen's retry options (promise-retry's), as sigstore-js's clients take them. */
export interface RetryPolicy {
  retries: number
  factor: number
  minTimeout: number
  maxTimeout: number
  randomize: boolean
  /** No retry starts once this much time has passed since the first attempt. */
  maxRetryTime?: number
}

/**
 * The policy's numbers in sigstore-js's shape: the same count, the same exponential backoff from
 * minDelayMs (doubling) capped at maxDelayMs, jittered (promise-retry multiplies each delay by 1
 * to 2 where withRetry draws it between minDelayMs and the doubled ceiling), and the same bound on
 * the total time.
 */
export function sigstoreJsRetry(options: RetryOptions): RetryPolicy {
  const minDelayMs = options.minDelayMs ?? RETRY_DEFAULTS.minDelayMs
  return {
    retries: options.retries ?? RETRY_DEFAULTS.retries,
    factor: 2,
    minTimeout: minDelayMs,
    maxTimeout: Math.max(minDelayMs, options.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs),
    randomize: true,
    maxRetryTime: options.maxTotalMs ?? RETRY_DEFAULTS.maxTotalMs,
  }
}

/** What Fulcio's, Rekor's and the TSA's clients are given. */
export const SIGSTORE_RETRY: RetryPolicy = sigstoreJsRetry(SIGSTORE_RETRY_OPTIONS)

export const SIGSTORE_TIMEOUT_MS = 30_000
