/**
 * Issue 13.2: the CLI, run the way `npx` runs it: the package is packed (`npm pack`, what a user
 * gets), then `npm exec --package=<tarball> -- signet …` installs and starts its `bin`. Keyless from
 * a GitLab-shaped token against the Sigstore stand-in, judged by real cosign v3 and v2.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NODE, ROOT } from '../infra/action-runner'
import { INSECURE_REGISTRY as INSECURE } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { pushFreshImage, writeSigningKey } from '../infra/harness'
import {
  defaultGitHubClaims,
  GITLAB_ISSUER,
  startSigstoreStandIn,
  type GitHubClaims,
  type SigstoreStandIn,
} from '../infra/sigstore-standin'
import { runToolAsync } from '../infra/tools'

let registry: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let tarball: string

/** What GitLab puts in a job's `id_tokens` token (aud: sigstore), and none of GitHub's claims. */
function gitlabClaims(): GitHubClaims {
  const noGitHub = Object.fromEntries(Object.keys(defaultGitHubClaims()).map((k) => [k, undefined]))
  return {
    ...noGitHub,
    iss: GITLAB_ISSUER,
    aud: 'sigstore',
    sub: 'project_path:acme/app:ref_type:branch:ref:main',
    namespace_path: 'acme',
    project_path: 'acme/app',
    pipeline_source: 'push',
    ref: 'main',
    ref_type: 'branch',
    sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    ci_config_ref_uri: 'gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main',
    ci_config_sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
    runner_environment: 'gitlab-hosted',
  }
}
const GITLAB_IDENTITY = 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main'

interface CliRun {
  status: number
  stdout: string
  stderr: string
}

/** `npx signet …` from the packed package, in an empty folder, with Node 24 first on the PATH. */
function signet(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const cwd = mkdtempSync(join(dir, 'cwd-'))
  return new Promise((resolve) => {
    execFile(
      'npm',
      [
        'exec',
        '--offline',
        '--yes',
        '--loglevel=error',
        `--cache=${join(dir, 'npm-cache')}`,
        `--package=${tarball}`,
        '--',
        'signet',
        ...args,
      ],
      {
        cwd,
        env: {
          PATH: `${join(NODE, '..')}:${process.env.PATH ?? ''}`,
          HOME: dir,
          ...env,
        },
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ status: code, stdout, stderr })
      },
    )
  })
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-cli-'))
  ;[registry, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir: join(dir, 'sigstore') }),
  ])
  // The package as a user gets it: what `files` lists, with the bundled dist/.
  const packed = await new Promise<string>((resolve, reject) =>
    execFile(
      'npm',
      ['pack', '--silent', `--pack-destination=${dir}`, `--cache=${join(dir, 'npm-cache')}`],
      { cwd: ROOT },
      (err, stdout) =>
        err
          ? reject(new Error(`npm pack failed: ${err.message}`))
          : resolve(stdout.trim().split('\n').pop() as string),
    ),
  )
  tarball = join(dir, packed)
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()])
})

const services = (): string[] => [
  `--plain-http=${registry.host}`,
  `--fulcio-url=${sigstore.fulcioURL}`,
  `--rekor-url=${sigstore.rekorURL}`,
]

describe('issue 13.2: npx signet', () => {
  it('signs keyless from a GitLab id_token; cosign v3 and v2 accept the GitLab identity', async () => {
    const { ref, name, image } = await pushFreshImage(registry.host, 'cli/app')
    const { digest } = image
    const token = sigstore.mintToken(gitlabClaims())
    const run = await signet(['sign', `--images=${ref}`, ...services(), '--output', 'json'], {
      SIGSTORE_ID_TOKEN: token,
    })
    if (run.status !== 0) throw new Error(`signet sign failed:\n${run.stdout}\n${run.stderr}`)
    const out = JSON.parse(run.stdout) as {
      signed: string
      'certificate-identity': string
      'certificate-oidc-issuer': string
      'verify-command': string
      'kyverno-policy': string
      'cluster-image-policy': string
      results: { digest: string; signed: boolean }[]
    }
    expect(out.signed).toBe('true')
    expect(out['certificate-identity']).toBe(GITLAB_IDENTITY)
    expect(out['certificate-oidc-issuer']).toBe(GITLAB_ISSUER)
    expect(out.results.map((r) => [r.digest, r.signed])).toEqual([[digest, true]])
    // What was just signed, as admission policies (issue 13.3): the GitLab signer, exactly.
    expect(out['kyverno-policy']).toContain(`subject: ${GITLAB_IDENTITY}`)
    expect(out['kyverno-policy']).toContain(`issuer: ${GITLAB_ISSUER}`)
    expect(out['kyverno-policy']).toContain('validationFailureAction: Audit')
    expect(out['cluster-image-policy']).toContain('kind: ClusterImagePolicy')
    // The token is a secret: it reaches neither stream.
    expect(run.stdout + run.stderr).not.toContain(token)
    expect(run.stdout + run.stderr).not.toContain(token.split('.')[1])

    const identity = [
      '--certificate-identity-regexp=^https://gitlab\\.com/acme/app//\\.gitlab-ci\\.yml@refs/heads/main$',
      `--certificate-oidc-issuer=${GITLAB_ISSUER}`,
    ]
    await runToolAsync('cosign3', [
      'verify',
      ...INSECURE,
      `--trusted-root=${sigstore.trustedRootPath}`,
      ...identity,
      `${name}@${digest}`,
    ])
    await runToolAsync('cosign2', ['verify', ...INSECURE, ...identity, `${name}@${digest}`], {
      env: sigstore.cosignV2Env,
    })
    // A GitHub identity is not what signed: cosign refuses it.
    await expect(
      runToolAsync('cosign3', [
        'verify',
        ...INSECURE,
        `--trusted-root=${sigstore.trustedRootPath}`,
        `--certificate-identity=${sigstore.identity.subject}`,
        `--certificate-oidc-issuer=${sigstore.identity.issuer}`,
        `${name}@${digest}`,
      ]),
    ).rejects.toThrow()

    // And Signet's own verify, as a laptop runs it: a table, exit 0.
    const verify = await signet([
      'verify',
      `--images=${name}@${digest}`,
      `--plain-http=${registry.host}`,
      `--trusted-root=${sigstore.trustedRootPath}`,
      `--certificate-identity=${GITLAB_IDENTITY}`,
      `--certificate-oidc-issuer=${GITLAB_ISSUER}`,
    ])
    if (verify.status !== 0)
      throw new Error(`signet verify failed:\n${verify.stdout}\n${verify.stderr}`)
    expect(verify.stdout).toMatch(/^IMAGE\s+VERDICT\s+SIGNER \/ REASON$/m)
    expect(verify.stdout).toContain(`${name}@${digest.slice(0, 19)}…  verified`)
    expect(verify.stdout).toMatch(
      / verified {2}https:\/\/gitlab\.com\/acme\/app\/\/\.gitlab-ci\.yml/,
    )
    expect(verify.stdout).toContain('1 verified, 0 failed')
    // No terminal, no colour.
    expect(verify.stdout).not.toContain('\u001b[')

    // The wrong signer fails the command, as enforce fails the step.
    const wrong = await signet([
      'verify',
      `--images=${name}@${digest}`,
      `--plain-http=${registry.host}`,
      `--trusted-root=${sigstore.trustedRootPath}`,
      '--certificate-identity=https://gitlab.com/evil/app//.gitlab-ci.yml@refs/heads/main',
      `--certificate-oidc-issuer=${GITLAB_ISSUER}`,
      '--output=json',
    ])
    expect(wrong.status).toBe(1)
    expect((JSON.parse(wrong.stdout) as { verified: string }).verified).toBe('false')
  })

  it('signs by key, with the flags named as the inputs; cosign v3 accepts it', async () => {
    const { ref, name, image } = await pushFreshImage(registry.host, 'cli/keyed')
    const { digest } = image
    const key = writeSigningKey(dir, 'cli', 'a password')
    const run = await signet([
      'sign',
      '--images',
      ref,
      `--key=${key.keyPath}`,
      '--key-password=a password',
      '--signature-format',
      'legacy',
      '--no-tlog',
      `--plain-http=${registry.host}`,
      '--bundle-path',
      join(dir, 'bundles.jsonl'),
    ])
    if (run.status !== 0) throw new Error(`signet sign failed:\n${run.stdout}\n${run.stderr}`)
    expect(run.stdout).toMatch(/^IMAGE\s+RESULT\s+WRITTEN\s+REKOR$/m)
    expect(run.stdout).toMatch(/ signed {2}\.sig /)
    expect(run.stdout).toContain('1 of 1 signed, by the key')
    expect(readFileSync(join(dir, 'bundles.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1)
    await runToolAsync('cosign3', [
      'verify',
      ...INSECURE,
      `--key=${key.pubPath}`,
      '--insecure-ignore-tlog',
      `${name}@${digest}`,
    ])
  })

  it('bad input: one error line naming the flag, exit 1, no stack, nothing written', async () => {
    const { ref, name } = await pushFreshImage(registry.host, 'cli/bad')
    const cases: [string[], RegExp][] = [
      [['sign', `--images=${ref}`, '--signature-format=sigstore'], /signature-format/],
      [['sign', `--images=${ref}`, '--frobnicate=1'], /unknown flag --frobnicate/],
      [['publish'], /unknown command "publish"/],
      [['sign', `--images=${ref}`, `--plain-http=${registry.host}`], /--identity-token/],
    ]
    for (const [args, message] of cases) {
      const run = await signet(args)
      expect(run.status).toBe(1)
      const lines = run.stderr.trim().split('\n')
      expect(lines.filter((l) => l.startsWith('error: '))).toHaveLength(1)
      expect(run.stderr).toMatch(message)
      expect(run.stderr).not.toMatch(/\n\s+at /)
    }
    // The image went up by digest: a repository with no tag at all is what nothing-written looks like.
    const tags = await runToolAsync('crane', ['ls', '--insecure', name]).catch((err: Error) =>
      /NAME_UNKNOWN/.test(err.message) ? '' : Promise.reject(err),
    )
    expect(tags.trim()).toBe('')
  })
})
