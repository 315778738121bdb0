/**
 * Bundle (OCI referrer) verification against real published Sigstore bundles (fixtures/real-world,
 * INDEX.md sections 4, 5 and 6), with the verdicts cosign v3 / the sigstore-conformance suite give.
 */
import { createPublicKey } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import type { TrustMaterial } from '@sigstore/verify'
import { verifyImageBundle } from '../../src/verify/bundle'
import type { Expectation } from '../../src/verify/sig-layer'
import {
  GITHUB_ACTIONS_ISSUER as GHA,
  keylessExpectation as keyless,
  readRealWorld as read,
  realWorldJson as json,
  realWorldPath as fx,
  sha256Of as sha256,
  trustMaterialOf as trustFrom,
} from '../infra/real-world'

const pg = trustFrom('root-signing/targets/trusted_root.json')

describe('cosign v3 signature bundles (docker/actions-toolkit)', () => {
  const dir = ['_derived', 'docker-actions-toolkit']
  const san =
    'https://github.com/docker/github-builder-experimental/.github/workflows/build.yml@refs/heads/build-reusable-workflow'
  const cases = [
    { n: 1, manifest: 'manifest1_8fe63f8b0555.json', logIndex: 658949562 },
    { n: 2, manifest: 'manifest2_c6fc458cc871.json', logIndex: 658949873 },
    { n: 3, manifest: 'manifest3_037107d7fd79.json', logIndex: 658989641 },
  ]
  const bundle = (n: number): unknown => json(...dir, `sign-output${n}.bundle.sigstore.json`)
  const digest = (manifest: string): string => sha256(read(...dir, manifest))

  it.each(cases)('accepts bundle $n for its own manifest', ({ n, manifest, logIndex }) => {
    const d = digest(manifest)
    expect(d.slice(7, 19)).toBe(manifest.slice(10, 22))
    const v = verifyImageBundle(bundle(n), d, pg, keyless(san, GHA))
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('https://sigstore.dev/cosign/sign/v1')
    expect(v.signer?.san).toBe(san)
    expect(v.signer?.issuer).toBe(GHA)
    expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.12']).toBe(
      'https://github.com/docker/github-builder-test', // source repository (INDEX: the signing repo)
    )
    expect(v.signer?.extensions?.['1.3.6.1.4.1.57264.1.20']).toBe('workflow_dispatch')
    expect(v.rekor?.logIndex).toBe(logIndex)
    expect(v.timestamps).toBe(2) // Rekor integrated time + PG TSA
    expect(v.statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v1' })
  })

  it.each(cases)('accepts bundle $n with requireTimestamp (it has a TSA timestamp)', (c) => {
    const v = verifyImageBundle(bundle(c.n), digest(c.manifest), pg, keyless(san, GHA), {
      requireTimestamp: true,
    })
    expect(v.ok).toBe(true)
  })

  it.each(cases)('rejects bundle $n for the other manifests (wrong digest)', ({ n }) => {
    for (const other of cases.filter((c) => c.n !== n)) {
      const v = verifyImageBundle(bundle(n), digest(other.manifest), pg, keyless(san, GHA))
      expect(v.ok).toBe(false)
      expect(v.reason).toMatch(/^expected a statement subject with digest sha256:/)
      // The signature itself verified: the rejection is about the subject only.
      expect(v.signer?.san).toBe(san)
    }
  })

  it('rejects another identity and another issuer', () => {
    const d = digest(cases[0].manifest)
    const other = verifyImageBundle(
      bundle(1),
      d,
      pg,
      keyless(
        'https://github.com/docker/github-builder-test/.github/workflows/build.yml@refs/heads/main',
        GHA,
      ),
    )
    expect(other.ok).toBe(false)
    expect(other.reason).toMatch(
      /^expected identity .* got https:\/\/github.com\/docker\/github-builder-experimental/,
    )
    const iss = verifyImageBundle(bundle(1), d, pg, keyless(san, 'https://accounts.google.com'))
    expect(iss.ok).toBe(false)
    expect(iss.reason).toMatch(
      /^expected issuer .* got https:\/\/token.actions.githubusercontent.com$/,
    )
  })

  it('rejects a key expectation for a certificate bundle', () => {
    const v = verifyImageBundle(bundle(1), digest(cases[0].manifest), pg, {
      kind: 'key',
      publicKey: createPublicKey(read('sigstore-go', 'examples', 'publish_key.pub')),
    })
    expect(v).toEqual({ ok: false, reason: 'expected a key-based signature, got a certificate' })
  })

  it('rejects a malformed expected digest', () => {
    const v = verifyImageBundle(bundle(1), 'sha256:ABC', pg, keyless(san, GHA))
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/expected digest is not sha256/)
  })

  it('rejects a tampered payload (statement subject rewritten) and a rewritten payloadType', () => {
    const b = bundle(1) as { dsseEnvelope: { payload: string; payloadType: string } }
    const statement = JSON.parse(Buffer.from(b.dsseEnvelope.payload, 'base64').toString()) as {
      subject: { digest: { sha256: string } }[]
    }
    statement.subject[0].digest.sha256 = digest(cases[1].manifest).slice(7)
    const tampered = {
      ...b,
      dsseEnvelope: {
        ...b.dsseEnvelope,
        payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      },
    }
    const v = verifyImageBundle(tampered, digest(cases[1].manifest), pg, keyless(san, GHA))
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/^signature verification failed/)
    const retyped = { ...b, dsseEnvelope: { ...b.dsseEnvelope, payloadType: 'text/plain' } }
    const w = verifyImageBundle(retyped, digest(cases[0].manifest), pg, keyless(san, GHA))
    expect(w).toEqual({
      ok: false,
      reason: 'expected DSSE payloadType application/vnd.in-toto+json, got text/plain',
    })
  })

  it('accepts the legacy 0.3 media type spelling and rejects 0.4', () => {
    const b = bundle(1) as Record<string, unknown>
    const d = digest(cases[0].manifest)
    const legacy = { ...b, mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.3' }
    expect(verifyImageBundle(legacy, d, pg, keyless(san, GHA)).ok).toBe(true)
    const v04 = { ...b, mediaType: 'application/vnd.dev.sigstore.bundle.v0.4+json' }
    expect(verifyImageBundle(v04, d, pg, keyless(san, GHA))).toEqual({
      ok: false,
      reason: 'unsupported bundle media type "application/vnd.dev.sigstore.bundle.v0.4+json"',
    })
  })

  it('never throws for garbage', () => {
    for (const g of [
      null,
      'x',
      42,
      [],
      {},
      { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
    ]) {
      const v = verifyImageBundle(g, digest(cases[0].manifest), pg, keyless(san, GHA))
      expect(v.ok).toBe(false)
      expect(typeof v.reason).toBe('string')
    }
  })
})

describe("cosign's oci-attestation bundle (pkg/cosign/testdata)", () => {
  const bundle = json<unknown>('cosign/pkg/cosign/testdata/oci-attestation.sigstore.json')
  const trust = trustFrom('cosign/pkg/cosign/testdata/trusted_root_pgi.json')
  const statement = JSON.parse(
    Buffer.from(
      (bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload,
      'base64',
    ).toString(),
  ) as { subject: { digest: { sha256: string } }[] }
  const digest = `sha256:${statement.subject[0].digest.sha256}`

  it('accepts with SAN and issuer regexp .*', () => {
    expect(digest).toMatch(/^sha256:732112270d7e/)
    const v = verifyImageBundle(bundle, digest, trust, keyless(/.*/, /.*/))
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('https://cosign.sigstore.dev/attestation/v1')
    expect(v.signer?.san).toBe('cody@soyland.com')
    expect(v.signer?.issuer).toBe('https://github.com/login/oauth')
    expect(v.rekor?.logIndex).toBe(175508996)
    expect(v.statement).toMatchObject({ _type: 'https://in-toto.io/Statement/v0.1' })
  })

  it('rejects another image digest', () => {
    const v = verifyImageBundle(bundle, `sha256:${'0'.repeat(64)}`, trust, keyless(/.*/, /.*/))
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(
      /^expected a statement subject with digest sha256:0{64}, got sha256 732112270d7e/,
    )
  })

  it('rejects SAN regexp "wrong"', () => {
    const v = verifyImageBundle(bundle, digest, trust, keyless(/wrong/, /.*/))
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/^expected identity/)
  })
})

describe("GitHub's private Sigstore instance (artifact-attestations-opa-provider)", () => {
  const bundle = json<unknown>(
    'artifact-attestations-opa-provider/pkg/fetcher/testdata/valid-bundle.json',
  )
  const gh = trustFrom('kyverno/pkg/image/verifiers/ivpol/cosign/testdata/github-trusted-root.json')
  const digest = 'sha256:d57f9212097b86c8d75158ea1d974721e7c6f8c33bd77838b242c8f6a2d21813'
  const san =
    'https://github.com/github/artifact-attestations-opa-provider/.github/workflows/docker.yaml@refs/pull/31/merge'
  const ghOptions = { requireTlog: false, requireTimestamp: true, requireSct: false }

  it('accepts with the GitHub trusted root, no tlog, a required TSA timestamp and no SCT', () => {
    const v = verifyImageBundle(bundle, digest, gh, keyless(san, GHA), ghOptions)
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('https://slsa.dev/provenance/v1')
    expect(v.rekor).toBeUndefined()
    expect(v.timestamps).toBe(1)
  })

  it('rejects with the default options (a tlog entry is required)', () => {
    const v = verifyImageBundle(bundle, digest, gh, keyless(san, GHA), { requireSct: false })
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/expected 1 tlog entries, got 0/)
  })

  it('rejects against the public-good root (wrong instance)', () => {
    const v = verifyImageBundle(bundle, digest, pg, keyless(san, GHA), ghOptions)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/^signature verification failed/)
  })
})

describe('key-based DSSE bundle (npm publish attestation, sigstore-go/examples)', () => {
  const bundle = json<unknown>('sigstore-go', 'examples', 'bundle-publish.json')
  const key: Expectation = {
    kind: 'key',
    publicKey: createPublicKey(read('sigstore-go', 'examples', 'publish_key.pub')),
  }

  it('verifies with the expected key, then rejects: its subject has no sha256 digest', () => {
    const v = verifyImageBundle(bundle, `sha256:${'a'.repeat(64)}`, pg, key)
    expect(v.ok).toBe(false)
    expect(v.signer).toEqual({})
    expect(v.predicateType).toBe('https://github.com/npm/attestation/tree/main/specs/publish/v0.1')
    expect(v.reason).toMatch(/got sha256 \(none\)$/)
  })

  it('rejects another key', () => {
    const other: Expectation = {
      kind: 'key',
      publicKey: createPublicKey(read('root-signing', 'targets', 'rekor.pub')),
    }
    const v = verifyImageBundle(bundle, `sha256:${'a'.repeat(64)}`, pg, other)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(/^signature verification failed|^expected the Rekor entry/)
  })

  it('rejects a keyless expectation', () => {
    const v = verifyImageBundle(bundle, `sha256:${'a'.repeat(64)}`, pg, keyless(/.*/, /.*/))
    expect(v).toEqual({
      ok: false,
      reason: 'expected a Fulcio certificate (keyless), got a public key',
    })
  })
})

describe('sigstore-conformance bundle-verify cases', () => {
  const base = ['sigstore-conformance', 'test', 'assets', 'bundle-verify']
  const DEFAULT_IDENTITY =
    'https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main'
  const caseFile = (c: string, f: string): string => fx(...base, c, f)
  const load = (c: string): { bundle: unknown; trust: TrustMaterial; expectation: Expectation } => {
    if (!existsSync(fx(...base, c)))
      throw new Error(`conformance case is absent: ${fx(...base, c)}`)
    const text = read(...base, c, 'bundle.sigstore.json').toString('utf8')
    let bundle: unknown
    try {
      bundle = JSON.parse(text)
    } catch {
      bundle = text // malformed JSON reaches the verifier as the raw text
    }
    const opt = (f: string): string | undefined =>
      existsSync(caseFile(c, f)) ? readFileSync(caseFile(c, f), 'utf8').trim() : undefined
    const trust = existsSync(caseFile(c, 'trusted_root.json'))
      ? trustFrom(...base, c, 'trusted_root.json')
      : pg
    return {
      bundle,
      trust,
      expectation: keyless(opt('identity') ?? DEFAULT_IDENTITY, opt('issuer') ?? GHA),
    }
  }
  const subjectDigest = (bundle: unknown): string => {
    const payload = (bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload
    const s = JSON.parse(Buffer.from(payload, 'base64').toString()) as {
      subject: { digest: { sha256: string } }[]
    }
    return `sha256:${s.subject[0].digest.sha256}`
  }
  const A_TXT = 'sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf'

  it('accepts happy-path-intoto-in-dsse-v3 for its subject digest', () => {
    const { bundle, trust, expectation } = load('happy-path-intoto-in-dsse-v3')
    const digest = subjectDigest(bundle)
    expect(digest).toBe(sha256(read(...base, 'a.txt')))
    const v = verifyImageBundle(bundle, digest, trust, expectation)
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
    expect(v.predicateType).toBe('https://slsa.dev/provenance/v1')
    expect(v.rekor?.logIndex).toBe(155690850)
  })

  it('accepts intoto-with-custom-trust-root (intoto 0.0.2 entry, v0.2 chain, TSA)', () => {
    const { bundle, trust, expectation } = load('intoto-with-custom-trust-root')
    const v = verifyImageBundle(bundle, subjectDigest(bundle), trust, expectation)
    expect(v.reason).toBeUndefined()
    expect(v.ok).toBe(true)
  })

  const failing: [string, RegExp][] = [
    ['dsse-invalid-sig_fail', /^signature verification failed/],
    ['dsse-mismatch-envelope_fail', /^signature verification failed/],
    ['dsse-mismatch-sig_fail', /^signature verification failed/],
    ['intoto-log-entry-mismatch_fail', /^signature verification failed/],
    ['intoto-missing-inclusion-proof_fail', /^malformed bundle: invalid v0.2 bundle/],
    ['bundle-from-wrong-instance_fail', /^not an image signature/],
    ['intoto-expired-certificate_fail', /^signature verification failed: .*certificate/],
    [
      'intoto-set-outside-signing-cert-validity_fail',
      /^signature verification failed: .*certificate/,
    ],
    [
      'intoto-tsa-timestamp-outside-cert-validity_fail',
      /^signature verification failed: .*certificate/,
    ],
    ['bundle-malformed-json_fail', /^malformed bundle: not a JSON object/],
    ['bundle-unknown-version_fail', /^unsupported bundle media type .*version=99\.9/],
  ]
  it.each(failing)('rejects %s', (c, reason) => {
    const { bundle, trust, expectation } = load(c)
    let digest = A_TXT
    try {
      digest = subjectDigest(bundle)
    } catch {
      // not DSSE or not parseable: the default artifact
    }
    const v = verifyImageBundle(bundle, digest, trust, expectation)
    expect(v.ok).toBe(false)
    expect(v.reason).toMatch(reason)
  })

  it.each(['happy-path-v0.3', 'happy-path-v0.3-new-mediaType', 'happy-path-v0.1'])(
    'rejects the hashedrekord bundle %s as not an image signature',
    (c) => {
      const { bundle, trust, expectation } = load(c)
      const v = verifyImageBundle(bundle, A_TXT, trust, expectation)
      expect(v).toEqual({
        ok: false,
        reason:
          'not an image signature: the bundle holds a messageSignature, expected a DSSE envelope',
      })
    },
  )
})
