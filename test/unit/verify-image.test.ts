/**
 * The verdict on one image (src/verify/image.ts verifyImage) from a hand-built Discovery of real
 * published bundles (fixtures/real-world, INDEX.md sections 4 and 6): no registry, no network.
 */
import { readFileSync } from 'node:fs'
import {
  parsePolicy,
  policyFromInputs,
  type PolicyInputs,
  type Rule,
} from '../../src/policy/policy'
import { claimedPredicateType, type Discovery, type FoundBundle } from '../../src/storage/discover'
import { platformVerdict, verifyImage, type ImageVerification } from '../../src/verify/image'
import { parseTrustedRootFile, trustRootFrom, type TrustRoot } from '../../src/verify/trust'
import {
  GITHUB_ACTIONS_ISSUER as GHA,
  readRealWorld as read,
  realWorldJson as json,
  realWorldPath,
  sha256Of as sha256,
} from '../infra/real-world'

const rootOf = (...p: string[]): TrustRoot => {
  const roots = parseTrustedRootFile(read(...p).toString('utf8'), p.join('/'))
  expect(roots).toHaveLength(1)
  return roots[0]
}

const PG = rootOf('root-signing/targets/trusted_root.json')
const GITHUB = rootOf('kyverno/pkg/image/verifiers/ivpol/cosign/testdata/github-trusted-root.json')
const COSIGN_SIGN = 'https://sigstore.dev/cosign/sign/v1'
const SLSA_V1 = 'https://slsa.dev/provenance/v1'
const OPTIONS = { keysWithoutTlog: false }

/** The GitHub-instance SLSA provenance attestation of a container image (INDEX.md section 6). */
const OPA = {
  bundle: json('artifact-attestations-opa-provider/pkg/fetcher/testdata/valid-bundle.json'),
  digest: 'sha256:d57f9212097b86c8d75158ea1d974721e7c6f8c33bd77838b242c8f6a2d21813',
  san: 'https://github.com/github/artifact-attestations-opa-provider/.github/workflows/docker.yaml@refs/pull/31/merge',
  reference: 'ghcr.io/github/artifact-attestations-opa-provider@sha256:' + '1'.repeat(64),
}

/** cosign v3 signature bundles of docker/actions-toolkit (INDEX.md section 4). */
const DOCKER_DIR = ['_derived', 'docker-actions-toolkit']
const DOCKER_SAN =
  'https://github.com/docker/github-builder-experimental/.github/workflows/build.yml@refs/heads/build-reusable-workflow'
const dockerBundle = (n: 1 | 2 | 3): unknown =>
  json(...DOCKER_DIR, `sign-output${n}.bundle.sigstore.json`)
const DIGEST1 = sha256(read(...DOCKER_DIR, 'manifest1_8fe63f8b0555.json'))
const DIGEST2 = sha256(read(...DOCKER_DIR, 'manifest2_c6fc458cc871.json'))
const REF1 = 'public.ecr.aws/q3b5f1u4/test-docker-action@sha256:' + 'a'.repeat(64)
const REF2 = 'public.ecr.aws/q3b5f1u4/test-docker-action@sha256:' + 'b'.repeat(64)

/** As discovery reports a bundle referrer: the predicate type it claims, unverified. */
const found = (bundleJson: unknown, reference: string, predicateType?: string): FoundBundle => ({
  reference,
  json: bundleJson,
  predicateType: predicateType ?? claimedPredicateType(bundleJson),
})

const discovery = (bundles: FoundBundle[], notes: string[] = []): Discovery => ({
  signatures: [],
  attestations: [],
  bundles,
  notes,
  referrersFrom: 'api',
})

const ruleOf = (inputs: PolicyInputs): Rule => {
  // Key files are read through a reader, as verify mode's rule files are (the policy reads none).
  const rule = policyFromInputs(inputs, { readFile: (path) => readFileSync(path, 'utf8') })
    ?.rules[0]
  if (!rule) throw new Error('policyFromInputs made no rule')
  return rule
}
const keylessRule = (identity: string, requireAttestations: string[] = []): Rule =>
  ruleOf({ certificateIdentity: identity, certificateOidcIssuer: GHA, requireAttestations })

/** A deep copy of `bundle` with one bit of its DSSE signature flipped. */
function withCorruptSignature(bundle: unknown): unknown {
  const copy = structuredClone(bundle) as {
    dsseEnvelope: { signatures: { sig: string }[] }
  }
  const sig = Buffer.from(copy.dsseEnvelope.signatures[0].sig, 'base64')
  sig[sig.length - 5] ^= 0x01
  copy.dsseEnvelope.signatures[0].sig = sig.toString('base64')
  return copy
}

/** The verdict on manifest 1 of docker/actions-toolkit, found with its cosign v3 bundle. */
const verifyBundle1 = (
  rule: Rule,
  roots: TrustRoot[] = [PG],
  digest = DIGEST1,
): ImageVerification =>
  verifyImage(discovery([found(dockerBundle(1), REF1)]), digest, rule, roots, OPTIONS)

describe('the GitHub-instance SLSA provenance attestation of a container image', () => {
  const verifyOpa = (roots: TrustRoot[], predicateType?: string): ImageVerification =>
    verifyImage(
      discovery([found(OPA.bundle, OPA.reference, predicateType)]),
      OPA.digest,
      // Attestations of a required type are checked; others are only listed.
      keylessRule(OPA.san, ['slsaprovenance']),
      roots,
      OPTIONS,
    )

  it("verifies as an attestation under GitHub's root, reporting its signer from the Fulcio extensions", () => {
    const result = verifyOpa([GITHUB])
    expect(result.attestations).toEqual([
      {
        format: 'bundle',
        reference: OPA.reference,
        verified: true,
        predicateType: SLSA_V1,
        signer: {
          identity: OPA.san,
          issuer: GHA,
          repository: 'https://github.com/github/artifact-attestations-opa-provider',
          workflow: OPA.san,
          ref: 'refs/pull/31/merge',
          trigger: 'pull_request',
          commit: 'f492e8cf01446c41f376aa07656dc4266f154739',
          runnerEnvironment: 'github-hosted',
        },
      },
    ])
  })

  it('does not verify the image: an attestation is not a signature', () => {
    const result = verifyOpa([GITHUB])
    expect(result.verified).toBe(false)
    expect(result.signatures).toEqual([])
    expect(result.reason).toMatch(/^expected a signature, got none/)
    expect(result.signer).toBeUndefined()
  })

  it('stays an attestation when the referrer claims to be a cosign signature', () => {
    const result = verifyOpa([GITHUB], COSIGN_SIGN)
    expect(result.verified).toBe(false)
    expect(result.signatures).toEqual([])
    expect(result.attestations.map((a) => [a.predicateType, a.verified])).toEqual([[SLSA_V1, true]])
  })

  it('does not verify the attestation under the public-good root (its timestamp authority is not trusted there)', () => {
    const result = verifyOpa([PG])
    expect(result.verified).toBe(false)
    expect(result.attestations).toHaveLength(1)
    expect(result.attestations[0]).toMatchObject({
      format: 'bundle',
      reference: OPA.reference,
      verified: false,
      predicateType: SLSA_V1, // as discovery claimed it
    })
    expect(result.attestations[0].reason).toMatch(/^signature verification failed/)
  })

  it('verifies the attestation when both roots are given, public good first', () => {
    const result = verifyOpa([PG, GITHUB])
    expect(result.attestations.map((a) => a.verified)).toEqual([true])
    expect(result.attestations[0].reason).toBeUndefined()
  })

  it('does not verify the attestation for another digest', () => {
    const result = verifyImage(
      discovery([found(OPA.bundle, OPA.reference)]),
      DIGEST1,
      keylessRule(OPA.san, ['slsaprovenance']),
      [GITHUB],
      OPTIONS,
    )
    expect(result.attestations[0].verified).toBe(false)
    expect(result.attestations[0].reason).toMatch(
      /^expected a statement subject with digest sha256:8fe63f8b/,
    )
  })

  it('names the discovery notes in the no-signature reason', () => {
    const note = 'referrer x@sha256:00 is about sha256:ff, not this digest: ignored'
    const result = verifyImage(
      discovery([found(OPA.bundle, OPA.reference)], [note]),
      OPA.digest,
      keylessRule(OPA.san),
      [GITHUB],
      OPTIONS,
    )
    expect(result.reason).toMatch(/^expected a signature, got none/)
    expect(result.reason).toContain(note)
  })
})

describe('cosign v3 signature bundles under the public-good root', () => {
  it('verify the image and report the signer from the Fulcio extensions and the Rekor entry', () => {
    const result = verifyBundle1(keylessRule(DOCKER_SAN))
    expect(result.reason).toBeUndefined()
    expect(result.verified).toBe(true)
    const signer = {
      identity: DOCKER_SAN,
      issuer: GHA,
      repository: 'https://github.com/docker/github-builder-test',
      // The caller of the reusable workflow that signed (Build Config URI).
      workflow:
        'https://github.com/docker/github-builder-test/.github/workflows/ci.yml@refs/heads/main',
      ref: 'refs/heads/main',
      trigger: 'workflow_dispatch',
      commit: 'a09fc6eb8837d30548c4db26074c0bc6551e9215',
      runnerEnvironment: 'github-hosted',
    }
    expect(result.signer).toEqual(signer)
    expect(result.rekorLogIndex).toBe(658949562)
    expect(result.rekorIntegratedTime).toBe(1761913383)
    expect(result.signatures).toEqual([
      {
        format: 'bundle',
        reference: REF1,
        verified: true,
        signer,
        rekorLogIndex: 658949562,
        rekorIntegratedTime: 1761913383,
      },
    ])
    expect(result.attestations).toEqual([])
  })

  it('verify when the rule has two signers and only the second matches', () => {
    const rule: Rule = {
      ...keylessRule(DOCKER_SAN),
      signers: [
        ...keylessRule('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main')
          .signers,
        ...keylessRule(DOCKER_SAN).signers,
      ],
    }
    expect(rule.signers).toHaveLength(2)
    const result = verifyBundle1(rule)
    expect(result.verified).toBe(true)
    expect(result.signer?.identity).toBe(DOCKER_SAN)
  })

  it('verify with an identity regexp that matches the whole SAN', () => {
    const rule = ruleOf({
      certificateIdentityRegexp:
        'https://github\\.com/docker/[^/]+/\\.github/workflows/build\\.yml@.*',
      certificateOidcIssuer: GHA,
    })
    const result = verifyBundle1(rule)
    expect(result.verified).toBe(true)
  })

  it('do not verify for a rule with another identity, and say which identity was expected and found', () => {
    const wanted =
      'https://github.com/docker/github-builder-test/.github/workflows/ci.yml@refs/heads/main'
    const result = verifyBundle1(keylessRule(wanted))
    expect(result.verified).toBe(false)
    expect(result.reason).toBe(`expected identity "${wanted}", got ${DOCKER_SAN}`)
    // The signature was sound: who signed it is reported, for the reader to compare.
    expect(result.signatures).toHaveLength(1)
    expect(result.signatures[0]).toMatchObject({
      verified: false,
      reason: result.reason,
      signer: { identity: DOCKER_SAN, issuer: GHA },
    })
  })

  it('give the identity mismatch, not the failure under the wrong root, when several roots are tried', () => {
    const wanted = 'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'
    const result = verifyBundle1(keylessRule(wanted), [GITHUB, PG])
    expect(result.verified).toBe(false)
    expect(result.reason).toBe(`expected identity "${wanted}", got ${DOCKER_SAN}`)
  })

  it('do not verify for a rule with another issuer', () => {
    const rule = ruleOf({
      certificateIdentity: DOCKER_SAN,
      certificateOidcIssuer: 'https://accounts.google.com',
    })
    const result = verifyBundle1(rule)
    expect(result.verified).toBe(false)
    expect(result.reason).toBe(`expected issuer "https://accounts.google.com", got ${GHA}`)
  })

  it("do not verify under GitHub's root alone", () => {
    const result = verifyBundle1(keylessRule(DOCKER_SAN), [GITHUB])
    expect(result.verified).toBe(false)
    expect(result.reason).toMatch(/^signature verification failed/)
  })

  it('do not verify an image whose digest the bundle does not sign', () => {
    const result = verifyBundle1(keylessRule(DOCKER_SAN), [PG], DIGEST2)
    expect(result.verified).toBe(false)
    expect(result.reason).toMatch(/^expected a statement subject with digest sha256:c6fc458c/)
  })

  it('verify when one of two bundles is corrupted, and report the corrupted one as not verified', () => {
    const result = verifyImage(
      discovery([found(withCorruptSignature(dockerBundle(1)), REF2), found(dockerBundle(1), REF1)]),
      DIGEST1,
      keylessRule(DOCKER_SAN),
      [PG],
      OPTIONS,
    )
    expect(result.verified).toBe(true)
    expect(result.reason).toBeUndefined()
    expect(result.rekorLogIndex).toBe(658949562)
    expect(result.signatures.map((s) => [s.reference, s.verified])).toEqual([
      [REF2, false],
      [REF1, true],
    ])
    expect(result.signatures[0].reason).toMatch(/^signature verification failed/)
  })

  it('do not verify when every bundle is corrupted, and count them in the reason', () => {
    const result = verifyImage(
      discovery([
        found(withCorruptSignature(dockerBundle(1)), REF1),
        found(withCorruptSignature(dockerBundle(1)), REF2),
      ]),
      DIGEST1,
      keylessRule(DOCKER_SAN),
      [PG],
      OPTIONS,
    )
    expect(result.verified).toBe(false)
    expect(result.reason).toMatch(
      /^none of 2 signatures verified; \S+: signature verification failed/,
    )
  })

  it('do not verify when the rule allows no signer', () => {
    const rule: Rule = { ...keylessRule(DOCKER_SAN), signers: [] }
    const result = verifyBundle1(rule)
    expect(result.verified).toBe(false)
    expect(result.reason).toBe('the rule allows no signer')
  })
})

describe('required attestations', () => {
  it('fail a signed image with no attestation of the required type, keeping the signer', () => {
    const result = verifyBundle1(keylessRule(DOCKER_SAN, ['slsaprovenance']))
    expect(result.verified).toBe(false)
    expect(result.reason).toBe('expected a slsaprovenance attestation, got none')
    expect(result.signer?.identity).toBe(DOCKER_SAN)
    expect(result.signatures.map((s) => s.verified)).toEqual([true])
  })

  it('name the required type as written, a URI included', () => {
    const result = verifyBundle1(keylessRule(DOCKER_SAN, ['https://cyclonedx.org/bom']))
    expect(result.reason).toBe('expected a https://cyclonedx.org/bom attestation, got none')
  })

  it('are not met by a sound attestation of that type about another image', () => {
    // The signature is docker's (digest 1); the SLSA attestation is GitHub's, for another image.
    const rule = ruleOf({
      certificateIdentityRegexp: 'https://github\\.com/(docker|github)/.*',
      certificateOidcIssuer: GHA,
      requireAttestations: ['slsaprovenance'],
    })
    const result = verifyImage(
      discovery([found(dockerBundle(1), REF1), found(OPA.bundle, OPA.reference)]),
      DIGEST1,
      rule,
      [PG, GITHUB],
      OPTIONS,
    )
    expect(result.verified).toBe(false)
    expect(result.signatures.map((s) => s.verified)).toEqual([true])
    expect(result.attestations.map((a) => [a.predicateType, a.verified])).toEqual([
      [SLSA_V1, false],
    ])
    expect(result.reason).toMatch(
      /^expected a verified slsaprovenance attestation, got 1 that did not verify: expected a statement subject with digest sha256:8fe63f8b/,
    )
  })

  it('lists, without checking, an attestation of a type no rule requires', () => {
    const result = verifyImage(
      discovery([found(OPA.bundle, OPA.reference)]),
      OPA.digest,
      keylessRule(OPA.san),
      [GITHUB],
      OPTIONS,
    )
    expect(result.attestations).toEqual([
      {
        format: 'bundle',
        reference: OPA.reference,
        predicateType: SLSA_V1,
        verified: false,
        checked: false,
        reason: 'not checked: the rule requires no attestation of this type',
      },
    ])
  })

  it('do not leak the attested statement into the report', () => {
    const result = verifyImage(
      discovery([found(OPA.bundle, OPA.reference)]),
      OPA.digest,
      keylessRule(OPA.san, ['slsaprovenance']),
      [GITHUB],
      OPTIONS,
    )
    expect(result.attestations[0].verified).toBe(true)
    expect(Object.keys(result.attestations[0])).not.toContain('statement')
  })
})

describe('issue 8.6: adding a root never lowers the bar', () => {
  const UNPACKED = ['_derived', 'containers-image-unpacked']
  const CI_FIXTURES = 'containers-image/signature/fixtures'
  /** A containers/image fixture's `.sig` layer, as discovery finds it. */
  const sigOf = (fixture: string): Discovery => ({
    ...discovery([]),
    signatures: [
      {
        reference: `registry.example/app:sha256-${fixture}.sig`,
        signature: {
          payload: read(...UNPACKED, fixture, 'signature-1/payload.bin'),
          annotations: json<{ annotations: Record<string, string> }>(
            ...UNPACKED,
            fixture,
            'signature-1/annotations.json',
          ).annotations,
        },
      },
    ],
  })
  const digestOf = (fixture: string): string => sha256(read(CI_FIXTURES, fixture, 'manifest.json'))
  const byKey = (pub: string): Rule => ruleOf({ publicKey: realWorldPath(CI_FIXTURES, pub) })
  const EVERY_ROOT_SET: [string, TrustRoot[]][] = [
    ['public good', [PG]],
    ["GitHub's", [GITHUB]],
    ["public good and GitHub's", [PG, GITHUB]],
    ["GitHub's and public good", [GITHUB, PG]],
  ]

  it.each(EVERY_ROOT_SET)(
    'issue 8.6: a key-signed .sig without a Rekor entry is refused with tlog: true under %s root(s)',
    (_label, roots) => {
      const noRekor = 'dir-img-cosign-valid'
      const result = verifyImage(sigOf(noRekor), digestOf(noRekor), byKey('cosign.pub'), roots, {
        keysWithoutTlog: false,
      })
      expect(result.verified).toBe(false)
      expect(result.signatures.map((s) => s.verified)).toEqual([false])
      expect(result.reason).toMatch(/tlog/)
    },
  )

  it("issue 8.6: the same .sig is accepted with tlog: false (the key alone), with or without GitHub's root", () => {
    const noRekor = 'dir-img-cosign-valid'
    for (const roots of [[PG], [PG, GITHUB], [GITHUB, PG]]) {
      const result = verifyImage(sigOf(noRekor), digestOf(noRekor), byKey('cosign.pub'), roots, {
        keysWithoutTlog: true,
      })
      expect(result.reason).toBeUndefined()
      expect(result.verified).toBe(true)
    }
  })

  it('issue 8.6: a key-signed .sig with its Rekor entry is accepted with tlog: true when the public-good root is among the roots', () => {
    const withRekor = 'dir-img-cosign-key-rekor-valid'
    for (const roots of [[PG], [PG, GITHUB], [GITHUB, PG]]) {
      const result = verifyImage(
        sigOf(withRekor),
        digestOf(withRekor),
        byKey('cosign2.pub'),
        roots,
        {
          keysWithoutTlog: false,
        },
      )
      expect(result.reason).toBeUndefined()
      expect(result.verified).toBe(true)
      expect(result.rekorLogIndex).toBe(11608800)
    }
    // GitHub's root has no log to check the entry against.
    const alone = verifyImage(
      sigOf(withRekor),
      digestOf(withRekor),
      byKey('cosign2.pub'),
      [GITHUB],
      {
        keysWithoutTlog: false,
      },
    )
    expect(alone.verified).toBe(false)
  })

  it('issue 8.6: a keyless .sig with neither a Rekor entry nor a timestamp is refused under a root without a log', () => {
    const fixture = 'dir-img-cosign-fulcio-rekor-valid'
    const found = sigOf(fixture)
    const annotations = found.signatures[0].signature.annotations
    delete annotations['dev.sigstore.cosign/bundle']
    // The public-good CA and CT log, without its transparency log: what a private instance is.
    const publicGood = json<Record<string, unknown>>('root-signing/targets/trusted_root.json')
    const withoutLog = trustRootFrom({ ...publicGood, tlogs: [] }, 'public good without its log')
    expect(withoutLog.requirements).toMatchObject({ requireTlog: false, requireTimestamp: true })
    const rule = ruleOf({
      certificateIdentity: 'mitr@redhat.com',
      certificateOidcIssuer: 'https://github.com/login/oauth',
    })
    for (const roots of [[withoutLog], [PG, withoutLog], [withoutLog, PG, GITHUB]]) {
      const result = verifyImage(found, digestOf(fixture), rule, roots, OPTIONS)
      expect(result.verified).toBe(false)
      expect(result.reason).toMatch(/timestamp/)
    }
  })
})

describe('issue 8.10: pinning the caller of a reusable workflow (docker/github-builder-test calling docker/github-builder-experimental)', () => {
  const CALLER = {
    repository: 'docker/github-builder-test',
    ref: 'refs/heads/main',
    trigger: 'workflow_dispatch',
    sha: 'a09fc6eb8837d30548c4db26074c0bc6551e9215',
    name: 'ci',
  }
  const pinned = (claims: PolicyInputs['certificateGithubWorkflow']): Rule =>
    ruleOf({
      certificateIdentity: DOCKER_SAN,
      certificateOidcIssuer: GHA,
      certificateGithubWorkflow: claims,
    })
  const fromFile = (lines: string): Rule =>
    parsePolicy(
      `rules:\n  - images: '**'\n    signers:\n      - identity: ${DOCKER_SAN}\n        issuer: ${GHA}\n` +
        lines
          .split('\n')
          .map((l) => `        ${l}`)
          .join('\n') +
        '\n',
      'policy.yml',
    ).rules[0]

  it('issue 8.10: the reusable workflow identity alone accepts the signature whoever called it', () => {
    expect(verifyBundle1(keylessRule(DOCKER_SAN)).verified).toBe(true)
  })

  it('issue 8.10: certificate-github-workflow-repository of another caller refuses the signature', () => {
    const result = verifyBundle1(pinned({ repository: 'evil/app' }))
    expect(result.verified).toBe(false)
    expect(result.reason).toBe(
      'expected GitHub workflow repository evil/app, got docker/github-builder-test',
    )
    // The signature was sound: its signer is reported for the reader to compare.
    expect(result.signatures[0].signer?.repository).toBe(
      'https://github.com/docker/github-builder-test',
    )
  })

  it('issue 8.10: every certificate-github-workflow-* input of the right caller accepts it', () => {
    const result = verifyBundle1(pinned(CALLER))
    expect(result.reason).toBeUndefined()
    expect(result.verified).toBe(true)
  })

  it.each<[keyof typeof CALLER, string]>([
    ['ref', 'refs/heads/evil'],
    ['trigger', 'push'],
    ['sha', 'f'.repeat(40)],
    ['name', 'release'],
  ])('issue 8.10: certificate-github-workflow-%s of another run refuses it', (claim, value) => {
    const result = verifyBundle1(pinned({ ...CALLER, [claim]: value }))
    expect(result.verified).toBe(false)
    expect(result.reason).toMatch(new RegExp(`^expected GitHub workflow ${claim} ${value}, got `))
  })

  it('issue 8.10: the policy file pins the source repository, its owner and ids, ref, trigger, signer and runner', () => {
    const right = fromFile(
      [
        'sourceRepository: docker/github-builder-test',
        'sourceRepositoryOwner: docker',
        'sourceRepositoryIdentifier: "1040594287"',
        'sourceRepositoryOwnerIdentifier: "5429470"',
        'sourceRepositoryDigest: a09fc6eb8837d30548c4db26074c0bc6551e9215',
        'sourceRef: refs/heads/main',
        'trigger: workflow_dispatch',
        `buildSignerURI: ${DOCKER_SAN}`,
        'runnerEnvironment: github-hosted',
      ].join('\n'),
    )
    expect(verifyBundle1(right).verified).toBe(true)
  })

  it.each<[string, string]>([
    [
      'sourceRepository: acme/app',
      'expected source repository acme/app, got docker/github-builder-test',
    ],
    [
      'sourceRepositoryRegexp: docker/github-builder-(prod|release)',
      'expected source repository matching the regular expression "docker/github-builder-(prod|release)" (whole value), got docker/github-builder-test',
    ],
    ['sourceRepositoryOwner: acme', 'expected source repository owner acme, got docker'],
    ['sourceRepositoryIdentifier: "1"', 'expected source repository identifier 1, got 1040594287'],
    [
      'sourceRefRegexp: refs/tags/v.*',
      'expected source ref matching the regular expression "refs/tags/v.*" (whole value), got refs/heads/main',
    ],
    ['trigger: push', 'expected trigger push, got workflow_dispatch'],
    [
      'runnerEnvironment: self-hosted',
      'expected runner environment self-hosted, got github-hosted',
    ],
  ])('issue 8.10: %s refuses it', (line, reason) => {
    const result = verifyBundle1(fromFile(line))
    expect(result.verified).toBe(false)
    expect(result.reason).toBe(reason)
  })

  it('issue 8.10: a legacy .sig is held to the same pins (salrashid123/go-bazel-github-workflow)', () => {
    const dir = ['_derived', 'salrashid123-go-bazel-github-workflow']
    const found: Discovery = {
      ...discovery([]),
      signatures: [
        {
          reference: 'docker.io/salrashid123/server_image:sha256-c05263d2.sig',
          signature: {
            payload: read(...dir, 'simplesigning-payload.json'),
            annotations: json<{ layers: { annotations: Record<string, string> }[] }>(
              ...dir,
              'sig-manifest.json',
            ).layers[0].annotations,
          },
        },
      ],
    }
    const digest = sha256(read(...dir, 'image-index.json'))
    const identity =
      'https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30'
    const rule = (repository: string): Rule =>
      ruleOf({
        certificateIdentity: identity,
        certificateOidcIssuer: GHA,
        certificateGithubWorkflow: { repository },
      })
    expect(
      verifyImage(found, digest, rule('salrashid123/go-bazel-github-workflow'), [PG], OPTIONS)
        .verified,
    ).toBe(true)
    const evil = verifyImage(found, digest, rule('evil/go-bazel-github-workflow'), [PG], OPTIONS)
    expect(evil.verified).toBe(false)
    expect(evil.reason).toBe(
      'expected GitHub workflow repository evil/go-bazel-github-workflow, got salrashid123/go-bazel-github-workflow',
    )
  })
})

describe('issue 9.1: what covers a platform manifest reached through its index (platformVerdict)', () => {
  // docker/actions-toolkit's manifests 1 and 2 stand in for an index and one of its platform
  // manifests: bundle 1 signs the "index", bundle 2 (when found) the "platform".
  const rule = (platforms: Rule['platforms'] = 'index-signature'): Rule => ({
    ...keylessRule(DOCKER_SAN),
    platforms,
    source: 'policy.yml:2',
  })
  const index = verifyBundle1(keylessRule(DOCKER_SAN))
  const unsigned = verifyImage(discovery([]), DIGEST2, rule(), [PG], OPTIONS)
  const ownSigned = verifyImage(
    discovery([found(dockerBundle(2), REF2)]),
    DIGEST2,
    rule(),
    [PG],
    OPTIONS,
  )

  it('issue 9.1: the fixtures are what the cases say', () => {
    expect([index.verified, unsigned.verified, ownSigned.verified]).toEqual([true, false, true])
  })

  it('issue 9.1: its own verified signature decides, whatever the rule says', () => {
    for (const platforms of ['index-signature', 'own-signature'] as const) {
      expect(platformVerdict(ownSigned, index, rule(platforms))).toEqual({
        ...ownSigned,
        coveredBy: 'own signature',
      })
    }
  })

  it("issue 9.1: without its own signature it is covered by the index's, and reports the index's signer", () => {
    const covered = platformVerdict(unsigned, index, rule())
    expect(covered).toEqual({
      verified: true,
      coveredBy: 'index signature',
      signer: index.signer,
      rekorLogIndex: index.rekorLogIndex,
      rekorIntegratedTime: index.rekorIntegratedTime,
      signatures: [],
      attestations: [],
    })
    expect(covered.signer?.identity).toBe(DOCKER_SAN)
  })

  it("issue 9.1: a platform signature that does not verify stays listed, and the index's covers it", () => {
    const corrupted = verifyImage(
      discovery([found(withCorruptSignature(dockerBundle(2)), REF2)]),
      DIGEST2,
      rule(),
      [PG],
      OPTIONS,
    )
    expect(corrupted.verified).toBe(false)
    const covered = platformVerdict(corrupted, index, rule())
    expect(covered).toMatchObject({ verified: true, coveredBy: 'index signature' })
    expect(covered.reason).toBeUndefined()
    expect(covered.signatures).toEqual([
      expect.objectContaining({ reference: REF2, verified: false, reason: expect.any(String) }),
    ])
  })

  it('issue 9.1: an index whose signature verified covers it even when the index lacks a required attestation', () => {
    const indexWithoutProvenance = verifyBundle1(keylessRule(DOCKER_SAN, ['slsaprovenance']))
    expect(indexWithoutProvenance.verified).toBe(false)
    expect(platformVerdict(unsigned, indexWithoutProvenance, rule())).toMatchObject({
      verified: true,
      coveredBy: 'index signature',
    })
  })

  it("issue 9.1: when the index's signature does not verify either, it fails, saying both", () => {
    const otherSigner = verifyBundle1(
      keylessRule('https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main'),
    )
    expect(otherSigner.signatures.some((s) => s.verified)).toBe(false)
    const verdict = platformVerdict(unsigned, otherSigner, rule())
    expect(verdict.verified).toBe(false)
    expect(verdict.coveredBy).toBeUndefined()
    expect(verdict.reason).toBe(
      `${unsigned.reason}; nor does the index's signature cover it (it did not verify)`,
    )
  })

  it('issue 9.1: platforms: own-signature refuses the cover of a verified index, and says why', () => {
    const verdict = platformVerdict(unsigned, index, rule('own-signature'))
    expect(verdict.verified).toBe(false)
    expect(verdict.coveredBy).toBeUndefined()
    expect(verdict.signer).toBeUndefined()
    expect(verdict.reason).toBe(
      `${unsigned.reason}; its rule (policy.yml:2) has platforms: own-signature: the index's ` +
        'signature does not cover a platform manifest',
    )
  })
})
