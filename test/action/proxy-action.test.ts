/**
 * Issue 12.3: HTTPS_PROXY, HTTP_PROXY and NO_PROXY honoured for every call, as @actions/http-client
 * does, through a real proxy (Debian's tinyproxy) whose log is the evidence.
 *
 * The rule never proxies a loopback host and every test server listens on 127.0.0.1, so each
 * service is also exposed on the machine's non-loopback address, one forwarder per service (see
 * test/infra/proxy.ts): the registry, Fulcio, Rekor, the TSA, the OIDC token endpoint and GitHub's
 * API each get a host:port of their own, and tinyproxy's log names which it was asked to reach.
 * One more registry origin is listed in NO_PROXY (host:port form), and one is loopback: the log
 * must not name those, and they must still be reached (directly). TUF, which the stand-ins do not
 * serve, is asked of the public-good mirror; the proxy forwards to the test address only, so it
 * logs that request and refuses it, and no test reaches the internet.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NODE, ROOT, runAction, type ActionRun } from '../infra/action-runner'
import { Cosign } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { startGitHubApiStandIn, type GitHubApiStandIn } from '../infra/github-api'
import { identityFlags, pushFreshImage } from '../infra/harness'
import {
  exposeOnNetwork,
  startTinyproxy,
  nonLoopbackAddress,
  type ExposedService,
  type Tinyproxy,
} from '../infra/proxy'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

const PROXY_USER = 'signet'
const PROXY_PASSWORD = 'pr0xy-s3cret-pw'

let dir: string
let registry: TestRegistry
let sigstore: SigstoreStandIn
let github: GitHubApiStandIn
let proxy: Tinyproxy
/** The same servers at non-loopback addresses, one per service. */
let at: Record<
  'registry' | 'unproxiedRegistry' | 'fulcio' | 'rekor' | 'tsa' | 'oidc' | 'github',
  ExposedService
>

/** `url` with its origin replaced by the exposed service's. */
function via(service: ExposedService, url: string): string {
  const u = new URL(url)
  return `${service.origin}${u.pathname}${u.search}`.replace(/\/$/, '')
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-proxy-action-'))
  ;[registry, sigstore, github, proxy] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
    startGitHubApiStandIn(),
    startTinyproxy({
      basicAuth: { user: PROXY_USER, password: PROXY_PASSWORD },
      onlyHost: nonLoopbackAddress(),
    }),
  ])
  const standIn = new URL(sigstore.url).host
  const [reg, unproxied, fulcio, rekor, tsa, oidc, api] = await Promise.all([
    exposeOnNetwork(registry.host),
    exposeOnNetwork(registry.host),
    exposeOnNetwork(standIn),
    exposeOnNetwork(standIn),
    exposeOnNetwork(standIn),
    exposeOnNetwork(standIn),
    exposeOnNetwork(new URL(github.url).host),
  ])
  at = {
    registry: reg,
    unproxiedRegistry: unproxied,
    fulcio,
    rekor,
    tsa,
    oidc,
    github: api,
  }
})

afterAll(async () => {
  await Promise.all(Object.values(at ?? {}).map((s) => s.stop()))
  await Promise.all([registry?.stop(), sigstore?.stop(), github?.stop(), proxy?.stop()])
})

/** An image pushed to the registry, named at `host` (the same registry, another origin). */
async function pushAt(host: string): Promise<string> {
  const pushed = await pushFreshImage(registry.host, 'proxy/app')
  return pushed.ref.replace(registry.host, host)
}

/** The environment of a runner behind the proxy, with the services at their exposed origins. */
function behindProxy(extra: Record<string, string> = {}): Record<string, string> {
  return {
    HTTPS_PROXY: proxy.url,
    HTTP_PROXY: proxy.url,
    // host:port form: this origin of the registry only; the proxied one shares its address.
    NO_PROXY: `${at.unproxiedRegistry.host},nothing.example`,
    ACTIONS_ID_TOKEN_REQUEST_URL: via(at.oidc, sigstore.oidc.requestURL),
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: sigstore.oidc.requestToken,
    GITHUB_API_URL: via(at.github, github.url),
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/app',
    ...extra,
  }
}

function expectSecretsHidden(run: ActionRun): void {
  expect(run.visibleLog).not.toContain(PROXY_PASSWORD)
  expect(run.visibleLog).not.toContain(encodeURIComponent(PROXY_PASSWORD))
}

describe('behind a proxy (issue 12.3)', () => {
  it('signs with every service reached through the proxy; NO_PROXY and loopback go direct; cosign verifies', async () => {
    const proxied = await pushAt(at.registry.host)
    const unproxied = await pushAt(at.unproxiedRegistry.host)
    const loopback = await pushAt(registry.host)
    const attestationsBefore = github.attestations.length
    const unproxiedBefore = at.unproxiedRegistry.connections
    const run = await runAction(
      {
        images: [proxied, unproxied, loopback].join('\n'),
        'plain-http': [at.registry.host, at.unproxiedRegistry.host, registry.host].join(','),
        'fulcio-url': via(at.fulcio, sigstore.fulcioURL),
        'rekor-url': via(at.rekor, sigstore.rekorURL),
        'tsa-url': `${via(at.tsa, sigstore.tsaURL)}/api/v1/timestamp`,
        'trusted-root': sigstore.trustedRootPath,
        'github-attestations': 'true',
        'github-token': 'ghs_test_token',
      },
      behindProxy(),
    )
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.outputs.signed).toBe('true')
    // Said once, without the credentials.
    expect(run.stdout).toContain(
      `Proxy: https:// through http://127.0.0.1:${new URL(proxy.url).port} (HTTPS_PROXY); ` +
        `http:// through http://127.0.0.1:${new URL(proxy.url).port} (HTTP_PROXY); ` +
        `direct: loopback hosts and NO_PROXY (${at.unproxiedRegistry.host},nothing.example)`,
    )
    expectSecretsHidden(run)

    const targets = new Set(await proxy.targets())
    for (const service of ['registry', 'fulcio', 'rekor', 'tsa', 'oidc', 'github'] as const) {
      expect({ service, proxied: targets.has(at[service].host) }).toEqual({
        service,
        proxied: true,
      })
    }
    expect(targets.has(at.unproxiedRegistry.host)).toBe(false)
    expect([...targets].filter((t) => t.startsWith('127.') || t.startsWith('localhost'))).toEqual(
      [],
    )
    // Not proxied, yet reached: directly.
    expect(at.unproxiedRegistry.connections).toBeGreaterThan(unproxiedBefore)
    expect(github.attestations.length).toBe(attestationsBefore + 3)

    const cosign = new Cosign(dir)
    for (const ref of [proxied, unproxied, loopback]) {
      await cosign.verify(3, sigstore, identityFlags(sigstore), ref)
    }
    await cosign.verify(2, sigstore, identityFlags(sigstore), proxied)
  })

  it("Sigstore on loopback and in NO_PROXY goes direct (src/net/proxy.ts's rules)", async () => {
    // sigstore-js's HTTP stack reads the proxy variables itself, and would proxy both: it has no
    // loopback rule and no host:port entries. Signet's hook tells it the rule's answer.
    const image = await pushAt(at.registry.host)
    const before = (await proxy.targets()).length
    const fulcioBefore = sigstore.requests.fulcio ?? 0
    const rekorConnections = at.rekor.connections
    const run = await runAction(
      {
        images: image,
        'plain-http': at.registry.host,
        'fulcio-url': sigstore.fulcioURL,
        'rekor-url': via(at.rekor, sigstore.rekorURL),
        'trusted-root': sigstore.trustedRootPath,
      },
      behindProxy({ NO_PROXY: `${at.rekor.host}` }),
    )
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const after = (await proxy.targets()).slice(before)
    expect(after).toContain(at.registry.host)
    expect(after).toContain(at.oidc.host)
    expect(after).not.toContain(at.rekor.host)
    expect(after.filter((t) => t.startsWith('127.'))).toEqual([])
    expect(sigstore.requests.fulcio ?? 0).toBeGreaterThan(fulcioBefore)
    expect(at.rekor.connections).toBeGreaterThan(rekorConnections)
  })

  it('verifies through the proxy', async () => {
    const image = await pushAt(at.registry.host)
    const sign = await runAction(
      {
        images: image,
        'plain-http': at.registry.host,
        'fulcio-url': via(at.fulcio, sigstore.fulcioURL),
        'rekor-url': via(at.rekor, sigstore.rekorURL),
        'trusted-root': sigstore.trustedRootPath,
      },
      behindProxy(),
    )
    expect(sign.exitCode).toBe(0)
    const before = (await proxy.targets()).length
    const verify = await runAction(
      {
        mode: 'verify',
        images: image,
        'plain-http': at.registry.host,
        'trusted-root': sigstore.trustedRootPath,
        'certificate-identity': sigstore.identity.subject,
        'certificate-oidc-issuer': sigstore.identity.issuer,
      },
      behindProxy(),
    )
    expect(verify.errors).toEqual([])
    expect(verify.exitCode).toBe(0)
    expect(verify.outputs.verified).toBe('true')
    const after = (await proxy.targets()).slice(before)
    expect(after).toContain(at.registry.host)
    expectSecretsHidden(verify)
  })

  it('asks TUF through the proxy (which refuses the public-good mirror: tests stay off the internet)', async () => {
    const image = await pushAt(at.registry.host)
    const run = await runAction(
      {
        mode: 'verify',
        images: image,
        'plain-http': at.registry.host,
        'certificate-identity': sigstore.identity.subject,
        'certificate-oidc-issuer': sigstore.identity.issuer,
      },
      behindProxy(),
    )
    // tuf-js fetched through the proxy, which refused: to Signet, a mirror that cannot be reached.
    expect(await proxy.targets()).toContain('tuf-repo-cdn.sigstore.dev:443')
    expect(await proxy.refused()).toContain('tuf-repo-cdn.sigstore.dev')
    expect(run.stdout).toMatch(/::warning::could not update the Sigstore trusted root through TUF/)
    // The image was never signed: the run goes on to the registry (through the proxy) and says so.
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toMatch(/expected a signature, got none/)
    expectSecretsHidden(run)
  })

  it('a proxy that refuses the credentials fails the run, without printing them', async () => {
    const image = await pushAt(at.registry.host)
    const wrong = proxy.url.replace(encodeURIComponent(PROXY_PASSWORD), 'wr0ng-pa55word')
    const run = await runAction(
      {
        mode: 'verify',
        images: image,
        'plain-http': at.registry.host,
        'trusted-root': sigstore.trustedRootPath,
        'certificate-identity': sigstore.identity.subject,
        'certificate-oidc-issuer': sigstore.identity.issuer,
        'retry-timeout': '1s',
      },
      behindProxy({ HTTPS_PROXY: wrong, HTTP_PROXY: wrong }),
    )
    expect(run.exitCode).toBe(1)
    expect(run.errors.join('\n')).toMatch(
      /could not reach the registry .*Proxy response \(40[17]\)/,
    )
    expect(run.visibleLog).not.toContain('wr0ng-pa55word')
  })

  it('a proxy URL it cannot use is one ::error:: naming the variable, before any request', async () => {
    const image = await pushAt(at.registry.host)
    const before = (await proxy.targets()).length
    const connections = at.registry.connections
    const run = await runAction(
      { mode: 'verify', images: image, 'plain-http': at.registry.host },
      behindProxy({ HTTPS_PROXY: 'socks5://signet:hunter2-socks@127.0.0.1:1080' }),
    )
    expect(run.exitCode).toBe(1)
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(
      /HTTPS_PROXY is not a proxy URL \(socks5:\/\/127\.0\.0\.1:1080\).*http:\/\/host:port/,
    )
    expect(run.visibleLog).not.toContain('hunter2-socks')
    expect((await proxy.targets()).length).toBe(before)
    expect(at.registry.connections).toBe(connections)
  })

  it('the command line routes the same way (dist/cli.cjs)', async () => {
    const image = await pushAt(at.registry.host)
    const unproxied = await pushAt(at.unproxiedRegistry.host)
    const before = (await proxy.targets()).length
    const connections = at.unproxiedRegistry.connections
    const signet = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          NODE,
          [
            join(ROOT, 'dist', 'cli.cjs'),
            ...args,
            ...['--images', image, '--images', unproxied],
            ...['--plain-http', at.registry.host, '--plain-http', at.unproxiedRegistry.host],
            ...['--trusted-root', sigstore.trustedRootPath],
          ],
          { env: { PATH: process.env.PATH, HOME: dir, ...behindProxy() } },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        )
      })
    // Fulcio on loopback (direct, though sigstore-js's own rules would proxy it), Rekor through.
    const sign = await signet([
      'sign',
      ...['--identity-token', sigstore.mintToken()],
      ...['--fulcio-url', sigstore.fulcioURL],
      ...['--rekor-url', via(at.rekor, sigstore.rekorURL)],
    ])
    expect(sign.stderr).not.toMatch(/error/)
    expect(sign.code).toBe(0)
    const verify = await signet([
      'verify',
      ...['--certificate-identity', sigstore.identity.subject],
      ...['--certificate-oidc-issuer', sigstore.identity.issuer],
    ])
    expect(verify.code).toBe(0)
    for (const run of [sign, verify]) {
      expect(run.stderr).toContain('Proxy: https:// through http://127.0.0.1:')
      expect(run.stderr + run.stdout).not.toContain(PROXY_PASSWORD)
    }
    const after = (await proxy.targets()).slice(before)
    expect(after).toContain(at.registry.host)
    expect(after).toContain(at.rekor.host)
    expect(after.filter((t) => t.startsWith('127.'))).toEqual([])
    expect(after).not.toContain(at.unproxiedRegistry.host)
    expect(at.unproxiedRegistry.connections).toBeGreaterThan(connections)
  })
})
