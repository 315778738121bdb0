/**
 * What the legacy and bundle verifiers share: PEM blocks and the keyless identity check made after @sigstore/verify has verified a signer.
 */
import { X509Certificate as NodeX509 } from 'node:crypto'
import type { X509Certificate } from '@sigstore/core'
import type { Signer } from '@sigstore/verify'
import { fulcioExtensions } from '../sigstore/certificate'
import { patchSigstoreAsn1 } from './asn1-patches'

// Before anything is verified: DER times sigstore-js would refuse, and a faster toDER (see there).
patchSigstoreAsn1()

export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3'

/** What a verified signature must have been made by. */
export type Expectation =
  | {
      kind: 'keyless'
      identity: (san: string) => boolean
      issuer: (iss: string) => boolean
      /** For messages: "identity X, issuer Y". */
      describe: string
      /** For messages naming only the identity (or the issuer) that did not match. */
      describeIdentity?: string
      describeIssuer?: string
    }
  | { kind: 'key'; publicKey: import('node:crypto').KeyObject }

export interface SignerFacts {
  san?: string
  issuer?: string
  extensions?: Record<string, string>
}

/** All PEM blocks of `type` in `text`, as DER. */
export function pemBlocks(text: string, type: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${type}-----([\\s\\S]*?)-----END ${type}-----`, 'g')
  return [...text.matchAll(re)].map((m) => Buffer.from((m[1] ?? '').replace(/\s+/g, ''), 'base64'))
}

/**
 * The keyless checks @sigstore/verify leaves to its caller: a code-signing certificate, then the
 * expected identity and issuer. Returns the signer's facts and, on failure, the reason.
 */
export function checkKeylessSigner(
  expectation: Extract<Expectation, { kind: 'keyless' }>,
  signer: Signer,
  certDer: Buffer | undefined,
  certificate: X509Certificate | undefined,
): { facts: SignerFacts; reason?: string } {
  if (!certDer || !certificate) return { facts: {}, reason: 'expected a certificate, got a key' }
  const eku = new NodeX509(certDer).keyUsage ?? []
  if (!eku.includes(OID_CODE_SIGNING)) {
    return { facts: {}, reason: `expected a code-signing certificate, got EKU ${eku.join(',')}` }
  }
  const san = signer.identity?.subjectAlternativeName
  const issuer = signer.identity?.extensions?.issuer
  const facts = { san, issuer, extensions: fulcioExtensions(certificate) }
  if (san === undefined || !expectation.identity(san)) {
    return {
      facts,
      reason: `expected ${expectation.describeIdentity ?? `identity ${expectation.describe}`}, got ${san ?? '(none)'}`,
    }
  }
  if (issuer === undefined || !expectation.issuer(issuer)) {
    return {
      facts,
      reason: `expected ${expectation.describeIssuer ?? `issuer ${expectation.describe}`}, got ${issuer ?? '(none)'}`,
    }
  }
  return { facts }
}
