/**
 * Verification of one cosign legacy attestation: a layer of the `sha256-<hex>.att` manifest, whose
 * blob is a DSSE envelope (in-toto statement) and whose annotations carry the Fulcio leaf, the chain
 * and the Rekor SET (`dev.sigstore.cosign/bundle`), as `cosign verify-attestation` reads it.
 *
 * The layer is turned into a v0.1 Sigstore bundle (the envelope as DSSE content, the leaf or a
 * public-key hint, the Rekor entry with its SET as the inclusion promise) and handed to
 * `verifyImageBundle`, so signature, chain, SCT, SET, tlog-names-signer, identity, payloadType and
 * statement-subject checks are the ones the bundle verifier makes, written once. On top of that it
 * adds cosign's legacy rule that the Rekor entry records the hash of these exact layer bytes
 * (formats.md B.5).
 *
 * Rekor body kinds cosign wrote for attestations:
 *  - `dsse` 0.0.1 (cosign >= 2.2) and `intoto` 0.0.2: @sigstore/verify checks the body against the
 *    envelope (signature and payload hash), bundle.ts checks it names the signer;
 *  - `intoto` 0.0.1 (older cosign): @sigstore/verify refuses the kind, so this module checks the body
 *    itself (envelope hash, payload hash, public key), has @sigstore/verify check the SET only, and
 *    runs @sigstore/verify's chain/SCT checks at the SET's integrated time;
 *  - anything else is refused.
 *
 * The `dev.sigstore.cosign/rfc3161timestamp` annotation is ignored: for `.att` layers cosign stamps
 * the whole layer rather than the signature, which no bundle verifier can check (formats.md B.3).
 *
 * Pure: no network. Fails closed: every problem becomes `{ ok: false, reason }`, nothing is thrown.
 */
import { createHash, type KeyObject } from 'node:crypto'
import { BUNDLE_V01_MEDIA_TYPE, bundleFromJSON } from '@sigstore/bundle'
import { toSignedEntity, type TrustMaterial } from '@sigstore/verify'
import { LEGACY_ANNOTATIONS } from '../formats/cosign-tags'
import { describeError } from '../errors'
import { verifyTLogSET } from '../sigstore/internals'
import { verifyImageBundle, type BundleVerdict, type BundleVerifyOptions } from './bundle'
import {
  annotatedVerificationMaterial,
  LegacyFormatError,
  parseRekorAnnotation,
  type AnnotatedRekorEntry,
  type TlogEntryJson,
} from './sig-layer'
import {
  EXPECTED_KEY_HINT,
  pemBlocks,
  signerFacts,
  verifySigner,
  type Expectation,
  type SignerFacts,
} from './common'

/** One layer of a cosign `.att` manifest. */
export interface LegacyAttestation {
  /** The exact layer bytes: the DSSE envelope JSON. */
  envelope: Buffer
  /** The layer's annotations, in cosign's names. */
  annotations: Record<string, string>
}

/** Any public-key hint works: verifyImageBundle substitutes the expected key for it. */

/** Rekor body kinds whose body-vs-envelope check @sigstore/verify makes. */
const DELEGATED_KINDS = new Set(['dsse 0.0.1', 'intoto 0.0.2'])
/** The kind @sigstore/verify refuses ("unsupported intoto version"), checked here instead. */
const INTOTO_001 = 'intoto 0.0.1'

class LegacyAttestationFormatError extends Error {}

type Json = Record<string, unknown>
const obj = (v: unknown): Json =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {}
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const sha256Hex = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

interface BundleJson {
  mediaType: string
  verificationMaterial: {
    x509CertificateChain?: { certificates: { rawBytes: string }[] }
    publicKey?: { hint: string }
    tlogEntries: TlogEntryJson[]
    timestampVerificationData: { rfc3161Timestamps: never[] }
  }
  dsseEnvelope: {
    payload: string
    payloadType: string
    signatures: { sig: string; keyid: string }[]
  }
}

/** What the conversion learns on the way, for the checks made here. */
interface Converted {
  bundle: BundleJson
  /** The envelope's statement bytes. */
  payload: Buffer
  /** The leaf certificate's DER (keyless). */
  certDer?: Buffer
  /** The Rekor entry of the SET annotation, when there is one. */
  rekor?: AnnotatedRekorEntry
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/

function parseEnvelope(bytes: Buffer): BundleJson['dsseEnvelope'] {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new LegacyAttestationFormatError('the DSSE envelope is not JSON')
  }
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new LegacyAttestationFormatError('the DSSE envelope is not a JSON object')
  const e = value as Json
  if (typeof e.payloadType !== 'string' || e.payloadType === '')
    throw new LegacyAttestationFormatError('the DSSE envelope has no payloadType')
  if (typeof e.payload !== 'string' || e.payload === '' || !BASE64.test(e.payload))
    throw new LegacyAttestationFormatError('the DSSE envelope has no base64 payload')
  const signatures = Array.isArray(e.signatures) ? e.signatures.map(obj) : []
  // cosign writes exactly one signature per attestation layer (formats.md B.2).
  if (signatures.length !== 1)
    throw new LegacyAttestationFormatError(
      `expected 1 DSSE signature in the envelope, got ${signatures.length}`,
    )
  const sig = str(signatures[0]?.sig)
  if (sig === '' || !BASE64.test(sig))
    throw new LegacyAttestationFormatError('the DSSE envelope signature is empty or not base64')
  return {
    payload: e.payload,
    payloadType: e.payloadType,
    signatures: [{ sig, keyid: str(signatures[0]?.keyid) }],
  }
}

function convert(att: LegacyAttestation): Converted {
  const dsseEnvelope = parseEnvelope(att.envelope)
  const a = att.annotations

  const { content, certDer } = annotatedVerificationMaterial(a)
  const rekorText = a[LEGACY_ANNOTATIONS.rekorBundle]
  const rekor = rekorText ? parseRekorAnnotation(rekorText) : undefined

  return {
    bundle: {
      mediaType: BUNDLE_V01_MEDIA_TYPE,
      verificationMaterial: {
        ...content,
        tlogEntries: rekor ? [rekor.entry] : [],
        timestampVerificationData: { rfc3161Timestamps: [] },
      },
      dsseEnvelope,
    },
    payload: Buffer.from(dsseEnvelope.payload, 'base64'),
    certDer,
    rekor,
  }
}

/**
 * The v0.1 bundle JSON (for `bundleFromJSON` / `verifyImageBundle`) carrying one `.att` layer: the
 * envelope as DSSE content, the leaf certificate (keyless) or a public-key hint (key-based), and the
 * Rekor entry from the SET annotation. Throws on a malformed layer. A bundle holding an intoto 0.0.1
 * entry is refused by @sigstore/verify; verifyLegacyAttestation checks those itself.
 */
export function legacyAttestationToBundle(att: LegacyAttestation): unknown {
  return convert(att).bundle
}

/**
 * cosign's legacy rule (formats.md B.5): the Rekor entry records sha256 of the exact layer bytes
 * (`envelopeHash` for dsse, `content.hash` for intoto). Returns the reason when it does not.
 */
function envelopeHashMismatch(body: Json, kind: string, envelope: Buffer): string | undefined {
  const spec = obj(body.spec)
  const hash = kind.startsWith('dsse ') ? obj(spec.envelopeHash) : obj(obj(spec.content).hash)
  const want = sha256Hex(envelope)
  if (str(hash.algorithm) !== 'sha256' || str(hash.value).toLowerCase() !== want)
    return `expected the Rekor entry to record the layer's envelope hash sha256:${want}, got ${str(hash.algorithm) || '(none)'}:${str(hash.value) || '(none)'}`
  return undefined
}

/**
 * The rest of the intoto 0.0.1 body check, which @sigstore/verify cannot make: the payload hash
 * (when Rekor recorded one) and the public key, which must be the signing certificate / key.
 */
function intoto001Mismatch(body: Json, payload: Buffer, signerDer: Buffer): string | undefined {
  const spec = obj(body.spec)
  const payloadHash = obj(obj(spec.content).payloadHash)
  if (Object.keys(payloadHash).length > 0) {
    const want = sha256Hex(payload)
    if (str(payloadHash.algorithm) !== 'sha256' || str(payloadHash.value).toLowerCase() !== want)
      return `expected the Rekor entry to record the payload hash sha256:${want}, got ${str(payloadHash.algorithm) || '(none)'}:${str(payloadHash.value) || '(none)'}`
  }
  const pem = Buffer.from(str(spec.publicKey), 'base64').toString('utf8')
  const named = [...pemBlocks(pem, 'CERTIFICATE'), ...pemBlocks(pem, 'PUBLIC KEY')]
  if (named.length !== 1 || !named[0]?.equals(signerDer))
    return 'expected the Rekor entry to name the signing certificate or key, got another'
  return undefined
}

/**
 * An intoto 0.0.1 entry: @sigstore/verify verifies the SET (and, keyless, the chain and SCT at the
 * SET's integrated time), this module the body; the DSSE signature and the statement are then left
 * to verifyImageBundle, given the envelope with the now-authenticated signing key.
 */
function verifyIntoto001(
  converted: Converted & { rekor: NonNullable<Converted['rekor']> },
  att: LegacyAttestation,
  expectedDigest: string,
  trust: TrustMaterial,
  expectation: Expectation,
  options: BundleVerifyOptions,
): BundleVerdict {
  const rekor = {
    logIndex: converted.rekor.logIndex,
    integratedTime: converted.rekor.integratedTime,
  }
  const bundle = bundleFromJSON(converted.bundle)
  const entry = bundle.verificationMaterial.tlogEntries[0]
  if (!entry?.inclusionPromise)
    return { ok: false, rekor, reason: 'malformed attestation layer: no Rekor SET' }
  try {
    verifyTLogSET({ ...entry, inclusionPromise: entry.inclusionPromise }, trust.tlogs)
  } catch (err) {
    return { ok: false, rekor, reason: `signature verification failed: ${describeError(err)}` }
  }

  const signerDer =
    expectation.kind === 'keyless'
      ? converted.certDer
      : expectation.publicKey.export({ type: 'spki', format: 'der' })
  if (!signerDer) return { ok: false, rekor, reason: 'expected a certificate, got none' }
  const hashMismatch = envelopeHashMismatch(converted.rekor.body, INTOTO_001, att.envelope)
  const bodyMismatch =
    hashMismatch ?? intoto001Mismatch(converted.rekor.body, converted.payload, signerDer)
  if (bodyMismatch) return { ok: false, rekor, reason: bodyMismatch }

  let key: KeyObject
  let facts: SignerFacts = {}
  if (expectation.kind === 'keyless') {
    const entity = toSignedEntity(bundle)
    if (entity.key.$case !== 'certificate')
      return { ok: false, rekor, reason: 'expected a certificate, got a key' }
    // The SET is verified above, so its integrated time is a trusted signing time; the entry itself
    // is withheld because @sigstore/verify would refuse its kind.
    const verified = verifySigner({ ...entity, tlogEntries: [] }, trust, expectation, {
      requireTlog: false,
      requireSct: options.requireSct ?? true,
    })
    if ('reason' in verified) return { ok: false, rekor, reason: verified.reason }
    const { signer } = verified
    const checked = signerFacts(expectation, signer, signerDer, entity)
    facts = checked.facts
    if (checked.reason) return { ok: false, rekor, signer: facts, reason: checked.reason }
    key = signer.key
  } else {
    key = expectation.publicKey
  }

  const keyOnly: BundleJson = {
    ...converted.bundle,
    verificationMaterial: {
      publicKey: { hint: EXPECTED_KEY_HINT },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
  }
  const inner = verifyImageBundle(
    keyOnly,
    expectedDigest,
    trust,
    { kind: 'key', publicKey: key },
    { requireTlog: false },
  )
  return { ...inner, rekor, signer: facts, timestamps: 1 }
}

/**
 * Verifies one cosign `.att` layer as an attestation of the image manifest `expectedDigest`
 * (`sha256:<hex>`), as `cosign verify-attestation` does. Never throws.
 */
export function verifyLegacyAttestation(
  att: LegacyAttestation,
  expectedDigest: string,
  trust: TrustMaterial,
  expectation: Expectation,
  options: BundleVerifyOptions = {},
): BundleVerdict {
  try {
    const a = att.annotations
    const hasCert = Boolean(a[LEGACY_ANNOTATIONS.certificate])
    if (expectation.kind === 'keyless' && !hasCert)
      return {
        ok: false,
        reason: `expected a Fulcio certificate (keyless), got no ${LEGACY_ANNOTATIONS.certificate} annotation`,
      }
    if (expectation.kind === 'key' && hasCert)
      return { ok: false, reason: 'expected a key-based signature, got a certificate' }
    if ((options.requireTlog ?? true) && !a[LEGACY_ANNOTATIONS.rekorBundle])
      return {
        ok: false,
        reason: `expected a Rekor entry (the ${LEGACY_ANNOTATIONS.rekorBundle} annotation), got none`,
      }
    if (options.requireTimestamp)
      return {
        ok: false,
        reason:
          'expected an RFC 3161 timestamp, got none (legacy .att timestamps are not checkable)',
      }

    let converted: Converted
    try {
      converted = convert(att)
    } catch (err) {
      if (err instanceof LegacyAttestationFormatError || err instanceof LegacyFormatError)
        return { ok: false, reason: `malformed attestation layer: ${err.message}` }
      throw err
    }

    const rekor = converted.rekor
    if (rekor && rekor.kind === INTOTO_001)
      return verifyIntoto001(
        { ...converted, rekor },
        att,
        expectedDigest,
        trust,
        expectation,
        options,
      )
    if (rekor && !DELEGATED_KINDS.has(rekor.kind))
      return {
        ok: false,
        reason: `unsupported Rekor entry kind ${rekor.kind} for an attestation (expected dsse 0.0.1, intoto 0.0.1 or intoto 0.0.2)`,
      }

    const verdict = verifyImageBundle(converted.bundle, expectedDigest, trust, expectation, options)
    if (!verdict.ok || !rekor) return verdict
    const mismatch = envelopeHashMismatch(rekor.body, rekor.kind, att.envelope)
    if (mismatch) return { ...verdict, ok: false, statement: undefined, reason: mismatch }
    return verdict
  } catch (err) {
    return { ok: false, reason: describeError(err) }
  }
}
