/**
 * What Signet writes, judged by real cosign v3 and v2: the bundled action (dist/) signs images in
 * a real registry (Debian's docker-registry, no referrers API) and in the project's registry with
 * the referrers API, keyless against the Sigstore stand-in and by key; cosign must accept it.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { encryptCosignKey } from '../../src/sigstore/keys'
import { runAction, type ActionRun } from '../infra/action-runner'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import {
  identityFlags as identityFlagsOf,
  oidcEnv as oidcEnvOf,
  pushFreshImage,
  standInInputs,
  type PushedImage,
} from '../infra/harness'
import { runTool, runToolAsync } from '../infra/tools'

const INSECURE = ['--allow-insecure-registry', '--allow-http-registry']

let distribution: TestRegistry
let oci: TestRegistry
let sigstore: SigstoreStandIn
let dir: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-interop-'))
  ;[distribution, oci, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startTestRegistry('oci'),
    startSigstoreStandIn({ dir }),
  ])
  expect(distribution.kind).toBe('distribution')
})

afterAll(async () => {
  await Promise.all([distribution?.stop(), oci?.stop(), sigstore?.stop()])
})

async function pushImage(
  registry: TestRegistry,
  platforms?: string[],
  format: 'oci' | 'docker' = 'oci',
): Promise<PushedImage> {
  return pushFreshImage(registry.host, 'interop/app', { platforms, format })
}

/**
 * Runs the action's verify-command output with cosign v3, as a user would paste it, with the
 * files it names (cosign.pub, trusted_root.json) where this test keeps them.
 */
async function runVerifyCommand(command: string, publicKey?: string): Promise<string> {
  const [program, subcommand, ...args] = command.split(' ')
  expect([program, subcommand]).toEqual(['cosign', 'verify'])
  const resolved = args.map((a) =>
    a === '--key=cosign.pub'
      ? `--key=${publicKey}`
      : a === '--trusted-root=trusted_root.json'
        ? `--trusted-root=${sigstore.trustedRootPath}`
        : a,
  )
  return runToolAsync('cosign3', ['verify', ...INSECURE, ...resolved])
}

const oidcEnv = () => oidcEnvOf(sigstore)
const services = (registry: TestRegistry) => standInInputs(sigstore, registry.host)

function expectSigned(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`action failed: ${run.stdout}\n${run.stderr}`)
  expect(run.outputs.signed).toBe('true')
}

const identityFlags = () => identityFlagsOf(sigstore)

// Async: the registry with the referrers API lives in this process and must keep answering.
async function cosign3Verify(args: string[]): Promise<string> {
  return runToolAsync('cosign3', [
    'verify',
    ...INSECURE,
    '--trusted-root',
    sigstore.trustedRootPath,
    ...args,
  ])
}

async function cosign2Verify(args: string[]): Promise<string> {
  return runToolAsync('cosign2', ['verify', ...INSECURE, ...args], { env: sigstore.cosignV2Env })
}

describe('keyless signing, both formats, judged by cosign', () => {
  it.each([
    ['distribution 2.8 (fallback tag)', () => distribution],
    ['a registry with the referrers API', () => oci],
  ])(
    'an index and its platform manifests on %s pass cosign v3 and v2 verify',
    async (_label, registryOf) => {
      const registry = registryOf()
      const { ref, image, name } = await pushImage(registry, ['linux/amd64', 'linux/arm64'])
      const run = await runAction({ images: ref, ...services(registry) }, oidcEnv())
      expectSigned(run)

      expect(run.outputs['certificate-identity']).toBe(sigstore.identity.subject)
      expect(run.outputs['certificate-oidc-issuer']).toBe(sigstore.identity.issuer)
      const results = JSON.parse(run.outputs.results) as {
        digest: string
        signed: boolean
        signatures: { format: string; fallbackTag?: string }[]
      }[]
      expect(results.map((r) => r.digest).sort()).toEqual(
        [image.digest, ...image.children.map((c) => c.digest)].sort(),
      )
      for (const r of results) {
        expect(r.signed).toBe(true)
        expect(r.signatures.map((s) => s.format)).toEqual(['legacy', 'bundle'])
        expect(Boolean(r.signatures[1].fallbackTag)).toBe(!registry.referrers)
      }
      // one legacy bundle and one DSSE bundle per digest
      expect(run.bundleLines).toHaveLength(results.length * 2)
      expect(run.summary).toContain(sigstore.identity.subject)
      expect(run.outputs['verify-command']).toContain(
        `--certificate-identity=${sigstore.identity.subject}`,
      )

      for (const digest of [image.digest, ...image.children.map((c) => c.digest)]) {
        const target = `${name}@${digest}`
        expect(await cosign3Verify([...identityFlags(), target])).toContain(digest)
        expect(await cosign2Verify([...identityFlags(), target])).toContain(digest)
        // cosign v3 reading only the legacy .sig tag
        await cosign3Verify(['--new-bundle-format=false', ...identityFlags(), target])
      }
    },
  )

  it('signs Docker schema 2 manifest lists and manifests as well', async () => {
    const { ref, image, name } = await pushImage(
      distribution,
      ['linux/amd64', 'linux/arm64'],
      'docker',
    )
    expect(image.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json')
    const run = await runAction({ images: ref, ...services(distribution) }, oidcEnv())
    expectSigned(run)
    for (const digest of [image.digest, ...image.children.map((c) => c.digest)]) {
      await cosign3Verify([...identityFlags(), `${name}@${digest}`])
      await cosign2Verify([...identityFlags(), `${name}@${digest}`])
    }
  })

  it('is turned away by cosign under another identity or issuer', async () => {
    const { ref } = await pushImage(distribution)
    expectSigned(await runAction({ images: ref, ...services(distribution) }, oidcEnv()))
    const wrongIdentity = [
      '--certificate-identity',
      'https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main',
      '--certificate-oidc-issuer',
      sigstore.identity.issuer,
    ]
    const wrongIssuer = [
      '--certificate-identity',
      sigstore.identity.subject,
      '--certificate-oidc-issuer',
      'https://accounts.google.com',
    ]
    for (const flags of [wrongIdentity, wrongIssuer]) {
      await expect(cosign3Verify([...flags, ref])).rejects.toThrow()
      await expect(cosign2Verify([...flags, ref])).rejects.toThrow()
    }
  })

  it('records annotations where cosign -a checks them', async () => {
    const { ref } = await pushImage(distribution)
    expectSigned(
      await runAction(
        { images: ref, annotations: 'team=core\nrun=42', ...services(distribution) },
        oidcEnv(),
      ),
    )
    await cosign3Verify([...identityFlags(), '-a', 'team=core', '-a', 'run=42', ref])
    await cosign2Verify([...identityFlags(), '-a', 'team=core', ref])
    await expect(cosign2Verify([...identityFlags(), '-a', 'team=other', ref])).rejects.toThrow()
  })

  it('signs a tag by its digest, with a warning', async () => {
    const { name, ref } = await pushFreshImage(distribution.host, 'interop/tagged', { tag: 'v1' })
    const run = await runAction(
      {
        images: `${name}:v1`,
        'signature-format': 'legacy',
        ...services(distribution),
      },
      oidcEnv(),
    )
    expectSigned(run)
    expect(run.stdout).toMatch(/::warning::.*is a tag.*Sign digests, not tags/)
    await cosign2Verify([...identityFlags(), ref])
  })
})

describe('tags plus digest, as docker/metadata-action and docker/build-push-action pass them', () => {
  it.each([
    ['distribution 2.8 (fallback tag)', () => distribution],
    ['a registry with the referrers API', () => oci],
  ])(
    'issue 9.2: signed from tags never pushed plus digest on %s, cosign v3 and v2 verify name@digest',
    async (_label, registryOf) => {
      const registry = registryOf()
      // pushed by digest only, as a matrix build does: the tags were never pushed
      const { image, name } = await pushImage(registry, ['linux/amd64', 'linux/arm64'])
      const run = await runAction(
        {
          images: [`${name}:1.2.3`, `${name}:1.2`, `${name}:latest`].join('\n'),
          digest: image.digest,
          ...services(registry),
        },
        oidcEnv(),
      )
      expectSigned(run)
      const results = JSON.parse(run.outputs.results) as { digest: string }[]
      expect(results.map((r) => r.digest).sort()).toEqual(
        [image.digest, ...image.children.map((c) => c.digest)].sort(),
      )
      expect(run.outputs['verify-command']).toContain(`${name}@${image.digest}`)
      await runVerifyCommand(run.outputs['verify-command'])
      for (const digest of [image.digest, ...image.children.map((c) => c.digest)]) {
        const target = `${name}@${digest}`
        expect(await cosign3Verify([...identityFlags(), target])).toContain(digest)
        expect(await cosign2Verify([...identityFlags(), target])).toContain(digest)
      }
    },
  )
})

describe('signing by key, judged by cosign', () => {
  let keyPath: string
  let pubPath: string

  beforeAll(() => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    keyPath = join(dir, 'signet.key')
    pubPath = join(dir, 'signet.pub')
    writeFileSync(keyPath, encryptCosignKey(privateKey, 'pw'))
    writeFileSync(pubPath, publicKey.export({ format: 'pem', type: 'spki' }))
  })

  it.each(['legacy', 'bundle', 'both'])(
    'format %s passes cosign verify --key, index and platforms',
    async (format) => {
      const {
        ref: indexRef,
        image,
        name,
      } = await pushImage(distribution, ['linux/amd64', 'linux/arm64'])
      const run = await runAction({
        images: indexRef,
        key: keyPath,
        'key-password': 'pw',
        'signature-format': format,
        ...services(distribution),
      })
      expectSigned(run)
      expect(run.outputs['certificate-identity'] ?? '').toBe('')
      expect(run.outputs['verify-command']).toContain('--key=')
      await runVerifyCommand(run.outputs['verify-command'], pubPath)
      for (const ref of [indexRef, ...image.children.map((c) => `${name}@${c.digest}`)]) {
        if (format !== 'legacy') await cosign3Verify(['--key', pubPath, ref])
        if (format !== 'bundle') {
          await cosign2Verify(['--key', pubPath, ref])
          await cosign3Verify(['--key', pubPath, '--new-bundle-format=false', ref])
        }
      }
    },
  )

  it('a key made by cosign generate-key-pair signs in Signet and verifies in cosign v3 and v2', async () => {
    const keyDir = mkdtempSync(join(tmpdir(), 'signet-cosign-key-'))
    runTool('cosign3', ['generate-key-pair'], {
      cwd: keyDir,
      env: { COSIGN_PASSWORD: 'from-cosign' },
    })
    const { ref } = await pushImage(distribution)
    // the key as PEM text, the way a secret passes it
    const key = readFileSync(join(keyDir, 'cosign.key'), 'utf8')
    const run = await runAction({
      images: ref,
      key,
      'key-password': 'from-cosign',
      ...services(distribution),
    })
    expectSigned(run)
    // the key and its password never reach the log
    expect(run.stdout).toContain('::add-mask::from-cosign')
    expect(run.visibleLog).not.toContain('from-cosign')
    expect(run.visibleLog).not.toContain(key.split('\n')[1])
    await cosign3Verify(['--key', join(keyDir, 'cosign.pub'), ref])
    await cosign2Verify(['--key', join(keyDir, 'cosign.pub'), ref])
    // and another key is turned away
    await expect(cosign2Verify(['--key', pubPath, ref])).rejects.toThrow()
  })

  it('without the transparency log (tlog: false), cosign verifies with --insecure-ignore-tlog', async () => {
    const { ref } = await pushImage(distribution)
    const before = sigstore.requests.rekor ?? 0
    const run = await runAction({
      images: ref,
      key: keyPath,
      'key-password': 'pw',
      tlog: 'false',
      ...services(distribution),
    })
    expectSigned(run)
    expect(sigstore.requests.rekor ?? 0).toBe(before)
    await cosign3Verify(['--key', pubPath, '--insecure-ignore-tlog=true', ref])
    await runVerifyCommand(run.outputs['verify-command'], pubPath)
    await cosign2Verify(['--key', pubPath, '--insecure-ignore-tlog=true', ref])
    // and with the log required, cosign refuses it
    await expect(cosign2Verify(['--key', pubPath, ref])).rejects.toThrow()
  })
})

describe('keyless with a timestamp authority instead of the transparency log', () => {
  it('writes signatures with RFC 3161 timestamps that cosign v3 and v2 verify', async () => {
    const { ref } = await pushImage(distribution)
    const rekorBefore = sigstore.requests.rekor ?? 0
    const run = await runAction(
      {
        images: ref,
        tlog: 'false',
        'tsa-url': `${sigstore.tsaURL}/api/v1/timestamp`,
        ...services(distribution),
      },
      oidcEnv(),
    )
    expectSigned(run)
    expect(sigstore.requests.rekor ?? 0).toBe(rekorBefore)
    const bundle = JSON.parse(run.bundleLines[1])
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([])
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1)
    await cosign3Verify([
      ...identityFlags(),
      '--use-signed-timestamps',
      '--insecure-ignore-tlog=true',
      ref,
    ])
    await runVerifyCommand(run.outputs['verify-command'])
    // the legacy .sig carries the timestamp in cosign's rfc3161timestamp annotation
    await cosign3Verify([
      '--new-bundle-format=false',
      ...identityFlags(),
      '--use-signed-timestamps',
      '--insecure-ignore-tlog=true',
      ref,
    ])
    await cosign2Verify([
      ...identityFlags(),
      '--insecure-ignore-tlog=true',
      '--timestamp-certificate-chain',
      join(dir, 'tsa_chain.pem'),
      ref,
    ])
  })
})
