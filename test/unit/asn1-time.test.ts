import { ASN1Obj } from '@sigstore/core'
import { parseDerGeneralizedTime, tolerateDerFractionalSeconds } from '../../src/verify/asn1-time'

/** A DER TLV of `tag` holding `text`. */
function der(tag: number, text: string): ASN1Obj {
  const value = Buffer.from(text, 'ascii')
  return ASN1Obj.parseBuffer(Buffer.concat([Buffer.from([tag, value.length]), value]))
}
const GENERALIZED_TIME = 0x18
const UTC_TIME = 0x17

describe('DER GeneralizedTime with fractional seconds (sigstore-js reads only .ddd)', () => {
  beforeAll(() => tolerateDerFractionalSeconds())

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
