/**
 * Verification of one Sigstore bundle found as an OCI referrer of an image (cosign v3 signature
 * and attestation bundles, actions/attest bundles) against that image's manifest digest, as
 * `cosign verify` / `cosign verify-attestation` do with `--new-bundle-format`:
 *  - the bundle must parse (versions 0.1 to 0.3, both 0.3 media type spellings) and carry a DSSE
 *    envelope of in-toto content (a message signature cannot sign an image);
 *  - `@sigstore/verify` checks signature, certificate chain, SCT, timestamps and tlog entries;
 *  - the tlog entry must name this signer (as sigstore-go does; sigstore-js does not check it);
 *  - the Fulcio leaf must allow code signing, and the identity/issuer must match the expectation;
 *  - the in-toto statement (v0.1 or v1) must have a subject whose sha256 is the image digest.
 *
 * Pure: no network. Fails closed: every problem becomes `{ ok: false, reason }`.
 */
import {
  bundleFromJSON,
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  type Bundle,
} from '@sigstore/bundle'
import { toSignedEntity, type TrustMaterial } from '@sigstore/verify'
import { IN_TOTO_PAYLOAD_TYPE } from '../formats/statement'
import { describeError } from '../errors'
import { checkTlogNamesSigner, signerFacts, verifySigner, type Expectation } from './common'

export interface BundleVerdict {
  ok: boolean
  reason?: string
  /** The statement's predicateType (set once the statement has been read). */
  predicateType?: string
  /** The parsed in-toto statement (set only on success). */
  statement?: unknown
  signer?: { san?: string; issuer?: string; extensions?: Record<string, string> }
  /** The first tlog entry, when there is one. */
  rekor?: { logIndex: number; integratedTime: number }
  /** Number of verified timestamps (Rekor integrated times plus RFC 3161 timestamps). */
  timestamps?: number
}

export interface BundleVerifyOptions {
  /** Require a verified transparency-log entry. Default true (false for GitHub's private instance). */
  requireTlog?: boolean
  /** Require at least one verified RFC 3161 timestamp. Default false (true for GitHub's instance). */
  requireTimestamp?: boolean
  /**
   * Require an SCT on the certificate. Default true. GitHub's private instance has no CT log, so its
   * bundles need false.
   */
  requireSct?: boolean
}

const STATEMENT_TYPES = new Set([
  'https://in-toto.io/Statement/v0.1',
  'https://in-toto.io/Statement/v1',
])
const MEDIA_TYPES = new Set([
  BUNDLE_V01_MEDIA_TYPE,
  BUNDLE_V02_MEDIA_TYPE,
  BUNDLE_V03_MEDIA_TYPE,
  BUNDLE_V03_LEGACY_MEDIA_TYPE,
])

class BundleFormatError extends Error {}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** The leaf certificate's DER, when the bundle has a certificate. */
function leafDer(bundle: Bundle): Buffer | undefined {
  const c = bundle.verificationMaterial.content
  if (c.$case === 'certificate') return Buffer.from(c.certificate.rawBytes)
  if (c.$case === 'x509CertificateChain') {
    const leaf = c.x509CertificateChain.certificates[0]
    return leaf ? Buffer.from(leaf.rawBytes) : undefined
  }
  return undefined
}

interface Subject {
  digest?: Record<string, unknown>
}

/** The statement, when it is an in-toto v0.1/v1 statement with a subject list and predicateType. */
function parseStatement(payload: Buffer): {
  statement: Json
  predicateType: string
  subject: Subject[]
} {
  let value: unknown
  try {
    value = JSON.parse(payload.toString('utf8'))
  } catch {
    throw new BundleFormatError('DSSE payload is not JSON')
  }
  const s = obj(value)
  if (!STATEMENT_TYPES.has(str(s._type)))
    throw new BundleFormatError(
      `expected an in-toto statement, got _type ${JSON.stringify(s._type)}`,
    )
  if (typeof s.predicateType !== 'string' || s.predicateType === '')
    throw new BundleFormatError('in-toto statement has no predicateType')
  if (!Array.isArray(s.subject))
    throw new BundleFormatError('in-toto statement has no subject list')
  return { statement: s, predicateType: s.predicateType, subject: s.subject.map(obj) }
}

/**
 * Verifies one bundle as a signature/attestation of the image manifest `expectedDigest`
 * (`sha256:<hex>`). Never throws for a bad bundle.
 */
export function verifyImageBundle(
  bundleJson: unknown,
  expectedDigest: string,
  trust: TrustMaterial,
  expectation: Expectation,
  options: BundleVerifyOptions = {},
): BundleVerdict {
  const requireTlog = options.requireTlog ?? true
  const requireTimestamp = options.requireTimestamp ?? false
  const requireSct = options.requireSct ?? true
  const verdict: BundleVerdict = { ok: false }
  try {
    const wantHex = /^sha256:([0-9a-f]{64})$/.exec(expectedDigest)?.[1]
    if (!wantHex)
      return { ok: false, reason: `expected digest is not sha256:<hex>: ${expectedDigest}` }

    if (!bundleJson || typeof bundleJson !== 'object' || Array.isArray(bundleJson))
      return { ok: false, reason: 'malformed bundle: not a JSON object' }
    const mediaType = str(obj(bundleJson).mediaType)
    if (!MEDIA_TYPES.has(mediaType))
      return { ok: false, reason: `unsupported bundle media type ${JSON.stringify(mediaType)}` }
    let bundle: Bundle
    try {
      bundle = bundleFromJSON(bundleJson)
    } catch (err) {
      return { ok: false, reason: `malformed bundle: ${describeError(err)}` }
    }

    if (bundle.content.$case !== 'dsseEnvelope')
      return {
        ok: false,
        reason: `not an image signature: the bundle holds a ${bundle.content.$case}, expected a DSSE envelope`,
      }
    const envelope = bundle.content.dsseEnvelope
    if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE)
      return {
        ok: false,
        reason: `expected DSSE payloadType ${IN_TOTO_PAYLOAD_TYPE}, got ${envelope.payloadType}`,
      }
    if (envelope.signatures.length !== 1)
      return {
        ok: false,
        reason: `expected 1 DSSE signature, got ${envelope.signatures.length}`,
      }

    const keyCase = bundle.verificationMaterial.content.$case
    if (expectation.kind === 'keyless' && keyCase === 'publicKey')
      return { ok: false, reason: 'expected a Fulcio certificate (keyless), got a public key' }
    if (expectation.kind === 'key' && keyCase !== 'publicKey')
      return { ok: false, reason: 'expected a key-based signature, got a certificate' }

    const tlog = bundle.verificationMaterial.tlogEntries[0]
    if (tlog)
      verdict.rekor = {
        logIndex: Number(tlog.logIndex),
        integratedTime: Number(tlog.integratedTime),
      }

    const entity = toSignedEntity(bundle)
    const verified = verifySigner(entity, trust, expectation, {
      requireTlog,
      requireSct: expectation.kind === 'keyless' && requireSct,
    })
    if ('reason' in verified) return { ...verdict, reason: verified.reason }
    const { signer } = verified
    verdict.timestamps = entity.timestamps.length
    const tsaCount = entity.timestamps.filter((t) => t.$case === 'timestamp-authority').length
    if (requireTimestamp && tsaCount === 0)
      return { ...verdict, reason: 'expected an RFC 3161 timestamp, got none' }

    const certDer = leafDer(bundle)
    checkTlogNamesSigner(bundle.verificationMaterial.tlogEntries, { certDer, key: signer.key })

    const checked = signerFacts(expectation, signer, certDer, entity)
    verdict.signer = checked.facts
    if (checked.reason) return { ...verdict, reason: checked.reason }

    const { statement, predicateType, subject } = parseStatement(envelope.payload)
    verdict.predicateType = predicateType
    const matches = subject.some((s) => {
      const hex = s.digest?.sha256
      return typeof hex === 'string' && hex.toLowerCase() === wantHex
    })
    if (!matches) {
      const got = subject.map((s) => str(s.digest?.sha256) || '(none)').join(', ')
      return {
        ...verdict,
        reason: `expected a statement subject with digest ${expectedDigest}, got sha256 ${got || '(no subjects)'}`,
      }
    }
    return { ...verdict, ok: true, statement }
  } catch (err) {
    return { ...verdict, ok: false, reason: describeError(err) }
  }
}
