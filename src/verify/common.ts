/**
 * What the legacy and bundle verifiers share: reading Fulcio certificates, PEM blocks, error
 * messages, and the keyless identity check made after @sigstore/verify has verified a signer.
 */
import { X509Certificate as NodeX509 } from 'node:crypto'
import type { X509Certificate } from '@sigstore/core'
import type { Signer } from '@sigstore/verify'

export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3'
export const FULCIO_OID_PREFIX = '1.3.6.1.4.1.57264.1.'

/** What a verified signature must have been made by. */
export type Expectation =
  | {
      kind: 'keyless'
      identity: (san: string) => boolean
      issuer: (iss: string) => boolean
      /** For messages: "identity X, issuer Y". */
      describe: string
    }
  | { kind: 'key'; publicKey: import('node:crypto').KeyObject }

export interface SignerFacts {
  san?: string
  issuer?: string
  extensions?: Record<string, string>
}

export function message(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: unknown }).cause
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message
  }
  return String(err)
}

/** The content of a DER UTF8String, or the bytes as they are when they are not one. */
export function derUtf8String(der: Buffer): Buffer {
  if (der[0] !== 0x0c || der.length < 2) return der
  const first = der[1] ?? 0
  if (first < 0x80) return der.subarray(2, 2 + first)
  const size = first & 0x7f
  if (size > 3 || der.length < 2 + size) return der
  const length = der.subarray(2, 2 + size).reduce((acc, b) => acc * 256 + b, 0)
  return der.subarray(2 + size, 2 + size + length)
}

/** Fulcio extensions 1.3.6.1.4.1.57264.1.N as strings (raw for N<=6, DER UTF8String after). */
export function fulcioExtensions(cert: X509Certificate): Record<string, string> {
  const out: Record<string, string> = {}
  for (const ext of cert.extensions) {
    const oid = ext.subs[0]?.toOID()
    const last = ext.subs[ext.subs.length - 1]
    if (!oid?.startsWith(FULCIO_OID_PREFIX) || !last) continue
    const n = Number(oid.slice(FULCIO_OID_PREFIX.length))
    out[oid] = (n >= 8 ? derUtf8String(last.value) : last.value).toString('utf8')
  }
  return out
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
    return { facts, reason: `expected identity ${expectation.describe}, got ${san ?? '(none)'}` }
  }
  if (issuer === undefined || !expectation.issuer(issuer)) {
    return { facts, reason: `expected issuer ${expectation.describe}, got ${issuer ?? '(none)'}` }
  }
  return { facts }
}
