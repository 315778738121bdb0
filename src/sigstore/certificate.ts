/** What a Fulcio certificate says about its signer: SAN, issuer, and the GitHub extensions. */
import { X509Certificate } from '@sigstore/core'

export const FULCIO_OID_PREFIX = '1.3.6.1.4.1.57264.1.'

/** Fulcio extensions by name (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). */
const EXTENSIONS = {
  issuer: 8,
  buildSignerURI: 9,
  runnerEnvironment: 11,
  sourceRepositoryURI: 12,
  sourceRepositoryDigest: 13,
  sourceRepositoryRef: 14,
  buildConfigURI: 18,
  buildTrigger: 20,
  runInvocationURI: 21,
} as const

export type SignerExtensions = Partial<Record<keyof typeof EXTENSIONS, string>>

export interface CertificateIdentity {
  /** The SAN a verifier must expect: a URI (workflows) or an e-mail. */
  subject: string
  issuer?: string
  extensions: SignerExtensions
  notBefore: Date
  notAfter: Date
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

export function describeCertificate(pem: string): CertificateIdentity {
  const cert = X509Certificate.parse(pem)
  const san = cert.extSubjectAltName
  const byOid = fulcioExtensions(cert)
  const extensions: SignerExtensions = {}
  for (const [name, n] of Object.entries(EXTENSIONS)) {
    const value = byOid[`${FULCIO_OID_PREFIX}${n}`]
    if (value !== undefined) extensions[name as keyof typeof EXTENSIONS] = value
  }
  // The deprecated issuer extension (.1) holds the raw string; older certificates have only it.
  const legacyIssuer = byOid[`${FULCIO_OID_PREFIX}1`]
  return {
    subject: san?.uri ?? san?.rfc822Name ?? '',
    issuer: extensions.issuer ?? legacyIssuer,
    extensions,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
  }
}

/**
 * When a reusable workflow signs, the certificate names IT (Build Signer URI), not the calling
 * workflow (Build Config URI). Users verify with the caller's name and fail; say so.
 */
export function reusableWorkflowNote(identity: CertificateIdentity): string | undefined {
  const signer = identity.extensions.buildSignerURI
  const config = identity.extensions.buildConfigURI
  if (!signer || !config) return undefined
  const path = (uri: string): string => uri.replace(/@.*$/, '')
  if (path(signer) === path(config)) return undefined
  return (
    `This job runs in a reusable workflow: the certificate identity is the reusable workflow's ref ` +
    `(${signer}), not the calling workflow (${config}). Verify against the reusable workflow's identity.`
  )
}
