/**
 * Keyless signing with ONE Fulcio certificate for the whole run. sigstore-js's FulcioSigner asks
 * Fulcio for a new certificate on every signature; signing 50 images would then mean 50
 * certificates and 50 round trips. This signer keeps one ephemeral key and its certificate, and
 * asks again only when too little of the certificate is left to sign with: after a long run, or
 * a long wait for Rekor (see CERTIFICATE_MARGIN_MS).
 */
import { X509Certificate, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { Signature, Signer } from '@sigstore/sign'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import { withRetry, type RetryBudget } from '../retry'
import { fulcioCAClient, type CAClient } from './internals'
import { challengeSubject, decodeJwtClaims, type IdentityProvider } from './oidc'
import {
  SIGSTORE_NO_RETRY,
  SIGSTORE_TIMEOUT_MS,
  sigstoreServiceNames,
  type RetryPolicy,
} from './services'
import { classifySigningFailure, signingFailure } from './signing-errors'

/**
 * How much of a certificate must be left to sign with. A signature is valid only if Rekor records
 * it (or the TSA stamps it) while its certificate is: after signing come one Rekor request and one
 * TSA request, each within SIGSTORE_TIMEOUT_MS, so two of those and some slack. Fulcio's
 * certificates live 10 minutes, so a run renews at most every 8.
 */
export const CERTIFICATE_MARGIN_MS = 2 * SIGSTORE_TIMEOUT_MS + 60_000

export interface KeylessSignerOptions {
  /** sigstore-js's own retries of the Fulcio request; none by default (Signet's retry is around). */
  retry?: RetryPolicy
  /** The run's retry budget; withRetry's per-call defaults without one. */
  budget?: RetryBudget
  /** What an unavailable Fulcio's error says to do (the budget's hint). */
  retryHint?: string
  /** The clock certificates are judged by (injectable for tests). */
  now?: () => number
}

export interface CertificateChain {
  /** PEM, leaf first, as Fulcio answered. */
  certificates: string[]
  notAfter: Date
}

export class KeylessSigner implements Signer {
  private readonly privateKey: KeyObject
  private readonly publicKeyPem: string
  private chain?: Promise<CertificateChain>
  /** Every chain this signer was issued, by its leaf's DER (base64): what signed what. */
  private readonly issued = new Map<string, CertificateChain>()
  private readonly ca: CAClient
  private readonly now: () => number
  private readonly fulcio: string

  constructor(
    private readonly identity: IdentityProvider,
    fulcioURL: string,
    private readonly options: KeylessSignerOptions = {},
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.privateKey = privateKey
    this.publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
    const CAClient = fulcioCAClient()
    this.ca = new CAClient({
      fulcioBaseURL: fulcioURL,
      retry: options.retry ?? SIGSTORE_NO_RETRY,
      timeout: SIGSTORE_TIMEOUT_MS,
    })
    this.now = options.now ?? options.budget?.now ?? Date.now
    this.fulcio = sigstoreServiceNames({ fulcioURL, rekorURL: '' }).fulcio
  }

  /**
   * The certificate chain to sign with now: the current one while more than CERTIFICATE_MARGIN_MS
   * of it is left, else a new one (the same key, a new certificate; a new OIDC token when the
   * provider's has expired).
   */
  async certificateChain(): Promise<CertificateChain> {
    const current = this.chain
    if (current) {
      const chain = await current
      if (chain.notAfter.getTime() - this.now() > CERTIFICATE_MARGIN_MS) return chain
      if (this.chain !== current) return this.chain as Promise<CertificateChain>
    }
    this.chain = this.requestCertificate()
    this.chain.catch(() => (this.chain = undefined))
    return this.chain
  }

  /** The chain of a leaf this signer was issued (the one a signature was made with). */
  chainOf(leafDer: Buffer): CertificateChain | undefined {
    return this.issued.get(leafDer.toString('base64'))
  }

  async sign(data: Buffer): Promise<Signature> {
    const chain = await this.certificateChain()
    return {
      signature: sign('sha256', data, this.privateKey),
      key: { $case: 'x509Certificate', certificate: chain.certificates[0] },
    }
  }

  private async requestCertificate(): Promise<CertificateChain> {
    let certificates: string[]
    try {
      certificates = await withRetry(
        async () => {
          // Asked per try: a token that expired during a long Fulcio outage is fetched anew.
          const token = await this.identity.getToken()
          const challenge = sign(
            'sha256',
            Buffer.from(challengeSubject(decodeJwtClaims(token))),
            this.privateKey,
          )
          return this.ca.createSigningCertificate(token, this.publicKeyPem, challenge)
        },
        {
          budget: this.options.budget,
          service: this.fulcio,
          now: this.options.budget ? undefined : this.options.now,
          classify: (outcome) =>
            'error' in outcome
              ? classifySigningFailure(outcome.error, {
                  fulcio: this.fulcio,
                  rekor: 'Rekor',
                  tsa: 'the timestamp authority',
                })
              : { retry: false },
        },
      )
    } catch (err) {
      // The InternalError's code and status say whether Fulcio, its URL or the token is at fault.
      throw signingFailure(err, { keyless: true, retryHint: this.options.retryHint })
    }
    let leaf: X509Certificate
    try {
      leaf = new X509Certificate(certificates[0] ?? '')
    } catch (err) {
      throw new SignetError(
        'SIGSTORE_ERROR',
        `Fulcio (${INPUT.fulcioURL}) answered with something that is not a certificate: ${describeError(err)}; check ${INPUT.fulcioURL} is a Fulcio`,
        { input: INPUT.fulcioURL, cause: err },
      )
    }
    const chain = { certificates: certificates.map(normalizePem), notAfter: new Date(leaf.validTo) }
    this.issued.set(leaf.raw.toString('base64'), chain)
    return chain
  }
}

function normalizePem(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`
}
