/**
 * Real published signatures (test/fixtures/real-world/, see its README.md) get the verdict
 * their INDEX gives, from cosign v3 and from Signet alike:
 * - a GitHub Actions keyless cosign `.sig` on an image index (salrashid123, INDEX 2b) and its
 *   tampered variants;
 * - cosign v3 bundles attached as OCI referrers (docker/actions-toolkit, INDEX 4);
 * - `cosign save` layouts holding SLSA v0.2 `.att` attestations (slsa-verifier, INDEX 3).
 *
 * Each fixture is pushed byte-exact into a loopback registry with the referrers API (see
 * test/infra/fixtures.ts for the manifests whose omitted layers the registry would refuse). Each
 * case is then judged twice: `cosign v3 …` checks that cosign agrees with the INDEX (and passes on
 * its own), `Signet agrees …` runs the bundled action in verify mode and compares its verdict
 * with cosign's. All of it runs offline: the trusted root is the public-good one from the fixture
 * set, and cosign gets a private HOME and TUF_ROOT it never needs to fill.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun } from '../infra/action-runner'
import {
  cosignV3Signing,
  PUBLIC_GOOD_TRUSTED_ROOT,
  pushCosignLayout,
  pushCosignV3Referrer,
  pushLegacySignature,
  referrerWithSubject,
  salrashidFile,
  SLSA_LAYOUTS,
  startFixtureRegistry,
  type FixtureRegistry,
  type PushedManifest,
} from '../infra/fixtures'
import { INSECURE_REGISTRY } from '../infra/cosign'
import { runToolAsync } from '../infra/tools'

type Verdict = 'accept' | 'reject'

const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'
const SLSA_V02 = 'https://slsa.dev/provenance/v0.2'

/** The certificate SAN, exact or as a regexp (for cosign and Signet alike, whole-SAN match). */
type Identity = ({ san: string } | { sanRegexp: string }) & { issuer: string }

interface CaseBase {
  name: string
  /** Cases that share a fixture share a repository (and push it once). */
  repository: string
  push: (registry: FixtureRegistry, repository: string) => Promise<PushedManifest>
  identity: Identity
  /**
   * signature: `cosign verify` vs Signet's `verified` output.
   * slsa-v0.2-attestation: `cosign verify-attestation --type slsaprovenance` (cosign's name for
   * SLSA v0.2) vs Signet's attestation entries for that predicate type; see the SLSA cases.
   */
  judge: 'signature' | 'slsa-v0.2-attestation'
}

/** The verdict INDEX.md gives the fixture. */
type Expectation =
  | { expected: 'accept' }
  | {
      expected: 'reject'
      /**
       * cosign's error for it, so that a failure for another reason (a registry error, a network
       * lookup) is not taken for the INDEX's "reject".
       */
      cosignReason: RegExp
    }

type RealWorldCase = CaseBase & Expectation

// --- salrashid123/go-bazel-github-workflow: keyless GitHub Actions .sig on an index (INDEX 2b) --

const SALRASHID_IDENTITY: Identity = {
  san: 'https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.30',
  issuer: GITHUB_ACTIONS_ISSUER,
}

/** The published index, payload and `.sig` manifest, with one of them swapped for a NEG- file. */
const salrashid =
  (swap: { image?: string; payload?: string; sigManifest?: string } = {}) =>
  (registry: FixtureRegistry, repository: string): Promise<PushedManifest> =>
    pushLegacySignature(registry, repository, {
      image: salrashidFile(swap.image ?? 'image-index.json'),
      payload: salrashidFile(swap.payload ?? 'simplesigning-payload.json'),
      sigManifest: salrashidFile(swap.sigManifest ?? 'sig-manifest.json'),
    })

const salrashidCases: RealWorldCase[] = [
  {
    name: 'salrashid123 keyless .sig on its image index',
    expected: 'accept',
    repository: 'salrashid123/valid',
    push: salrashid(),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    name: 'salrashid123 .sig with a tampered payload (docker-reference altered)',
    expected: 'reject',
    // The Rekor entry's payload hash no longer matches (INDEX: signature and hash both fail).
    cosignReason: /matching bundle to payload/,
    repository: 'salrashid123/tampered-payload',
    push: salrashid({ payload: 'NEG-simplesigning-payload.tampered-reference.json' }),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    // The same index re-serialized compactly has another digest; the signature names the original.
    name: 'salrashid123 .sig copied onto the compact index (another digest)',
    expected: 'reject',
    cosignReason: /invalid or missing digest in claim/,
    repository: 'salrashid123/compact-index',
    push: salrashid({ image: 'NEG-image-index.compact-different-digest.json' }),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    name: 'salrashid123 .sig whose Rekor SET has integratedTime + 1',
    expected: 'reject',
    cosignReason: /unable to verify SET/,
    repository: 'salrashid123/set-modified',
    push: salrashid({ sigManifest: 'NEG-sig-manifest.set-integratedTime-modified.json' }),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    // Without the SET nothing proves the short-lived certificate was valid when it signed. (Online,
    // cosign would search the public log for the entry instead; --offline below rules that out.)
    name: 'salrashid123 .sig without its Rekor bundle annotation',
    expected: 'reject',
    cosignReason: /offline verification failed/,
    repository: 'salrashid123/no-rekor-bundle',
    push: salrashid({ sigManifest: 'NEG-sig-manifest.no-rekor-bundle.json' }),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    // INDEX: accepted by a verifier that takes the intermediates from the trusted root, as cosign does.
    name: 'salrashid123 .sig without its chain annotation',
    expected: 'accept',
    repository: 'salrashid123/no-chain',
    push: salrashid({ sigManifest: 'NEG-sig-manifest.no-chain.json' }),
    identity: SALRASHID_IDENTITY,
    judge: 'signature',
  },
  {
    name: 'salrashid123 .sig checked against the workflow at another tag',
    expected: 'reject',
    cosignReason: /none of the expected identities matched/,
    repository: 'salrashid123/valid',
    push: salrashid(),
    identity: {
      ...SALRASHID_IDENTITY,
      san: 'https://github.com/salrashid123/go-bazel-github-workflow/.github/workflows/release.yaml@refs/tags/v0.0.29',
    },
    judge: 'signature',
  },
]

// --- docker/actions-toolkit: cosign v3.0.2 bundles as OCI referrers (INDEX 4) ------------------

const DOCKER_IDENTITY: Identity = {
  san: 'https://github.com/docker/github-builder-experimental/.github/workflows/build.yml@refs/heads/build-reusable-workflow',
  issuer: GITHUB_ACTIONS_ISSUER,
}

/** Signed manifest n with the exact referrer manifest cosign PUT for it. */
const cosignV3Signed =
  (n: 1 | 2 | 3) =>
  async (registry: FixtureRegistry, repository: string): Promise<PushedManifest> => {
    const { manifest, bundle, referrer } = cosignV3Signing(n)
    const image = await registry.pushManifest(repository, manifest)
    await pushCosignV3Referrer(registry, repository, bundle, referrer)
    return image
  }

const dockerCases: RealWorldCase[] = [
  ...([1, 2, 3] as const).map((n): RealWorldCase => ({
    name: `docker/actions-toolkit cosign v3 bundle ${n} attached to manifest ${n}`,
    expected: 'accept',
    repository: `docker/signed-${n}`,
    push: cosignV3Signed(n),
    identity: DOCKER_IDENTITY,
    judge: 'signature',
  })),
  {
    // The referrer cosign wrote for manifest 1, re-pointed at manifest 2: its statement still
    // names manifest 1's digest.
    name: 'docker/actions-toolkit bundle 1 attached to manifest 2 (wrong digest)',
    expected: 'reject',
    cosignReason: /artifact digest does not match any digest in statement/,
    repository: 'docker/cross-paired',
    push: async (registry, repository) => {
      const image = await registry.pushManifest(repository, cosignV3Signing(2).manifest)
      const { bundle, referrer } = cosignV3Signing(1)
      await pushCosignV3Referrer(registry, repository, bundle, referrerWithSubject(referrer, image))
      return image
    },
    identity: DOCKER_IDENTITY,
    judge: 'signature',
  },
  {
    name: 'docker/actions-toolkit bundle 1 checked against the workflow on main',
    expected: 'reject',
    cosignReason: /expected SAN value/,
    repository: 'docker/signed-1',
    push: cosignV3Signed(1),
    identity: {
      ...DOCKER_IDENTITY,
      san: 'https://github.com/docker/github-builder-experimental/.github/workflows/build.yml@refs/heads/main',
    },
    judge: 'signature',
  },
]

// --- slsa-verifier: cosign save layouts with SLSA v0.2 .att attestations (INDEX 3) -------------
//
// These images carry attestations and no signature. cosign keeps the two apart (`verify` reads
// `.sig`, `verify-attestation` reads `.att`); Signet judges both in one run, and its `verified`
// output needs a signature AND the required attestations. So each layout is compared twice:
// - `cosign verify` (no signatures found) against Signet's `verified` without
//   require-attestations: both must reject;
// - `cosign verify-attestation --type slsaprovenance` against Signet run with
//   `require-attestations: slsaprovenance02`, reading the verdict of its attestation entries for
//   https://slsa.dev/provenance/v0.2 in `results` (any verified, as cosign needs any one). The
//   image-level `verified` is not the right comparison there: it is false for want of a signature.

const SLSA_IDENTITY: Identity = {
  sanRegexp:
    '^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v.*$',
  issuer: GITHUB_ACTIONS_ISSUER,
}

const slsaCases = ['v1.4.0', 'v1.10.0', 'v2.1.0'].flatMap((version): RealWorldCase[] => {
  const repository = `slsa-verifier/${version.replace(/\./g, '-')}`
  const push = (registry: FixtureRegistry, repo: string): Promise<PushedManifest> =>
    pushCosignLayout(registry, repo, join(SLSA_LAYOUTS, version, 'container_workflow_dispatch'))
  return [
    {
      name: `slsa-verifier ${version} layout: no signature, only an .att`,
      expected: 'reject',
      cosignReason: /^no signatures found$/,
      repository,
      push,
      identity: SLSA_IDENTITY,
      judge: 'signature',
    },
    {
      name: `slsa-verifier ${version} layout: SLSA v0.2 .att from the container generator`,
      expected: 'accept',
      repository,
      push,
      identity: SLSA_IDENTITY,
      judge: 'slsa-v0.2-attestation',
    },
    {
      // slsa-verifier's regression tests reject a builder that is not the trusted workflow.
      name: `slsa-verifier ${version} layout: .att checked against an untrusted builder`,
      expected: 'reject',
      cosignReason: /none of the expected identities matched/,
      repository,
      push,
      identity: {
        sanRegexp:
          '^https://github.com/slsa-framework/slsa-github-generator/.github/workflows/not-trusted.yml@refs/tags/v.*$',
        issuer: GITHUB_ACTIONS_ISSUER,
      },
      judge: 'slsa-v0.2-attestation',
    },
  ]
})

const cases: RealWorldCase[] = [...salrashidCases, ...dockerCases, ...slsaCases]

// --- running the judges ------------------------------------------------------------------------

let registry: FixtureRegistry
let cosignEnv: NodeJS.ProcessEnv

beforeAll(async () => {
  registry = await startFixtureRegistry()
  // cosign never needs TUF with --trusted-root; a private, empty HOME and TUF_ROOT make sure it
  // cannot lean on the machine's cache (nor fill one).
  const home = mkdtempSync(join(tmpdir(), 'signet-cosign-home-'))
  cosignEnv = { HOME: home, TUF_ROOT: join(home, 'tuf') }
})

afterAll(async () => {
  await registry?.stop()
})

const pushed = new Map<string, Promise<PushedManifest>>()

/** The case's image and its `registry/repository@digest`, pushing its fixture the first time. */
async function imageOf(c: RealWorldCase): Promise<{ ref: string; digest: string }> {
  let image = pushed.get(c.repository)
  if (!image) {
    image = c.push(registry, c.repository)
    pushed.set(c.repository, image)
  }
  const { digest } = await image
  return { ref: `${registry.host}/${c.repository}@${digest}`, digest }
}

function cosignIdentityFlags(identity: Identity): string[] {
  return [
    ...('san' in identity
      ? ['--certificate-identity', identity.san]
      : ['--certificate-identity-regexp', identity.sanRegexp]),
    '--certificate-oidc-issuer',
    identity.issuer,
  ]
}

function signetIdentityInputs(identity: Identity): Record<string, string> {
  return {
    ...('san' in identity
      ? { 'certificate-identity': identity.san }
      : { 'certificate-identity-regexp': identity.sanRegexp }),
    'certificate-oidc-issuer': identity.issuer,
  }
}

interface CosignOutcome {
  verdict: Verdict
  /** stdout when it accepts; its `Error: …` message when it rejects. */
  output: string
}

/** cosign's own error line out of runToolAsync's message (which also echoes the command). */
function cosignError(message: string): string {
  return /(?:^|: )Error: (.+)$/m.exec(message)?.[1] ?? message
}

const cosignOutcomes = new Map<RealWorldCase, Promise<CosignOutcome>>()

/**
 * cosign v3's verdict, once per case. Its default (--new-bundle-format) reads bundle referrers
 * and falls back to the `.sig`/`.att` tags when there are none, so the same flags serve every
 * format (--new-bundle-format=false is not needed for the legacy fixtures). Async: the registry
 * lives in this process.
 */
function cosignOutcome(c: RealWorldCase): Promise<CosignOutcome> {
  let outcome = cosignOutcomes.get(c)
  if (!outcome) {
    outcome = (async () => {
      const command =
        c.judge === 'signature' ? ['verify'] : ['verify-attestation', '--type', 'slsaprovenance']
      const args = [
        ...command,
        ...INSECURE_REGISTRY,
        // Deprecated, but still what stops cosign from searching rekor.sigstore.dev for a
        // signature that carries no Rekor bundle: without it the no-bundle case fails on DNS here
        // (and could pass on a machine with network, from the public log), not on the fixture.
        '--offline=true',
        '--trusted-root',
        PUBLIC_GOOD_TRUSTED_ROOT,
        ...cosignIdentityFlags(c.identity),
        (await imageOf(c)).ref,
      ]
      try {
        const output = await runToolAsync('cosign3', args, { env: cosignEnv })
        return { verdict: 'accept', output }
      } catch (err) {
        return { verdict: 'reject', output: cosignError((err as Error).message) }
      }
    })()
    cosignOutcomes.set(c, outcome)
  }
  return outcome
}

interface AttestationResult {
  predicateType: string
  verified: boolean
}

interface ImageResult {
  digest: string
  verified: boolean
  attestations: AttestationResult[]
}

async function runSignet(c: RealWorldCase): Promise<ActionRun> {
  const { ref } = await imageOf(c)
  return runAction({
    mode: 'verify',
    images: ref,
    'trusted-root': PUBLIC_GOOD_TRUSTED_ROOT,
    'plain-http': registry.host,
    // cosign verify checks the index it is given, not its platform manifests.
    recursive: 'false',
    ...signetIdentityInputs(c.identity),
    ...(c.judge === 'slsa-v0.2-attestation' ? { 'require-attestations': 'slsaprovenance02' } : {}),
  })
}

/** Signet's verdict on what cosign was asked, or an error carrying the run's log. */
function signetVerdict(c: RealWorldCase, run: ActionRun, digest: string): Verdict {
  const log = `exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`
  if (run.outputs.verified === undefined || run.outputs.results === undefined)
    throw new Error(`Signet gave no verdict:\n${log}`)
  // enforce defaults to true: a failed image fails the step, a verified one does not.
  expect({ exitCode: run.exitCode, log }).toMatchObject({
    exitCode: run.outputs.verified === 'true' ? 0 : 1,
  })
  const results = JSON.parse(run.outputs.results) as ImageResult[]
  expect(results).toHaveLength(1)
  expect(results[0].digest).toBe(digest)
  expect(results[0].verified).toBe(run.outputs.verified === 'true')
  if (c.judge === 'signature') return run.outputs.verified === 'true' ? 'accept' : 'reject'
  // An attestation is not a signature: without a .sig the image itself still fails, as it does
  // under `cosign verify`, whatever its attestations say.
  expect(run.outputs.verified).toBe('false')
  const slsa = results[0].attestations.filter((a) => a.predicateType === SLSA_V02)
  return slsa.some((a) => a.verified) ? 'accept' : 'reject'
}

describe('real published signatures: cosign v3 gives the INDEX verdict', () => {
  it.each(cases)('cosign v3 should $expected: $name', async (c) => {
    const { verdict, output } = await cosignOutcome(c)
    // The output is in the comparison so that a wrong verdict shows what cosign said.
    expect({ verdict, output }).toEqual({ verdict: c.expected, output: expect.any(String) })
    if (c.expected === 'reject') expect(output).toMatch(c.cosignReason)
  })
})

describe('real published signatures: Signet agrees with cosign v3', () => {
  it.each(cases)('Signet agrees with cosign on: $name', async (c) => {
    const [{ digest }, cosign, run] = await Promise.all([
      imageOf(c),
      cosignOutcome(c),
      runSignet(c),
    ])
    const signet = signetVerdict(c, run, digest)
    expect({ signet, cosign: cosign.verdict, index: c.expected }).toEqual({
      signet: c.expected,
      cosign: c.expected,
      index: c.expected,
    })
  })
})

describe('the default trust root (no trusted-root input)', () => {
  // The public-good root through TUF, or, when the mirror cannot be reached (as on a machine
  // without internet), the root embedded in Signet with a warning. Either way, a real public-good
  // signature verifies and a tampered one does not.
  it.each([cases[0], cases[3]])('gives the INDEX verdict on: $name', async (c) => {
    const { ref } = await imageOf(c)
    const run = await runAction({
      mode: 'verify',
      images: ref,
      'plain-http': registry.host,
      recursive: 'false',
      ...signetIdentityInputs(c.identity),
    })
    expect(run.outputs.verified).toBe(c.expected === 'accept' ? 'true' : 'false')
    const offline = /::warning::could not update the Sigstore trusted root through TUF/.test(
      run.stdout,
    )
    expect(run.summary).toContain(
      offline ? 'Sigstore public good (embedded)' : 'Trust roots: Sigstore public good.',
    )
  })
})

// --- issue 9.1: the index signature covers its platforms, by tag and by digest -----------------
//
// `cosign sign` on an index signs the index only (salrashid123's workflow did just that); cosign
// verify accepts it, and every platform manifest is bound by its digest inside the signed index.
// Signet, with `recursive` at its default, must give cosign's verdict whether the index is named
// by tag or by digest, and say that the index signature is what covers each platform.

const INDEX_TAG = 'v0.0.30'

/** The case's index also under a tag: its exact bytes PUT again by name. */
async function taggedRefOf(c: RealWorldCase): Promise<string> {
  const { digest } = await imageOf(c)
  const answer = await fetch(`http://${registry.host}/v2/${c.repository}/manifests/${digest}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  })
  if (answer.status !== 200) throw new Error(`cannot read ${digest}: ${answer.status}`)
  await registry.pushManifest(c.repository, Buffer.from(await answer.arrayBuffer()), INDEX_TAG)
  return `${registry.host}/${c.repository}:${INDEX_TAG}`
}

interface CoveredResult extends ImageResult {
  verdict: 'verified' | 'failed' | 'skipped'
  platform?: string
  parent?: string
  coveredBy?: string
}

const namings = ['tag', 'digest'] as const
const indexCases = salrashidCases.flatMap((c) => namings.map((by) => [by, c.name, c] as const))

describe('issue 9.1: the salrashid123 index signature, with recursive at its default', () => {
  it.each(indexCases)(
    "issue 9.1: named by %s, Signet gives cosign v3's verdict on: %s",
    async (by, _name, c) => {
      const { ref: byDigest, digest } = await imageOf(c)
      const ref = by === 'tag' ? await taggedRefOf(c) : byDigest
      const cosignArgs = [
        'verify',
        ...INSECURE_REGISTRY,
        '--offline=true',
        '--trusted-root',
        PUBLIC_GOOD_TRUSTED_ROOT,
        ...cosignIdentityFlags(c.identity),
        ref,
      ]
      const cosign: Verdict = await runToolAsync('cosign3', cosignArgs, { env: cosignEnv }).then(
        () => 'accept',
        () => 'reject',
      )
      const run = await runAction({
        mode: 'verify',
        images: ref,
        'trusted-root': PUBLIC_GOOD_TRUSTED_ROOT,
        'plain-http': registry.host,
        ...signetIdentityInputs(c.identity),
      })
      const log = `exit ${run.exitCode}\n${run.stdout}\n${run.stderr}`
      if (run.outputs.verified === undefined || run.outputs.results === undefined)
        throw new Error(`Signet gave no verdict:\n${log}`)
      const signet: Verdict = run.outputs.verified === 'true' ? 'accept' : 'reject'
      expect({ signet, cosign, index: c.expected, log }).toEqual({
        signet: c.expected,
        cosign: c.expected,
        index: c.expected,
        log: expect.any(String),
      })
      const results = JSON.parse(run.outputs.results) as CoveredResult[]
      // The index, then its two platform manifests (the fixture keeps the index only: they are
      // not in the registry, and need not be: the signed index binds their digests).
      expect(results.map((r) => [r.digest === digest ? 'index' : r.platform, r.parent])).toEqual([
        ['index', undefined],
        ['linux/amd64', digest],
        ['linux/arm64/v8', digest],
      ])
      if (c.expected === 'accept') {
        expect(results.map((r) => [r.verdict, r.coveredBy])).toEqual([
          ['verified', 'own signature'],
          ['verified', 'index signature'],
          ['verified', 'index signature'],
        ])
      } else {
        expect(results.map((r) => r.verdict)).toEqual(['failed', 'failed', 'failed'])
      }
    },
  )
})
