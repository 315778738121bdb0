/**
 * Verify mode attacked as issue 8 describes, run as the runner runs it (dist/ through runAction):
 * a pull request that controls its Dockerfile and its branch's files, and a hostile registry that
 * a Dockerfile names. Each test names the point of issue 8 it covers.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VerifyImageResult } from '../../src/verify/run'
import { runAction, type ActionRun } from '../infra/action-runner'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { oidcEnv, pushFreshImage, standInInputs, type PushedImage } from '../infra/harness'
import { closeServer, listenOnLoopback } from '../infra/listen'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

let registry: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let signed: PushedImage
let unsigned: PushedImage
let hostile: HostileRegistry

const USERNAME = 'ci-bot'
const PASSWORD = 'registry-password-that-must-stay-home'

/** What a hostile registry saw of one request. */
interface Seen {
  method: string
  url: string
  authorization?: string
}

interface HostileRegistry {
  /** host:port, reachable over HTTPS with the certificate in `caFile`. */
  host: string
  caFile: string
  seen: Seen[]
  stop(): Promise<void>
}

/**
 * An HTTPS registry that asks every caller for credentials: Bearer at a token realm on its own host
 * (which asks for Basic), the way real registries do, and records what each request carried.
 */
async function startHostileRegistry(workdir: string): Promise<HostileRegistry> {
  const keyFile = join(workdir, 'hostile.key')
  const caFile = join(workdir, 'hostile.crt')
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days', '1', '-keyout', keyFile, '-out', caFile,
  ], { stdio: 'ignore' }) // prettier-ignore
  const seen: Seen[] = []
  let host = ''
  const server: Server = createServer(
    { key: readFileSync(keyFile), cert: readFileSync(caFile) },
    (req, res) => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
      })
      if ((req.url ?? '').startsWith('/token')) {
        if (!req.headers.authorization) {
          res.writeHead(401, { 'www-authenticate': 'Basic realm="hostile"' }).end()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: 'hostile-token' }))
        return
      }
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="https://${host}/token",service="hostile"`,
        'content-type': 'application/json',
      })
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'log in' }] }))
    },
  )
  host = `localhost:${await listenOnLoopback(server)}`
  return {
    host,
    caFile,
    seen,
    stop: () => closeServer(server),
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-verify-attacker-'))
  ;[registry, sigstore, hostile] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
    startHostileRegistry(dir),
  ])
  ;[signed, unsigned] = await Promise.all([
    pushFreshImage(registry.host, 'attacker/app'),
    pushFreshImage(registry.host, 'attacker/unsigned'),
  ])
  const run = await runAction(
    { images: signed.ref, 'signature-format': 'bundle', ...standInInputs(sigstore, registry.host) },
    oidcEnv(sigstore),
  )
  expect(run.errors).toEqual([])
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop(), hostile?.stop()])
})

beforeEach(() => {
  hostile.seen.length = 0
})

function results(run: ActionRun): VerifyImageResult[] {
  return JSON.parse(run.outputs.results ?? '[]') as VerifyImageResult[]
}

function workspaceWith(files: Record<string, string>): string {
  const ws = mkdtempSync(join(tmpdir(), 'signet-attacker-ws-'))
  for (const [name, text] of Object.entries(files)) writeFileSync(join(ws, name), text)
  return ws
}

/** The process environment that lets the action trust the hostile registry's certificate. */
function trustHostile(): Record<string, string> {
  return { NODE_EXTRA_CA_CERTS: hostile.caFile }
}

describe('issue 8.1: every image BuildKit would pull is checked', () => {
  const trusting = (extra: Record<string, string> = {}): Record<string, string> => ({
    mode: 'verify',
    dockerfile: 'Dockerfile',
    'trusted-root': sigstore.trustedRootPath,
    'plain-http': registry.host,
    'certificate-identity': sigstore.identity.subject,
    'certificate-oidc-issuer': sigstore.identity.issuer,
    ...extra,
  })

  it.each([
    [
      'COPY --from',
      (img: string) => `FROM ${signed.ref}\nCOPY --from=${img} /bin/tool /bin/tool\n`,
      2,
    ],
    [
      'RUN --mount from=',
      (img: string) => `FROM ${signed.ref}\nRUN --mount=type=bind,from=${img},target=/m true\n`,
      2,
    ],
    [
      'ONBUILD COPY --from',
      (img: string) => `FROM ${signed.ref}\nONBUILD COPY --from=${img} / /\n`,
      2,
    ],
    ['# syntax=', (img: string) => `# syntax=${img}\nFROM ${signed.ref}\n`, 1],
  ])(
    'issue 8.1: an unsigned image behind %s fails, annotated on its line',
    async (use, dockerfile, line) => {
      const ws = workspaceWith({ Dockerfile: dockerfile(unsigned.ref) })
      const run = await runAction(trusting(), {}, { cwd: ws })
      expect(run.exitCode).toBe(1)
      const failed = results(run).filter((r) => r.verdict === 'failed')
      expect(failed.map((r) => [r.image, r.dockerfile?.line, r.dockerfile?.use])).toEqual([
        [unsigned.ref, line, use],
      ])
      expect(run.errors).toHaveLength(1)
      expect(run.errors[0]).toContain(`file=Dockerfile,line=${line}`)
    },
  )

  it('issue 8.1: build-args decide what FROM $BASE names', async () => {
    const ws = workspaceWith({ Dockerfile: `ARG BASE=${signed.ref}\nFROM \${BASE}\n` })
    const run = await runAction(trusting({ 'build-args': `BASE=${unsigned.ref}` }), {}, { cwd: ws })
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => [r.image, r.verdict])).toEqual([[unsigned.ref, 'failed']])
  })

  it('issue 8.1: a named build context replaces the image before it is verified', async () => {
    const ws = workspaceWith({ Dockerfile: `FROM ${signed.ref}\nCOPY --from=tools / /\n` })
    const run = await runAction(
      trusting({
        'build-contexts': [
          `${signed.ref}=docker-image://${unsigned.ref}`,
          'tools=./vendor/tools',
        ].join('\n'),
      }),
      {},
      { cwd: ws },
    )
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => [r.image, r.verdict, r.dockerfile?.context])).toEqual([
      [unsigned.ref, 'failed', `${signed.ref}=docker-image://${unsigned.ref}`],
      ['tools', 'skipped', 'tools=./vendor/tools'],
    ])
  })
})

describe('issue 8.3: credentials stay home', () => {
  it('issue 8.3: a host only a Dockerfile names never receives registry-username/registry-password, even when the policy checks it', async () => {
    const ws = workspaceWith({ Dockerfile: `FROM ${hostile.host}/evil/base:1\n` })
    const run = await runAction(
      {
        mode: 'verify',
        images: signed.ref,
        dockerfile: 'Dockerfile',
        'registry-username': USERNAME,
        'registry-password': PASSWORD,
        'trusted-root': sigstore.trustedRootPath,
        'plain-http': registry.host,
        // One rule for every image: the hostile image is checked, so its registry is contacted.
        'certificate-identity': sigstore.identity.subject,
        'certificate-oidc-issuer': sigstore.identity.issuer,
      },
      trustHostile(),
      { cwd: ws },
    )
    // The hostile registry was asked (the policy covers it), but never with the credentials.
    expect(hostile.seen.length).toBeGreaterThan(0)
    const basic = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')
    for (const request of hostile.seen) {
      expect(request.authorization ?? '').not.toContain(basic)
      expect(request.authorization ?? '').not.toMatch(/^Basic /i)
      expect(request.url).not.toContain(PASSWORD)
    }
    // The named image still verifies; the hostile one fails with a reason, not an input error.
    expect(results(run).map((r) => [r.image, r.verdict])).toEqual([
      [signed.ref, 'verified'],
      [`${hostile.host}/evil/base:1`, 'failed'],
    ])
    expect(run.visibleLog).not.toContain(PASSWORD)
  })
})

describe('issue 8.4: policy before network', () => {
  it('issue 8.4: an image the policy skips is never contacted', async () => {
    const ws = workspaceWith({
      Dockerfile: `FROM ${signed.ref}\nFROM ${hostile.host}/evil/base:1\n`,
      'policy.yml': [
        'unmatched: skip',
        'rules:',
        `  - images: ${registry.host}/**`,
        '    signers:',
        `      - identity: ${sigstore.identity.subject}`,
        `        issuer: ${sigstore.identity.issuer}`,
        '',
      ].join('\n'),
    })
    const run = await runAction(
      {
        mode: 'verify',
        dockerfile: 'Dockerfile',
        policy: 'policy.yml',
        'trusted-root': sigstore.trustedRootPath,
        'plain-http': registry.host,
      },
      trustHostile(),
      { cwd: ws },
    )
    expect(hostile.seen).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(results(run).map((r) => [r.image, r.verdict])).toEqual([
      [signed.ref, 'verified'],
      [`${hostile.host}/evil/base:1`, 'skipped'],
    ])
  })
})

describe('issue 8.11: a pull request cannot rewrite its own policy', () => {
  const policyTrusting = (identity: string): string =>
    [
      'rules:',
      `  - images: ${registry.host}/**`,
      '    signers:',
      `      - identity: ${identity}`,
      `        issuer: ${sigstore.identity.issuer}`,
      '',
    ].join('\n')

  /** A repository whose base commit trusts someone else, and a PR commit that trusts the stand-in. */
  function pullRequestCheckout(): { ws: string; base: string; eventPath: string } {
    const ws = mkdtempSync(join(tmpdir(), 'signet-attacker-git-'))
    const git = (...args: string[]): string =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: ws,
        encoding: 'utf8',
      })
    git('init', '-q')
    writeFileSync(join(ws, 'Dockerfile'), `FROM ${signed.ref}\n`)
    writeFileSync(
      join(ws, 'policy.yml'),
      policyTrusting(
        'https://github.com/acme/base-images/.github/workflows/release.yml@refs/heads/main',
      ),
    )
    git('add', '.')
    git('commit', '-q', '-m', 'base')
    const base = git('rev-parse', 'HEAD').trim()
    // The pull request: it trusts whoever signed its image.
    writeFileSync(join(ws, 'policy.yml'), policyTrusting(sigstore.identity.subject))
    git('commit', '-q', '-am', 'trust me')
    const eventPath = join(ws, '..', `event-${base}.json`)
    writeFileSync(eventPath, JSON.stringify({ pull_request: { base: { sha: base } } }))
    return { ws, base, eventPath }
  }

  const inputs = (): Record<string, string> => ({
    mode: 'verify',
    dockerfile: 'Dockerfile',
    policy: 'policy.yml',
    'trusted-root': sigstore.trustedRootPath,
    'plain-http': registry.host,
  })

  it("issue 8.11: with policy-ref at the base commit, the pull request's own policy is not used", async () => {
    const { ws, base } = pullRequestCheckout()
    const run = await runAction({ ...inputs(), 'policy-ref': base }, {}, { cwd: ws })
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => r.verdict)).toEqual(['failed'])
    expect(results(run)[0]?.reason).toContain('acme/base-images')
    expect(run.summary).toContain('changes policy.yml')
    expect(run.summary).toContain(base)
  })

  it('issue 8.11: without policy-ref, a pull_request run whose branch changes the policy is warned in the summary', async () => {
    const { ws, eventPath } = pullRequestCheckout()
    const run = await runAction(
      inputs(),
      { GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: eventPath },
      { cwd: ws },
    )
    expect(run.exitCode).toBe(0)
    expect(run.summary).toContain('This pull request changes policy.yml')
    expect(run.summary).toContain('policy-ref')
  })

  it('issue 8.11: policy-ref naming a commit that is not there is one error naming policy-ref', async () => {
    const { ws } = pullRequestCheckout()
    const run = await runAction({ ...inputs(), 'policy-ref': 'f'.repeat(40) }, {}, { cwd: ws })
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain('policy-ref')
  })
})
