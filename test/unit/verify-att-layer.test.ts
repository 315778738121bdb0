/**
 * Legacy `.att` verification against real published cosign attestations (fixtures/real-world,
 * INDEX.md section 3: slsa-verifier's `cosign save` layouts; section 2c: a key-based attestation),
 * with the verdicts `cosign verify-attestation` / slsa-verifier give them.
 */
import { createHash, createPublicKey, generateKeyPairSync } from 'node:crypto'
import type { Expectation } from '../../src/verify/common'
import {
  legacyAttestationToBundle,
  verifyLegacyAttestation,
  type LegacyAttestation,
} from '../../src/verify/att-layer'
import {
  GITHUB_ACTIONS_ISSUER as GHA,
  keylessExpectation as keyless,
  readRealWorld as read,
  realWorldJson as json,
  trustMaterialOf,
} from '../infra/real-world'

const pg = trustMaterialOf('root-signing/targets/trusted_root.json')

const BUILDER =
  /^https:\/\/github\.com\/slsa-framework\/slsa-github-generator\/\.github\/workflows\/generator_container_slsa3\.yml@refs\/tags\/v.*$/
const slsa = keyless(BUILDER)

interface Descriptor {
  digest: string
  mediaType: string
  annotations?: Record<string, string>
}

/** The `.att` layer and the expected image digest from one `cosign save` layout. */
function loadLayout(version: string): { att: LegacyAttestation; digest: string } {
  const base = ['slsa-verifier/cli/slsa-verifier/testdata/gha_generic_container', version]
  const dir = [...base, 'container_workflow_dispatch']
  const blob = (digest: string): Buffer => read(...dir, 'blobs/sha256', digest.slice(7))
  const index = json<{ manifests: Descriptor[] }>(...dir, 'index.json')
  const atts = index.manifests.find((m) => m.annotations?.kind === 'dev.cosignproject.cosign/atts')
  if (!atts) throw new Error(`no attestation manifest in ${version}`)
  const manifest = JSON.parse(blob(atts.digest).toString('utf8')) as { layers: Descriptor[] }
  expect(manifest.layers).toHaveLength(1)
  const layer = manifest.layers[0]
  if (!layer) throw new Error(`no layer in ${version}`)
  expect(layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json')
  return {
    att: { envelope: blob(layer.digest), annotations: layer.annotations ?? {} },
    digest: read(...base, 'container_workflow_dispatch.digest')
      .toString('utf8')
      .trim(),
  }
}

const VERSIONS = [
  { version: 'v1.4.0', kind: 'intoto', apiVersion: '0.0.1', logIndex: 10957770 },
  { version: 'v1.10.0', kind: 'dsse', apiVersion: '0.0.1', logIndex: 80008005 },
  { version: 'v2.1.0', kind: 'dsse', apiVersion: '0.0.1', logIndex: 174304112 },
]
const layouts = Object.fromEntries(VERSIONS.map((v) => [v.version, loadLayout(v.version)]))
const layout = (version: string): { att: LegacyAttestation; digest: string } => {
  const l = layouts[version]
  if (!l) throw new Error(`no layout ${version}`)
  return l
}

interface Envelope {
  payloadType: string
  payload: string
  signatures: { keyid?: string; sig: string }[]
}
/** The fields of the converted bundle the tests look at. */
interface ConvertedBundle {
  mediaType: string
  dsseEnvelope: Envelope
  verificationMaterial: {
    x509CertificateChain: { certificates: { rawBytes: string }[] }
    tlogEntries: {
      logIndex: string
      logId: { keyId: string }
      kindVersion: { kind: string; version: string }
      inclusionPromise: { signedEntryTimestamp: string }
    }[]
  }
}

/** The envelope with `edit` applied to its parsed JSON, re-serialised. */
const editEnvelope = (att: LegacyAttestation, edit: (e: Envelope) => void): LegacyAttestation => {
  const e = JSON.parse(att.envelope.toString('utf8')) as Envelope
  edit(e)
  return { ...att, envelope: Buffer.from(JSON.stringify(e)) }
}
/** Flips one byte in the middle of a base64 field's decoded bytes. */
const flip = (b64: string): string => {
  const bytes = Buffer.from(b64, 'base64')
  const i = Math.floor(bytes.length / 2)
  bytes[i] ^= 0x01
  return bytes.toString('base64')
}
interface RekorSet {
  SignedEntryTimestamp: string
  Payload: { body: string; integratedTime: number; logIndex: number; logID: string }
}
const SET = 'dev.sigstore.cosign/bundle'
/** The layer with `edit` applied to its parsed `dev.sigstore.cosign/bundle` annotation. */
const editSet = (att: LegacyAttestation, edit: (s: RekorSet) => void): LegacyAttestation => {
  const set = JSON.parse(att.annotations[SET] ?? '') as RekorSet
  edit(set)
  return { ...att, annotations: { ...att.annotations, [SET]: JSON.stringify(set) } }
}
const withoutAnnotation = (att: LegacyAttestation, name: string): LegacyAttestation => {
  const annotations = { ...att.annotations }
  delete annotations[name]
  return { ...att, annotations }
}

describe('slsa-github-generator container provenance (cosign save layouts)', () => {
  it('converts each layer to a v0.1 DSSE bundle with the Rekor SET as the inclusion promise', () => {
    for (const { version, kind, apiVersion, logIndex } of VERSIONS) {
      const { att } = layout(version)
      const b = legacyAttestationToBundle(att) as ConvertedBundle
      expect(b.mediaType).toBe('application/vnd.dev.sigstore.bundle+json;version=0.1')
      expect(b.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')
      expect(b.dsseEnvelope.signatures).toHaveLength(1)
      expect(b.verificationMaterial.x509CertificateChain.certificates.length).toBeGreaterThan(0)
      const entry = b.verificationMaterial.tlogEntries[0]
      expect(entry.kindVersion).toEqual({ kind, version: apiVersion })
      expect(entry.logIndex).toBe(String(logIndex))
      // PG Rekor's log ID (INDEX: c0d23d6a…801d).
      expect(Buffer.from(entry.logId.keyId, 'base64').toString('hex')).toMatch(/^c0d23d6a.*801d$/)
      expect(entry.inclusionPromise.signedEntryTimestamp.length).toBeGreaterThan(0)
    }
  })

  it.each(VERSIONS)('$version is accepted for the slsa-github-generator builder', (c) => {
    const { att, digest } = layout(c.version)
    const v = verifyLegacyAttestation(att, digest, pg, slsa)
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('https://slsa.dev/provenance/v0.2')
    expect(v.signer?.san).toMatch(BUILDER)
    expect(v.signer?.san).toContain(`@refs/tags/${c.version}`)
    expect(v.signer?.issuer).toBe(GHA)
    // The deprecated repository extension: the only source-repo field the 2023 certificate has.
    expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.5']).toBe('slsa-framework/example-package')
    expect(v.rekor?.logIndex).toBe(c.logIndex)
    expect(v.timestamps).toBe(1)
    expect(v.statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v0.1' })
  })

  it('is rejected for another identity (intoto 0.0.1 and dsse layers)', () => {
    const other = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'
    for (const version of ['v1.4.0', 'v1.10.0']) {
      const { att, digest } = layout(version)
      const v = verifyLegacyAttestation(att, digest, pg, keyless(other))
      expect(v.ok).toBe(false)
      expect(v.reason).toContain(`expected identity ${other}`)
      expect(v.reason).toContain(
        `got https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/${version}`,
      )
    }
  })

  it('is rejected for another issuer', () => {
    const { att, digest } = layout('v2.1.0')
    const v = verifyLegacyAttestation(
      att,
      digest,
      pg,
      keyless(BUILDER, 'https://accounts.google.com'),
    )
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('expected issuer')
    expect(v.reason).toContain(`got ${GHA}`)
  })

  it("is rejected for another version's image digest", () => {
    for (const [version, otherVersion] of [
      ['v1.4.0', 'v1.10.0'],
      ['v1.10.0', 'v2.1.0'],
    ] as const) {
      const { att, digest } = layout(version)
      const other = layout(otherVersion).digest
      const v = verifyLegacyAttestation(att, other, pg, slsa)
      expect(v.ok).toBe(false)
      expect(v.reason).toBe(
        `expected a statement subject with digest ${other}, got sha256 ${digest.slice(7)}`,
      )
    }
  })

  it.each([
    // dsse: @sigstore/verify compares the statement's hash with the one Rekor logged.
    ['v1.10.0', /^signature verification failed: DSSE payload hash mismatch/],
    // intoto 0.0.1: the envelope hash, checked here, fails first.
    ['v1.4.0', /^expected the Rekor entry to record the layer's envelope hash sha256:/],
  ])('%s is rejected with a tampered statement', (version, reason) => {
    const { att, digest } = layout(version)
    const tampered = editEnvelope(att, (e) => (e.payload = flip(e.payload)))
    const v = verifyLegacyAttestation(tampered, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(reason)
  })

  it.each([
    // dsse: @sigstore/verify compares the signature with the one Rekor logged.
    ['v2.1.0', /^signature verification failed: tlog entry signature mismatch/],
    // intoto 0.0.1 logs no signature, only the hash of the envelope that holds it.
    ['v1.4.0', /^expected the Rekor entry to record the layer's envelope hash sha256:/],
  ])('%s is rejected with a tampered signature', (version, reason) => {
    const { att, digest } = layout(version)
    const tampered = editEnvelope(att, (e) => {
      const [sig] = e.signatures
      if (sig) sig.sig = flip(sig.sig)
    })
    const v = verifyLegacyAttestation(tampered, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(reason)
  })

  it('v1.4.0 (intoto 0.0.1) is rejected when its Rekor entry names another certificate', () => {
    // The v1.4.0 envelope and SET with the v2.1.0 leaf: SET and envelope hash hold, the key does not.
    const { att, digest } = layout('v1.4.0')
    const cert = 'dev.sigstore.cosign/certificate'
    const swapped = {
      ...att,
      annotations: { ...att.annotations, [cert]: layout('v2.1.0').att.annotations[cert] ?? '' },
    }
    const v = verifyLegacyAttestation(swapped, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toBe(
      'expected the Rekor entry to name the signing certificate or key, got another',
    )
  })

  it('is rejected when the layer bytes are re-serialised (cosign compares the envelope hash)', () => {
    const { att, digest } = layout('v2.1.0')
    // Same payload and signature, keys in another order: the DSSE signature still verifies, but
    // Rekor logged other bytes.
    const e = JSON.parse(att.envelope.toString('utf8')) as Envelope
    const reordered = Buffer.from(
      JSON.stringify({ signatures: e.signatures, payload: e.payload, payloadType: e.payloadType }),
    )
    const v = verifyLegacyAttestation({ ...att, envelope: reordered }, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain("expected the Rekor entry to record the layer's envelope hash")
    expect(v.statement).toBeUndefined()
  })

  it('is rejected without the SET annotation, even when Rekor is not required', () => {
    for (const version of ['v1.4.0', 'v1.10.0']) {
      const { att, digest } = layout(version)
      const bare = withoutAnnotation(att, SET)
      const v = verifyLegacyAttestation(bare, digest, pg, slsa)
      expect(v.ok).toBe(false)
      expect(v.reason).toBe(
        'expected a Rekor entry (the dev.sigstore.cosign/bundle annotation), got none',
      )
      // A short-lived certificate needs a trusted time, which only the SET gives here.
      const w = verifyLegacyAttestation(bare, digest, pg, slsa, { requireTlog: false })
      expect(w.ok).toBe(false)
      expect(w.reason).toMatch(/expected 1 timestamps, got 0/)
    }
  })

  it('is rejected with a modified SET integratedTime (intoto 0.0.1 and dsse layers)', () => {
    for (const version of ['v1.4.0', 'v1.10.0']) {
      const { att, digest } = layout(version)
      const edited = editSet(att, (set) => (set.Payload.integratedTime += 1))
      const v = verifyLegacyAttestation(edited, digest, pg, slsa)
      expect(v.ok).toBe(false)
      expect(v.reason).toBe(
        'signature verification failed: inclusion promise could not be verified',
      )
    }
  })

  it('is rejected without the certificate annotation', () => {
    const { att, digest } = layout('v1.10.0')
    const v = verifyLegacyAttestation(
      withoutAnnotation(att, 'dev.sigstore.cosign/certificate'),
      digest,
      pg,
      slsa,
    )
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('expected a Fulcio certificate (keyless)')
    expect(v.reason).toContain('dev.sigstore.cosign/certificate')
  })

  it('is rejected when a public key is expected', () => {
    const { att, digest } = layout('v2.1.0')
    const kms = createPublicKey(read('_derived/salrashid123-cosign_bazel_cloud_build/kms_pub.pem'))
    const v = verifyLegacyAttestation(att, digest, pg, { kind: 'key', publicKey: kms })
    expect(v.ok).toBe(false)
    expect(v.reason).toBe('expected a key-based signature, got a certificate')
  })

  it('is rejected with a Rekor entry of a kind an attestation cannot have', () => {
    const { att, digest } = layout('v2.1.0')
    const edited = editSet(att, (set) => {
      const body = JSON.parse(Buffer.from(set.Payload.body, 'base64').toString('utf8')) as {
        kind: string
      }
      body.kind = 'hashedrekord'
      set.Payload.body = Buffer.from(JSON.stringify(body)).toString('base64')
    })
    const v = verifyLegacyAttestation(edited, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('unsupported Rekor entry kind hashedrekord 0.0.1')
  })

  it.each([
    ['not JSON', Buffer.from('not json {'), 'the DSSE envelope is not JSON'],
    ['no signature', null, 'expected 1 DSSE signature in the envelope, got 0'],
  ])('a malformed envelope (%s) is rejected without throwing', (_name, bytes, reason) => {
    const { att, digest } = layout('v1.10.0')
    const bad = bytes ? { ...att, envelope: bytes } : editEnvelope(att, (e) => (e.signatures = []))
    const v = verifyLegacyAttestation(bad, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toBe(`malformed attestation layer: ${reason}`)
    expect(() => legacyAttestationToBundle(bad)).toThrow(reason)
  })

  it('a malformed SET annotation is rejected without throwing', () => {
    const { att, digest } = layout('v1.4.0')
    const bad = { ...att, annotations: { ...att.annotations, 'dev.sigstore.cosign/bundle': '{' } }
    const v = verifyLegacyAttestation(bad, digest, pg, slsa)
    expect(v.ok).toBe(false)
    expect(v.reason).toBe('malformed attestation layer: the Rekor bundle annotation is not JSON')
  })
})

describe('key-based cosign attestation (salrashid123/cosign_bazel_cloud_build, GCP KMS)', () => {
  const dir = '_derived/salrashid123-cosign_bazel_cloud_build'
  const envelope = read(dir, 'attestation-kms.dsse.json')
  const statement = JSON.parse(
    Buffer.from(JSON.parse(envelope.toString('utf8')).payload, 'base64').toString('utf8'),
  )
  const digest = `sha256:${statement.subject[0].digest.sha256}`
  const att: LegacyAttestation = {
    envelope,
    annotations: { 'dev.cosignproject.cosign/signature': '' },
  }
  const kms: Expectation = { kind: 'key', publicKey: createPublicKey(read(dir, 'kms_pub.pem')) }

  it('is accepted with kms_pub.pem when Rekor is not required', () => {
    expect(digest).toBe('sha256:a2b109fb9baea555556561317fdd13cef9c3dfac22c8f8fea0c5a0b06ece9d00')
    const v = verifyLegacyAttestation(att, digest, pg, kms, { requireTlog: false })
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('cosign.sigstore.dev/attestation/v1')
    expect(v.rekor).toBeUndefined()
  })

  it('is rejected when Rekor is required (the default)', () => {
    const v = verifyLegacyAttestation(att, digest, pg, kms)
    expect(v.ok).toBe(false)
    expect(v.reason).toContain('expected a Rekor entry')
  })

  it('is rejected with another key, and with a tampered statement', () => {
    const other: Expectation = {
      kind: 'key',
      publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey,
    }
    const v = verifyLegacyAttestation(att, digest, pg, other, { requireTlog: false })
    expect(v.ok).toBe(false)
    expect(v.reason).toBe('signature verification failed: signature verification failed')
    const tampered = editEnvelope(att, (e) => (e.payload = flip(e.payload)))
    const w = verifyLegacyAttestation(tampered, digest, pg, kms, { requireTlog: false })
    expect(w.ok).toBe(false)
    expect(w.reason).toMatch(/^signature verification failed/)
  })

  it('is rejected for another digest, and for a keyless expectation', () => {
    const other = `sha256:${createHash('sha256').update('other').digest('hex')}`
    const v = verifyLegacyAttestation(att, other, pg, kms, { requireTlog: false })
    expect(v.ok).toBe(false)
    expect(v.reason).toContain(`expected a statement subject with digest ${other}`)
    const w = verifyLegacyAttestation(att, digest, pg, slsa, { requireTlog: false })
    expect(w.ok).toBe(false)
    expect(w.reason).toContain('expected a Fulcio certificate (keyless)')
  })
})
