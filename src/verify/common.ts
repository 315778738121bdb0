/**
 * What the legacy, legacy-attestation and bundle verifiers share: the call into @sigstore/verify
 * with cosign's thresholds, the check that each Rekor entry names the signer, and the keyless
 * identity check made after @sigstore/verify has verified a signer.
 */
import { X509Certificate as NodeX509, type KeyObject } from 'node:crypto'
import type { TransparencyLogEntry } from '@sigstore/bundle'
import { X509Certificate } from '@sigstore/core'
import { Verifier, type SignedEntity, type Signer, type TrustMaterial } from '@sigstore/verify'
import { describeError } from '../errors'
import { fulcioExtensions } from '../sigstore/certificate'

export const OID_CODE_SIGNING = '1.3.6.1.5.5.7.3.3'

/** The key hint of bundles converted from cosign's key-signed layers (verifySigner supplies the key). */
export const EXPECTED_KEY_HINT = 'signet-legacy-expected-key'

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
      /**
       * The reason the certificate's Fulcio extensions (OID to value, as `fulcioExtensions` reads
       * them) fail what the signer pins (the source repository of a reusable workflow's caller…),
       * or undefined when they do not.
       */
      extensions?: (extensions: Record<string, string>) => string | undefined
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

/** What the keyless checks read of a leaf certificate: a function of its DER alone. */
interface LeafFacts {
  eku: readonly string[]
  extensions: Readonly<Record<string, string>>
}

/** Leaf facts by the leaf's DER (one byte per character): a run's signatures share their leaf. */
const leafFacts = new Map<string, LeafFacts>()
/** More than a run's distinct leaves: past it, the cache starts over. */
const LEAF_FACTS_MAX = 256

function leafFactsOf(certDer: Buffer): LeafFacts {
  const key = certDer.toString('latin1')
  let facts = leafFacts.get(key)
  if (!facts) {
    facts = Object.freeze({
      eku: Object.freeze(new NodeX509(certDer).keyUsage ?? []),
      extensions: Object.freeze(fulcioExtensions(X509Certificate.parse(Buffer.from(certDer)))),
    })
    if (leafFacts.size >= LEAF_FACTS_MAX) leafFacts.clear()
    leafFacts.set(key, facts)
  }
  return facts
}

/**
 * The keyless checks @sigstore/verify leaves to its caller: a code-signing certificate, then the
 * expected identity and issuer, then the extensions the expectation pins. Returns the signer's
 * facts and, on failure, the reason.
 */
export function checkKeylessSigner(
  expectation: Extract<Expectation, { kind: 'keyless' }>,
  signer: Signer,
  certDer: Buffer | undefined,
  certificate: X509Certificate | undefined,
): { facts: SignerFacts; reason?: string } {
  if (!certDer || !certificate) return { facts: {}, reason: 'expected a certificate, got a key' }
  const { eku, extensions } = leafFactsOf(certDer)
  if (!eku.includes(OID_CODE_SIGNING)) {
    return { facts: {}, reason: `expected a code-signing certificate, got EKU ${eku.join(',')}` }
  }
  const san = signer.identity?.subjectAlternativeName
  const issuer = signer.identity?.extensions?.issuer
  const facts = { san, issuer, extensions }
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
  const mismatch = expectation.extensions?.(facts.extensions)
  if (mismatch !== undefined) return { facts, reason: mismatch }
  return { facts }
}

/**
 * `@sigstore/verify` with cosign's thresholds: a transparency-log entry unless `requireTlog` is
 * false, an SCT on a certificate unless `requireSct` is false, and a trusted signing time (SET or
 * TSA) for a certificate, since a short-lived Fulcio certificate is otherwise expired. For a key
 * expectation the expected key is the only key trusted, whatever hint the signature carries.
 */
export function verifySigner(
  entity: SignedEntity,
  trust: TrustMaterial,
  expectation: Expectation,
  options: { requireTlog: boolean; requireSct: boolean },
): { signer: Signer } | { reason: string } {
  let material = trust
  if (expectation.kind === 'key') {
    const key = expectation.publicKey
    material = { ...trust, publicKey: () => ({ publicKey: key, validFor: () => true }) }
  }
  const verifier = new Verifier(material, {
    tlogThreshold: options.requireTlog ? 1 : 0,
    ctlogThreshold: options.requireSct ? 1 : 0,
    timestampThreshold: expectation.kind === 'keyless' ? 1 : 0,
  })
  try {
    return { signer: verifier.verify(entity) }
  } catch (err) {
    return { reason: `signature verification failed: ${describeError(err)}` }
  }
}

/** Who signed: the keyless checks for a certificate; for a key there is nothing more to say. */
export function signerFacts(
  expectation: Expectation,
  signer: Signer,
  certDer: Buffer | undefined,
  entity: SignedEntity,
): { facts: SignerFacts; reason?: string } {
  if (expectation.kind === 'key') return { facts: {} }
  const certificate = entity.key.$case === 'certificate' ? entity.key.certificate : undefined
  return checkKeylessSigner(expectation, signer, certDer, certificate)
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v && typeof v === 'object' ? (v as Json) : {})
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string => (typeof v === 'string' ? v : '')
const fromB64 = (v: unknown): Buffer => Buffer.from(str(v), 'base64')

/** The DER of a PEM certificate or public key, or of raw DER bytes. */
function verifierDer(pemOrDer: Buffer): Buffer[] {
  const text = pemOrDer.toString('utf8')
  if (text.includes('-----BEGIN'))
    return [...pemBlocks(text, 'CERTIFICATE'), ...pemBlocks(text, 'PUBLIC KEY')]
  return [pemOrDer]
}

class RekorBodyError extends Error {}

/**
 * The verifiers (certificate or key DER) a tlog entry body names: hashedrekord 0.0.1, dsse 0.0.1
 * and intoto 0.0.2 (b64 PEM), Rekor v2 dsse/hashedrekord 0.0.2 (DER).
 */
function bodyVerifiers(entry: TransparencyLogEntry): Buffer[] {
  const body = obj(JSON.parse(entry.canonicalizedBody.toString('utf8')))
  const spec = obj(body.spec)
  const kind = `${str(body.kind)} ${str(body.apiVersion)}`
  const v2 = (v: unknown): Buffer[] => {
    const verifier = obj(v)
    const raw = obj(verifier.x509Certificate).rawBytes ?? obj(verifier.publicKey).rawBytes
    return [fromB64(raw)]
  }
  switch (kind) {
    case 'hashedrekord 0.0.1':
      return verifierDer(fromB64(obj(obj(spec.signature).publicKey).content))
    case 'dsse 0.0.1':
      return arr(spec.signatures).flatMap((s) => verifierDer(fromB64(obj(s).verifier)))
    case 'intoto 0.0.2':
      return arr(obj(obj(spec.content).envelope).signatures).flatMap((s) =>
        verifierDer(fromB64(obj(s).publicKey)),
      )
    case 'dsse 0.0.2':
      return arr(obj(spec.dsseV002).signatures).flatMap((s) => v2(obj(s).verifier))
    case 'hashedrekord 0.0.2':
      return v2(obj(obj(spec.hashedRekordV002).signature).verifier)
    default:
      throw new RekorBodyError(`unsupported Rekor entry kind ${kind}`)
  }
}

/**
 * cosign (sigstore-go): every tlog entry must name the certificate / key that signed, which
 * sigstore-js does not check. Throws with the reason.
 */
export function checkTlogNamesSigner(
  entries: TransparencyLogEntry[],
  signer: { certDer?: Buffer; key: KeyObject },
): void {
  const want = signer.certDer ?? signer.key.export({ type: 'spki', format: 'der' })
  for (const entry of entries) {
    let named: Buffer[]
    try {
      named = bodyVerifiers(entry)
    } catch (err) {
      if (err instanceof RekorBodyError) throw err
      throw new RekorBodyError('Rekor entry body is unreadable')
    }
    if (named.length !== 1 || !named[0]?.equals(want))
      throw new RekorBodyError(
        `expected the Rekor entry to name the signing ${signer.certDer ? 'certificate' : 'key'}, got another`,
      )
  }
}
