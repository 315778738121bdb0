/**
 * Six kinds of change to how sigstore-js reads ASN.1 and checks certificates. None accepts anything
 * else as valid; the first two are for reporting upstream, the last three answer a check already
 * made in this process with the verdict it gave (a pure function of the bytes it is keyed by).
 *
 * Installed explicitly, by what is about to verify: `runVerify` as it loads its trust roots, and
 * sign mode's `WitnessCheck` when it is made (it verifies the TSA's timestamps and Fulcio's chain
 * too).
 * Importing this module, or any verifier, changes nothing: a patch of a library's prototype is
 * put in place where a reader of the run can see it, not as a side effect of an import.
 *
 * 1. Time. sigstore-js reading RFC 3161 timestamps: `@sigstore/core` accepts a GeneralizedTime
 * with no fraction or exactly three fractional digits, but DER drops trailing zeros, so a TSA
 * stamping milliseconds writes `…12.5Z` or `…12.34Z` about one time in nine, and sigstore-js then
 * rejects a valid timestamp ("invalid time"). cosign (Go) reads every DER form.
 *
 * The patch widens `ASN1Obj.toDate` to the DER forms (1 to 9 fractional
 * digits, no trailing zero) and nothing else, read to the whole second as sigstore-js reads
 * `.ddd`: every string the original accepts still gives the same date, and anything that is not a
 * DER GeneralizedTime still throws.
 *
 * 2. Speed. `ASN1Obj.toDER()` re-encodes an object through a growable stream that zero-fills at
 * least 1 KiB per node; certificate path building calls it for every comparison and signature
 * check, so verifying 100 signatures spent most of its CPU there. The replacement builds the same
 * bytes with one concatenation per node (same tag, same length encoding, same content), and keeps
 * them: an object parsed from DER answers with the slice it was parsed from, an object encoded
 * once answers with that encoding, for as long as it (and everything under it) is unchanged. A
 * parsed object is frozen, so it stays unchanged without being walked to check (issue 11: the walks
 * were 3% of verifying 100 images); an object built otherwise is walked, and when it or one under
 * it has changed, encoded afresh. The SCT check removes an extension from a copy before encoding it.
 *
 * 3. Chain verdicts. Path building checks each certificate's signature against each candidate
 * issuer, for every signature verified, and a run's signatures share their Fulcio and TSA chains
 * (and often their leaf): the same ECDSA checks, over and over. `X509Certificate.verify(issuer)`
 * answers from a per-process cache keyed by the SHA-256 of the certificate's whole DER (its
 * to-be-signed part, algorithm and signature) and of the issuer's public key: a pure function of
 * those bytes, so nothing else is cached. Everything that differs per signature is still checked
 * per signature by @sigstore/verify: which certificates the root trusts, the path, each
 * certificate's validity at that signature's signing time, the SCT, the timestamp, the signature.
 * The SCT verdict is kept the same way (by leaf, issuer key and the root's CT logs); a new leaf's
 * SCT check gets a copy of the few objects it changes (the original parsed the certificate again).
 *
 * 4. Certificate paths. Building a path (finding each issuer, checking CA flags, name chaining and
 * path-length constraints) is a function of the certificates' bytes alone; only the validity
 * check looks at the signing time. `CertificateChainVerifier.verify` keeps each path it built, by
 * the SHA-256 of the untrusted certificate's DER and of each trusted certificate's, in order, and
 * for the same certificates again checks only that every certificate on the path was valid at
 * this signing time (a path that is not is built afresh, so its error is the original's). The TSA
 * chain, the same for every timestamp, was built anew for each one; so was the Fulcio chain above
 * a leaf.
 *
 * 5. Public keys. `crypto.createPublicKey` of @sigstore/core answers a key it has parsed before
 * (by its encoding's SHA-256 and type) with the same immutable KeyObject.
 *
 * 6. Parsed certificates. `X509Certificate.parse` answers DER it has parsed before with the
 * certificate it made then, when its ASN.1 was sealed (change 2: frozen, everything under it too,
 * so no caller can change what another holds). Signatures that share a Fulcio leaf (Signet signs
 * a run's images under one certificate) had it parsed anew for each: in a profile of verifying
 * 100 images, parsing leaves was about 4% of the CPU. The bench's images, signed by cosign v3,
 * each have a leaf of their own, so it shows no gain there.
 */
import { createHash } from 'node:crypto'
import { ASN1Obj, X509Certificate } from '@sigstore/core'
import { CertificateChainVerifier, encodeLength, keyParsing, sctChecks } from './internals'

/** DER GeneralizedTime (X.690 11.7): UTC, fraction without trailing zeros. */
const DER_GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{0,8}[1-9]))?Z$/

let installed = false

/** The date of a DER GeneralizedTime string, or undefined when it is not one. */
export function parseDerGeneralizedTime(text: string): Date | undefined {
  const m = DER_GENERALIZED_TIME.exec(text)
  if (!m) return undefined
  // Whole seconds, as sigstore-js reads the forms it accepts (it drops `.ddd` too).
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`)
  return Number.isNaN(date.getTime()) ? undefined : date
}

/** The DER of `obj`, as `ASN1Obj.prototype.toDER` encodes it, without the scratch streams. */
export function encodeDer(obj: ASN1Obj): Buffer {
  const value =
    obj.subs.length > 0 ? Buffer.concat(obj.subs.map((sub) => encodeDer(sub))) : obj.value
  return Buffer.concat([Buffer.from([obj.tag.toDER()]), encodeLength(value.length), value])
}

/** An object's DER as last encoded (or parsed), and what it was made of then. */
interface KnownEncoding {
  /** Made when first asked for, for an object parsed (`start` says where its DER begins). */
  der?: Buffer
  /** The offset of the object's tag in `value.buffer`, for an object parsed. */
  start: number
  tag: number
  value: Buffer
  subs: readonly ASN1Obj[]
  /**
   * Recorded from parsing, and the object, its tag, its `subs` and everything under it frozen
   * then: it cannot have changed since, so it is not walked to find out.
   */
  sealed?: true
}

/**
 * Where an object keeps its known encoding: a non-enumerable property of its own, so it lives as
 * long as the object, and no longer. (A WeakMap did the same, at twice the cost in garbage
 * collection: every parsed node was an ephemeron.)
 */
const KNOWN_ENCODING = Symbol('signet.knownEncoding')
type WithKnownEncoding = ASN1Obj & { [KNOWN_ENCODING]?: KnownEncoding }
const knownEncodings = {
  get: (obj: ASN1Obj): KnownEncoding | undefined => (obj as WithKnownEncoding)[KNOWN_ENCODING],
  set: (obj: ASN1Obj, known: KnownEncoding): void => {
    Object.defineProperty(obj, KNOWN_ENCODING, { value: known, writable: true, configurable: true })
  },
}
const NO_SUBS: readonly ASN1Obj[] = Object.freeze([])

/** Whether `obj` and everything under it is as it was when `known` was recorded. */
function unchangedSince(obj: ASN1Obj, known: KnownEncoding): boolean {
  if (known.sealed) return true
  if (obj.value !== known.value || obj.subs.length !== known.subs.length) return false
  if (obj.tag.toDER() !== known.tag) return false
  for (let i = 0; i < obj.subs.length; i++) {
    const sub = obj.subs[i]
    if (sub !== known.subs[i]) return false
    const subKnown = knownEncodings.get(sub)
    if (!subKnown || !unchangedSince(sub, subKnown)) return false
  }
  return true
}

/** `encodeDer`, answering from (and recording) the known encodings. */
export function memoizedDer(obj: ASN1Obj): Buffer {
  const known = knownEncodings.get(obj)
  if (known && unchangedSince(obj, known)) {
    known.der ??= Buffer.from(
      obj.value.buffer,
      known.start,
      obj.value.byteOffset + obj.value.length - known.start,
    )
    return known.der
  }
  const value =
    obj.subs.length > 0 ? Buffer.concat(obj.subs.map((sub) => memoizedDer(sub))) : obj.value
  const tag = obj.tag.toDER()
  const der = Buffer.concat([Buffer.from([tag]), encodeLength(value.length), value])
  const subs = obj.subs.length > 0 ? [...obj.subs] : NO_SUBS
  knownEncodings.set(obj, { der, start: 0, tag, value: obj.value, subs })
  return der
}

/** The number of length octets `encodeLength` writes for `length`. */
function lengthOctets(length: number): number {
  if (length < 0x80) return 1
  let octets = 1
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets++
  return octets
}

/**
 * Records, for `obj` and each object under it, where in the parsed buffer its DER is, when those
 * bytes are exactly what `encodeDer` would write (the minimal length form, and the same for
 * everything under it). Returns whether they are. `ASN1Obj.parseBuffer` leaves each `value` a
 * view into the buffer it parsed (its own copy), right after the object's tag and length octets.
 */
function recordParsedEncoding(obj: ASN1Obj, bytes: Uint8Array): boolean {
  let canonical = true
  for (const sub of obj.subs) if (!recordParsedEncoding(sub, bytes)) canonical = false
  if (!canonical || obj.value.buffer !== bytes.buffer) return false
  const length = obj.value.length
  const octets = lengthOctets(length)
  const start = obj.value.byteOffset - 1 - octets
  if (start < 0) return false
  const tag = obj.tag.toDER()
  if (bytes[start] !== tag) return false
  if (length < 0x80) {
    if (bytes[start + 1] !== length) return false
  } else {
    if (bytes[start + 1] !== (0x80 | (octets - 1))) return false
    for (let i = octets - 1, rest = length; i >= 1; i--, rest = Math.floor(rest / 256))
      if (bytes[start + 1 + i] !== rest % 256) return false
  }
  knownEncodings.set(obj, { start, tag, value: obj.value, subs: obj.subs, sealed: true })
  // Nothing may change a parsed object now (under strict mode, which sigstore-js's code and ours
  // are in, an attempt throws): its DER is the slice it was parsed from for good. Everything under
  // it was sealed first. The one change sigstore-js makes, the SCT check's splice of an extension
  // list, is made on a copy (copyForExtensionRemoval).
  Object.freeze(obj.tag)
  Object.freeze(obj.subs)
  Object.freeze(obj)
  return true
}

/** Verdicts of `X509Certificate.verify`, by the certificate's DER and the issuer's key. */
const chainVerdicts = new Map<string, boolean>()
/** More distinct (certificate, issuer) pairs than a run has: past it, the cache starts over. */
const CHAIN_VERDICTS_MAX = 4096

/** The cache key of "`certificate` is signed by the key `issuerPublicKey`" (both DER). */
export function chainVerdictKey(certificateDer: Buffer, issuerPublicKey: Buffer): string {
  // The certificate's DER states its own length, so the concatenation is unambiguous.
  return createHash('sha256').update(certificateDer).update(issuerPublicKey).digest('base64')
}

type VerifySCTs = typeof sctChecks.verifySCTs
/** The CT logs of a root (the array the root's trust material holds), to leaf and issuer, to SCTs. */
const sctVerdicts = new WeakMap<Parameters<VerifySCTs>[2], Map<string, ReturnType<VerifySCTs>>>()

/** Certificate paths built, by the certificates they were built from (see change 4). */
const certificatePaths = new Map<string, X509Certificate[]>()
/** Certificates parsed, by the DER they were parsed from (see change 6). */
const parsedCertificates = new Map<string, X509Certificate>()
/** More than a run's distinct certificates: past it, the cache starts over. */
const PARSED_CERTIFICATES_MAX = 256
/** Larger DER is parsed each time rather than kept (a certificate is 1-2 KiB). */
const PARSED_CERTIFICATE_MAX_BYTES = 16 * 1024
/** How many parsed certificates are kept (for tests). */
export function parsedCertificateCount(): number {
  return parsedCertificates.size
}

/** Whether `obj` was sealed when parsed (change 2): frozen, and everything under it. */
function isSealed(obj: ASN1Obj): boolean {
  return knownEncodings.get(obj)?.sealed === true
}

/** Public keys parsed, by their encoding and type (see change 5). */
const publicKeys = new Map<string, ReturnType<typeof keyParsing.createPublicKey>>()

/** The cache key of a path from `untrusted` through `trusted` (in order). */
export function certificatePathKey(
  untrusted: X509Certificate,
  trusted: readonly X509Certificate[],
): string {
  const hash = createHash('sha256').update(untrusted.root.toDER())
  for (const cert of trusted) {
    // Each certificate's DER states its own length, so the concatenation is unambiguous; the
    // count is hashed too, so a list cannot be read as another.
    hash.update(cert.root.toDER())
  }
  return `${trusted.length}:${hash.digest('base64')}`
}

/** How many certificate paths are cached (for tests). */
export function certificatePathCount(): number {
  return certificatePaths.size
}

/** How many verdicts are cached (for tests). */
export function chainVerdictCount(): number {
  return chainVerdicts.size
}

/** A copy of `obj` that shares its tag, value and everything under it, in a new `subs` array. */
function shallowCopy(obj: ASN1Obj, subs: ASN1Obj[] = [...obj.subs]): ASN1Obj {
  return new ASN1Obj(obj.tag, obj.value, subs)
}

/**
 * A copy of `cert` for the SCT check to splice an extension out of: the objects from the root down
 * to the extension list are new, everything else (each extension among them) is `cert`'s own,
 * which no splice of the copy's list reaches. Its DER answers from the shared objects' known
 * encodings, so the copy costs a few objects where `clone()` parsed the certificate again.
 */
export function copyForExtensionRemoval(cert: X509Certificate): X509Certificate {
  const [tbs, ...rest] = cert.root.subs
  if (!tbs) return cert.clone()
  const tbsSubs = tbs.subs.map((sub) => {
    // The extensions' [3] wrapper, and the SEQUENCE in it whose list the splice changes.
    if (!sub.tag.isContextSpecific(0x03)) return sub
    return shallowCopy(
      sub,
      sub.subs.map((seq, i) => (i === 0 ? shallowCopy(seq) : seq)),
    )
  })
  return new X509Certificate(shallowCopy(cert.root, [shallowCopy(tbs, tbsSubs), ...rest]))
}

/** `cert` as the SCT check sees it: itself, but for a `clone()` that copies only what it changes. */
function sctView(cert: X509Certificate): X509Certificate {
  const view = Object.create(cert) as X509Certificate
  view.clone = () => copyForExtensionRemoval(cert)
  return view
}

/** Installs the changes (idempotent). */
export function patchSigstoreAsn1(): void {
  if (installed) return
  installed = true
  ASN1Obj.prototype.toDER = function toDER(this: ASN1Obj): Buffer {
    return memoizedDer(this)
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const parseBuffer = ASN1Obj.parseBuffer
  ASN1Obj.parseBuffer = function parse(buf: Buffer<ArrayBuffer>): ASN1Obj {
    // The parser tries every OCTET STRING as nested DER and throws (and catches) where it is not:
    // most of a certificate's parse time went to capturing those errors' stack traces.
    const stackTraceLimit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    let obj: ASN1Obj
    try {
      obj = parseBuffer.call(ASN1Obj, buf)
    } finally {
      Error.stackTraceLimit = stackTraceLimit
    }
    recordParsedEncoding(obj, new Uint8Array(obj.value.buffer))
    return obj
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const parseCertificate = X509Certificate.parse
  X509Certificate.parse = function parseOnce(cert: Buffer<ArrayBuffer> | string): X509Certificate {
    if (typeof cert === 'string' || cert.length > PARSED_CERTIFICATE_MAX_BYTES)
      return parseCertificate.call(X509Certificate, cert)
    // The bytes themselves are the key (one byte per character): equal keys are equal bytes.
    const key = cert.toString('latin1')
    const known = parsedCertificates.get(key)
    if (known) return known
    const parsed = parseCertificate.call(X509Certificate, cert)
    if (isSealed(parsed.root)) {
      if (parsedCertificates.size >= PARSED_CERTIFICATES_MAX) parsedCertificates.clear()
      parsedCertificates.set(key, parsed)
    }
    return parsed
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const verify = X509Certificate.prototype.verify
  X509Certificate.prototype.verify = function verifyOnce(
    this: X509Certificate,
    issuerCertificate?: X509Certificate,
  ): boolean {
    // The key the original checks against: the issuer's, or the certificate's own.
    const key = chainVerdictKey(this.root.toDER(), issuerCertificate?.publicKey || this.publicKey)
    const cached = chainVerdicts.get(key)
    if (cached !== undefined) return cached
    const verdict = verify.call(this, issuerCertificate)
    if (chainVerdicts.size >= CHAIN_VERDICTS_MAX) chainVerdicts.clear()
    chainVerdicts.set(key, verdict)
    return verdict
  }
  const verifySCTs = sctChecks.verifySCTs
  sctChecks.verifySCTs = function verifySCTsOnce(cert, issuer, ctlogs) {
    let verdicts = sctVerdicts.get(ctlogs)
    if (!verdicts) sctVerdicts.set(ctlogs, (verdicts = new Map<string, ReturnType<VerifySCTs>>()))
    const key = chainVerdictKey(cert.root.toDER(), issuer.publicKey)
    const cached = verdicts.get(key)
    if (cached) return [...cached]
    // The original's `cert.clone()` (parse the whole certificate again) only serves to splice the
    // SCT extension out of a copy: a copy of the objects the splice changes is enough.
    const verified = verifySCTs(sctView(cert), issuer, ctlogs)
    if (verdicts.size >= CHAIN_VERDICTS_MAX) verdicts.clear()
    verdicts.set(key, [...verified])
    return verified
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const verifyPath = CertificateChainVerifier.prototype.verify
  CertificateChainVerifier.prototype.verify = function verifyPathOnce(
    this: CertificateChainVerifier,
  ): X509Certificate[] {
    // The verifier's own fields (TypeScript-private, set by its constructor).
    const own = this as unknown as {
      untrustedCert: X509Certificate
      trustedCerts: X509Certificate[]
      timestamp: Date
    }
    const key = certificatePathKey(own.untrustedCert, own.trustedCerts)
    const known = certificatePaths.get(key)
    // The path's signatures and constraints are what they were; its validity now is checked anew.
    if (known && known.every((cert) => cert.validForDate(own.timestamp)))
      return [own.untrustedCert, ...known.slice(1)]
    const path = verifyPath.call(this)
    if (certificatePaths.size >= CHAIN_VERDICTS_MAX) certificatePaths.clear()
    certificatePaths.set(key, path)
    return path
  }
  const createPublicKey = keyParsing.createPublicKey
  keyParsing.createPublicKey = function createPublicKeyOnce(key, type = 'spki') {
    const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key
    const id = `${type}:${typeof key}:${createHash('sha256').update(bytes).digest('base64')}`
    const cached = publicKeys.get(id)
    if (cached) return cached
    const parsed = createPublicKey(key, type)
    if (publicKeys.size >= CHAIN_VERDICTS_MAX) publicKeys.clear()
    publicKeys.set(id, parsed)
    return parsed
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
  const original = ASN1Obj.prototype.toDate
  ASN1Obj.prototype.toDate = function toDate(this: ASN1Obj): Date {
    try {
      return original.call(this)
    } catch (err) {
      if (!this.tag.isGeneralizedTime()) throw err
      const date = parseDerGeneralizedTime(this.value.toString('ascii'))
      if (!date) throw err
      return date
    }
  }
}
