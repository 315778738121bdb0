/** Where the Sigstore services are, and how hard to try them. */
import { displayURL } from '../retry'

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
 * Fulcio, Rekor and the TSA are retried by Signet (../retry, around each certificate request and
 * each signature: signing-session.ts, keyless-signer.ts), and sigstore-js's clients try once.
 *
 * sigstore-js retries in promise-retry, which can bound a count and a total
 * time (maxRetryTime) but not more: it says nothing per retry (the log must say which service
 * answered what, and how long is left), keeps no clock shared with the other calls to the service
 * (fifty signatures waiting on one Rekor outage would each wait the whole retry-timeout), and,
 * retrying below the signature, cannot renew a Fulcio certificate that expires during a long
 * outage: the retried entry would carry a signature made with a certificate no longer valid when
 * Rekor records it. Retrying the whole signature re-signs, and the signer renews its certificate
 * first when too little of it is left. Not honoured: Retry-After, since sigstore-js keeps no
 * headers of a failed answer.
 */
export const SIGSTORE_NO_RETRY: RetryPolicy = {
  retries: 0,
  factor: 2,
  minTimeout: 0,
  maxTimeout: 0,
  randomize: false,
}

/** promise-retry's options, as sigstore-js's clients take them. */
export interface RetryPolicy {
  retries: number
  factor: number
  minTimeout: number
  maxTimeout: number
  randomize: boolean
  /** No retry starts once this much time has passed since the first attempt. */
  maxRetryTime?: number
}

/** The services of a signing session as the log and errors name them. */
export function sigstoreServiceNames(urls: {
  fulcioURL: string
  rekorURL: string
  tsaURL?: string
}): { fulcio: string; rekor: string; tsa: string } {
  return {
    fulcio: `Fulcio (${displayURL(urls.fulcioURL)})`,
    rekor: `Rekor (${displayURL(urls.rekorURL)})`,
    tsa: `the timestamp authority (${urls.tsaURL ? displayURL(urls.tsaURL) : 'none'})`,
  }
}

export const SIGSTORE_TIMEOUT_MS = 30_000
