/**
 * Two changes to how `@sigstore/core` (sigstore-js) reads ASN.1. Neither accepts anything else as
 * valid; both are for reporting upstream.
 *
 * Installed explicitly, by what is about to verify: `runVerify` as a verify run starts, and sign
 * mode's `WitnessCheck` when it is made (it verifies the TSA's timestamps and Fulcio's chain too).
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
 * bytes with one concatenation per node (same tag, same length encoding, same content).
 */
import { ASN1Obj } from '@sigstore/core'
import { encodeLength } from './internals'

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

/** Installs both changes (idempotent). */
export function patchSigstoreAsn1(): void {
  if (installed) return
  installed = true
  ASN1Obj.prototype.toDER = function toDER(this: ASN1Obj): Buffer {
    return encodeDer(this)
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
