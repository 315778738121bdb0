/**
 * Issue 10.5: the ASN.1 patch of sigstore-js (src/sigstore/asn1-patches.ts) is installed by what
 * is about to verify — runVerify as it loads its trust roots, WitnessCheck when sign mode makes it —
 * and by nothing else: importing the verifiers leaves @sigstore/core as it ships.
 *
 * Each test starts from a fresh module registry, so each sees an unpatched ASN1Obj.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ASN1Obj as ASN1ObjClass } from '@sigstore/core'
import type { Registry } from '../../src/registry/types'
import type { Logger } from '../../src/report/types'

const GENERALIZED_TIME = 0x18
/** A DER GeneralizedTime with one fractional digit: valid DER, refused by @sigstore/core as shipped. */
const FRACTIONAL_TIME = '20250507123456.5Z'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signet-asn1-install-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))
beforeEach(() => jest.resetModules())

async function freshAsn1(): Promise<{
  ASN1Obj: typeof ASN1ObjClass
  shipped: { toDER: unknown; toDate: unknown }
  readsFractionalTime: () => boolean
}> {
  const { ASN1Obj } = await import('@sigstore/core')
  const shipped = { toDER: ASN1Obj.prototype.toDER, toDate: ASN1Obj.prototype.toDate }
  const value = Buffer.from(FRACTIONAL_TIME, 'ascii')
  const time = ASN1Obj.parseBuffer(
    Buffer.concat([Buffer.from([GENERALIZED_TIME, value.length]), value]),
  )
  const readsFractionalTime = (): boolean => {
    try {
      time.toDate()
      return true
    } catch {
      return false
    }
  }
  return { ASN1Obj, shipped, readsFractionalTime }
}

const silent: Logger = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  group: async (_name, fn) => fn(),
}

describe('the ASN.1 patch of sigstore-js, installed explicitly (issue 10.5)', () => {
  it('is not installed by importing the verifiers, the trust roots or the witness check', async () => {
    const { ASN1Obj, shipped, readsFractionalTime } = await freshAsn1()
    await import('../../src/verify/common')
    await import('../../src/verify/bundle')
    await import('../../src/verify/sig-layer')
    await import('../../src/verify/att-layer')
    await import('../../src/verify/image')
    await import('../../src/verify/trust')
    await import('../../src/sigstore/witness-check')
    await import('../../src/sigstore/asn1-patches')
    expect(ASN1Obj.prototype.toDER).toBe(shipped.toDER)
    expect(ASN1Obj.prototype.toDate).toBe(shipped.toDate)
    expect(readsFractionalTime()).toBe(false)
  })

  it('is installed by runVerify before its trust roots are read, even a run that fails on them', async () => {
    const { ASN1Obj, shipped, readsFractionalTime } = await freshAsn1()
    const { readInputs } = await import('../../src/inputs')
    const { runVerify } = await import('../../src/verify/run')
    writeFileSync(join(dir, 'trusted_root.json'), '{"mediaType": "not a trusted root"}')
    const given: Record<string, string> = {
      mode: 'verify',
      images: `registry.invalid/acme/app@sha256:${'a'.repeat(64)}`,
      'certificate-identity':
        'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
      'certificate-oidc-issuer': 'https://token.actions.githubusercontent.com',
      'trusted-root': 'trusted_root.json',
    }
    const inputs = readInputs((name) => given[name] ?? '', 'verify')
    // The trust roots load while the images are resolved (issue 11: start-up); this registry
    // answers nothing, and the trusted root is no root: the run stops before any signature.
    const noRegistry = new Proxy({} as Registry, {
      get: () => async () => {
        throw new Error('no registry in this test')
      },
    })
    await expect(
      runVerify(inputs, { log: silent, cwd: dir, env: {}, registry: noRegistry }),
    ).rejects.toMatchObject({ input: 'trusted-root' })
    expect(ASN1Obj.prototype.toDER).not.toBe(shipped.toDER)
    expect(ASN1Obj.prototype.toDate).not.toBe(shipped.toDate)
    expect(readsFractionalTime()).toBe(true)
  })

  it("is installed by sign mode's WitnessCheck when it is made, before its first verify", async () => {
    const { ASN1Obj, shipped, readsFractionalTime } = await freshAsn1()
    const { WitnessCheck } = await import('../../src/sigstore/witness-check')
    new WitnessCheck([], { keyless: true, tlog: true, rootName: 'no root' })
    expect(ASN1Obj.prototype.toDER).not.toBe(shipped.toDER)
    expect(ASN1Obj.prototype.toDate).not.toBe(shipped.toDate)
    expect(readsFractionalTime()).toBe(true)
  })

  it('is installed once: a second install leaves the first in place', async () => {
    const { ASN1Obj } = await freshAsn1()
    const { patchSigstoreAsn1 } = await import('../../src/sigstore/asn1-patches')
    patchSigstoreAsn1()
    const installed = { toDER: ASN1Obj.prototype.toDER, toDate: ASN1Obj.prototype.toDate }
    patchSigstoreAsn1()
    expect(ASN1Obj.prototype.toDER).toBe(installed.toDER)
    expect(ASN1Obj.prototype.toDate).toBe(installed.toDate)
  })
})
