/**
 * Issue 11: each certificate's signature under each issuer key is checked once per process
 * (asn1-patches.ts, change 3) and each parsed ASN.1 object keeps its DER (change 2). These tests
 * warm the caches with a real public-good bundle, then try what a cache must never let through: a
 * different leaf under the same chain, the same leaf at a time outside its validity, the same leaf
 * under another root, and an object changed after it was encoded.
 */
import { ASN1Obj, EXTENSION_OID_SCT, X509Certificate } from '@sigstore/core'
import { toSignedEntity, type SignedEntity, type TrustMaterial } from '@sigstore/verify'
import { bundleFromJSON } from '@sigstore/bundle'
import {
  certificatePathCount,
  chainVerdictCount,
  copyForExtensionRemoval,
  encodeDer,
  parsedCertificateCount,
  patchSigstoreAsn1,
} from '../../src/sigstore/asn1-patches'
import { CertificateChainVerifier, keyParsing } from '../../src/sigstore/internals'
import { verifyImageBundle } from '../../src/verify/bundle'
import { checkKeylessSigner, verifySigner, type Expectation } from '../../src/verify/common'
import {
  GITHUB_ACTIONS_ISSUER as GHA,
  keylessExpectation as keyless,
  readRealWorld as read,
  realWorldJson as json,
  sha256Of as sha256,
  trustMaterialOf as trustFrom,
} from '../infra/real-world'

beforeAll(() => patchSigstoreAsn1())

const pg = trustFrom('root-signing/targets/trusted_root.json')
/** Another instance's root: its own Fulcio CA (sigstore-conformance's custom trust root). */
const otherRoot = trustFrom(
  'sigstore-conformance/test/assets/bundle-verify/intoto-with-custom-trust-root/trusted_root.json',
)
const dir = ['_derived', 'docker-actions-toolkit']
const san =
  'https://github.com/docker/github-builder-experimental/.github/workflows/build.yml@refs/heads/build-reusable-workflow'
const expectation: Expectation = keyless(san, GHA)
const bundleJson = (): {
  verificationMaterial: { certificate: { rawBytes: string } }
} => json(...dir, 'sign-output1.bundle.sigstore.json')
const digest = sha256(read(...dir, 'manifest1_8fe63f8b0555.json'))

function entityOf(json: unknown): SignedEntity {
  return toSignedEntity(bundleFromJSON(json))
}
const options = { requireTlog: true, requireSct: true }

/** The bundle verifies, so every chain verdict it needs is cached. */
function warm(): void {
  expect(verifyImageBundle(bundleJson(), digest, pg, expectation)).toMatchObject({ ok: true })
  expect(chainVerdictCount()).toBeGreaterThan(0)
}

describe('issue 11: a cached chain verdict lets nothing else pass', () => {
  it('verifies the same bundle again from the cache, with the same verdict', () => {
    warm()
    const cached = chainVerdictCount()
    expect(verifyImageBundle(bundleJson(), digest, pg, expectation)).toMatchObject({ ok: true })
    expect(chainVerdictCount()).toBe(cached)
  })

  it('same chain, another leaf: a leaf whose signature is not the intermediate’s fails', () => {
    warm()
    const forged = bundleJson()
    const leaf = Buffer.from(forged.verificationMaterial.certificate.rawBytes, 'base64')
    // The last octet of the leaf's ECDSA signature: the certificate still parses, names the same
    // issuer and key identifier, and is no longer signed by it.
    leaf[leaf.length - 1] ^= 0x01
    forged.verificationMaterial.certificate.rawBytes = leaf.toString('base64')
    const v = verifyImageBundle(forged, digest, pg, expectation)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/Failed to verify certificate chain/)
  })

  it('same leaf, a time outside its validity: the chain is checked at each signing time', () => {
    warm()
    const entity = entityOf(bundleJson())
    // The log entry's time, a day later: the 10-minute Fulcio leaf has expired by then. The
    // entity's own tlog entry is left as it is, so only the time differs.
    const later = entity.timestamps.map((t) =>
      t.$case === 'transparency-log'
        ? {
            ...t,
            tlogEntry: {
              ...t.tlogEntry,
              integratedTime: String(Number(t.tlogEntry.integratedTime) + 86_400),
            },
          }
        : t,
    )
    expect(entity.timestamps.some((t) => t.$case === 'transparency-log')).toBe(true)
    const v = verifySigner({ ...entity, timestamps: later }, pg, expectation, options)
    expect(v).toEqual({
      reason: expect.stringMatching(/Failed to verify certificate chain/) as unknown,
    })
  })

  it('same leaf, another root: the root a signature is checked under is the one given', () => {
    warm()
    const underOther: TrustMaterial = {
      ...pg,
      certificateAuthorities: otherRoot.certificateAuthorities,
    }
    const v = verifySigner(entityOf(bundleJson()), underOther, expectation, options)
    expect(v).toEqual({
      reason: expect.stringMatching(/Failed to verify certificate chain/) as unknown,
    })
    // And the same leaf under the right root still verifies.
    expect(verifySigner(entityOf(bundleJson()), pg, expectation, options)).toHaveProperty('signer')
  })

  it('same leaf, another root’s CT logs: the SCT verdict is the root’s own', () => {
    warm()
    const otherLogs: TrustMaterial = { ...pg, ctlogs: otherRoot.ctlogs }
    const v = verifySigner(entityOf(bundleJson()), otherLogs, expectation, options)
    expect(v).toEqual({ reason: expect.stringMatching(/SCT verification failed/) as unknown })
  })

  it('keys a verdict by the issuer key: a leaf signed by the intermediate is not by the root', () => {
    warm()
    const leaf = entityOf(bundleJson()).key
    if (leaf.$case !== 'certificate') throw new Error('expected a certificate')
    const chain = pg.certificateAuthorities.flatMap((ca) => ca.certChain)
    const verdicts = chain.map((issuer) => leaf.certificate.verify(issuer))
    expect(verdicts.filter(Boolean)).toHaveLength(1)
    // Asked again (from the cache), the same answers.
    expect(chain.map((issuer) => leaf.certificate.verify(issuer))).toEqual(verdicts)
  })
})

describe('issue 11: each certificate path built once, its validity checked at every signing time', () => {
  it('builds the Fulcio and the TSA paths once: a second verify builds none', () => {
    warm()
    const built = certificatePathCount()
    // The leaf's path through Fulcio's chain, and the TSA's own chain.
    expect(built).toBeGreaterThanOrEqual(2)
    expect(verifyImageBundle(bundleJson(), digest, pg, expectation)).toMatchObject({ ok: true })
    expect(certificatePathCount()).toBe(built)
  })

  it('refuses a cached path at a time its certificates were not valid', () => {
    warm()
    const tsa = pg.timestampAuthorities.find((ca) => ca.certChain.length > 1)
    if (!tsa) throw new Error('expected a TSA with a chain in the public-good root')
    const [leaf, ...cas] = tsa.certChain
    const at = (timestamp: Date) =>
      new CertificateChainVerifier({ untrustedCert: leaf, trustedCerts: cas, timestamp })
    const path = at(new Date(leaf.notBefore.getTime() + 1000)).verify()
    expect(path[0]).toBe(leaf)
    const cached = certificatePathCount()
    // Before the TSA's certificate was issued: the path is known, the time is not good.
    expect(() => at(new Date(leaf.notBefore.getTime() - 86_400_000)).verify()).toThrow(
      /not valid or expired/,
    )
    expect(at(new Date(leaf.notBefore.getTime() + 2000)).verify()).toEqual(path)
    expect(certificatePathCount()).toBe(cached)
  })

  it('builds a path anew for the same leaf under other trusted certificates', () => {
    warm()
    const tsa = pg.timestampAuthorities.find((ca) => ca.certChain.length > 1)
    if (!tsa) throw new Error('expected a TSA with a chain in the public-good root')
    const [leaf] = tsa.certChain
    const fulcio = pg.certificateAuthorities.flatMap((ca) => ca.certChain)
    const under = new CertificateChainVerifier({
      untrustedCert: leaf,
      trustedCerts: fulcio,
      timestamp: new Date(leaf.notBefore.getTime() + 1000),
    })
    expect(() => under.verify()).toThrow(/no valid certificate path|no trusted certificate path/)
  })
})

describe('issue 11: each public key parsed once', () => {
  it('answers the same key with the same KeyObject, another key with its own', () => {
    const [first, second] = pg.certificateAuthorities
      .flatMap((ca) => ca.certChain)
      .map((cert) => cert.publicKey)
    const key = keyParsing.createPublicKey(first)
    expect(keyParsing.createPublicKey(Buffer.from(first))).toBe(key)
    const other = keyParsing.createPublicKey(second)
    expect(other).not.toBe(key)
    expect(other.export({ format: 'der', type: 'spki' })).toEqual(second)
    // The same bytes as base64 text are parsed as such (a string is not a Buffer's cache entry).
    expect(
      keyParsing.createPublicKey(first.toString('base64')).export({ format: 'der', type: 'spki' }),
    ).toEqual(first)
  })
})

describe('issue 11: DER kept from parsing', () => {
  /** A copy of every object under `obj`, none of them parsed (so none frozen). */
  const deepCopy = (obj: ASN1Obj): ASN1Obj =>
    new ASN1Obj(obj.tag, obj.value, obj.subs.map(deepCopy))
  const spliceSct = (cert: X509Certificate): Buffer => {
    const i = cert.extensions.findIndex((e) => e.subs[0]?.toOID() === EXTENSION_OID_SCT)
    expect(i).toBeGreaterThanOrEqual(0)
    cert.extensions.splice(i, 1)
    return cert.tbsCertificate.toDER()
  }

  it('answers with the parsed bytes, which cannot change, and re-encodes a built object changed since', () => {
    const der = Buffer.from(bundleJson().verificationMaterial.certificate.rawBytes, 'base64')
    const cert = X509Certificate.parse(der)
    expect(cert.root.toDER().equals(der)).toBe(true)
    // A parsed object is frozen: its encoding cannot go stale.
    expect(() => cert.extensions.splice(0, 1)).toThrow(TypeError)
    const parsedSerial = cert.tbsCertificate.subs[1]
    expect(() => {
      ;(parsedSerial as { value: Buffer }).value = Buffer.from([0x01])
    }).toThrow(TypeError)
    expect(() => {
      ;(parsedSerial?.tag as { number: number }).number = 5
    }).toThrow(TypeError)
    expect(cert.root.toDER().equals(der)).toBe(true)
    // An object built from it is not: the encoding follows a change, as the original's would.
    const copy = new X509Certificate(deepCopy(cert.root))
    const before = copy.tbsCertificate.toDER()
    expect(before.equals(cert.tbsCertificate.toDER())).toBe(true)
    copy.extensions.splice(0, 1)
    const after = copy.tbsCertificate.toDER()
    expect(after.length).toBeLessThan(before.length)
    expect(after.equals(encodeDer(copy.tbsCertificate))).toBe(true)
    // A value replaced in place is seen too.
    const serial = copy.tbsCertificate.subs[1]
    ;(serial as { value: Buffer }).value = Buffer.from([0x01])
    expect(copy.tbsCertificate.toDER().equals(encodeDer(copy.tbsCertificate))).toBe(true)
    // The original is untouched by what was done to its copy.
    expect(cert.root.toDER().equals(der)).toBe(true)
  })

  it('copies for the SCT check what it splices: the precertificate of a full copy', () => {
    const der = Buffer.from(bundleJson().verificationMaterial.certificate.rawBytes, 'base64')
    const cert = X509Certificate.parse(der)
    const expected = spliceSct(new X509Certificate(deepCopy(cert.root)))
    const copy = copyForExtensionRemoval(cert)
    expect(copy.root.toDER().equals(der)).toBe(true)
    const got = spliceSct(copy)
    expect(got.equals(expected)).toBe(true)
    expect(got.equals(encodeDer(copy.tbsCertificate))).toBe(true)
    expect(got.length).toBeLessThan(cert.tbsCertificate.toDER().length)
    // The certificate itself still has its SCT and its bytes.
    expect(cert.extSCT).toBeDefined()
    expect(cert.root.toDER().equals(der)).toBe(true)
    expect(encodeDer(cert.root).equals(der)).toBe(true)
  })

  it('answers for every object of a parsed certificate what the encoder writes', () => {
    const der = Buffer.from(bundleJson().verificationMaterial.certificate.rawBytes, 'base64')
    const walk = (obj: ASN1Obj): void => {
      expect(obj.toDER().equals(encodeDer(obj))).toBe(true)
      obj.subs.forEach(walk)
    }
    walk(ASN1Obj.parseBuffer(der))
  })
})

describe('issue 11: each certificate parsed once', () => {
  const leaf = (): Buffer<ArrayBuffer> =>
    Buffer.from(bundleJson().verificationMaterial.certificate.rawBytes, 'base64')

  it('answers the same DER with the same (frozen) certificate, other DER with its own', () => {
    const cert = X509Certificate.parse(leaf())
    expect(X509Certificate.parse(leaf())).toBe(cert)
    expect(parsedCertificateCount()).toBeGreaterThan(0)
    const other = json<{ verificationMaterial: { certificate: { rawBytes: string } } }>(
      ...dir,
      'sign-output2.bundle.sigstore.json',
    )
    const second = X509Certificate.parse(
      Buffer.from(other.verificationMaterial.certificate.rawBytes, 'base64'),
    )
    expect(second).not.toBe(cert)
    expect(second.serialNumber).not.toEqual(cert.serialNumber)
    // Shared, so nobody may change it: a splice throws rather than reaching another caller.
    expect(() => cert.extensions.splice(0, 1)).toThrow(TypeError)
  })

  it('reads the leaf facts of each leaf for itself: another leaf, another identity', () => {
    warm()
    if (expectation.kind !== 'keyless') throw new Error('a keyless expectation')
    const verified = verifySigner(entityOf(bundleJson()), pg, expectation, options)
    if (!('signer' in verified)) throw new Error(verified.reason)
    const certificate = X509Certificate.parse(leaf())
    const first = checkKeylessSigner(expectation, verified.signer, leaf(), certificate)
    expect(first.reason).toBeUndefined()
    // The same leaf again answers the same facts; a non-code-signing certificate (the Fulcio
    // intermediate, asked as if it were a leaf) is judged by its own bytes, not the cached leaf's.
    expect(checkKeylessSigner(expectation, verified.signer, leaf(), certificate)).toEqual(first)
    const intermediate = pg.certificateAuthorities[0]?.certChain[0]
    if (!intermediate) throw new Error('no Fulcio certificate in the root')
    const notLeaf = checkKeylessSigner(
      expectation,
      verified.signer,
      intermediate.root.toDER(),
      intermediate,
    )
    expect(notLeaf.reason).toMatch(/^expected a code-signing certificate, got EKU/)
  })
})
