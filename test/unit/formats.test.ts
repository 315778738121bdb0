import {
  appendLegacyLayers,
  attestationTag,
  hasLayer,
  legacyAnnotations,
  LEGACY_ANNOTATIONS,
  rekorBundleAnnotation,
  signatureTag,
  uploadedLayer,
} from '../../src/formats/cosign-tags'
import { BUNDLE_V03_MEDIA_TYPE as SIGSTORE_BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle'
import { digestTagStem, sha256Digest } from '../../src/formats/digest'
import {
  addToFallbackIndex,
  buildBundleReferrer,
  BUNDLE_V03_MEDIA_TYPE,
  referrersFallbackTag,
  rfc3339Seconds,
} from '../../src/formats/referrers'
import {
  buildSimpleSigningPayload,
  parseSimpleSigningPayload,
  SIMPLE_SIGNING_MEDIA_TYPE,
} from '../../src/formats/simple-signing'
import {
  buildAttestationStatement,
  buildSignatureStatement,
  COSIGN_SIGN_PREDICATE_TYPE,
  serializeAttestationStatement,
} from '../../src/formats/statement'
import type { TransparencyLogEntry } from '@sigstore/bundle'

const DIGEST = `sha256:${'ab'.repeat(32)}`

describe('simple signing payload', () => {
  it('has exactly the keys containers/image accepts, in cosign order', () => {
    const bytes = buildSimpleSigningPayload('registry.example/acme/app', DIGEST)
    expect(bytes.toString()).toBe(
      `{"critical":{"identity":{"docker-reference":"registry.example/acme/app"},"image":{"docker-manifest-digest":"${DIGEST}"},"type":"cosign container image signature"},"optional":null}`,
    )
  })

  it('records annotations in optional, as cosign -a does', () => {
    const payload = parseSimpleSigningPayload(
      buildSimpleSigningPayload('r/a', DIGEST, { team: 'core', env: 'prod' }),
    )
    expect(payload?.optional).toEqual({ team: 'core', env: 'prod' })
  })

  it('refuses payloads of another type', () => {
    expect(parseSimpleSigningPayload(Buffer.from('{"critical":{"type":"x"}}'))).toBeUndefined()
    expect(parseSimpleSigningPayload(Buffer.from('not json'))).toBeUndefined()
  })
})

describe('tags', () => {
  it('derives cosign and referrers tags from the digest', () => {
    expect(signatureTag(DIGEST)).toBe(`sha256-${'ab'.repeat(32)}.sig`)
    expect(attestationTag(DIGEST)).toBe(`sha256-${'ab'.repeat(32)}.att`)
    expect(referrersFallbackTag(DIGEST)).toBe(`sha256-${'ab'.repeat(32)}`)
    expect(digestTagStem(`sha512:${'c'.repeat(128)}`)).toBe(`sha512-${'c'.repeat(64)}`)
  })
})

const entry: TransparencyLogEntry = {
  logIndex: '42',
  logId: { keyId: Buffer.from('c0d23d6a', 'hex') },
  kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
  integratedTime: '1700000000',
  inclusionPromise: { signedEntryTimestamp: Buffer.from('set-bytes') },
  canonicalizedBody: Buffer.from('{"body":true}'),
} as TransparencyLogEntry

describe('legacy annotations', () => {
  it("writes cosign's Rekor bundle with Go field names and numbers", () => {
    const parsed = JSON.parse(rekorBundleAnnotation(entry))
    expect(parsed).toEqual({
      SignedEntryTimestamp: Buffer.from('set-bytes').toString('base64'),
      Payload: {
        body: Buffer.from('{"body":true}').toString('base64'),
        integratedTime: 1700000000,
        logIndex: 42,
        logID: 'c0d23d6a',
      },
    })
    expect(Object.keys(parsed.Payload)).toEqual(['body', 'integratedTime', 'logIndex', 'logID'])
  })

  it('refuses an entry without a signed entry timestamp', () => {
    expect(() => rekorBundleAnnotation({ ...entry, inclusionPromise: undefined })).toThrow(
      /signed entry timestamp/,
    )
  })

  it('names certificate and chain only for keyless signatures', () => {
    const keyed = legacyAnnotations({ signature: Buffer.from('sig'), tlogEntry: entry })
    expect(Object.keys(keyed).sort()).toEqual(
      [LEGACY_ANNOTATIONS.signature, LEGACY_ANNOTATIONS.rekorBundle].sort(),
    )
    const keyless = legacyAnnotations({
      signature: Buffer.from('sig'),
      certificatePem: 'LEAF',
      chainPem: 'CHAIN',
      rfc3161Timestamp: Buffer.from('ts'),
    })
    expect(keyless[LEGACY_ANNOTATIONS.certificate]).toBe('LEAF')
    expect(keyless[LEGACY_ANNOTATIONS.chain]).toBe('CHAIN')
    expect(JSON.parse(keyless[LEGACY_ANNOTATIONS.timestamp])).toEqual({
      SignedRFC3161Timestamp: Buffer.from('ts').toString('base64'),
    })
    expect(keyless[LEGACY_ANNOTATIONS.signature]).toBe(Buffer.from('sig').toString('base64'))
  })
})

describe('appending legacy layers', () => {
  const layer = (n: string) => ({
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    bytes: Buffer.from(`payload-${n}`),
    annotations: { [LEGACY_ANNOTATIONS.signature]: n },
  })

  it('creates a manifest whose config tracks every layer', () => {
    const parts = appendLegacyLayers(undefined, [layer('a')])!
    expect(parts.manifest.layers).toHaveLength(1)
    expect(parts.manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json')
    expect(parts.manifest.subject).toBeUndefined()
    const config = JSON.parse(parts.config.toString())
    expect(config.rootfs.diff_ids).toEqual([sha256Digest('payload-a')])
    expect(parts.manifest.config.digest).toBe(sha256Digest(parts.config))
    expect(parts.blobs.map((b) => b.bytes.toString())).toContain('payload-a')
  })

  it('keeps existing layers untouched and appends new ones', () => {
    const first = appendLegacyLayers(undefined, [layer('a')])!
    const second = appendLegacyLayers(first.manifest, [layer('b')])!
    expect(
      second.manifest.layers.map((l) => l.annotations?.[LEGACY_ANNOTATIONS.signature]),
    ).toEqual(['a', 'b'])
    expect(second.manifest.layers[0]).toEqual(first.manifest.layers[0])
    expect(JSON.parse(second.config.toString()).rootfs.diff_ids).toHaveLength(2)
    // only the new layer and the new config need uploading
    expect(second.blobs).toHaveLength(2)
  })

  it('never duplicates an identical signature', () => {
    const first = appendLegacyLayers(undefined, [layer('a')])!
    expect(hasLayer(first.manifest, layer('a'))).toBe(true)
    expect(appendLegacyLayers(first.manifest, [layer('a')])).toBeUndefined()
    // same payload, another signature: a different signature, so appended
    const other = { ...layer('a'), annotations: { [LEGACY_ANNOTATIONS.signature]: 'other' } }
    expect(appendLegacyLayers(first.manifest, [other])?.manifest.layers).toHaveLength(2)
  })

  it('issue 11: names an uploaded layer (no bytes held) as it names the layer itself', () => {
    const existing = appendLegacyLayers(undefined, [layer('a')])!.manifest
    const full = appendLegacyLayers(existing, [layer('b')])!
    const uploaded = appendLegacyLayers(existing, [uploadedLayer(layer('b'))])!
    expect(uploaded.manifest).toEqual(full.manifest)
    expect(uploaded.manifestBytes).toEqual(full.manifestBytes)
    // Only the config is left to push: the layer went up before.
    expect(uploaded.blobs.map((b) => b.mediaType)).toEqual([
      'application/vnd.oci.image.config.v1+json',
    ])
    expect(hasLayer(existing, uploadedLayer(layer('a')))).toBe(true)
    expect(appendLegacyLayers(existing, [uploadedLayer(layer('a'))])).toBeUndefined()
  })
})

describe('bundle referrers', () => {
  it("names bundles by @sigstore/bundle's own v0.3 media type", () => {
    expect(BUNDLE_V03_MEDIA_TYPE).toBe(SIGSTORE_BUNDLE_V03_MEDIA_TYPE)
  })

  const subject = {
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    digest: DIGEST,
    size: 123,
  }
  const bundle = Buffer.from('{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}')

  it('builds the manifest cosign v3 writes', () => {
    const r = buildBundleReferrer(
      bundle,
      subject,
      COSIGN_SIGN_PREDICATE_TYPE,
      new Date('2026-01-02T03:04:05.678Z'),
    )
    expect(r.manifest.artifactType).toBe(BUNDLE_V03_MEDIA_TYPE)
    expect(r.manifest.config).toEqual({
      mediaType: 'application/vnd.oci.empty.v1+json',
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
    })
    expect(r.manifest.layers).toEqual([
      { mediaType: BUNDLE_V03_MEDIA_TYPE, digest: sha256Digest(bundle), size: bundle.length },
    ])
    expect(r.manifest.subject).toEqual(subject)
    expect(r.manifest.annotations).toEqual({
      'org.opencontainers.image.created': '2026-01-02T03:04:05Z',
      'dev.sigstore.bundle.content': 'dsse-envelope',
      'dev.sigstore.bundle.predicateType': COSIGN_SIGN_PREDICATE_TYPE,
    })
    expect(r.descriptor.digest).toBe(sha256Digest(r.manifestBytes))
    expect(r.descriptor.artifactType).toBe(BUNDLE_V03_MEDIA_TYPE)
    expect(r.descriptor.annotations).toEqual(r.manifest.annotations)
  })

  it('adds a referrer to the fallback index once', () => {
    const r = buildBundleReferrer(bundle, subject, COSIGN_SIGN_PREDICATE_TYPE, new Date())
    const first = addToFallbackIndex(undefined, r.descriptor)!
    expect(first.index.mediaType).toBe('application/vnd.oci.image.index.v1+json')
    expect(first.index.manifests).toEqual([r.descriptor])
    expect(addToFallbackIndex(first.index, r.descriptor)).toBeUndefined()
    const other = { ...r.descriptor, digest: sha256Digest('other') }
    expect(addToFallbackIndex(first.index, other)?.index.manifests).toHaveLength(2)
  })

  it('adds several referrers to the fallback index in one new index, each once', () => {
    const r = buildBundleReferrer(bundle, subject, COSIGN_SIGN_PREDICATE_TYPE, new Date())
    const [a, b, c] = ['a', 'b', 'c'].map((n) => ({ ...r.descriptor, digest: sha256Digest(n) }))
    const first = addToFallbackIndex(undefined, a, b, a)!
    expect(first.index.manifests).toEqual([a, b])
    expect(addToFallbackIndex(first.index, b, a)).toBeUndefined()
    expect(addToFallbackIndex(first.index, b, c)?.index.manifests).toEqual([a, b, c])
    expect(addToFallbackIndex(undefined)).toBeUndefined()
  })

  it('formats creation time to the second', () => {
    expect(rfc3339Seconds(new Date('2026-11-21T10:00:00.999Z'))).toBe('2026-11-21T10:00:00Z')
  })
})

describe('signature statement', () => {
  it('is what cosign v3 signs for an image', () => {
    expect(buildSignatureStatement(DIGEST, { a: 'b' })).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ digest: { sha256: 'ab'.repeat(32) }, annotations: { a: 'b' } }],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    })
  })
})

describe('attestation statement', () => {
  it('serialises around a predicate serialised once, to the same bytes as the whole object', () => {
    const predicate = { bomFormat: 'CycloneDX', components: [{ name: 'a"b' }] }
    const whole = JSON.stringify(
      buildAttestationStatement('r.example/a', DIGEST, 'https://cyclonedx.org/bom', predicate),
    )
    const spliced = serializeAttestationStatement(
      'r.example/a',
      DIGEST,
      'https://cyclonedx.org/bom',
      JSON.stringify(predicate),
    )
    expect(spliced.toString()).toBe(whole)
    expect(JSON.parse(whole)).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'r.example/a', digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: 'https://cyclonedx.org/bom',
      predicate,
    })
  })
})
