/**
 * signature-repository, cosign's COSIGN_REPOSITORY (issue 12.4): signatures and attestations kept
 * in another repository than the image's. What Signet writes there, real cosign v3 and v2 read
 * with COSIGN_REPOSITORY set; what they write there, Signet reads with signature-repository; and
 * without it Signet finds nothing and says where to look. On Debian's docker-registry (no
 * referrers API: the fallback tag lives in the signature repository) and on a registry with the
 * referrers API.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/client'
import type { Repository } from '../../src/registry/types'
import { runAction, type ActionRun } from '../infra/action-runner'
import { Cosign, INSECURE_REGISTRY, type CosignKeyPair, type CosignVersion } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import {
  identityFlags,
  oidcEnv,
  pushFreshImage,
  standInInputs,
  writeSigningKey,
  type PushedImage,
} from '../infra/harness'
import { imageDigests } from '../infra/images'
import { CYCLONEDX } from '../infra/sboms'
import { startOciRegistry } from '../infra/oci-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { runToolAsync } from '../infra/tools'

let distribution: TestRegistry
let oci: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let client: RegistryClient
let sbomPath: string
/** Signet's signing key (key / key-password) and its public half. */
let signetKey: { keyPath: string; pubPath: string }
/** cosign's own key pair, for what cosign signs by key. */
let cosignKey: CosignKeyPair
let stores = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-sigrepo-'))
  ;[distribution, oci, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startTestRegistry('oci'),
    startSigstoreStandIn({ dir: join(dir, 'sigstore') }),
  ])
  expect(distribution.kind).toBe('distribution')
  client = new RegistryClient({ plainHttp: [distribution.host, oci.host] })
  sbomPath = join(dir, 'sbom.cdx.json')
  writeFileSync(sbomPath, JSON.stringify(CYCLONEDX))
  signetKey = writeSigningKey(dir, 'signet', 'pw')
  cosignKey = await new Cosign(join(dir, 'keys')).generateKeyPair('cosign', 'cosign-pw')
}, 120_000)

afterAll(async () => {
  await Promise.all([distribution?.stop(), oci?.stop(), sigstore?.stop()])
  if (dir && !process.env.SIGNET_KEEP_TMP) rmSync(dir, { recursive: true, force: true })
})

const REGISTRIES: [string, () => TestRegistry][] = [
  ['distribution 2.8 (fallback tag)', () => distribution],
  ['a registry with the referrers API', () => oci],
]

/** A fresh image, and a fresh signature repository on the same registry. */
async function imageAndStore(
  registry: TestRegistry,
  platforms?: string[],
): Promise<{ image: PushedImage; store: string; storeRepo: Repository }> {
  const image = await pushFreshImage(registry.host, 'sigrepo/app', { platforms })
  const storeRepo = { registry: registry.host, repository: `sigrepo/signatures${stores++}` }
  return { image, store: `${registry.host}/${storeRepo.repository}`, storeRepo }
}

const plainHttp = (): string => `${distribution.host}\n${oci.host}`

function expectOk(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`action failed: ${run.stdout}\n${run.stderr}`)
}

/** cosign v3 or v2 `verify` / `verify-attestation`, with COSIGN_REPOSITORY when given. */
async function cosignVerify(
  version: CosignVersion,
  args: string[],
  repository?: string,
): Promise<string> {
  const [command, ...rest] = args
  const root = version === 3 ? ['--trusted-root', sigstore.trustedRootPath] : []
  return runToolAsync(
    version === 3 ? 'cosign3' : 'cosign2',
    [command, ...INSECURE_REGISTRY, ...root, ...rest],
    {
      env: {
        ...(version === 2 ? sigstore.cosignV2Env : {}),
        ...(repository ? { COSIGN_REPOSITORY: repository } : {}),
      },
    },
  )
}

/** The image repository's tags: signatures must not be among them. */
async function signatureTagsIn(repo: Repository): Promise<string[]> {
  return (await client.listTags(repo)).filter((t) => t.startsWith('sha256-'))
}

interface SignResult {
  digest: string
  signed: boolean
  signatures: { format: string; reference: string; fallbackTag?: string }[]
  attestations: { format: string; reference: string; predicateType: string }[]
}

interface VerifyResult {
  digest: string
  verified: boolean
  reason?: string
  signatureRepository?: string
  signatures: { format: string; reference: string; verified: boolean }[]
  attestations: { format: string; predicateType: string; verified: boolean }[]
}

function verifyResults(run: ActionRun): VerifyResult[] {
  if (run.outputs.results === undefined) {
    throw new Error(`Signet gave no results (exit ${run.exitCode}):\n${run.stdout}\n${run.stderr}`)
  }
  return JSON.parse(run.outputs.results) as VerifyResult[]
}

function signetVerify(
  image: PushedImage,
  signer: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<ActionRun> {
  return runAction({
    mode: 'verify',
    images: image.ref,
    'plain-http': plainHttp(),
    'trusted-root': sigstore.trustedRootPath,
    ...signer,
    ...extra,
  })
}

const keylessPolicy = (): Record<string, string> => ({
  'certificate-identity': sigstore.identity.subject,
  'certificate-oidc-issuer': sigstore.identity.issuer,
})

/**
 * Runs the verify-command output as a user pastes it into a shell: `COSIGN_REPOSITORY=… cosign
 * verify …`, with the files it names where this test keeps them.
 */
async function runVerifyCommand(command: string, publicKey?: string): Promise<string> {
  const words = command.split(' ')
  const env: Record<string, string> = {}
  while (/^[A-Z_]+=/.test(words[0] ?? '')) {
    const word = words.shift()!
    env[word.slice(0, word.indexOf('='))] = word.slice(word.indexOf('=') + 1)
  }
  const [program, subcommand, ...args] = words
  expect([program, subcommand]).toEqual(['cosign', 'verify'])
  const resolved = args.map((a) =>
    a === '--key=cosign.pub' && publicKey
      ? `--key=${publicKey}`
      : a === '--trusted-root=trusted_root.json'
        ? `--trusted-root=${sigstore.trustedRootPath}`
        : a,
  )
  return runToolAsync('cosign3', ['verify', ...INSECURE_REGISTRY, ...resolved], { env })
}

describe('Signet signs into a signature repository: cosign v3 and v2 read it there', () => {
  it.each(REGISTRIES)(
    'keyless, both formats, an index and its platforms, with an SBOM attestation, on %s',
    async (_label, registryOf) => {
      const registry = registryOf()
      const { image, store, storeRepo } = await imageAndStore(registry, [
        'linux/amd64',
        'linux/arm64',
      ])
      const run = await runAction(
        {
          images: image.ref,
          sbom: sbomPath,
          'signature-repository': store,
          ...standInInputs(sigstore, registry.host),
        },
        oidcEnv(sigstore),
      )
      expectOk(run)
      const results = JSON.parse(run.outputs.results) as SignResult[]
      expect(results.map((r) => r.digest).sort()).toEqual(imageDigests(image.image).sort())
      const [result] = results
      expect(results.every((r) => r.signed)).toBe(true)
      for (const written of [...result.signatures, ...result.attestations])
        expect(
          written.reference.startsWith(`${store}:`) || written.reference.startsWith(`${store}@`),
        ).toBe(true)
      // Nothing beside the image: its repository holds no signature, attestation or fallback tag.
      expect(await signatureTagsIn(image.repo)).toEqual([])
      expect((await signatureTagsIn(storeRepo)).length).toBeGreaterThan(0)
      expect(run.outputs['verify-command']).toMatch(/^COSIGN_REPOSITORY=\S+ cosign verify /)
      expect(run.summary).toContain('signature-repository')

      const who = identityFlags(sigstore)
      expect(await cosignVerify(3, ['verify', ...who, image.ref], store)).toContain(
        image.image.digest,
      )
      await cosignVerify(3, ['verify', '--new-bundle-format=false', ...who, image.ref], store)
      expect(await cosignVerify(2, ['verify', ...who, image.ref], store)).toContain(
        image.image.digest,
      )
      for (const version of [3, 2] as const) {
        await cosignVerify(
          version,
          ['verify-attestation', '--type', 'cyclonedx', ...who, image.ref],
          store,
        )
      }
      for (const digest of imageDigests(image.image).slice(1)) {
        const platform = `${image.name}@${digest}`
        await cosignVerify(3, ['verify', ...who, platform], store)
        await cosignVerify(2, ['verify', ...who, platform], store)
      }
      // cosign without COSIGN_REPOSITORY finds nothing beside the image.
      await expect(cosignVerify(3, ['verify', ...who, image.ref])).rejects.toThrow()
      await expect(cosignVerify(2, ['verify', ...who, image.ref])).rejects.toThrow()
      // The verify-command output runs as printed.
      expect(await runVerifyCommand(run.outputs['verify-command'])).toContain(image.image.digest)

      // Signet reads them back from there too.
      const verified = await signetVerify(image, keylessPolicy(), {
        'signature-repository': store,
        'require-attestations': 'cyclonedx',
      })
      expectOk(verified)
      const [found] = verifyResults(verified)
      expect(found).toMatchObject({ verified: true, signatureRepository: store })
    },
  )

  it('by key, both formats, with an SBOM attestation: cosign v3 and v2 verify with the public key', async () => {
    const { image, store } = await imageAndStore(distribution)
    const run = await runAction({
      images: image.ref,
      sbom: sbomPath,
      key: signetKey.keyPath,
      'key-password': 'pw',
      'signature-repository': store,
      ...standInInputs(sigstore, distribution.host),
    })
    expectOk(run)
    expect(await signatureTagsIn(image.repo)).toEqual([])
    const who = ['--key', signetKey.pubPath]
    await cosignVerify(3, ['verify', ...who, image.ref], store)
    await cosignVerify(3, ['verify', '--new-bundle-format=false', ...who, image.ref], store)
    await cosignVerify(2, ['verify', ...who, image.ref], store)
    for (const version of [3, 2] as const) {
      await cosignVerify(
        version,
        ['verify-attestation', '--type', 'cyclonedx', ...who, image.ref],
        store,
      )
    }
    await runVerifyCommand(run.outputs['verify-command'], signetKey.pubPath)
  })
})

describe('cosign v3 and v2 sign into a signature repository: Signet reads it there', () => {
  const cases: [string, CosignVersion, 'keyless' | 'key', () => TestRegistry][] = [
    ['cosign v3 keyless, fallback tag', 3, 'keyless', () => distribution],
    ['cosign v3 keyless, referrers API', 3, 'keyless', () => oci],
    ['cosign v3 by key', 3, 'key', () => distribution],
    ['cosign v2 keyless', 2, 'keyless', () => distribution],
    ['cosign v2 by key', 2, 'key', () => distribution],
  ]
  it.each(cases)('%s, with an SBOM attestation', async (_label, version, by, registryOf) => {
    const { image, store } = await imageAndStore(registryOf())
    const cosign = new Cosign(join(dir, `cosign-${stores}`), { COSIGN_REPOSITORY: store })
    const signer =
      by === 'key'
        ? ({ kind: 'key', sigstore, key: cosignKey } as const)
        : ({ kind: 'keyless', sigstore } as const)
    await cosign.sign(version, signer, image.ref)
    await cosign.attest(version, signer, image.ref, 'cyclonedx', sbomPath)
    expect(await signatureTagsIn(image.repo)).toEqual([])

    const policy = by === 'key' ? { 'public-key': cosignKey.pubPath } : keylessPolicy()
    const verified = await signetVerify(image, policy, {
      'signature-repository': store,
      'require-attestations': 'cyclonedx',
    })
    expectOk(verified)
    const [found] = verifyResults(verified)
    expect(found).toMatchObject({ verified: true, signatureRepository: store })
    expect(found.signatures.some((s) => s.verified && s.reference.startsWith(store))).toBe(true)

    // Without signature-repository: nothing beside the image, and the reason says where to look.
    const missed = await signetVerify(image, policy)
    expect(missed.exitCode).toBe(1)
    const [failed] = verifyResults(missed)
    expect(failed.verified).toBe(false)
    expect(failed.reason).toMatch(/expected a signature, got none/)
    expect(failed.reason).toContain('signature-repository')
  })

  it("a policy rule's signatureRepository overrides the input for its images", async () => {
    const { image, store } = await imageAndStore(distribution)
    const cosign = new Cosign(join(dir, `cosign-rule-${stores}`), { COSIGN_REPOSITORY: store })
    await cosign.sign(3, { kind: 'keyless', sigstore }, image.ref)
    const policyPath = join(dir, `policy-${stores}.yml`)
    writeFileSync(
      policyPath,
      [
        'rules:',
        `  - images: ${image.name}`,
        `    signatureRepository: ${store}`,
        '    signers:',
        `      - identity: ${sigstore.identity.subject}`,
        `        issuer: ${sigstore.identity.issuer}`,
        '',
      ].join('\n'),
    )
    // The input names another (empty) repository: the rule's wins for this image.
    const run = await signetVerify(
      image,
      { policy: policyPath },
      { 'signature-repository': `${distribution.host}/sigrepo/elsewhere` },
    )
    expectOk(run)
    expect(verifyResults(run)[0]).toMatchObject({ verified: true, signatureRepository: store })
  })
})

describe('a registry with immutable tags (issue 12.5)', () => {
  it('fails the step with one error naming both ways out; signature-repository gets through', async () => {
    // Tags under strict/ are written once; a second PUT gets ECR's answer.
    const written = new Set<string>()
    const strict = await startOciRegistry({
      referrers: false,
      intercept: ({ method, url }) => {
        const m = /^\/v2\/(strict\/.+)\/manifests\/([^/:]+)$/.exec(url.pathname)
        if (method !== 'PUT' || !m) return undefined
        if (!written.has(url.pathname)) {
          written.add(url.pathname)
          return undefined
        }
        return {
          status: 400,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            errors: [
              {
                code: 'TAG_INVALID',
                message: `The image tag '${m[2]}' already exists in the '${m[1]}' repository and cannot be overwritten because the tag is immutable.`,
              },
            ],
          }),
        }
      },
    })
    try {
      const image = await pushFreshImage(strict.host, 'strict/app')
      const second = writeSigningKey(dir, 'second', 'pw2')
      const signWith = (key: { keyPath: string }, password: string, extra = {}) =>
        runAction({
          images: image.ref,
          key: key.keyPath,
          'key-password': password,
          'signature-format': 'legacy',
          ...standInInputs(sigstore, strict.host),
          ...extra,
        })
      expectOk(await signWith(signetKey, 'pw'))
      // A second signer appends to the same .sig tag: refused.
      const refused = await signWith(second, 'pw2')
      expect(refused.exitCode).toBe(1)
      expect(refused.outputs.signed).toBe('false')
      expect(refused.errors).toHaveLength(1)
      expect(refused.errors[0]).toContain('immutable')
      expect(refused.errors[0]).toContain('signature-repository')
      expect(refused.errors[0]).toContain('signature-format: bundle')
      // The way out: the signatures in a repository whose tags can be overwritten.
      const store = `${strict.host}/mutable/signatures`
      expectOk(await signWith(signetKey, 'pw', { 'signature-repository': store }))
      expectOk(await signWith(second, 'pw2', { 'signature-repository': store }))
      for (const key of [signetKey, second]) {
        await cosignVerify(3, ['verify', '--key', key.pubPath, image.ref], store)
        await cosignVerify(2, ['verify', '--key', key.pubPath, image.ref], store)
      }
    } finally {
      await strict.stop()
    }
  })
})
