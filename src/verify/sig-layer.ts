/**
 * Verification of cosign's legacy `.sig` signatures (one simple-signing layer plus its
 * annotations), by converting them into a v0.1 Sigstore bundle and running `@sigstore/verify`,
 * then adding the checks cosign makes that `@sigstore/verify` does not:
 *  - the Rekor body's public key/certificate must be the one that signed (sigstore-js only checks
 *    the signature and digest of a hashedrekord body);
 *  - the Fulcio leaf must allow code signing (EKU);
 *  - the simple-signing claims: `critical.type` and `critical.image.docker-manifest-digest`.
 *
 * Pure: no network. The certificate chain is built from the trusted root (as cosign does when TUF
 * supplies intermediates), so the `dev.sigstore.cosign/chain` annotation is not needed.
 * Fails closed: every problem becomes `{ ok: false, reason }`; nothing is thrown for a bad signature.
 */
import { createHash } from 'node:crypto'
import { bundleFromJSON, type Bundle } from '@sigstore/bundle'
import { toSignedEntity, type TrustMaterial } from '@sigstore/verify'
import { LEGACY_ANNOTATIONS } from '../formats/cosign-tags'
import { parseSimpleSigningPayload, SIMPLE_SIGNING_TYPE } from '../formats/simple-signing'
import { describeError } from '../errors'
import {
  checkTlogNamesSigner,
  EXPECTED_KEY_HINT,
  pemBlocks,
  signerFacts,
  verifySigner,
  type Expectation,
} from './common'

export type { Expectation } from './common'

export interface LegacySignature {
  /** The exact layer bytes (the simple-signing payload). */
  payload: Buffer
  /** The layer's annotations, in cosign's names. */
  annotations: Record<string, string>
}

export interface LegacyVerdict {
  ok: boolean
  reason?: string
  signer?: { san?: string; issuer?: string; extensions?: Record<string, string> }
  rekor?: { logIndex: number; integratedTime: number }
}

export interface LegacyVerifyOptions {
  /** Require a verified Rekor SET (cosign's default). Default true. */
  requireTlog?: boolean
  /**
   * Require a verified RFC 3161 timestamp (the `dev.sigstore.cosign/rfc3161timestamp`
   * annotation). Default false; true under a root without a transparency log, as for bundles.
   */
  requireTimestamp?: boolean
  /** Require an SCT on a certificate. Default true. */
  requireSct?: boolean
}

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1'

/** A cosign layer or its annotations cannot be read. Exported: att-layer.ts reads them too. */
export class LegacyFormatError extends Error {}

type Json = Record<string, unknown>
const obj = (v: unknown): Json =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {}
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

function b64(buf: Buffer): string {
  return buf.toString('base64')
}

/** A tlog entry in the bundle JSON encoding. */
export interface TlogEntryJson {
  logIndex: string
  logId: { keyId: string }
  kindVersion: { kind: string; version: string }
  integratedTime: string
  inclusionPromise: { signedEntryTimestamp: string }
  canonicalizedBody: string
}

/** The Rekor entry a layer's `dev.sigstore.cosign/bundle` annotation records. */
export interface AnnotatedRekorEntry {
  /** As a bundle tlog entry, its kind and version read from the body. */
  entry: TlogEntryJson
  /** The decoded body, and its `kind apiVersion`. */
  body: Json
  kind: string
  logIndex: number
  integratedTime: number
}

/** Reads the `dev.sigstore.cosign/bundle` annotation (Go field names: SET, body, index, time). */
export function parseRekorAnnotation(text: string): AnnotatedRekorEntry {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new LegacyFormatError('the Rekor bundle annotation is not JSON')
  }
  const set = obj(value)
  const p = obj(set.Payload)
  const logIndex = p.logIndex
  const integratedTime = p.integratedTime
  if (
    typeof set.SignedEntryTimestamp !== 'string' ||
    set.SignedEntryTimestamp === '' ||
    typeof p.body !== 'string' ||
    typeof logIndex !== 'number' ||
    !Number.isSafeInteger(logIndex) ||
    typeof integratedTime !== 'number' ||
    !Number.isSafeInteger(integratedTime) ||
    !/^[0-9a-f]{64}$/i.test(str(p.logID))
  )
    throw new LegacyFormatError('the Rekor bundle annotation is malformed')
  let body: Json
  try {
    body = obj(JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')))
  } catch {
    throw new LegacyFormatError('the Rekor entry body is not JSON')
  }
  const kind = str(body.kind)
  const version = str(body.apiVersion)
  if (kind === '' || version === '')
    throw new LegacyFormatError('the Rekor entry body has no kind or apiVersion')
  return {
    entry: {
      logIndex: String(logIndex),
      logId: { keyId: b64(Buffer.from(str(p.logID), 'hex')) },
      kindVersion: { kind, version },
      integratedTime: String(integratedTime),
      inclusionPromise: { signedEntryTimestamp: set.SignedEntryTimestamp },
      canonicalizedBody: p.body,
    },
    body,
    kind: `${kind} ${version}`,
    logIndex,
    integratedTime,
  }
}

/**
 * The verification material of a cosign layer: its leaf certificate (followed by the chain
 * annotation's certificates; `@sigstore/verify` uses only the leaf and takes the CA chain from the
 * trusted root, as cosign does when TUF supplies intermediates), or, with no certificate, the
 * expected-key hint that verifySigner answers.
 */
export function annotatedVerificationMaterial(a: Record<string, string>): {
  content:
    | { x509CertificateChain: { certificates: { rawBytes: string }[] } }
    | { publicKey: { hint: string } }
  certDer?: Buffer
} {
  const certPem = a[LEGACY_ANNOTATIONS.certificate]
  if (!certPem) return { content: { publicKey: { hint: EXPECTED_KEY_HINT } } }
  const leaf = pemBlocks(certPem, 'CERTIFICATE')
  if (leaf.length !== 1)
    throw new LegacyFormatError(
      `expected 1 certificate in the certificate annotation, got ${leaf.length}`,
    )
  const chain = pemBlocks(a[LEGACY_ANNOTATIONS.chain] ?? '', 'CERTIFICATE')
  return {
    content: {
      x509CertificateChain: {
        certificates: [...leaf, ...chain].map((der) => ({ rawBytes: b64(der) })),
      },
    },
    certDer: leaf[0],
  }
}

/**
 * A v0.1 message-signature bundle carrying the legacy signature: the leaf certificate (followed by
 * the chain annotation's certificates; `@sigstore/verify` only uses the leaf and takes the CA chain
 * from the trusted root) or a public-key hint, the Rekor entry from `dev.sigstore.cosign/bundle`
 * (its SET as the inclusion promise) and any RFC 3161 timestamp.
 */
export function legacyToBundle(sig: LegacySignature): Bundle {
  const a = sig.annotations
  const signature = a[LEGACY_ANNOTATIONS.signature]
  if (!signature) throw new LegacyFormatError('no signature annotation')
  const signatureBytes = Buffer.from(signature, 'base64')
  if (signatureBytes.length === 0) throw new LegacyFormatError('empty signature annotation')

  const { content } = annotatedVerificationMaterial(a)
  const rekorText = a[LEGACY_ANNOTATIONS.rekorBundle]
  const tlogEntries = rekorText ? [parseRekorAnnotation(rekorText).entry] : []

  const rfc3161: unknown[] = []
  const tsText = a[LEGACY_ANNOTATIONS.timestamp]
  if (tsText) {
    let ts: { SignedRFC3161Timestamp?: unknown }
    try {
      ts = JSON.parse(tsText) as { SignedRFC3161Timestamp?: unknown }
    } catch {
      throw new LegacyFormatError('RFC 3161 timestamp annotation is not JSON')
    }
    if (typeof ts.SignedRFC3161Timestamp !== 'string' || ts.SignedRFC3161Timestamp === '')
      throw new LegacyFormatError('RFC 3161 timestamp annotation is malformed')
    rfc3161.push({ signedTimestamp: ts.SignedRFC3161Timestamp })
  }

  return bundleFromJSON({
    mediaType: BUNDLE_V01,
    verificationMaterial: {
      ...content,
      tlogEntries,
      timestampVerificationData: { rfc3161Timestamps: rfc3161 },
    },
    messageSignature: {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: b64(createHash('sha256').update(sig.payload).digest()),
      },
      signature: b64(signatureBytes),
    },
  })
}

/**
 * cosign's hashedrekord check beside the one every verifier shares (checkTlogNamesSigner): the
 * logged digest must be sha256. Signature and digest are compared by `@sigstore/verify`.
 */
function checkHashAlgorithm(body: Buffer): void {
  const entry = JSON.parse(body.toString('utf8')) as {
    spec?: { data?: { hash?: { algorithm?: string } } }
  }
  if (entry.spec?.data?.hash?.algorithm !== 'sha256')
    throw new LegacyFormatError(
      `expected Rekor hash algorithm sha256, got ${entry.spec?.data?.hash?.algorithm}`,
    )
}

/**
 * Verifies one legacy `.sig` layer as `cosign verify` does (with claims checking), for the image
 * manifest `expectedDigest`. Never throws for a bad signature.
 */
export function verifyLegacySignature(
  sig: LegacySignature,
  expectedDigest: string,
  trust: TrustMaterial,
  expectation: Expectation,
  options: LegacyVerifyOptions = {},
): LegacyVerdict {
  const requireTlog = options.requireTlog ?? true
  const requireTimestamp = options.requireTimestamp ?? false
  const requireSct = options.requireSct ?? true
  const verdict: LegacyVerdict = { ok: false }
  try {
    const hasCert = Boolean(sig.annotations[LEGACY_ANNOTATIONS.certificate])
    if (expectation.kind === 'keyless' && !hasCert)
      return { ok: false, reason: 'expected a Fulcio certificate (keyless), got none' }
    if (expectation.kind === 'key' && hasCert)
      return { ok: false, reason: 'expected a key-based signature, got a certificate' }

    const bundle = legacyToBundle(sig)
    const entity = toSignedEntity(bundle, sig.payload)
    const tlog = bundle.verificationMaterial.tlogEntries[0]
    if (tlog) {
      verdict.rekor = {
        logIndex: Number(tlog.logIndex),
        integratedTime: Number(tlog.integratedTime),
      }
    }

    const verified = verifySigner(entity, trust, expectation, { requireTlog, requireSct })
    if ('reason' in verified) return { ...verdict, reason: verified.reason }
    const { signer } = verified
    // @sigstore/verify has checked every timestamp present; a Rekor SET does not count here.
    if (requireTimestamp && !entity.timestamps.some((t) => t.$case === 'timestamp-authority'))
      return { ...verdict, reason: 'expected an RFC 3161 timestamp, got none' }

    // cosign: the Rekor entry must name this signer.
    const certDer =
      entity.key.$case === 'certificate'
        ? pemBlocks(sig.annotations[LEGACY_ANNOTATIONS.certificate] ?? '', 'CERTIFICATE')[0]
        : undefined
    const entries = bundle.verificationMaterial.tlogEntries
    for (const entry of entries) checkHashAlgorithm(entry.canonicalizedBody)
    checkTlogNamesSigner(entries, { certDer, key: signer.key })

    const checked = signerFacts(expectation, signer, certDer, entity)
    verdict.signer = checked.facts
    if (checked.reason) return { ...verdict, reason: checked.reason }

    const payload = parseSimpleSigningPayload(sig.payload)
    if (!payload)
      return {
        ...verdict,
        reason: `expected a payload of type "${SIMPLE_SIGNING_TYPE}", got something else`,
      }
    const signed = payload.critical.image['docker-manifest-digest']
    if (signed !== expectedDigest)
      return {
        ...verdict,
        reason: `expected docker-manifest-digest ${expectedDigest}, got ${signed}`,
      }
    return { ...verdict, ok: true }
  } catch (err) {
    return { ...verdict, ok: false, reason: describeError(err) }
  }
}
