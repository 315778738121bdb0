/** Where the Sigstore services are, and how hard to try them. */

export const PUBLIC_GOOD = {
  fulcioURL: 'https://fulcio.sigstore.dev',
  rekorURL: 'https://rekor.sigstore.dev',
  tsaURL: 'https://timestamp.sigstore.dev',
} as const

/** make-fetch-happen's retry options, as sigstore-js takes them. */
export interface RetryPolicy {
  retries: number
  factor: number
  minTimeout: number
  maxTimeout: number
  randomize: boolean
}

/**
 * Fulcio, Rekor and the TSA get exponential backoff with jitter on 5xx, 408, 429 and network
 * errors: about 25 s in all, enough for a blip of a few seconds, bounded so a real outage fails
 * the step rather than hanging it.
 */
export const SIGSTORE_RETRY: RetryPolicy = {
  retries: 6,
  factor: 2,
  minTimeout: 400,
  maxTimeout: 8000,
  randomize: true,
}

export const SIGSTORE_TIMEOUT_MS = 30_000
