/**
 * signature-repository (cosign's COSIGN_REPOSITORY, issue 12.4) in the pieces that carry it: what
 * sign mode writes where (an in-memory registry), where discovery reads, the policy field, the
 * reason when nothing is found, and the verify command. Real cosign judges the same in
 * test/interop/signature-repository.test.ts.
 */
import { generateKeyPairSync } from 'node:crypto'
import { parsePolicy, PolicyError } from '../../src/policy/policy-file'
import { parseImageReference } from '../../src/registry/reference'
import type { ImageIndex, ImageManifest, Repository } from '../../src/registry/types'
import { signSummary } from '../../src/report/summary'
import type { SignOutcome, VerifyOutcome } from '../../src/report/types'
import { buildVerifyCommand } from '../../src/report/verify-command'
import { verifySummary } from '../../src/report/verify-summary'
import { PLANNED_PREDICATE } from '../infra/attestations'
import { signImages } from '../../src/sign/sign-images'
import { loadSigningKey } from '../../src/sigstore/keys'
import { SigningSession } from '../../src/sigstore/signing-session'
import { discover } from '../../src/storage/discover'
import { signatureStore } from '../../src/storage/signature-repository'
import type { ResolvedImage } from '../../src/subjects/resolve'
import { verifyImage } from '../../src/verify/image'
import { FakeRegistry } from '../infra/fake-registry'
import { recordingLogger } from '../infra/recording-logger'

const APP: Repository = { registry: 'registry.test', repository: 'acme/app' }
const NAME = 'registry.test/acme/app'
const STORE = parseImageReference('sigs.test:5000/acme/signatures', 'signature-repository')
const STORE_REPO: Repository = { registry: 'sigs.test:5000', repository: 'acme/signatures' }
const stem = (digest: string): string => digest.replace(':', '-')

const key = loadSigningKey(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString(),
  undefined,
)
const session = (): SigningSession =>
  new SigningSession({
    fulcioURL: 'http://127.0.0.1:9',
    rekorURL: 'http://127.0.0.1:9',
    tlog: false,
    key,
  })

function image(registry: FakeRegistry): ResolvedImage {
  const descriptor = registry.seedImage(APP)
  return { repo: APP, name: NAME, digest: descriptor.digest, descriptor, writtenAs: [] }
}

const attestation = PLANNED_PREDICATE

describe('signatureStore', () => {
  it("is the image's own repository without a signature repository, or with its own named", () => {
    expect(signatureStore({ repo: APP, name: NAME }, undefined)).toEqual({
      repo: APP,
      name: NAME,
      elsewhere: false,
    })
    const own = parseImageReference(NAME)
    expect(signatureStore({ repo: APP, name: NAME }, own).elsewhere).toBe(false)
    expect(signatureStore({ repo: APP, name: NAME }, STORE)).toEqual({
      repo: STORE_REPO,
      name: 'sigs.test:5000/acme/signatures',
      elsewhere: true,
    })
  })
})

describe('sign mode with a signature repository', () => {
  it.each([
    ['a registry with the referrers API', 'api'],
    ['a registry without (fallback tag)', 'none'],
  ] as const)(
    'writes every tag, referrer and blob there, nothing beside the image, on %s',
    async (_label, referrers) => {
      const registry = new FakeRegistry({ referrers })
      const target = image(registry)
      const { log } = recordingLogger()
      const run = await signImages(registry, session(), [target], {
        format: 'both',
        annotations: {},
        attestations: [attestation],
        signatureRepository: STORE,
        log,
      })
      expect(run.errors).toEqual([])
      const [result] = run.results
      expect(result.signed).toBe(true)
      // The image's repository is only read (its manifest is the referrer's subject).
      expect(registry.writes().filter((w) => w.repo.repository === APP.repository)).toEqual([])
      expect(registry.tags(APP)).toEqual([])
      const tags = registry.tags(STORE_REPO)
      expect(tags).toEqual(
        expect.arrayContaining([`${stem(target.digest)}.sig`, `${stem(target.digest)}.att`]),
      )
      expect(tags.includes(stem(target.digest))).toBe(referrers === 'none')
      for (const written of [...result.signatures, ...result.attestations]) {
        expect(written.reference).toMatch(/^sigs\.test:5000\/acme\/signatures[:@]/)
      }
      // The payload still names the image: only where it is stored moved.
      const sig = registry.manifest<ImageManifest>(STORE_REPO, `${stem(target.digest)}.sig`)!
      const payload = JSON.parse(
        registry.blob(STORE_REPO, sig.layers[0].digest)!.toString('utf8'),
      ) as { critical: { identity: { 'docker-reference': string }; image: Record<string, string> } }
      expect(payload.critical.identity['docker-reference']).toBe(NAME)
      expect(payload.critical.image['docker-manifest-digest']).toBe(target.digest)
      // The bundle referrers are about the image's digest.
      const listed =
        referrers === 'api'
          ? (await registry.referrers(STORE_REPO, target.digest))!.manifests
          : registry.manifest<ImageIndex>(STORE_REPO, stem(target.digest))!.manifests
      expect(listed).toHaveLength(2)
      for (const d of listed) {
        const referrer = registry.manifest<ImageManifest>(STORE_REPO, d.digest)!
        expect(referrer.subject?.digest).toBe(target.digest)
      }
    },
  )
})

describe('discovery with a signature repository', () => {
  it('reads there, and reports where; the same signatures are not found beside the image', async () => {
    const registry = new FakeRegistry({ referrers: 'none' })
    const target = image(registry)
    const { log } = recordingLogger()
    await signImages(registry, session(), [target], {
      format: 'both',
      annotations: {},
      signatureRepository: STORE,
      log,
    })
    const there = await discover(registry, APP, target.digest, () => true, {
      signatureRepository: STORE_REPO,
    })
    expect(there.signatures).toHaveLength(1)
    expect(there.bundles).toHaveLength(1)
    expect(there.signatureRepository).toBe('sigs.test:5000/acme/signatures')
    expect(there.signatures[0].reference).toMatch(/^sigs\.test:5000\/acme\/signatures:/)

    const beside = await discover(registry, APP, target.digest)
    expect(beside.signatures).toEqual([])
    expect(beside.bundles).toEqual([])
    expect(beside.signatureRepository).toBeUndefined()
  })
})

describe('the reason when no signature is found', () => {
  const rule = {
    images: ['**'],
    patterns: [/.*/],
    signers: [],
    attestations: [],
    platforms: 'index-signature' as const,
    source: 'test',
  }
  const empty = { signatures: [], attestations: [], bundles: [], notes: [] }
  const digest = `sha256:${'a'.repeat(64)}`

  it('hints at signature-repository when Signet looked beside the image', () => {
    const verdict = verifyImage({ ...empty, referrersFrom: 'api' }, digest, rule, [], {
      keysWithoutTlog: false,
    })
    expect(verdict.verified).toBe(false)
    expect(verdict.reason).toMatch(/^expected a signature, got none/)
    expect(verdict.reason).toContain('COSIGN_REPOSITORY')
    expect(verdict.reason).toContain('signature-repository')
  })

  it('names the signature repository it looked in', () => {
    const verdict = verifyImage(
      { ...empty, referrersFrom: 'api', signatureRepository: 'sigs.test:5000/acme/signatures' },
      digest,
      rule,
      [],
      { keysWithoutTlog: false },
    )
    expect(verdict.reason).toContain('in the signature repository sigs.test:5000/acme/signatures')
    expect(verdict.reason).not.toContain('COSIGN_REPOSITORY')
  })
})

describe('the policy field signatureRepository', () => {
  const policy = (value: string): string =>
    [
      'rules:',
      '  - images: registry.test/**',
      `    signatureRepository: ${value}`,
      '    signers:',
      '      - identity: https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main',
      '        issuer: https://token.actions.githubusercontent.com',
      '',
    ].join('\n')

  it('is read as a repository, like the input', () => {
    const parsed = parsePolicy(policy('sigs.test:5000/acme/signatures'), 'policy.yml')
    expect(parsed.rules[0].signatureRepository).toMatchObject({
      registry: 'sigs.test:5000',
      repository: 'acme/signatures',
      name: 'sigs.test:5000/acme/signatures',
    })
    const without = parsePolicy(policy('x').replace(/^ {4}signatureRepository.*\n/m, ''), 'p.yml')
    expect(without.rules[0].signatureRepository).toBeUndefined()
  })

  it.each([
    ['a tag', 'sigs.test/acme/signatures:v1', /without a tag or digest/],
    ['a digest', `sigs.test/acme/signatures@sha256:${'b'.repeat(64)}`, /without a tag or digest/],
    ['an invalid name', 'sigs.test/Acme/Signatures', /must be lowercase/],
    ['a URL', 'https://sigs.test/acme/signatures', /drop the URL scheme/],
  ])('refuses %s, naming the file and line', (_label, value, why) => {
    let error: unknown
    try {
      parsePolicy(policy(value), 'policy.yml')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(PolicyError)
    expect((error as PolicyError).line).toBe(3)
    expect((error as PolicyError).message).toMatch(why)
    expect((error as PolicyError).message).toMatch(/^policy: policy\.yml:3: /)
  })
})

describe('the verify command', () => {
  const base = {
    keyless: false,
    results: [
      {
        image: NAME,
        digest: `sha256:${'c'.repeat(64)}`,
        mediaType: '',
        signed: true,
        signatures: [],
        attestations: [],
      },
    ],
    signatureFormat: 'both' as const,
    customInstance: false,
    tlog: true,
    timestamped: false,
  }

  it('sets COSIGN_REPOSITORY, so that it runs as printed', () => {
    expect(
      buildVerifyCommand({ ...base, signatureRepository: 'sigs.test:5000/acme/signatures' }),
    ).toBe(
      `COSIGN_REPOSITORY=sigs.test:5000/acme/signatures cosign verify --key=cosign.pub ${NAME}@sha256:${'c'.repeat(64)}`,
    )
    expect(buildVerifyCommand(base)).toMatch(/^cosign verify /)
  })
})

describe('the summaries say where signatures are', () => {
  const digest = `sha256:${'d'.repeat(64)}`

  it('sign: the signature repository, in a line of its own', () => {
    const outcome: SignOutcome = {
      mode: 'sign',
      results: [],
      signed: true,
      bundleCount: 0,
      keyless: false,
      verifyCommand: 'cosign verify',
      signatureFormat: 'both',
      customInstance: false,
      tlog: true,
      timestamped: false,
      errors: [],
      signatureRepository: 'sigs.test:5000/acme/signatures',
    }
    expect(signSummary(outcome)).toContain(
      'Signatures and attestations are stored in `sigs.test:5000/acme/signatures`',
    )
    expect(signSummary({ ...outcome, signatureRepository: undefined })).not.toContain('stored in')
  })

  it('verify: where each image was looked for, when not beside it', () => {
    const outcome: VerifyOutcome = {
      mode: 'verify',
      results: [
        {
          image: `${NAME}@${digest}`,
          name: NAME,
          digest,
          mediaType: '',
          verified: false,
          verdict: 'failed',
          reason: 'expected a signature, got none',
          signatureRepository: 'sigs.test:5000/acme/signatures',
          signatures: [],
          attestations: [],
        },
      ],
      verified: false,
      enforce: true,
      policySource: 'inputs',
      trustRoots: [],
      notes: [],
    }
    expect(verifySummary(outcome)).toContain(
      'signatures looked for in: `sigs.test:5000/acme/signatures`',
    )
  })
})
