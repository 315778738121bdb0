/**
 * Keyless signing with ONE Fulcio certificate for the whole run. sigstore-js's FulcioSigner asks
 * Fulcio for a new certificate on every signature; signing 50 images would then mean 50
 * certificates and 50 round trips. This signer keeps one ephemeral key and its certificate, and
 * asks again only when the certificate is about to expire.
 */
import { X509Certificate, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import type { Signature, Signer } from '@sigstore/sign'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import { fulcioCAClient, type CAClient } from './internals'
import { challengeSubject, decodeJwtClaims, type IdentityProvider } from './oidc'
import { SIGSTORE_TIMEOUT_MS, type RetryPolicy } from './services'
import { signingFailure } from './signing-errors'

export interface CertificateChain {
  /** PEM, leaf first, as Fulcio answered. */
  certificates: string[]
  notAfter: Date
}

export class KeylessSigner implements Signer {
  private readonly privateKey: KeyObject
  private readonly publicKeyPem: string
  private chain?: Promise<CertificateChain>
  private readonly ca: CAClient

  constructor(
    private readonly identity: IdentityProvider,
    fulcioURL: string,
    retry: RetryPolicy,
  ) {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    this.privateKey = privateKey
    this.publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString()
    const CAClient = fulcioCAClient()
    this.ca = new CAClient({ fulcioBaseURL: fulcioURL, retry, timeout: SIGSTORE_TIMEOUT_MS })
  }

  /** The certificate chain (fetched on first use, shared by every signature of the run). */
  async certificateChain(): Promise<CertificateChain> {
    const current = this.chain
    if (current) {
      const chain = await current
      // Fulcio certificates live 10 minutes; leave a margin for the Rekor and registry writes.
      if (chain.notAfter.getTime() - Date.now() > 60_000) return chain
      if (this.chain !== current) return this.chain as Promise<CertificateChain>
    }
    this.chain = this.requestCertificate()
    this.chain.catch(() => (this.chain = undefined))
    return this.chain
  }

  async sign(data: Buffer): Promise<Signature> {
    const chain = await this.certificateChain()
    return {
      signature: sign('sha256', data, this.privateKey),
      key: { $case: 'x509Certificate', certificate: chain.certificates[0] },
    }
  }

  private async requestCertificate(): Promise<CertificateChain> {
    const token = await this.identity.getToken()
    const challenge = sign(
      'sha256',
      Buffer.from(challengeSubject(decodeJwtClaims(token))),
      this.privateKey,
    )
    let certificates: string[]
    try {
      certificates = await this.ca.createSigningCertificate(token, this.publicKeyPem, challenge)
    } catch (err) {
      // The InternalError's code and status say whether Fulcio, its URL or the token is at fault.
      throw signingFailure(err, { keyless: true })
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
    return { certificates: certificates.map(normalizePem), notAfter: new Date(leaf.validTo) }
  }
}

function normalizePem(pem: string): string {
  return pem.endsWith('\n') ? pem : `${pem}\n`
}
