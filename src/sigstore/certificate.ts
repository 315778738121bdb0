/** What a Fulcio certificate says about its signer: SAN, issuer, and the GitHub extensions. */
import { ASN1Obj, X509Certificate } from '@sigstore/core'

const OID_PREFIX = '1.3.6.1.4.1.57264.1.'

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

function utf8Extension(cert: X509Certificate, n: number): string | undefined {
  const ext = cert.extension(`${OID_PREFIX}${n}`)
  if (!ext) return undefined
  try {
    // Extensions .8 and up hold a DER UTF8String.
    return ASN1Obj.parseBuffer(Buffer.from(ext.value)).value.toString('utf8')
  } catch {
    return undefined
  }
}

export function describeCertificate(pem: string): CertificateIdentity {
  const cert = X509Certificate.parse(pem)
  const san = cert.extSubjectAltName
  const extensions: SignerExtensions = {}
  for (const [name, n] of Object.entries(EXTENSIONS)) {
    const value = utf8Extension(cert, n)
    if (value !== undefined) extensions[name as keyof typeof EXTENSIONS] = value
  }
  // The deprecated issuer extension (.1) holds the raw string; older certificates have only it.
  const legacyIssuer = cert.extension(`${OID_PREFIX}1`)?.value.toString('utf8')
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
