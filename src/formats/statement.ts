import { digestHex } from './digest'

/** in-toto Statement v1, the payload of every DSSE envelope Signet signs. */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'
export const STATEMENT_V1 = 'https://in-toto.io/Statement/v1'
/** What cosign v3 signs for `cosign sign` in the bundle format. */
export const COSIGN_SIGN_PREDICATE_TYPE = 'https://sigstore.dev/cosign/sign/v1'

export interface StatementSubject {
  name?: string
  digest: Record<string, string>
  annotations?: Record<string, string>
}

export interface Statement {
  _type: string
  subject: StatementSubject[]
  predicateType: string
  predicate: unknown
}

/**
 * The statement cosign v3 signs for an image signature: one subject by digest, with the `-a`
 * annotations on the subject (cosign v3 checks them there), and an empty predicate.
 */
export function buildSignatureStatement(
  digest: string,
  annotations: Record<string, string> = {},
): Statement {
  return {
    _type: STATEMENT_V1,
    subject: [{ digest: { sha256: digestHex(digest) }, annotations: { ...annotations } }],
    predicateType: COSIGN_SIGN_PREDICATE_TYPE,
    predicate: {},
  }
}

export function serializeStatement(statement: Statement): Buffer {
  return Buffer.from(JSON.stringify(statement))
}

/**
 * An attestation about an image: Statement v1 (what actions/attest and cosign v3 write; cosign
 * v2 reads it too) with the image's `registry/repository` as the subject name.
 */
export function buildAttestationStatement(
  name: string,
  digest: string,
  predicateType: string,
  predicate: unknown,
): Statement {
  return {
    _type: STATEMENT_V1,
    subject: [{ name, digest: { sha256: digestHex(digest) } }],
    predicateType,
    predicate,
  }
}

/**
 * The same statement, serialised around a predicate serialised once: a 10 MB SBOM attested to
 * many images is then encoded once, not once per image. Key order as `buildAttestationStatement`.
 */
export function serializeAttestationStatement(
  name: string,
  digest: string,
  predicateType: string,
  predicateJson: string,
): Buffer {
  const head = JSON.stringify({
    _type: STATEMENT_V1,
    subject: [{ name, digest: { sha256: digestHex(digest) } }],
    predicateType,
  })
  return Buffer.from(`${head.slice(0, -1)},"predicate":${predicateJson}}`)
}
