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
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { bundleFromJSON, type Bundle } from '@sigstore/bundle'
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify'
import { LEGACY_ANNOTATIONS } from '../formats/cosign-legacy'
import { parseSimpleSigningPayload, SIMPLE_SIGNING_TYPE } from '../formats/simple-signing'
import { describeError } from '../errors'
import { checkKeylessSigner, pemBlocks, type Expectation } from './common'

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
}

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1'
const KEY_HINT = 'signet-legacy-expected-key'

/** The `dev.sigstore.cosign/bundle` annotation (Go field names). */
interface RekorBundleAnnotation {
  SignedEntryTimestamp: string
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string }
}

class LegacyFormatError extends Error {}

function parseRekorBundle(text: string): RekorBundleAnnotation {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new LegacyFormatError('Rekor bundle annotation is not JSON')
  }
  const v = value as Partial<RekorBundleAnnotation> | null
  const p = v?.Payload
  if (
    typeof v?.SignedEntryTimestamp !== 'string' ||
    !p ||
    typeof p.body !== 'string' ||
    !Number.isSafeInteger(p.integratedTime) ||
    !Number.isSafeInteger(p.logIndex) ||
    typeof p.logID !== 'string' ||
    !/^[0-9a-f]{64}$/i.test(p.logID)
  ) {
    throw new LegacyFormatError('Rekor bundle annotation is malformed')
  }
  return v as RekorBundleAnnotation
}

function b64(buf: Buffer): string {
  return buf.toString('base64')
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

  let verificationContent: Record<string, unknown>
  const certPem = a[LEGACY_ANNOTATIONS.certificate]
  if (certPem) {
    const leaf = pemBlocks(certPem, 'CERTIFICATE')
    if (leaf.length !== 1)
      throw new LegacyFormatError(
        `expected 1 certificate in the certificate annotation, got ${leaf.length}`,
      )
    const chain = pemBlocks(a[LEGACY_ANNOTATIONS.chain] ?? '', 'CERTIFICATE')
    verificationContent = {
      x509CertificateChain: {
        certificates: [...leaf, ...chain].map((der) => ({ rawBytes: b64(der) })),
      },
    }
  } else {
    verificationContent = { publicKey: { hint: KEY_HINT } }
  }

  const tlogEntries: unknown[] = []
  const rekorText = a[LEGACY_ANNOTATIONS.rekorBundle]
  if (rekorText) {
    const rekor = parseRekorBundle(rekorText)
    tlogEntries.push({
      logIndex: String(rekor.Payload.logIndex),
      logId: { keyId: b64(Buffer.from(rekor.Payload.logID, 'hex')) },
      kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
      integratedTime: String(rekor.Payload.integratedTime),
      inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
      canonicalizedBody: rekor.Payload.body,
    })
  }

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
      ...verificationContent,
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

function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' })
}

/**
 * cosign's check that the Rekor entry is about this signer: the hashedrekord body's public key
 * (a PEM certificate or key) must be the leaf certificate / expected key. Signature and digest are
 * compared by `@sigstore/verify`; the algorithm is checked here too.
 */
function checkBodyMatchesSigner(body: Buffer, signer: { certDer?: Buffer; key: KeyObject }): void {
  const entry = JSON.parse(body.toString('utf8')) as {
    spec?: {
      data?: { hash?: { algorithm?: string } }
      signature?: { publicKey?: { content?: string } }
    }
  }
  if (entry.spec?.data?.hash?.algorithm !== 'sha256')
    throw new LegacyFormatError(
      `expected Rekor hash algorithm sha256, got ${entry.spec?.data?.hash?.algorithm}`,
    )
  const pem = Buffer.from(entry.spec.signature?.publicKey?.content ?? '', 'base64').toString('utf8')
  if (signer.certDer) {
    const certs = pemBlocks(pem, 'CERTIFICATE')
    if (certs.length !== 1 || !certs[0]?.equals(signer.certDer))
      throw new LegacyFormatError(
        'expected the Rekor entry to hold the signing certificate, got another',
      )
    return
  }
  let logged: KeyObject
  try {
    logged = createPublicKey(pem)
  } catch {
    throw new LegacyFormatError('Rekor entry public key is unreadable')
  }
  if (!spkiDer(logged).equals(spkiDer(signer.key)))
    throw new LegacyFormatError('expected the Rekor entry to hold the signing key, got another')
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

    let material: TrustMaterial = trust
    if (expectation.kind === 'key') {
      const key = expectation.publicKey
      material = {
        ...trust,
        publicKey: (hint) => {
          if (hint !== KEY_HINT) throw new Error(`unknown key hint ${hint}`)
          return { publicKey: key, validFor: () => true }
        },
      }
    }
    const verifier = new Verifier(material, {
      tlogThreshold: requireTlog ? 1 : 0,
      ctlogThreshold: 1,
      // A certificate needs a trusted signing time (SET or TSA): a short-lived Fulcio cert is
      // otherwise expired. A key needs none.
      timestampThreshold: expectation.kind === 'keyless' ? 1 : 0,
    })
    let signer
    try {
      signer = verifier.verify(entity)
    } catch (err) {
      return {
        ...verdict,
        ok: false,
        reason: `signature verification failed: ${describeError(err)}`,
      }
    }

    // cosign: the Rekor entry must name this signer.
    const certDer =
      entity.key.$case === 'certificate'
        ? pemBlocks(sig.annotations[LEGACY_ANNOTATIONS.certificate] ?? '', 'CERTIFICATE')[0]
        : undefined
    for (const entry of bundle.verificationMaterial.tlogEntries) {
      checkBodyMatchesSigner(entry.canonicalizedBody, { certDer, key: signer.key })
    }

    if (expectation.kind === 'keyless') {
      const checked = checkKeylessSigner(
        expectation,
        signer,
        certDer,
        entity.key.$case === 'certificate' ? entity.key.certificate : undefined,
      )
      verdict.signer = checked.facts
      if (checked.reason) return { ...verdict, reason: checked.reason }
    } else {
      verdict.signer = {}
    }

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
