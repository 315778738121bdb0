/**
 * What Signet writes, judged by real cosign v3 and v2: the bundled action (dist/) signs images in
 * a real registry (Debian's docker-registry, no referrers API) and in the project's registry with
 * the referrers API, keyless against the Sigstore stand-in and by key; cosign must accept it.
 */
import { execFile } from 'node:child_process'
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun } from '../infra/action-runner'
import { INSECURE_REGISTRY as INSECURE } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import {
  identityFlags as identityFlagsOf,
  oidcEnv as oidcEnvOf,
  pushFreshImage,
  standInInputs,
  writeSigningKey,
  type PushedImage,
} from '../infra/harness'
import { imageDigests } from '../infra/images'
import { runTool, runToolAsync, toolPath } from '../infra/tools'

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

/** Each test that runs on both registries: the fallback tag's, and the referrers API's. */
const BOTH_REGISTRIES: [string, () => TestRegistry][] = [
  ['distribution 2.8 (fallback tag)', () => distribution],
  ['a registry with the referrers API', () => oci],
]

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
  it.each(BOTH_REGISTRIES)(
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
      expect(results.map((r) => r.digest).sort()).toEqual(imageDigests(image).sort())
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

      for (const digest of imageDigests(image)) {
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
    for (const digest of imageDigests(image)) {
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
  it.each(BOTH_REGISTRIES)(
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
      expect(results.map((r) => r.digest).sort()).toEqual(imageDigests(image).sort())
      expect(run.outputs['verify-command']).toContain(`${name}@${image.digest}`)
      await runVerifyCommand(run.outputs['verify-command'])
      for (const digest of imageDigests(image)) {
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
    ;({ keyPath, pubPath } = writeSigningKey(dir, 'signet', 'pw'))
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

describe('issue 9.3: trusted-root in sign mode, judged by cosign v3', () => {
  let other: SigstoreStandIn
  let keyPath: string
  let pubPath: string
  let shellDir: string
  let n = 0

  beforeAll(async () => {
    other = await startSigstoreStandIn({ dir: join(dir, 'other-instance') })
    ;({ keyPath, pubPath } = writeSigningKey(dir, 'root-check', 'pw'))
    // Where a pasted command runs: `cosign` is cosign v3 (told the test registries are plain
    // HTTP), and cosign.pub is the key, as in a user's checkout.
    shellDir = mkdtempSync(join(tmpdir(), 'signet-paste-'))
    mkdirSync(join(shellDir, 'bin'))
    writeFileSync(
      join(shellDir, 'bin', 'cosign'),
      `#!/bin/sh\nsub="$1"\nshift\nexec ${toolPath('cosign3')} "$sub" ${INSECURE.join(' ')} "$@"\n`,
    )
    chmodSync(join(shellDir, 'bin', 'cosign'), 0o755)
    copyFileSync(pubPath, join(shellDir, 'cosign.pub'))
  })
  afterAll(async () => other?.stop())

  /** verify-command pasted into bash as is, in a checkout holding cosign.pub. */
  const paste = (command: string): Promise<string> =>
    new Promise((resolve, reject) => {
      execFile(
        'bash',
        ['-c', command],
        {
          cwd: shellDir,
          env: { ...process.env, PATH: `${join(shellDir, 'bin')}:${process.env.PATH}` },
          timeout: 120_000,
        },
        (err, stdout, stderr) =>
          err ? reject(new Error(`${command}: ${stderr}${stdout}`)) : resolve(stdout),
      )
    })

  type RootPart = 'certificateAuthorities' | 'ctlogs' | 'tlogs' | 'timestampAuthorities'
  /** The stand-in's trusted_root.json with `parts` taken from the other instance's. */
  const rootWithOthers = (parts: RootPart[]): string => {
    const own = JSON.parse(readFileSync(sigstore.trustedRootPath, 'utf8'))
    const theirs = JSON.parse(readFileSync(other.trustedRootPath, 'utf8'))
    for (const part of parts) own[part] = theirs[part]
    const path = join(dir, `root-${n++}.json`)
    writeFileSync(path, JSON.stringify(own))
    return path
  }
  const cosign3With = (root: string, args: string[]): Promise<boolean> =>
    runToolAsync('cosign3', ['verify', ...INSECURE, `--trusted-root=${root}`, ...args]).then(
      () => true,
      () => false,
    )

  it.each([
    ['keyless', true],
    ['by key', false],
  ])(
    "issue 9.3: %s with the stand-in's own trusted_root.json: signed, and verify-command, pasted into bash, verifies with cosign v3",
    async (_how, keyless) => {
      const { ref } = await pushImage(distribution)
      const run = await runAction(
        {
          images: ref,
          'trusted-root': sigstore.trustedRootPath,
          ...(keyless ? {} : { key: keyPath, 'key-password': 'pw' }),
          ...services(distribution),
        },
        keyless ? oidcEnv() : {},
      )
      expectSigned(run)
      const command = run.outputs['verify-command']
      expect(command).toContain(`--trusted-root=${sigstore.trustedRootPath}`)
      expect(await paste(command)).toContain(ref.split('@')[1])
    },
  )

  /**
   * Each candidate root: does Signet sign against the stand-in with it, and does cosign v3 accept,
   * under it, a signature the same services made? They must agree, and only the stand-in's own
   * root (or one whose differing part the run does not use) may pass.
   */
  const agreement = async (
    candidates: [string, RootPart[], boolean][],
    signet: Record<string, string>,
    cosignFlags: string[],
    keyless: boolean,
  ): Promise<void> => {
    const env = keyless ? oidcEnv() : {}
    const signed = await pushImage(distribution)
    const first = await runAction(
      {
        images: signed.ref,
        'trusted-root': sigstore.trustedRootPath,
        ...signet,
        ...services(distribution),
      },
      env,
    )
    expectSigned(first)
    const verdicts: Record<string, { signet: boolean; cosign: boolean }> = {}
    const expected: typeof verdicts = {}
    for (const [label, parts, matches] of candidates) {
      const root = rootWithOthers(parts)
      const cosign = await cosign3With(root, [...cosignFlags, signed.ref])
      const run = await runAction(
        {
          images: (await pushImage(distribution)).ref,
          'trusted-root': root,
          ...signet,
          ...services(distribution),
        },
        env,
      )
      if (run.exitCode !== 0) expect(run.errors.join('\n')).toMatch(/trusted-root/)
      verdicts[label] = { signet: run.exitCode === 0, cosign }
      expected[label] = { signet: matches, cosign: matches }
    }
    expect(verdicts).toEqual(expected)
  }

  const ALL: RootPart[] = ['certificateAuthorities', 'ctlogs', 'tlogs', 'timestampAuthorities']

  it('issue 9.3: keyless, Signet and cosign v3 agree on which root matches (sign, then verify against a wrong root)', async () => {
    await agreement(
      [
        ['its own root', [], true],
        ["another instance's root", ALL, false],
        ["another instance's Fulcio CA", ['certificateAuthorities'], false],
        ["another instance's CT log", ['ctlogs'], false],
        ["another instance's Rekor", ['tlogs'], false],
        // No timestamp authority is used: its part of the root is not involved.
        ["another instance's TSA", ['timestampAuthorities'], true],
      ],
      {},
      identityFlags(),
      true,
    )
  })

  it('issue 9.3: keyless with a timestamp authority and no log, Signet and cosign v3 agree on which root matches', async () => {
    await agreement(
      [
        ['its own root', [], true],
        ["another instance's TSA", ['timestampAuthorities'], false],
        ["another instance's Fulcio CA", ['certificateAuthorities'], false],
        // No log entry is made: the log's part of the root is not involved.
        ["another instance's Rekor", ['tlogs'], true],
      ],
      { tlog: 'false', 'tsa-url': `${sigstore.tsaURL}/api/v1/timestamp` },
      [...identityFlags(), '--use-signed-timestamps', '--insecure-ignore-tlog=true'],
      true,
    )
  })

  it('issue 9.3: by key, Signet and cosign v3 agree on which root matches (the Rekor entry)', async () => {
    await agreement(
      [
        ['its own root', [], true],
        ["another instance's Rekor", ['tlogs'], false],
        ["another instance's Fulcio CA and CT log", ['certificateAuthorities', 'ctlogs'], true],
      ],
      { key: keyPath, 'key-password': 'pw', 'signature-format': 'bundle' },
      ['--key', pubPath],
      false,
    )
  })
})
