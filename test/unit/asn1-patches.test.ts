import { ASN1Obj } from '@sigstore/core'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import {
  encodeDer,
  parseDerGeneralizedTime,
  patchSigstoreAsn1,
} from '../../src/sigstore/asn1-patches'
import { pemBlocks } from '../../src/verify/common'

// Taken before any patch is installed: the implementation the replacement must match.
const originalToDER = ASN1Obj.prototype.toDER

/** A DER TLV of `tag` holding `text`. */
function der(tag: number, text: string): ASN1Obj {
  const value = Buffer.from(text, 'ascii')
  return ASN1Obj.parseBuffer(Buffer.concat([Buffer.from([tag, value.length]), value]))
}
const GENERALIZED_TIME = 0x18
const UTC_TIME = 0x17

describe('DER GeneralizedTime with fractional seconds (sigstore-js reads only .ddd)', () => {
  beforeAll(() => patchSigstoreAsn1())

  it.each([
    ['20250507123456Z', '2025-05-07T12:34:56.000Z'],
    // To the whole second, as sigstore-js reads .ddd.
    ['20250507123456.123Z', '2025-05-07T12:34:56.000Z'],
    ['20250507123456.5Z', '2025-05-07T12:34:56.000Z'],
    ['20250507123456.12Z', '2025-05-07T12:34:56.000Z'],
    ['20250507123456.123456789Z', '2025-05-07T12:34:56.000Z'],
  ])('reads %s', (text, iso) => {
    expect(der(GENERALIZED_TIME, text).toDate().toISOString()).toBe(iso)
  })

  it.each([
    '20250507123456.50Z', // trailing zero: not DER
    '20250507123456.Z',
    '20250507123456+0100',
    '2025050712345Z',
    '20251307123456.5Z', // month 13
  ])('still refuses %s', (text) => {
    expect(() => der(GENERALIZED_TIME, text).toDate()).toThrow('invalid time')
    expect(parseDerGeneralizedTime(text)).toBeUndefined()
  })

  it('leaves UTCTime as sigstore-js reads it', () => {
    expect(der(UTC_TIME, '250507123456Z').toDate().toISOString()).toBe('2025-05-07T12:34:56.000Z')
    expect(() => der(UTC_TIME, '250507123456.5Z').toDate()).toThrow('invalid time')
  })
})

describe('ASN1Obj.toDER, faster', () => {
  const TARGETS = resolve(__dirname, '../fixtures/real-world/root-signing/targets')
  const certificates = [
    'fulcio_v1.crt.pem',
    'fulcio_intermediate_v1.crt.pem',
    'fulcio.crt.pem',
  ].flatMap((file) => pemBlocks(readFileSync(resolve(TARGETS, file), 'utf8'), 'CERTIFICATE'))

  it('encodes real certificates to the bytes they were parsed from, as the original does', () => {
    expect(certificates.length).toBeGreaterThanOrEqual(3)
    for (const der of certificates) {
      const parsed = ASN1Obj.parseBuffer(Buffer.from(der))
      expect(encodeDer(parsed).equals(der)).toBe(true)
      expect(encodeDer(parsed).equals(originalToDER.call(parsed))).toBe(true)
    }
  })

  it('encodes long and empty values the same way (multi-byte lengths, empty sequences)', () => {
    for (const der of [
      Buffer.concat([Buffer.from([0x04, 0x82, 0x01, 0x2c]), Buffer.alloc(300, 7)]),
      Buffer.from([0x30, 0x00]),
      Buffer.from([0x30, 0x03, 0x02, 0x01, 0x05]),
    ]) {
      const parsed = ASN1Obj.parseBuffer(der)
      expect(encodeDer(parsed)).toEqual(der)
      expect(encodeDer(parsed)).toEqual(originalToDER.call(parsed))
    }
  })
})
