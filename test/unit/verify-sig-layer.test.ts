/**
 * Legacy `.sig` verification against real published cosign signatures (fixtures/real-world,
 * INDEX.md section 2), with the verdicts cosign / containers/image give them.
 */
import { createPublicKey } from 'node:crypto'
import {
  legacyToBundle,
  verifyLegacySignature,
  type Expectation,
  type LegacySignature,
} from '../../src/verify/sig-layer'
import {
  keylessExpectation as keyless,
  readRealWorld as read,
  realWorldJson as json,
  sha256Of as sha256,
  trustMaterialOf,
} from '../infra/real-world'

type VerifyOptions = Parameters<typeof verifyLegacySignature>[4]

const trust = trustMaterialOf('root-signing/targets/trusted_root.json')

interface Manifest {
  layers: { annotations: Record<string, string> }[]
}
const layerAnnotations = (file: string, dir: string, index = 0): Record<string, string> => {
  const layer = json<Manifest>('_derived', dir, file).layers[index]
  if (!layer) throw new Error(`no layer ${index} in ${file}`)
  return layer.annotations
}

const key = (...p: string[]): Expectation => ({
  kind: 'key',
  publicKey: createPublicKey(read(...p)),
})

describe('GitHub Actions keyless (salrashid123/go-bazel-github-workflow)', () => {
  const dir = 'salrashid123-go-bazel-github-workflow'
  const payload = read('_derived', dir, 'simplesigning-payload.json')
  const digest = sha256(read('_derived', dir, 'image-index.json'))
  const identity =
    'https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30'
  const issuer = 'https://token.actions.githubusercontent.com'
  const good: LegacySignature = { payload, annotations: layerAnnotations('sig-manifest.json', dir) }
  /** The verdict on a signature of this index, expecting the release workflow's identity. */
  const verifyRelease = (sig: LegacySignature, options?: VerifyOptions) =>
    verifyLegacySignature(sig, digest, trust, keyless(identity, issuer), options)

  it('signs the index digest in the INDEX', () => {
    expect(digest).toBe('sha256:c05263d2ff654c3a94243662440913f045075d59c436e2c69e9145ec2b87a321')
  })

  it('converts to a v0.1 bundle with the Rekor SET as the inclusion promise', () => {
    const bundle = legacyToBundle(good)
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle+json;version=0.1')
    const entry = bundle.verificationMaterial.tlogEntries[0]
    expect(entry?.kindVersion).toEqual({ kind: 'hashedrekord', version: '0.0.1' })
    expect(entry?.logIndex).toBe('1004096555')
    expect(entry?.inclusionPromise?.signedEntryTimestamp.length).toBeGreaterThan(0)
    expect(bundle.verificationMaterial.content.$case).toBe('x509CertificateChain')
  })

  it('accepts the signature with the release workflow identity', () => {
    const v = verifyRelease(good)
    expect(v).toMatchObject({
      ok: true,
      signer: { san: identity, issuer },
      rekor: { logIndex: 1004096555, integratedTime: 1772216446 },
    })
    expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.8']).toBe(issuer)
    expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.1']).toBe(issuer)
  })

  it('rejects another identity, and another issuer', () => {
    const other = identity.replace('v0.0.30', 'v0.0.31')
    const v = verifyLegacySignature(good, digest, trust, keyless(other, issuer))
    expect(v.ok).toBe(false)
    expect(v.reason).toContain(`expected identity ${other}`)
    expect(v.reason).toContain(`got ${identity}`)
    const w = verifyLegacySignature(
      good,
      digest,
      trust,
      keyless(identity, 'https://accounts.google.com'),
    )
    expect(w.ok).toBe(false)
    expect(w.reason).toContain(`got ${issuer}`)
  })

  it('rejects a tampered payload', () => {
    const tampered = read('_derived', dir, 'NEG-simplesigning-payload.tampered-reference.json')
    const v = verifyRelease({ ...good, payload: tampered })
    expect(v.ok).toBe(false)
  })

  it('rejects a different index digest (compact JSON)', () => {
    const other = sha256(read('_derived', dir, 'NEG-image-index.compact-different-digest.json'))
    const v = verifyLegacySignature(good, other, trust, keyless(identity, issuer))
    expect(v.ok).toBe(false)
    expect(v.reason).toContain(`expected docker-manifest-digest ${other}, got ${digest}`)
  })

  it('rejects a modified SET integratedTime', () => {
    const annotations = layerAnnotations('NEG-sig-manifest.set-integratedTime-modified.json', dir)
    const v = verifyRelease({ payload, annotations })
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/inclusion promise/)
  })

  it('rejects a signature without the Rekor bundle (short-lived cert, no trusted time)', () => {
    const annotations = layerAnnotations('NEG-sig-manifest.no-rekor-bundle.json', dir)
    const sig = { payload, annotations }
    expect(verifyRelease(sig).ok).toBe(false)
    // Not even when the tlog is optional: the certificate still needs a trusted signing time.
    const v = verifyRelease(sig, { requireTlog: false })
    expect(v.ok).toBe(false)
  })

  it('accepts a signature without the chain annotation (intermediates come from the trusted root)', () => {
    const annotations = layerAnnotations('NEG-sig-manifest.no-chain.json', dir)
    const v = verifyRelease({ payload, annotations })
    expect(v.ok).toBe(true)
  })

  it('rejects a Rekor entry transplanted from another signature', () => {
    const cloud = layerAnnotations('sig-manifest.json', 'salrashid123-cosign_bazel_cloud_build', 1)
    const annotations = {
      ...good.annotations,
      'dev.sigstore.cosign/bundle': cloud['dev.sigstore.cosign/bundle'] ?? '',
    }
    const v = verifyRelease({ payload, annotations })
    expect(v.ok).toBe(false)
  })

  it('issue 8.6: is rejected when an RFC 3161 timestamp is required (a root without a log): the Rekor SET does not stand in for one', () => {
    const v = verifyRelease(good, { requireTlog: false, requireTimestamp: true })
    expect(v.ok).toBe(false)
    expect(v.reason).toBe('expected an RFC 3161 timestamp, got none')
  })

  it('rejects the signature when a key is expected', () => {
    const v = verifyLegacySignature(
      good,
      digest,
      trust,
      key('containers-image/signature/fixtures/cosign.pub'),
    )
    expect(v.ok).toBe(false)
  })
})

describe('containers/image fixtures', () => {
  const unpacked = (c: string): LegacySignature => ({
    payload: read('_derived/containers-image-unpacked', c, 'signature-1/payload.bin'),
    annotations: json<{ annotations: Record<string, string> }>(
      '_derived/containers-image-unpacked',
      c,
      'signature-1/annotations.json',
    ).annotations,
  })
  const manifestDigest = (c: string): string =>
    sha256(read('containers-image/signature/fixtures', c, 'manifest.json'))
  const cosignPub = key('containers-image/signature/fixtures/cosign.pub')
  const cosign2Pub = key('containers-image/signature/fixtures/cosign2.pub')

  describe('dir-img-cosign-fulcio-rekor-valid (PG Fulcio, email, issuer in the deprecated .1 extension)', () => {
    const c = 'dir-img-cosign-fulcio-rekor-valid'
    const github = 'https://github.com/login/oauth'

    it('is accepted for mitr@redhat.com', () => {
      const digest = manifestDigest(c)
      expect(digest.startsWith('sha256:0489474d')).toBe(true)
      const v = verifyLegacySignature(
        unpacked(c),
        digest,
        trust,
        keyless('mitr@redhat.com', github),
      )
      expect(v).toMatchObject({
        ok: true,
        signer: { san: 'mitr@redhat.com', issuer: github },
        rekor: { logIndex: 11605770, integratedTime: 1674247893 },
      })
      expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.8']).toBeUndefined()
    })

    it('is rejected for another email', () => {
      const v = verifyLegacySignature(
        unpacked(c),
        manifestDigest(c),
        trust,
        keyless('this-does-not-match@example.com', github),
      )
      expect(v.ok).toBe(false)
      expect(v.reason).toContain('got mitr@redhat.com')
    })

    it('is rejected without the SET, or without the certificate', () => {
      const sig = unpacked(c)
      const noSet = { ...sig.annotations }
      delete noSet['dev.sigstore.cosign/bundle']
      const e = keyless('mitr@redhat.com', github)
      expect(
        verifyLegacySignature({ ...sig, annotations: noSet }, manifestDigest(c), trust, e).ok,
      ).toBe(false)
      const noCert = { ...sig.annotations }
      delete noCert['dev.sigstore.cosign/certificate']
      expect(
        verifyLegacySignature({ ...sig, annotations: noCert }, manifestDigest(c), trust, e).ok,
      ).toBe(false)
    })
  })

  describe('dir-img-cosign-key-rekor-valid (key cosign2.pub + PG Rekor SET)', () => {
    const c = 'dir-img-cosign-key-rekor-valid'

    it('is accepted with cosign2.pub, with the Rekor entry verified', () => {
      const v = verifyLegacySignature(unpacked(c), manifestDigest(c), trust, cosign2Pub)
      expect(v).toMatchObject({
        ok: true,
        rekor: { logIndex: 11608800, integratedTime: 1674251859 },
      })
    })

    it('is rejected with cosign.pub', () => {
      const v = verifyLegacySignature(unpacked(c), manifestDigest(c), trust, cosignPub)
      expect(v.ok).toBe(false)
    })

    it('is rejected when its SET is transplanted onto dir-img-cosign-valid', () => {
      const other = unpacked('dir-img-cosign-valid')
      const annotations = {
        ...other.annotations,
        'dev.sigstore.cosign/bundle': unpacked(c).annotations['dev.sigstore.cosign/bundle'] ?? '',
      }
      const v = verifyLegacySignature(
        { ...other, annotations },
        manifestDigest('dir-img-cosign-valid'),
        trust,
        cosignPub,
      )
      expect(v.ok).toBe(false)
    })
  })

  describe('dir-img-cosign-valid (key cosign.pub, no Rekor)', () => {
    const c = 'dir-img-cosign-valid'

    it('is accepted with cosign.pub when Rekor is not required', () => {
      const digest = manifestDigest(c)
      expect(digest.startsWith('sha256:634a8f35')).toBe(true)
      const v = verifyLegacySignature(unpacked(c), digest, trust, cosignPub, { requireTlog: false })
      expect(v.ok).toBe(true)
      expect(v.rekor).toBeUndefined()
    })

    it('is rejected when Rekor is required (the default)', () => {
      const v = verifyLegacySignature(unpacked(c), manifestDigest(c), trust, cosignPub)
      expect(v.ok).toBe(false)
      expect(v.reason).toMatch(/tlog/)
    })

    it('is rejected with cosign2.pub, and against a modified manifest', () => {
      expect(
        verifyLegacySignature(unpacked(c), manifestDigest(c), trust, cosign2Pub, {
          requireTlog: false,
        }).ok,
      ).toBe(false)
      const modified = manifestDigest('dir-img-cosign-modified-manifest')
      const v = verifyLegacySignature(unpacked(c), modified, trust, cosignPub, {
        requireTlog: false,
      })
      expect(v.ok).toBe(false)
      expect(v.reason).toContain('expected docker-manifest-digest')
    })
  })
})

describe('cloud build two-layer signature (salrashid123/cosign_bazel_cloud_build)', () => {
  const dir = 'salrashid123-cosign_bazel_cloud_build'
  const payload = read('_derived', dir, 'simplesigning-payload.json')
  // The image manifest is not published: compare with the digest the INDEX names.
  const digest = 'sha256:a2b109fb9baea555556561317fdd13cef9c3dfac22c8f8fea0c5a0b06ece9d00'
  const sa = 'cosign-svc-account@mineral-minutia-820.iam.gserviceaccount.com'

  it('layer 0 (GCP KMS key, no Rekor) is accepted with kms_pub.pem', () => {
    const sig = { payload, annotations: layerAnnotations('sig-manifest.json', dir, 0) }
    expect(
      verifyLegacySignature(sig, digest, trust, key('_derived', dir, 'kms_pub.pem'), {
        requireTlog: false,
      }).ok,
    ).toBe(true)
    expect(verifyLegacySignature(sig, digest, trust, key('_derived', dir, 'kms_pub.pem')).ok).toBe(
      false,
    )
  })

  it('layer 1 (keyless Google service account) is accepted', () => {
    const sig = { payload, annotations: layerAnnotations('sig-manifest.json', dir, 1) }
    const v = verifyLegacySignature(sig, digest, trust, keyless(sa, 'https://accounts.google.com'))
    expect(v).toMatchObject({ ok: true, signer: { san: sa }, rekor: { logIndex: 19941761 } })
  })
})
