/** Where the Sigstore services are, and how hard to try them. */

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
