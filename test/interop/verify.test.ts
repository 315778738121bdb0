/**
 * Signet's verify mode against what real cosign writes. cosign v3 (bundles, as referrers or in
 * the fallback tag's index) and cosign v2 (legacy `.sig` / `.att` tags) sign and attest images,
 * keyless against the Sigstore stand-in and by a key from `cosign generate-key-pair`; Signet must
 * accept them under the right policy and turn them away under a wrong identity, issuer or key,
 * and when they were tampered with: a corrupted signature, a signature moved to another digest,
 * a referrer index copied to another image, a signature from another Sigstore instance.
 *
 * Every fixture is also put before cosign itself, so a good one is known good and a bad one known
 * bad to the reference implementation too.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/client'
import { runAction, type ActionRun } from '../infra/action-runner'
import {
  Cosign,
  copyTag,
  corruptBundleSignature,
  corruptLegacySignature,
  fallbackTag,
  legacyTag,
  moveSignatureReferrer,
  pushSibling,
  type CosignKeyPair,
  signingFlags,
  type CosignSigner,
  type CosignVersion,
  INSECURE_REGISTRY,
} from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { identityFlags, pushFreshImage, type PushedImage } from '../infra/harness'
import { CYCLONEDX } from '../infra/sboms'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { runToolAsync } from '../infra/tools'

const CYCLONEDX_TYPE = 'https://cyclonedx.org/bom'
const OTHER_IDENTITY = 'https://github.com/evil/app/.github/workflows/publish.yml@refs/heads/main'
const OTHER_ISSUER = 'https://accounts.google.com'
/** The contract's example is 'no signatures found'; Signet says 'expected a signature, got none'. */
const NO_SIGNATURES = /no signatures (were )?found|expected a signature, got none/

let distribution: TestRegistry
let oci: TestRegistry
/** The Sigstore instance the verifier trusts. */
let sigstore: SigstoreStandIn
/** Another instance (its own CA, Rekor and TSA) that issues the very same identity. */
let otherSigstore: SigstoreStandIn
let dir: string
let cosign: Cosign
let client: RegistryClient
let sbomPath: string
let key: CosignKeyPair
let otherKey: CosignKeyPair

// -------------------------------------------------------------------------------------------------
// What the verify contract promises (/tmp/verify-contract.md)

interface SignerInfo {
  identity?: string
  issuer?: string
  publicKey?: boolean
  repository?: string
}

interface SignatureResult {
  format: 'legacy' | 'bundle'
  reference: string
  verified: boolean
  reason?: string
  signer?: SignerInfo
}

interface AttestationResult extends SignatureResult {
  predicateType: string
}

interface VerifyResult {
  image: string
  name: string
  digest: string
  parent?: string
  platform?: string
  coveredBy?: 'own signature' | 'index signature'
  verified: boolean
  verdict: 'verified' | 'failed' | 'skipped'
  reason?: string
  signer?: SignerInfo
  signatures: SignatureResult[]
  attestations: AttestationResult[]
}

// -------------------------------------------------------------------------------------------------
// The producers: one image each, signed and attested once

type Registry = 'distribution' | 'oci'

interface Producer {
  label: string
  version: CosignVersion
  by: 'keyless' | 'key'
  registry: Registry
  /** What Signet must report finding. */
  format: 'bundle' | 'legacy'
}

const PRODUCERS = {
  v3Keyless: {
    label: 'cosign v3 keyless, fallback tag on distribution 2.8',
    version: 3,
    by: 'keyless',
    registry: 'distribution',
    format: 'bundle',
  },
  v3KeylessReferrersAPI: {
    label: 'cosign v3 keyless, referrers API',
    version: 3,
    by: 'keyless',
    registry: 'oci',
    format: 'bundle',
  },
  v3Key: {
    label: 'cosign v3 by key',
    version: 3,
    by: 'key',
    registry: 'distribution',
    format: 'bundle',
  },
  v2Keyless: {
    label: 'cosign v2 keyless',
    version: 2,
    by: 'keyless',
    registry: 'distribution',
    format: 'legacy',
  },
  v2Key: {
    label: 'cosign v2 by key',
    version: 2,
    by: 'key',
    registry: 'distribution',
    format: 'legacy',
  },
} as const satisfies Record<string, Producer>

type ProducerId = keyof typeof PRODUCERS
const PRODUCER_IDS = Object.keys(PRODUCERS) as ProducerId[]
const produced = {} as Record<ProducerId, PushedImage>

const registryOf = (which: Registry): TestRegistry => (which === 'oci' ? oci : distribution)
const pushImage = (which: Registry): Promise<PushedImage> =>
  pushFreshImage(registryOf(which).host, 'verify/app')

function signerOf(by: 'keyless' | 'key', instance = sigstore): CosignSigner {
  return by === 'key'
    ? { kind: 'key', sigstore: instance, key }
    : { kind: 'keyless', sigstore: instance }
}

/** cosign's flags for the right signer of a producer's image. */
function cosignWho(by: 'keyless' | 'key'): string[] {
  return by === 'key' ? ['--key', key.pubPath] : identityFlags(sigstore)
}

async function produce(id: ProducerId): Promise<void> {
  const { version, by, registry } = PRODUCERS[id]
  const image = await pushImage(registry)
  // One after the other: both update the same fallback index.
  await cosign.sign(version, signerOf(by), image.ref)
  await cosign.attest(version, signerOf(by), image.ref, 'cyclonedx', sbomPath)
  produced[id] = image
}

// -------------------------------------------------------------------------------------------------
// Tampered images, each made from a fresh signature or from a producer's

interface Tampering {
  label: string
  make(): Promise<PushedImage>
  /** What Signet's reasons must say (verified keyless against the first instance's root). */
  reason: RegExp
  /** cosign's verdicts on the image, each expected to be a refusal... */
  cosign(image: PushedImage): Promise<string>[]
  /** ...for this reason. */
  cosignSays: RegExp
}

/** A fresh image signed by `version` (keyless), then handed to `edit`. */
async function signedThen(
  version: CosignVersion,
  registry: Registry,
  edit: (image: PushedImage) => Promise<void>,
  instance = sigstore,
): Promise<PushedImage> {
  const image = await pushImage(registry)
  await cosign.sign(version, signerOf('keyless', instance), image.ref)
  await edit(image)
  return image
}

/** A new image next to a producer's, handed to `edit` with the producer's image. */
async function siblingOf(
  id: ProducerId,
  edit: (from: PushedImage, to: PushedImage) => Promise<void>,
): Promise<PushedImage> {
  const from = produced[id]
  const to = await pushSibling(client, from)
  await edit(from, to)
  return to
}

const cosign3Refuses = (image: PushedImage) => [
  cosign.verify(3, sigstore, identityFlags(sigstore), image.ref),
]
const cosign3And2Refuse = (image: PushedImage) => [
  ...cosign3Refuses(image),
  cosign.verify(2, sigstore, identityFlags(sigstore), image.ref),
]

const TAMPERINGS = {
  corruptedLegacy: {
    label: 'a corrupted legacy signature (the .sig annotation rewritten)',
    make: () => signedThen(2, 'distribution', (image) => corruptLegacySignature(client, image)),
    reason: /signature verification failed/,
    cosign: cosign3And2Refuse,
    cosignSays: /signature in bundle does not match signature being verified/,
  },
  corruptedBundleFallback: {
    label: "a corrupted bundle signature (swapped into the fallback tag's index)",
    make: () => signedThen(3, 'distribution', (image) => corruptBundleSignature(client, image)),
    reason: /signature verification failed/,
    cosign: cosign3Refuses,
    cosignSays: /transparency log signature does not match/,
  },
  corruptedBundleReferrersAPI: {
    label: 'a corrupted bundle signature (the only referrer, through the referrers API)',
    make: () => signedThen(3, 'oci', (image) => corruptBundleSignature(client, image)),
    reason: /signature verification failed/,
    cosign: cosign3Refuses,
    cosignSays: /transparency log signature does not match/,
  },
  movedLegacy: {
    label: "a legacy signature moved to another digest (A's .sig copied to B's .sig tag)",
    make: () =>
      siblingOf('v2Keyless', (a, b) =>
        copyTag(client, a, legacyTag(a.image.digest, 'sig'), legacyTag(b.image.digest, 'sig')),
      ),
    reason: /docker-manifest-digest/,
    cosign: cosign3And2Refuse,
    cosignSays: /invalid or missing digest in claim/,
  },
  movedBundle: {
    label: "a bundle moved to another digest (A's referrer pushed with subject B)",
    make: () => siblingOf('v3KeylessReferrersAPI', (a, b) => moveSignatureReferrer(client, a, b)),
    reason: /expected a statement subject with digest/,
    cosign: cosign3Refuses,
    cosignSays: /artifact digest does not match any digest in statement/,
  },
  copiedIndex: {
    label: "a referrer index copied to another image (A's sha256-<hex> tag put as B's)",
    make: () =>
      siblingOf('v3Keyless', (a, b) =>
        copyTag(client, a, fallbackTag(a.image.digest), fallbackTag(b.image.digest)),
      ),
    // The copied index's referrers are about A: ignored, or refused for their statement.
    reason: /not this digest|expected a statement subject with digest/,
    cosign: cosign3Refuses,
    cosignSays: /artifact digest does not match any digest in statement/,
  },
  otherInstanceBundle: {
    label: 'a cosign v3 signature from another Sigstore instance',
    make: () => signedThen(3, 'distribution', async () => undefined, otherSigstore),
    reason: /signature verification failed/,
    cosign: cosign3Refuses,
    cosignSays: /not enough verified log entries from transparency log/,
  },
  otherInstanceLegacy: {
    label: 'a cosign v2 signature from another Sigstore instance',
    make: () => signedThen(2, 'distribution', async () => undefined, otherSigstore),
    reason: /signature verification failed/,
    cosign: cosign3And2Refuse,
    cosignSays: /rekor log public key not found/,
  },
} as const satisfies Record<string, Tampering>

type TamperingId = keyof typeof TAMPERINGS
const TAMPERING_IDS = Object.keys(TAMPERINGS) as TamperingId[]
const tampered = {} as Record<TamperingId, PushedImage>
let unsigned: PushedImage

// -------------------------------------------------------------------------------------------------
// Setup

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-verify-'))
  ;[distribution, oci, sigstore, otherSigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startTestRegistry('oci'),
    startSigstoreStandIn({ dir: join(dir, 'sigstore') }),
    startSigstoreStandIn({ dir: join(dir, 'other-sigstore') }),
  ])
  expect(distribution.kind).toBe('distribution')
  client = new RegistryClient({ plainHttp: [distribution.host, oci.host] })
  cosign = new Cosign(dir)
  sbomPath = join(dir, 'sbom.cdx.json')
  writeFileSync(sbomPath, JSON.stringify(CYCLONEDX))
  ;[key, otherKey] = await Promise.all([
    cosign.generateKeyPair('key', 'right-key'),
    cosign.generateKeyPair('other-key', 'other-key'),
  ])
  await Promise.all(PRODUCER_IDS.map(produce))
  const made = await Promise.all(TAMPERING_IDS.map((id) => TAMPERINGS[id].make()))
  TAMPERING_IDS.forEach((id, i) => (tampered[id] = made[i]))
  unsigned = await pushImage('distribution')
}, 120_000)

afterAll(async () => {
  await Promise.all([distribution?.stop(), oci?.stop(), sigstore?.stop(), otherSigstore?.stop()])
  if (dir && !process.env.SIGNET_KEEP_TMP) rmSync(dir, { recursive: true, force: true })
})

// -------------------------------------------------------------------------------------------------
// Running Signet

/** The keyless policy: the stand-in's identity, trusting `instance`'s root. */
function keylessPolicy(instance = sigstore): Record<string, string> {
  return {
    'trusted-root': instance.trustedRootPath,
    'certificate-identity': instance.identity.subject,
    'certificate-oidc-issuer': instance.identity.issuer,
  }
}

/** The key policy; the trusted root is still needed for the Rekor entries cosign made. */
function keyPolicy(pair = key): Record<string, string> {
  return { 'trusted-root': sigstore.trustedRootPath, 'public-key': pair.pubPath }
}

const policyFor = (id: ProducerId): Record<string, string> =>
  PRODUCERS[id].by === 'key' ? keyPolicy() : keylessPolicy()

function verifyWithSignet(
  images: PushedImage[],
  policy: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<ActionRun> {
  return runAction({
    mode: 'verify',
    images: images.map((i) => i.ref).join('\n'),
    'plain-http': `${distribution.host}\n${oci.host}`,
    ...policy,
    ...extra,
  })
}

/** The results output; a run that gave none (a crash, a refused input) fails with its log. */
function resultsOf(run: ActionRun): VerifyResult[] {
  if (run.outputs.results === undefined || run.outputs.verified === undefined) {
    throw new Error(`Signet gave no results (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`)
  }
  return JSON.parse(run.outputs.results) as VerifyResult[]
}

function resultFor(run: ActionRun, image: PushedImage): VerifyResult {
  const results = resultsOf(run)
  const result = results.find((r) => r.digest === image.image.digest)
  if (!result) throw new Error(`no result for ${image.ref} in ${run.outputs.results}`)
  return result
}

/** Every reason the result gives, the image's and each signature's and attestation's. */
function reasonsOf(result: VerifyResult): string {
  return [result.reason, ...result.signatures.map((s) => s.reason)]
    .concat(result.attestations.map((a) => a.reason))
    .filter((r): r is string => Boolean(r))
    .join('\n')
}

function expectVerified(run: ActionRun, image: PushedImage): VerifyResult {
  resultsOf(run)
  if (run.exitCode !== 0) throw new Error(`verify failed: ${run.stdout}\n${run.stderr}`)
  expect(run.outputs.verified).toBe('true')
  expect(run.errors).toEqual([])
  const result = resultFor(run, image)
  expect(result).toMatchObject({ verified: true, verdict: 'verified', name: image.name })
  return result
}

/** Turned away: exit 1, verified false, one ::error naming the image, the reason in results. */
function expectRejected(run: ActionRun, image: PushedImage, reason: RegExp): VerifyResult {
  resultsOf(run)
  if (run.exitCode !== 1) throw new Error(`expected exit 1: ${run.stdout}\n${run.stderr}`)
  expect(run.outputs.verified).toBe('false')
  expect(run.errors).toHaveLength(1)
  expect(run.errors[0]).toContain(image.ref)
  const result = resultFor(run, image)
  expect(result).toMatchObject({ verified: false, verdict: 'failed' })
  expect(reasonsOf(result)).toMatch(reason)
  return result
}

function expectSigner(result: VerifyResult | SignatureResult, by: 'keyless' | 'key'): void {
  if (by === 'key') {
    expect(result.signer).toMatchObject({ publicKey: true })
  } else {
    expect(result.signer).toMatchObject({
      identity: sigstore.identity.subject,
      issuer: sigstore.identity.issuer,
      repository: expect.stringMatching(/(^|\/)acme\/app$/),
    })
  }
}

// -------------------------------------------------------------------------------------------------
// Policies that must turn a good signature away

interface WrongPolicy {
  label: string
  fixture: ProducerId
  /** Signet's inputs. */
  policy: () => Record<string, string>
  reason: RegExp
  /** The same policy as cosign flags; `laxer`: cosign takes it, where the contract is stricter. */
  cosign: { who: () => string[]; laxer?: true }
}

const WRONG_KEYLESS: Omit<WrongPolicy, 'fixture'>[] = [
  {
    label: 'another identity',
    policy: () => ({ ...keylessPolicy(), 'certificate-identity': OTHER_IDENTITY }),
    reason: /expected identity/,
    cosign: {
      who: () => [
        '--certificate-identity',
        OTHER_IDENTITY,
        '--certificate-oidc-issuer',
        sigstore.identity.issuer,
      ],
    },
  },
  {
    label: 'another issuer',
    policy: () => ({ ...keylessPolicy(), 'certificate-oidc-issuer': OTHER_ISSUER }),
    reason: /expected issuer/,
    cosign: {
      who: () => [
        '--certificate-identity',
        sigstore.identity.subject,
        '--certificate-oidc-issuer',
        OTHER_ISSUER,
      ],
    },
  },
  {
    label: 'an identity regexp that matches only a prefix of the SAN',
    policy: () => ({
      'trusted-root': sigstore.trustedRootPath,
      'certificate-identity-regexp': 'https://github\\.com/acme/app/',
      'certificate-oidc-issuer': sigstore.identity.issuer,
    }),
    reason: /expected identity/,
    cosign: {
      who: () => [
        '--certificate-identity-regexp',
        'https://github\\.com/acme/app/',
        '--certificate-oidc-issuer',
        sigstore.identity.issuer,
      ],
      laxer: true,
    },
  },
  {
    label: 'an issuer regexp that matches only part of the issuer',
    policy: () => ({
      'trusted-root': sigstore.trustedRootPath,
      'certificate-identity': sigstore.identity.subject,
      'certificate-oidc-issuer-regexp': 'token\\.actions',
    }),
    reason: /expected issuer/,
    cosign: {
      who: () => [
        '--certificate-identity',
        sigstore.identity.subject,
        '--certificate-oidc-issuer-regexp',
        'token\\.actions',
      ],
      laxer: true,
    },
  },
]

const WRONG_POLICIES: WrongPolicy[] = [
  ...(['v3Keyless', 'v2Keyless'] as const).flatMap((fixture) =>
    WRONG_KEYLESS.map((p) => ({ ...p, fixture })),
  ),
  ...(['v3Key', 'v2Key'] as const).map((fixture): WrongPolicy => ({
    label: 'another public key',
    fixture,
    policy: () => keyPolicy(otherKey),
    reason: /signature verification failed/,
    cosign: { who: () => ['--key', otherKey.pubPath] },
  })),
]

const caseOf = (p: WrongPolicy) => [`${PRODUCERS[p.fixture].label} under ${p.label}`, p] as const
const wrongPolicyCases = WRONG_POLICIES.map(caseOf)
const producerCases = PRODUCER_IDS.map((id) => [PRODUCERS[id].label, id] as const)
const tamperingCases = TAMPERING_IDS.map((id) => [TAMPERINGS[id].label, id] as const)

// -------------------------------------------------------------------------------------------------
// cosign, the reference, on the same fixtures

/** The in-toto statements cosign verify-attestation printed (one DSSE envelope a line). */
function statementsOf(output: string): { predicateType: string; predicate: unknown }[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const { payload } = JSON.parse(line) as { payload: string }
      return JSON.parse(Buffer.from(payload, 'base64').toString('utf8')) as {
        predicateType: string
        predicate: unknown
      }
    })
}

describe('the fixtures, judged by cosign itself', () => {
  it.each(producerCases)(
    '%s: cosign verify and verify-attestation --type cyclonedx accept it',
    async (_label, id) => {
      const { by } = PRODUCERS[id]
      const { ref, image } = produced[id]
      // cosign v3 also reads v2's .sig and .att tags when there is no bundle
      for (const judge of judgesOf(id)) {
        expect(await cosign.verify(judge, sigstore, cosignWho(by), ref)).toContain(image.digest)
        const out = await cosign.verifyAttestation(judge, sigstore, cosignWho(by), 'cyclonedx', ref)
        expect(statementsOf(out)).toEqual([
          expect.objectContaining({ predicateType: CYCLONEDX_TYPE, predicate: CYCLONEDX }),
        ])
      }
    },
  )

  const judgesOf = (id: ProducerId) =>
    PRODUCERS[id].format === 'legacy' ? ([2, 3] as const) : ([3] as const)

  it.each(WRONG_POLICIES.filter((p) => !p.cosign.laxer).map(caseOf))(
    '%s: cosign turns it away too',
    async (_label, wrong) => {
      for (const judge of judgesOf(wrong.fixture)) {
        const ref = produced[wrong.fixture].ref
        await expect(cosign.verify(judge, sigstore, wrong.cosign.who(), ref)).rejects.toThrow()
      }
    },
  )

  // Go's regexp.MatchString finds a match anywhere: cosign takes a regexp that matches a part.
  it.each(WRONG_POLICIES.filter((p) => p.cosign.laxer).map(caseOf))(
    '%s: cosign accepts it (Signet wants the whole value matched)',
    async (_label, wrong) => {
      for (const judge of judgesOf(wrong.fixture)) {
        await cosign.verify(judge, sigstore, wrong.cosign.who(), produced[wrong.fixture].ref)
      }
    },
  )

  it.each(tamperingCases)('%s: cosign turns it away', async (_label, id) => {
    const verdicts = await Promise.allSettled(TAMPERINGS[id].cosign(tampered[id]))
    expect(verdicts.length).toBeGreaterThan(0)
    for (const verdict of verdicts) {
      if (verdict.status === 'fulfilled') throw new Error(`cosign accepted it: ${verdict.value}`)
      expect(String(verdict.reason)).toMatch(TAMPERINGS[id].cosignSays)
    }
  })

  it("a signature from another instance is good under that instance's own root", async () => {
    const who = identityFlags(otherSigstore)
    await cosign.verify(3, otherSigstore, who, tampered.otherInstanceBundle.ref)
    await cosign.verify(2, otherSigstore, who, tampered.otherInstanceLegacy.ref)
  })

  it('an unsigned image is turned away', async () => {
    await expect(cosign.verify(3, sigstore, identityFlags(sigstore), unsigned.ref)).rejects.toThrow(
      /no signatures found|no matching signatures/,
    )
  })
})

// -------------------------------------------------------------------------------------------------
// Signet

describe('Signet verify accepts what cosign made, under the right policy', () => {
  it.each(producerCases)('%s: verified, with its signer and format', async (_label, id) => {
    const { by, format } = PRODUCERS[id]
    const image = produced[id]
    const result = expectVerified(await verifyWithSignet([image], policyFor(id)), image)
    expectSigner(result, by)
    const good = result.signatures.filter((s) => s.verified)
    expect(good.map((s) => s.format)).toContain(format)
    for (const s of good) expectSigner(s, by)
  })

  it.each(producerCases)(
    '%s: require-attestations cyclonedx is met by its CycloneDX attestation',
    async (_label, id) => {
      const { format } = PRODUCERS[id]
      const image = produced[id]
      const run = await verifyWithSignet([image], policyFor(id), {
        'require-attestations': 'cyclonedx',
      })
      const result = expectVerified(run, image)
      expect(result.attestations).toContainEqual(
        expect.objectContaining({ predicateType: CYCLONEDX_TYPE, format, verified: true }),
      )
    },
  )

  it.each((['v3Keyless', 'v2Keyless'] as const).map((id) => [PRODUCERS[id].label, id] as const))(
    '%s: identity and issuer regexps matching the whole values are accepted',
    async (_label, id) => {
      const image = produced[id]
      const run = await verifyWithSignet([image], {
        'trusted-root': sigstore.trustedRootPath,
        'certificate-identity-regexp': '^https://github\\.com/acme/app/\\.github/workflows/.+$',
        'certificate-oidc-issuer-regexp': 'https://token\\.actions\\.githubusercontent\\.com',
      })
      expectSigner(expectVerified(run, image), 'keyless')
    },
  )

  it("a signature from another instance is verified under that instance's own root", async () => {
    const image = tampered.otherInstanceBundle
    const result = expectVerified(
      await verifyWithSignet([image], keylessPolicy(otherSigstore)),
      image,
    )
    expectSigner(result, 'keyless')
  })

  it('a trusted-root file of several roots (JSON lines) accepts signatures from each', async () => {
    const roots = join(dir, 'both-roots.jsonl')
    writeFileSync(
      roots,
      [sigstore, otherSigstore]
        .map((s) => JSON.stringify(JSON.parse(readFileSync(s.trustedRootPath, 'utf8'))))
        .join('\n') + '\n',
    )
    const images = [produced.v3Keyless, tampered.otherInstanceBundle, tampered.otherInstanceLegacy]
    const run = await verifyWithSignet(images, { ...keylessPolicy(), 'trusted-root': roots })
    for (const image of images) expectVerified(run, image)
  })
})

describe('Signet verify turns a good signature away under a wrong policy', () => {
  it.each(wrongPolicyCases)('%s', async (_label, wrong) => {
    const image = produced[wrong.fixture]
    expectRejected(await verifyWithSignet([image], wrong.policy()), image, wrong.reason)
  })

  it('turns away a CycloneDX-attested image when an SPDX attestation is required', async () => {
    const image = produced.v3Keyless
    const run = await verifyWithSignet([image], keylessPolicy(), { 'require-attestations': 'spdx' })
    expectRejected(run, image, /spdx/i)
  })
})

describe('Signet verify turns tampered signatures away', () => {
  it.each(tamperingCases)('%s', async (_label, id) => {
    const image = tampered[id]
    expectRejected(await verifyWithSignet([image], keylessPolicy()), image, TAMPERINGS[id].reason)
  })

  it('an image with no signature at all: no signatures found', async () => {
    expectRejected(await verifyWithSignet([unsigned], keylessPolicy()), unsigned, NO_SIGNATURES)
  })
})

describe('how failures are reported', () => {
  it('enforce: false reports the failure as a warning and exits 0', async () => {
    const run = await verifyWithSignet([unsigned], keylessPolicy(), { enforce: 'false' })
    resultsOf(run)
    if (run.exitCode !== 0) throw new Error(`expected exit 0: ${run.stdout}\n${run.stderr}`)
    expect(run.outputs.verified).toBe('false')
    expect(run.errors).toEqual([])
    const warnings = run.stdout.split('\n').filter((l) => l.startsWith('::warning'))
    expect(warnings.filter((w) => w.includes(unsigned.ref))).toHaveLength(1)
    expect(resultFor(run, unsigned)).toMatchObject({ verified: false, verdict: 'failed' })
  })

  it('of several images, only the failing one gets an ::error', async () => {
    const good = produced.v3Keyless
    const run = await verifyWithSignet([good, unsigned], keylessPolicy())
    const bad = expectRejected(run, unsigned, NO_SIGNATURES)
    expect(bad.signatures).toEqual([])
    expect(run.errors[0]).not.toContain(good.ref)
    expect(resultFor(run, good)).toMatchObject({ verified: true, verdict: 'verified' })
  })
})

// -------------------------------------------------------------------------------------------------
// issue 8.10: a platform team's reusable workflow signs for every repository that calls it, so every
// caller's certificate names the same identity (the reusable workflow's ref). Only the claims Fulcio
// records from the caller's token tell them apart; Signet must pin them as cosign's
// --certificate-github-workflow-* flags do, and cosign is the judge.

const REUSABLE = 'platform/workflows/.github/workflows/build.yml@refs/heads/main'
const REUSABLE_SAN = `https://github.com/${REUSABLE}`

/** The token claims of `repository` calling the platform's reusable workflow on a push to main. */
function callerClaims(repository: string, ids: [string, string]) {
  const owner = repository.split('/')[0]
  return {
    sub: `repo:${repository}:ref:refs/heads/main`,
    repository,
    repository_owner: owner,
    repository_id: ids[0],
    repository_owner_id: ids[1],
    workflow: 'release',
    workflow_ref: `${repository}/.github/workflows/release.yml@refs/heads/main`,
    job_workflow_ref: REUSABLE,
  }
}

/** The stand-in, minting every token as `claims` would: the same CA, Rekor and root. */
const asCaller = (claims: Record<string, string>): SigstoreStandIn => ({
  ...sigstore,
  mintToken: (over) => sigstore.mintToken({ ...claims, ...over }),
})

describe('issue 8.10: pinning the caller of a reusable workflow', () => {
  const CALLERS = {
    acme: callerClaims('acme/app', ['700000001', '700000002']),
    evil: callerClaims('evil/app', ['666000001', '666000002']),
  }
  type Caller = keyof typeof CALLERS
  const signed = {} as Record<`${Caller}${CosignVersion}`, PushedImage>
  const reusableIdentity = () => ({
    'trusted-root': sigstore.trustedRootPath,
    'certificate-identity': REUSABLE_SAN,
    'certificate-oidc-issuer': sigstore.identity.issuer,
  })
  const cosignPinned = (repository: string) => [
    '--certificate-identity',
    REUSABLE_SAN,
    '--certificate-oidc-issuer',
    sigstore.identity.issuer,
    '--certificate-github-workflow-repository',
    repository,
  ]
  const cases = (['acme', 'evil'] as const).flatMap((caller) =>
    ([3, 2] as const).map(
      (version) => [`${caller}/app, cosign v${version}`, caller, version] as const,
    ),
  )

  beforeAll(async () => {
    await Promise.all(
      cases.map(async ([, caller, version]) => {
        // cosign v3's bundles as referrers (through the referrers API), v2's .sig tags.
        const image = await pushImage(version === 3 ? 'oci' : 'distribution')
        await cosign.sign(
          version,
          { kind: 'keyless', sigstore: asCaller(CALLERS[caller]) },
          image.ref,
        )
        signed[`${caller}${version}`] = image
      }),
    )
  }, 120_000)

  it.each(cases)(
    'issue 8.10: %s: the reusable workflow identity alone accepts it, for cosign and for Signet',
    async (_label, caller, version) => {
      const image = signed[`${caller}${version}`]
      expect(
        await cosign.verify(version, sigstore, identityFlagsFor(REUSABLE_SAN), image.ref),
      ).toContain(image.image.digest)
      const result = expectVerified(await verifyWithSignet([image], reusableIdentity()), image)
      expect(result.signer).toMatchObject({
        identity: REUSABLE_SAN,
        repository: `https://github.com/${caller}/app`,
      })
    },
  )

  it.each(cases)(
    "issue 8.10: %s: certificate-github-workflow-repository acme/app gives cosign's verdict",
    async (_label, caller, version) => {
      const image = signed[`${caller}${version}`]
      const judges = version === 2 ? ([2, 3] as const) : ([3] as const)
      const run = await verifyWithSignet([image], {
        ...reusableIdentity(),
        'certificate-github-workflow-repository': 'acme/app',
      })
      if (caller === 'acme') {
        for (const judge of judges)
          await cosign.verify(judge, sigstore, cosignPinned('acme/app'), image.ref)
        expectVerified(run, image)
      } else {
        for (const judge of judges)
          await expect(
            cosign.verify(judge, sigstore, cosignPinned('acme/app'), image.ref),
          ).rejects.toThrow(/expected GitHub ?Workflow ?Repository/i)
        expectRejected(run, image, /expected GitHub workflow repository acme\/app, got evil\/app/)
      }
    },
  )

  it.each(cases)(
    'issue 8.10: %s: a policy file pinning sourceRepository acme/app gives the same verdict',
    async (_label, caller, version) => {
      const image = signed[`${caller}${version}`]
      const policy = join(dir, `pinned-${caller}-${version}.yml`)
      writeFileSync(
        policy,
        [
          'rules:',
          "  - images: '**'",
          '    signers:',
          `      - identity: ${REUSABLE_SAN}`,
          `        issuer: ${sigstore.identity.issuer}`,
          '        sourceRepository: acme/app',
          '        sourceRepositoryOwner: acme',
          '        sourceRepositoryIdentifier: "700000001"',
          '        sourceRef: refs/heads/main',
          '        trigger: push',
          `        buildSignerURI: ${REUSABLE_SAN}`,
          '        runnerEnvironment: github-hosted',
          '',
        ].join('\n'),
      )
      const run = await verifyWithSignet([image], {
        'trusted-root': sigstore.trustedRootPath,
        policy,
      })
      if (caller === 'acme') expectVerified(run, image)
      else expectRejected(run, image, /expected source repository acme\/app, got evil\/app/)
    },
  )
})

function identityFlagsFor(identity: string): string[] {
  return ['--certificate-identity', identity, '--certificate-oidc-issuer', sigstore.identity.issuer]
}

// -------------------------------------------------------------------------------------------------
// issue 9.1: `cosign sign` on an index signs the index only, and cosign verify accepts it: every
// platform manifest reached through it is bound by its digest inside the signed index. Signet must
// verify the index and each platform it reaches through it (covered by the index signature),
// whether the index is named by tag or by digest; `cosign sign --recursive` gives each platform its
// own signature; a rule with `platforms: own-signature` wants that; a platform manifest named by its
// own digest needs its own signature (cosign v3 agrees).

describe('issue 9.1: an index signature covers its platforms', () => {
  const PLATFORMS = ['linux/amd64', 'linux/arm64']
  const TAG = 'v1'
  /** Signed by cosign v3 on the index only (no --recursive), keyless and by key. */
  const topOnly = {} as Record<'keyless' | 'key', PushedImage>
  /** Signed by cosign v3 with --recursive (keyless): the index and each platform manifest. */
  let recursive: PushedImage

  const pushIndex = (): Promise<PushedImage> =>
    pushFreshImage(distribution.host, 'verify/multi', { platforms: PLATFORMS, tag: TAG })

  /** `cosign sign --recursive` (v3): the Cosign helper has no flag for it. */
  async function signRecursive(image: PushedImage): Promise<void> {
    const home = mkdtempSync(join(dir, 'cosign-recursive-'))
    const token = join(home, 'token.jwt')
    writeFileSync(token, sigstore.mintToken())
    const flags = signingFlags(3, { kind: 'keyless', sigstore }, () => token)
    await runToolAsync(
      'cosign3',
      ['sign', '--yes', '--recursive', ...INSECURE_REGISTRY, ...flags, image.ref],
      { env: { HOME: home, TUF_ROOT: join(home, 'tuf') } },
    )
  }

  const byName = (image: PushedImage, by: 'tag' | 'digest'): string =>
    by === 'tag' ? `${image.name}:${TAG}` : image.ref
  const platformRef = (image: PushedImage, i: number): string =>
    `${image.name}@${image.image.children[i].digest}`

  /** The index's result and its platforms', in the order Signet gives them. */
  function coverage(run: ActionRun, image: PushedImage): (string | undefined)[][] {
    return resultsOf(run).map((r) => [
      r.digest === image.image.digest ? 'index' : r.platform,
      r.verdict,
      r.coveredBy,
    ])
  }

  beforeAll(async () => {
    const [keyless, keyed, both] = await Promise.all([pushIndex(), pushIndex(), pushIndex()])
    await Promise.all([
      cosign.sign(3, signerOf('keyless'), keyless.ref),
      cosign.sign(3, signerOf('key'), keyed.ref),
      signRecursive(both),
    ])
    topOnly.keyless = keyless
    topOnly.key = keyed
    recursive = both
  }, 120_000)

  const topOnlyCases = (['keyless', 'key'] as const).flatMap((by) =>
    (['tag', 'digest'] as const).map((naming) => [by, naming] as const),
  )

  it.each(topOnlyCases)(
    'issue 9.1: an index cosign v3 signed %s without --recursive, named by %s: cosign v3 accepts it, Signet verifies it and its platforms',
    async (by, naming) => {
      const image = topOnly[by]
      const ref = byName(image, naming)
      expect(await cosign.verify(3, sigstore, cosignWho(by), ref)).toContain(image.image.digest)
      const run = await verifyWithSignet([], policyFor(by === 'key' ? 'v3Key' : 'v3Keyless'), {
        images: ref,
      })
      const index = expectVerified(run, image)
      expectSigner(index, by)
      expect(coverage(run, image)).toEqual([
        ['index', 'verified', 'own signature'],
        ['linux/amd64', 'verified', 'index signature'],
        ['linux/arm64', 'verified', 'index signature'],
      ])
      for (const platform of resultsOf(run).slice(1)) {
        expect(platform.parent).toBe(image.image.digest)
        // What covered it: the index's signer; the platform itself carries no signature.
        expectSigner(platform, by)
        expect(platform.signatures).toEqual([])
      }
    },
  )

  it.each(['tag', 'digest'] as const)(
    'issue 9.1: an index cosign v3 signed with --recursive, named by %s: each platform is covered by its own signature',
    async (naming) => {
      const ref = byName(recursive, naming)
      await cosign.verify(3, sigstore, cosignWho('keyless'), ref)
      for (const i of [0, 1])
        await cosign.verify(3, sigstore, cosignWho('keyless'), platformRef(recursive, i))
      const run = await verifyWithSignet([], keylessPolicy(), { images: ref })
      expectVerified(run, recursive)
      expect(coverage(run, recursive)).toEqual([
        ['index', 'verified', 'own signature'],
        ['linux/amd64', 'verified', 'own signature'],
        ['linux/arm64', 'verified', 'own signature'],
      ])
    },
  )

  /** A policy file of one keyless rule for every image, with `platforms: <value>`. */
  function platformsPolicy(value: string): Record<string, string> {
    const path = join(dir, `platforms-${value}.yml`)
    writeFileSync(
      path,
      [
        'rules:',
        "  - images: '**'",
        `    platforms: ${value}`,
        '    signers:',
        `      - identity: ${sigstore.identity.subject}`,
        `        issuer: ${sigstore.identity.issuer}`,
        '',
      ].join('\n'),
    )
    return { 'trusted-root': sigstore.trustedRootPath, policy: path }
  }

  it('issue 9.1: a rule with platforms: own-signature refuses platforms without their own signature, and says why', async () => {
    const image = topOnly.keyless
    const run = await verifyWithSignet([image], platformsPolicy('own-signature'))
    resultsOf(run)
    expect(run.exitCode).toBe(1)
    expect(run.outputs.verified).toBe('false')
    expect(coverage(run, image)).toEqual([
      ['index', 'verified', 'own signature'],
      ['linux/amd64', 'failed', undefined],
      ['linux/arm64', 'failed', undefined],
    ])
    for (const platform of resultsOf(run).slice(1)) {
      expect(platform.reason).toMatch(/^expected a signature, got none/)
      expect(platform.reason).toMatch(
        /platforms: own-signature.*: the index's signature does not cover a platform manifest/,
      )
    }
    expect(run.errors).toHaveLength(2)
  })

  it('issue 9.1: a rule with platforms: own-signature verifies an index signed with --recursive', async () => {
    const run = await verifyWithSignet([recursive], platformsPolicy('own-signature'))
    expectVerified(run, recursive)
    expect(coverage(run, recursive).map((r) => r[2])).toEqual([
      'own signature',
      'own signature',
      'own signature',
    ])
  })

  it('issue 9.1: platforms: index-signature is the default, written out', async () => {
    const image = topOnly.keyless
    const run = await verifyWithSignet([image], platformsPolicy('index-signature'))
    expectVerified(run, image)
    expect(coverage(run, image).map((r) => r[2])).toEqual([
      'own signature',
      'index signature',
      'index signature',
    ])
  })

  it.each(['keyless', 'key'] as const)(
    'issue 9.1: a platform manifest named by its own digest needs its own signature (%s): cosign v3 and Signet refuse it',
    async (by) => {
      const image = topOnly[by]
      const ref = platformRef(image, 1)
      await expect(cosign.verify(3, sigstore, cosignWho(by), ref)).rejects.toThrow(
        /no (matching )?signatures/i,
      )
      const run = await verifyWithSignet([], policyFor(by === 'key' ? 'v3Key' : 'v3Keyless'), {
        images: ref,
      })
      resultsOf(run)
      expect(run.exitCode).toBe(1)
      expect(resultsOf(run)).toEqual([
        expect.objectContaining({
          digest: image.image.children[1].digest,
          verdict: 'failed',
          reason: expect.stringMatching(NO_SIGNATURES),
        }),
      ])
      expect(resultsOf(run)[0].coveredBy).toBeUndefined()
      // ...and one with its own signature is verified by it.
      const own = await verifyWithSignet([], keylessPolicy(), { images: platformRef(recursive, 1) })
      expect(resultsOf(own).map((r) => [r.verdict, r.coveredBy])).toEqual([
        ['verified', 'own signature'],
      ])
    },
  )

  it('issue 9.1: FROM --platform on an index signed without --recursive: the platform is covered by the index signature', async () => {
    const image = topOnly.keyless
    const workspace = mkdtempSync(join(dir, 'ws-'))
    writeFileSync(
      join(workspace, 'Dockerfile'),
      `FROM --platform=linux/arm64 ${image.name}:${TAG}\nFROM --platform=linux/amd64 ${image.ref}\n`,
    )
    const run = await runAction(
      {
        mode: 'verify',
        dockerfile: 'Dockerfile',
        'plain-http': distribution.host,
        ...keylessPolicy(),
      },
      {},
      { cwd: workspace },
    )
    expect(run.errors).toEqual([])
    expect(coverage(run, image)).toEqual([
      ['index', 'verified', 'own signature'],
      ['linux/arm64', 'verified', 'index signature'],
      ['index', 'verified', 'own signature'],
      ['linux/amd64', 'verified', 'index signature'],
    ])
  })
})
