/**
 * Signet beside cosign v3 and v2 on the same work, in one run: sign N fresh images keyless
 * (bundle format, and legacy) and by key (legacy format) against a real registry (Debian's
 * docker-registry behind a counting proxy) and the Sigstore stand-in. Prints wall time, HTTP
 * requests per image (registry + Sigstore) and peak memory, and the ratios. Then verifies 20 and
 * 100 signed images (and 20 behind a registry round trip) in one Signet run beside one
 * `cosign verify` (v3, and v2) naming the same images, and times start-up: spawn to the first
 * request, beside `node -e 0`. Ends with issue 11's targets beside the measured figures.
 * Reports figures; asserts nothing, but a run that fails (or a verify that does not verify every
 * image) is marked failed. Each figure is the median of BENCH_REPEATS (3) runs taken in
 * alternating rounds (Signet, cosign v3, cosign v2, Signet, …), so a change in the machine's load
 * falls on every tool alike (sign: fresh images each run; verify: the same images, which a verify
 * does not change).
 *
 *   npm run bench                            # all: start-up, sign 20 (loopback, 20 ms RTT),
 *                                            #   attest, verify 20 and 100 (loopback, 20 ms RTT)
 *   npm run bench -- 5 20                    # sign only, other sizes (loopback only)
 *   BENCH_ONLY=verify npm run bench          # verify only: N = 20, 100, loopback and 20 ms RTT
 *   BENCH_ONLY=verify npm run bench -- 500   # verify only, other sizes (loopback only)
 *   BENCH_ONLY=attest npm run bench          # attest only
 *   BENCH_ONLY=startup npm run bench         # start-up only
 *
 * The verified images are signed by cosign v3 (a bundle each, as issue 11 measures); with
 * BENCH_VERIFY_FORMAT=bundle|legacy|both Signet signs them, in that format, instead;
 * BENCH_VERBOSE=1 prints every run's log with timestamps; BENCH_SIGNET_NODE_OPTIONS (e.g.
 * `--cpu-prof`) goes to Signet's Node; BENCH_SIGNET_ENTRY runs another build of the action in
 * place of the committed one; BENCH_SIGNET_BEFORE adds a second build ("signet before", e.g. the
 * previous commit's bundle) that takes its turn in every round, with its own ratios.
 */
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { RegistryClient } from '../src/registry/client'
import { anonymousCredentials } from '../src/registry/credentials'
import { encryptCosignKey } from '../src/sigstore/keys'
import { actionEnv, NODE, parseOutputFile, ROOT } from '../test/infra/action-runner'
import { startTestRegistry } from '../test/infra/docker-registry'
import { identityFlags } from '../test/infra/harness'
import { pushTestImage } from '../test/infra/images'
import { startSigstoreStandIn, type SigstoreStandIn } from '../test/infra/sigstore-standin'
import { toolPath } from '../test/infra/tools'

/** The registry round trip of the second pass (ghcr.io from a GitHub runner is about this). */
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20)
/** The action Signet runs as: the committed bundle, or another build (BENCH_SIGNET_ENTRY) to compare. */
const SIGNET_ENTRY = process.env.BENCH_SIGNET_ENTRY ?? join(ROOT, 'dist', 'index.cjs')
/** A second build run beside it in the same rounds (optional): before and after in one run. */
const SIGNET_BEFORE = process.env.BENCH_SIGNET_BEFORE
/** Each Signet build the bench runs, by the name its rows carry. */
const SIGNETS: [string, string][] = [
  ['signet', SIGNET_ENTRY],
  ...(SIGNET_BEFORE ? [['signet before', SIGNET_BEFORE] as [string, string]] : []),
]
/** Start-up runs of each contender (more than REPEATS: each is short, so noisier). */
const STARTUP_REPEATS = Number(process.env.BENCH_STARTUP_REPEATS ?? 7)
/** Runs of each measurement; the median is reported. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3)

interface Measure {
  seconds: number
  /** CPU seconds (user + system) of the tool's own process. */
  cpuSeconds: number
  peakMiB: number
  requestsPerImage: number
  /** Requests per image by kind (method, what was asked for, status): where they go. */
  requestKinds: Record<string, number>
  ok: boolean
  /** stdout and stderr, interleaved. */
  output: string
}

/** What a registry request asks for, by the shape of its path (tags by the format that names them). */
function requestKind(method: string, url: string): string {
  const path = url.split('?')[0]
  const what =
    path === '/v2/' || path === '/v2'
      ? 'ping'
      : /\/blobs\/uploads\//.test(path)
        ? 'blob upload'
        : /\/blobs\//.test(path)
          ? 'blob'
          : /\/referrers\//.test(path)
            ? 'referrers API'
            : /\/tags\/list$/.test(path)
              ? 'tag list'
              : /\/manifests\/sha256:[0-9a-f]{64}$/.test(path)
                ? 'manifest by digest'
                : /\/manifests\/sha256-[0-9a-f]{64}\.sig$/.test(path)
                  ? '.sig tag'
                  : /\/manifests\/sha256-[0-9a-f]{64}\.att$/.test(path)
                    ? '.att tag'
                    : /\/manifests\/sha256-[0-9a-f]{64}$/.test(path)
                      ? 'referrers fallback tag'
                      : /\/manifests\//.test(path)
                        ? 'manifest by tag'
                        : 'other'
  return `${method} ${what}`
}

/** Forwards to the registry and counts requests (by kind and status): the same count for every tool. */
async function countingProxy(
  target: string,
  latency: { ms: number },
): Promise<{ host: string; counts: () => Record<string, number>; stop: () => Promise<void> }> {
  const counts: Record<string, number> = {}
  const [targetHost, targetPort] = target.split(':')
  const server = createServer((req, res) => {
    const kind = requestKind(req.method ?? '?', req.url ?? '')
    res.on('finish', () => {
      const key = `${kind} ${res.statusCode}`
      counts[key] = (counts[key] ?? 0) + 1
    })
    // A registry across a network answers after a round trip; loopback hides that cost.
    setTimeout(() => forward(req, res), latency.ms)
  })
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request(
      {
        host: targetHost,
        port: Number(targetPort),
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers)
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.destroy())
    req.pipe(upstream)
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts: () => ({ ...counts }),
    stop: () => new Promise((r) => server.close(() => r())),
  }
}

/** The stand-in's requests by service, as request kinds. */
function sigstoreRequests(s: SigstoreStandIn): Record<string, number> {
  return Object.fromEntries(
    Object.entries(s.requests).map(([service, n]) => [`sigstore ${service}`, n]),
  )
}

/** Per image, the requests made between two snapshots of the counters. */
function requestsBetween(
  before: Record<string, number>,
  after: Record<string, number>,
  images: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([kind, n]): [string, number] => [kind, (n - (before[kind] ?? 0)) / images])
      .filter(([, n]) => n > 0),
  )
}

const sumOf = (kinds: Record<string, number>): number =>
  Object.values(kinds).reduce((a, b) => a + b, 0)

/** A server that answers every request 503 and tells who listens when one comes. */
async function firstRequestStub(): Promise<{
  host: string
  url: string
  onRequest: { current: (() => void) | undefined }
  stop: () => Promise<void>
}> {
  const onRequest: { current: (() => void) | undefined } = { current: undefined }
  const server = createServer((_req, res) => {
    onRequest.current?.()
    res.writeHead(503).end()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    host,
    url: `http://${host}`,
    onRequest,
    stop: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/**
 * Milliseconds from spawning `node args` to the first request the stub sees (the process is then
 * stopped: what follows is not start-up), or to its exit if it makes none (`node -e 0`). Resolves
 * once the process has exited, so a late request never counts for the next run.
 */
function firstRequestMs(
  args: string[],
  env: NodeJS.ProcessEnv,
  stub: { onRequest: { current: (() => void) | undefined } },
): Promise<number> {
  return new Promise((resolve) => {
    const started = performance.now()
    let ms: number | undefined
    const child = spawn(NODE, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
    stub.onRequest.current = () => {
      if (ms !== undefined) return
      ms = performance.now() - started
      child.kill()
    }
    child.on('exit', () => {
      stub.onRequest.current = undefined
      if (ms === undefined && args[0] !== '-e')
        console.error(`  start-up: no request from ${args.join(' ')}: ${output.slice(-800)}`)
      resolve(ms ?? (args[0] === '-e' ? performance.now() - started : NaN))
    })
  })
}

/** The median of a list of numbers (NaN, a failed run, sorts last). */
function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => (Number.isNaN(a) ? 1 : Number.isNaN(b) ? -1 : a - b))
  return sorted[Math.floor(sorted.length / 2)]
}

/** Runs a command under GNU time for its peak RSS. */
async function measure(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  images: number,
  counters: () => Record<string, number>,
): Promise<Measure> {
  const timeFile = join(tmpdir(), `signet-bench-time-${process.pid}-${Math.random()}`)
  const before = counters()
  const started = performance.now()
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
    const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, cmd, ...args], { env })
    let output = ''
    const collect = (d: Buffer): void => {
      output += d.toString()
      // BENCH_VERBOSE=1 shows every run's log (Signet's groups, cosign's verdicts) as it comes,
      // each chunk stamped with the milliseconds since the start: where the time goes.
      if (process.env.BENCH_VERBOSE) {
        const ms = (performance.now() - started).toFixed(0).padStart(6)
        const text = d
          .toString()
          .trimEnd()
          .replaceAll('\n', `\n${' '.repeat(9)}| `)
        process.stderr.write(`${ms} ms | ${text}\n`)
      }
    }
    child.stdout.on('data', collect)
    child.stderr.on('data', collect)
    child.on('close', (c) => resolve({ code: c ?? -1, output }))
  })
  const seconds = (performance.now() - started) / 1000
  const [peakKiB, user, system] = (readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '')
    .split(' ')
    .map(Number)
  if (code !== 0)
    console.error(`  ${cmd.split('/').pop()} failed (exit ${code}): ${output.slice(-800)}`)
  return {
    seconds,
    cpuSeconds: user + system,
    peakMiB: peakKiB / 1024,
    requestsPerImage: sumOf(requestsBetween(before, counters(), images)),
    requestKinds: requestsBetween(before, counters(), images),
    ok: code === 0,
    output,
  }
}

/** A CycloneDX SBOM of about 10 MB, shaped as syft writes them. */
function tenMegabyteSbom(): object {
  const components = []
  for (let i = 0; i < 40_000; i++) {
    components.push({ type: 'library', name: `pkg-${i}-${'x'.repeat(200)}`, version: `${i}.0.0` })
  }
  return { bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components }
}

async function main(): Promise<void> {
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0)
  // BENCH_ONLY=attest (or verify, or startup) runs just that comparison.
  const only = process.env.BENCH_ONLY
  if (only !== undefined && only !== 'attest' && only !== 'verify' && only !== 'startup')
    throw new Error(`BENCH_ONLY=${only}: expected attest, verify or startup`)
  // Issue 11's sizes: sign 20 and verify 20 and 100, each on loopback and behind a round trip.
  const counts = only ? [] : sizes.length > 0 ? sizes : [20]
  // The same work again with a registry round trip, as a registry across the network has.
  const latencyCounts = sizes.length > 0 || only ? [] : [20]
  const attestRun = sizes.length === 0 && (only === undefined || only === 'attest')
  const startupRun = sizes.length === 0 && (only === undefined || only === 'startup')
  // Sizes on the command line are for signing, or for verifying under BENCH_ONLY=verify.
  const verifyCounts =
    only === 'verify' && sizes.length > 0
      ? sizes
      : only === 'attest' || only === 'startup' || sizes.length > 0
        ? []
        : [20, 100]
  // The same images again with a registry round trip (not for sizes from the command line).
  const verifyLatencyCounts = sizes.length === 0 ? verifyCounts : []
  if (!existsSync('/usr/bin/time')) throw new Error('GNU time is needed (apt-get install time)')
  const dir = mkdtempSync(join(tmpdir(), 'signet-bench-'))
  const registry = await startTestRegistry('distribution')
  const latency = { ms: 0 }
  const proxy = await countingProxy(registry.host, latency)
  const sigstore = await startSigstoreStandIn({ dir })
  const host = proxy.host
  const counters = () => ({ ...proxy.counts(), ...sigstoreRequests(sigstore) })
  const client = new RegistryClient({
    credentials: anonymousCredentials,
    plainHttp: [registry.host],
  })

  // cosign v3 gets the same services Signet uses (Fulcio + Rekor, no timestamp authority).
  const signingConfig = JSON.parse(readFileSync(sigstore.signingConfigPath, 'utf8')) as Record<
    string,
    unknown
  >
  signingConfig.tsaUrls = []
  const signingConfigPath = join(dir, 'signing_config.no-tsa.json')
  writeFileSync(signingConfigPath, JSON.stringify(signingConfig))
  const tokenPath = join(dir, 'token')
  writeFileSync(tokenPath, sigstore.mintToken())
  // Keyless signing against the stand-in: v3 from the signing config (a file token), v2 from flags.
  const cosign3Keyless = [
    '--identity-token',
    tokenPath,
    '--trusted-root',
    sigstore.trustedRootPath,
    '--signing-config',
    signingConfigPath,
  ]
  const cosign2Keyless = (): string[] => [
    '--fulcio-url',
    sigstore.fulcioURL,
    '--rekor-url',
    sigstore.rekorURL,
    '--identity-token',
    sigstore.mintToken(),
  ]
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keyPath = join(dir, 'bench.key')
  writeFileSync(keyPath, encryptCosignKey(privateKey, 'bench'))

  let seq = 0
  const freshImages = async (n: number): Promise<string[]> => {
    const refs: string[] = []
    for (let i = 0; i < n; i++) {
      const repository = `bench/app${seq++}`
      const image = await pushTestImage(
        client,
        { registry: registry.host, repository },
        { seed: `bench-${seq}-${Date.now()}` },
      )
      refs.push(`${host}/${repository}@${image.digest}`)
    }
    return refs
  }

  const insecure = ['--allow-insecure-registry', '--allow-http-registry']
  const signet = async (
    entry: string,
    refs: string[],
    inputs: Record<string, string>,
    keyless: boolean,
  ): Promise<Measure> => {
    const env = actionEnv(
      {
        images: refs.join('\n'),
        'plain-http': host,
        'fulcio-url': sigstore.fulcioURL,
        'rekor-url': sigstore.rekorURL,
        summary: 'false',
        ...inputs,
      },
      keyless
        ? {
            NODE_OPTIONS: process.env.BENCH_SIGNET_NODE_OPTIONS,
            ACTIONS_ID_TOKEN_REQUEST_URL: sigstore.oidc.requestURL,
            ACTIONS_ID_TOKEN_REQUEST_TOKEN: sigstore.oidc.requestToken,
          }
        : {},
      { outputFile: join(dir, 'out'), summaryFile: join(dir, 'summary'), runnerTemp: dir },
    )
    writeFileSync(join(dir, 'out'), '')
    return measure(NODE, [entry], env, refs.length, counters)
  }
  const cosign = async (
    tool: 'cosign3' | 'cosign2',
    args: string[],
    refs: string[],
    env: NodeJS.ProcessEnv = {},
  ): Promise<Measure> =>
    measure(
      toolPath(tool),
      ['sign', '--yes', ...insecure, ...args, ...refs],
      { ...process.env, ...env },
      refs.length,
      counters,
    )

  type Row = { scenario: string; n: number; tool: string; m: Measure }
  const rows: Row[] = []
  /** The median of REPEATS runs: one run on a shared 2-core machine is noisy. */
  const middle = (trials: Measure[]): Measure => {
    const sorted = [...trials].sort((a, b) => a.seconds - b.seconds)
    return { ...sorted[Math.floor(sorted.length / 2)], ok: trials.every((t) => t.ok) }
  }
  /**
   * Runs each contender REPEATS times in alternating rounds (A, B, C, A, B, C, …) and reports
   * each one's median: a change in the machine's load then falls on every tool alike.
   */
  const alternate = async (
    scenario: string,
    n: number,
    contenders: [tool: string, run: () => Promise<Measure>][],
  ): Promise<void> => {
    const trials = contenders.map((): Measure[] => [])
    for (let i = 0; i < REPEATS; i++) {
      for (const [c, [, run]] of contenders.entries()) trials[c].push(await run())
    }
    for (const [c, [tool]] of contenders.entries()) report(scenario, n, tool, middle(trials[c]))
  }
  const report = (scenario: string, n: number, tool: string, m: Measure): void => {
    rows.push({ scenario, n, tool, m })
    console.error(
      `  ${scenario} ×${n} ${tool}: ${m.seconds.toFixed(2)} s${m.ok ? '' : ' (FAILED)'}`,
    )
  }
  // Start-up: spawn to the first request, beside spawn to exit of `node -e 0`. Every service the
  // action could call first (registry, Fulcio, Rekor, the OIDC token) is one stub that answers 503.
  const startup: { tool: string; ms: number }[] = []
  if (startupRun) {
    const stub = await firstRequestStub()
    const image = `${stub.host}/bench/startup@sha256:${'0'.repeat(64)}`
    const startupEnv = (inputs: Record<string, string>, env: Record<string, string> = {}) =>
      actionEnv({ images: image, 'plain-http': stub.host, summary: 'false', ...inputs }, env, {
        outputFile: join(dir, 'startup-out'),
        summaryFile: join(dir, 'summary'),
        runnerTemp: dir,
      })
    writeFileSync(join(dir, 'startup-out'), '')
    const verifyEnv = startupEnv({
      mode: 'verify',
      'trusted-root': sigstore.trustedRootPath,
      'certificate-identity': sigstore.identity.subject,
      'certificate-oidc-issuer': sigstore.identity.issuer,
      recursive: 'false',
    })
    const signEnv = startupEnv(
      { 'fulcio-url': stub.url, 'rekor-url': stub.url, 'signature-format': 'bundle' },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: `${stub.url}/token`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'bench',
      },
    )
    const contenders: [string, string[], NodeJS.ProcessEnv][] = [
      ['node -e 0', ['-e', '0'], { PATH: process.env.PATH }],
      ...SIGNETS.flatMap(([tool, entry]): [string, string[], NodeJS.ProcessEnv][] => [
        [`${tool} verify`, [entry], verifyEnv],
        [`${tool} sign keyless`, [entry], signEnv],
      ]),
    ]
    const trials = contenders.map((): number[] => [])
    for (let i = 0; i < STARTUP_REPEATS; i++) {
      for (const [c, [, args, env]] of contenders.entries())
        trials[c].push(await firstRequestMs(args, env, stub))
    }
    for (const [c, [tool]] of contenders.entries()) {
      startup.push({ tool, ms: medianOf(trials[c]) })
      console.error(`  start-up ${tool}: ${medianOf(trials[c]).toFixed(0)} ms`)
    }
    await stub.stop()
  }

  const runs: [number, number][] = [
    ...counts.map((n): [number, number] => [0, n]),
    ...latencyCounts.map((n): [number, number] => [LATENCY_MS, n]),
  ]
  for (const [ms, n] of runs) {
    latency.ms = ms
    // Each Signet build (the one under test, and BENCH_SIGNET_BEFORE's) takes its turn.
    const signets = (
      scenario: string,
      inputs: Record<string, string>,
      keyless: boolean,
    ): [string, string, () => Promise<Measure>][] =>
      SIGNETS.map(([tool, entry]) => [
        scenario,
        tool,
        async () => signet(entry, await freshImages(n), inputs, keyless),
      ])
    const scenarios: [string, string, () => Promise<Measure>][] = [
      ...signets('keyless, bundle', { 'signature-format': 'bundle' }, true),
      [
        'keyless, bundle',
        'cosign v3',
        async () => cosign('cosign3', cosign3Keyless, await freshImages(n)),
      ],
      ...signets('keyless, legacy', { 'signature-format': 'legacy' }, true),
      [
        'keyless, legacy',
        'cosign v2',
        async () => cosign('cosign2', cosign2Keyless(), await freshImages(n), sigstore.cosignV2Env),
      ],
      ...signets(
        'key, legacy',
        { 'signature-format': 'legacy', key: keyPath, 'key-password': 'bench' },
        false,
      ),
      [
        'key, legacy',
        'cosign v3',
        async () =>
          cosign(
            'cosign3',
            [
              '--key',
              keyPath,
              '--new-bundle-format=false',
              '--use-signing-config=false',
              '--rekor-url',
              sigstore.rekorURL,
              '--trusted-root',
              sigstore.trustedRootPath,
            ],
            await freshImages(n),
            { COSIGN_PASSWORD: 'bench' },
          ),
      ],
      [
        'key, legacy',
        'cosign v2',
        async () =>
          cosign(
            'cosign2',
            ['--key', keyPath, '--rekor-url', sigstore.rekorURL],
            await freshImages(n),
            { ...sigstore.cosignV2Env, COSIGN_PASSWORD: 'bench' },
          ),
      ],
    ]
    // Each scenario's tools take turns, round after round, each run on fresh images.
    for (const scenario of new Set(scenarios.map(([name]) => name))) {
      await alternate(
        ms > 0 ? `${scenario}, registry RTT ${ms} ms` : scenario,
        n,
        scenarios.filter(([name]) => name === scenario).map(([, tool, run]) => [tool, run]),
      )
    }
  }

  // Attesting a 10 MB SBOM to 10 images. cosign attests one image per call, so it runs once per
  // image, as a workflow's shell loop would; Signet runs once, and also signs each image.
  if (attestRun) {
    const sbomPath = join(dir, 'sbom-10mb.cdx.json')
    writeFileSync(sbomPath, JSON.stringify(tenMegabyteSbom()))
    const n = 10
    const cosignEach = async (
      tool: 'cosign3' | 'cosign2',
      args: string[],
      env: NodeJS.ProcessEnv,
    ): Promise<Measure> => {
      const parts: Measure[] = []
      for (const ref of await freshImages(n)) {
        parts.push(
          await measure(
            toolPath(tool),
            [
              'attest',
              '--yes',
              ...insecure,
              '--type',
              'cyclonedx',
              '--predicate',
              sbomPath,
              ...args,
              ref,
            ],
            { ...process.env, ...env },
            1,
            counters,
          ),
        )
      }
      return {
        seconds: parts.reduce((a, p) => a + p.seconds, 0),
        cpuSeconds: parts.reduce((a, p) => a + p.cpuSeconds, 0),
        peakMiB: Math.max(...parts.map((p) => p.peakMiB)),
        requestsPerImage: parts.reduce((a, p) => a + p.requestsPerImage, 0) / n,
        requestKinds: parts.reduce<Record<string, number>>((all, p) => {
          for (const [kind, k] of Object.entries(p.requestKinds))
            all[kind] = (all[kind] ?? 0) + k / n
          return all
        }, {}),
        ok: parts.every((p) => p.ok),
        output: parts.map((p) => p.output).join('\n'),
      }
    }
    const scenario = 'attest 10 MB SBOM'
    const attestRuns: [string, string, () => Promise<Measure>][] = [
      ...SIGNETS.map(([tool, entry]): [string, string, () => Promise<Measure>] => [
        `${scenario}, bundle`,
        tool,
        async () =>
          signet(
            entry,
            await freshImages(n),
            { 'signature-format': 'bundle', sbom: sbomPath },
            true,
          ),
      ]),
      [`${scenario}, bundle`, 'cosign v3', () => cosignEach('cosign3', cosign3Keyless, {})],
      ...SIGNETS.map(([tool, entry]): [string, string, () => Promise<Measure>] => [
        `${scenario}, legacy`,
        tool,
        async () =>
          signet(
            entry,
            await freshImages(n),
            { 'signature-format': 'legacy', sbom: sbomPath },
            true,
          ),
      ]),
      [
        `${scenario}, legacy`,
        'cosign v2',
        () => cosignEach('cosign2', cosign2Keyless(), sigstore.cosignV2Env),
      ],
    ]
    latency.ms = 0
    for (const [label, tool, run] of attestRuns) report(label, n, tool, await run())
  }

  // Verifying N images signed once (keyless; by whom and in which format: verifyFormat below):
  // one Signet run beside one `cosign verify` naming all N. Signing is set-up, not measured; the images are the same for every run and tool.
  const cosignHome = join(dir, 'cosign-home')
  // cosign verifies offline: a private HOME and TUF_ROOT, the stand-in's trust material.
  const cosignEnv = { HOME: cosignHome, TUF_ROOT: join(cosignHome, 'tuf') }
  const signetVerify = async (entry: string, refs: string[]): Promise<Measure> => {
    const outFile = join(dir, 'verify-out')
    writeFileSync(outFile, '')
    const env = actionEnv(
      {
        mode: 'verify',
        images: refs.join('\n'),
        'plain-http': host,
        'trusted-root': sigstore.trustedRootPath,
        'certificate-identity': sigstore.identity.subject,
        'certificate-oidc-issuer': sigstore.identity.issuer,
        recursive: 'false',
        summary: 'false',
      },
      { NODE_OPTIONS: process.env.BENCH_SIGNET_NODE_OPTIONS },
      { outputFile: outFile, summaryFile: join(dir, 'summary'), runnerTemp: dir },
    )
    const m = await measure(NODE, [entry], env, refs.length, counters)
    // The verdict: every image verified, not just exit 0.
    const outputs = parseOutputFile(readFileSync(outFile, 'utf8'))
    const results = JSON.parse(outputs.results ?? '[]') as { verified: boolean }[]
    const verified =
      outputs.verified === 'true' && results.filter((r) => r.verified).length === refs.length
    if (m.ok && !verified)
      console.error(`  signet verify did not verify all ${refs.length}: ${m.output.slice(-800)}`)
    return { ...m, ok: m.ok && verified }
  }
  const cosignVerify = async (tool: 'cosign3' | 'cosign2', refs: string[]): Promise<Measure> => {
    const m = await measure(
      toolPath(tool),
      [
        'verify',
        ...insecure,
        ...(tool === 'cosign3' ? ['--trusted-root', sigstore.trustedRootPath] : []),
        ...identityFlags(sigstore),
        ...refs,
      ],
      { ...process.env, ...cosignEnv, ...(tool === 'cosign2' ? sigstore.cosignV2Env : {}) },
      refs.length,
      counters,
    )
    // cosign prints one "Verification for <ref> --" per verified image.
    const verified = (m.output.match(/^Verification for /gm) ?? []).length
    if (m.ok && verified !== refs.length)
      console.error(
        `  ${tool} verify verified ${verified} of ${refs.length}: ${m.output.slice(-800)}`,
      )
    return { ...m, ok: m.ok && verified === refs.length }
  }
  // What the verified images carry. By default what issue 11 measures: a cosign v3 bundle per
  // image, signed by cosign v3 itself (as a workflow verifying images cosign v3 signed) — the work
  // `cosign verify` (v3) does, so the comparison is like with like. (Images signed by Signet in
  // both formats made Signet read and check a `.sig` too where cosign v3 stopped at the bundle.)
  // BENCH_VERIFY_FORMAT=bundle, legacy or both has Signet sign them instead, in that format; cosign
  // v2 reads no bundle, so it sits out where there is no `.sig`.
  const verifyFormat = process.env.BENCH_VERIFY_FORMAT ?? 'cosign-v3'
  if (!['cosign-v3', 'both', 'bundle', 'legacy'].includes(verifyFormat))
    throw new Error(
      `BENCH_VERIFY_FORMAT=${verifyFormat}: expected cosign-v3, both, bundle or legacy`,
    )
  const signed = new Map<number, string[]>()
  const signedImages = async (n: number): Promise<string[]> => {
    const cached = signed.get(n)
    if (cached) return cached
    latency.ms = 0
    const refs = await freshImages(n)
    // cosign v3 as it signs against public-good: Fulcio, Rekor and the timestamp authority (the
    // signing config's), so the verifiers check an RFC 3161 timestamp chain too.
    const cosign3WithTsa = cosign3Keyless.map((arg) =>
      arg === signingConfigPath ? sigstore.signingConfigPath : arg,
    )
    const signing =
      verifyFormat === 'cosign-v3'
        ? await cosign('cosign3', cosign3WithTsa, refs)
        : await signet(SIGNET_ENTRY, refs, { 'signature-format': verifyFormat }, true)
    if (!signing.ok) throw new Error(`signing ${n} images for the verify comparison failed`)
    signed.set(n, refs)
    return refs
  }
  const verifyRuns: [number, number][] = [
    ...verifyCounts.map((n): [number, number] => [0, n]),
    ...verifyLatencyCounts.map((n): [number, number] => [LATENCY_MS, n]),
  ]
  for (const [ms, n] of verifyRuns) {
    const images = await signedImages(n)
    latency.ms = ms
    const scenario =
      `verify, identity (signed: ${verifyFormat})` + (ms > 0 ? `, registry RTT ${ms} ms` : '')
    const contenders: [string, () => Promise<Measure>][] = [
      ...SIGNETS.map(([tool, entry]): [string, () => Promise<Measure>] => [
        tool,
        () => signetVerify(entry, images),
      ]),
      ['cosign v3', () => cosignVerify('cosign3', images)],
      ['cosign v2', () => cosignVerify('cosign2', images)],
    ]
    // The images do not change, so the same images serve every round.
    await alternate(
      scenario,
      n,
      contenders.filter(
        ([tool]) => tool !== 'cosign v2' || verifyFormat === 'legacy' || verifyFormat === 'both',
      ),
    )
  }

  console.log(
    '\n| scenario | images | tool | wall s | CPU s | requests/image | peak MiB | time vs cosign v3 | time vs cosign v2 |',
  )
  console.log('|---|---|---|---|---|---|---|---|---|')
  for (const row of rows) {
    const peer = (tool: string) =>
      rows.find((r) => r.scenario === row.scenario && r.n === row.n && r.tool === tool)
    const ratio = (tool: string) => {
      const p = peer(tool)
      return row.tool.startsWith('signet') && p
        ? `${(row.m.seconds / p.m.seconds).toFixed(2)}×`
        : ''
    }
    console.log(
      `| ${row.scenario} | ${row.n} | ${row.tool}${row.m.ok ? '' : ' (failed)'} | ${row.m.seconds.toFixed(2)} | ${row.m.cpuSeconds.toFixed(2)} | ${row.m.requestsPerImage.toFixed(1)} | ${row.m.peakMiB.toFixed(0)} | ${ratio('cosign v3')} | ${ratio('cosign v2')} |`,
    )
  }
  // Where each row's requests went (per image, by kind and status): what explains an excess.
  console.log('\n| scenario | images | tool | requests per image, by kind and status |')
  console.log('|---|---|---|---|')
  for (const row of rows) {
    const kinds = Object.entries(row.m.requestKinds)
      .sort((a, b) => b[1] - a[1])
      .map(([kind, n]) => `${kind} ${n.toFixed(2).replace(/\.?0+$/, '')}`)
      .join(', ')
    console.log(`| ${row.scenario} | ${row.n} | ${row.tool} | ${kinds} |`)
  }
  if (startup.length > 0) {
    const node = startup.find((s) => s.tool === 'node -e 0')?.ms ?? NaN
    console.log(
      `\n| start-up (median of ${STARTUP_REPEATS}) | ms to the first request | over node -e 0 |`,
    )
    console.log('|---|---|---|')
    for (const s of startup)
      console.log(
        `| ${s.tool} | ${s.ms.toFixed(0)} | ${s.tool === 'node -e 0' ? '' : `+${(s.ms - node).toFixed(0)} ms`} |`,
      )
  }
  printTargets(rows, startup, verifyFormat)
  await sigstore.stop()
  await proxy.stop()
  await registry.stop()
}

/**
 * Issue 11's targets beside what this run measured, for each Signet build: a ratio of wall times
 * in the same scenario, start-up over `node -e 0`, peak memory, requests per image. A target whose
 * scenario did not run is left out.
 */
function printTargets(
  rows: { scenario: string; n: number; tool: string; m: Measure }[],
  startup: { tool: string; ms: number }[],
  verifyFormat: string,
): void {
  const lines: string[] = []
  const find = (scenario: string, n: number, tool: string) =>
    rows.find((r) => r.scenario === scenario && r.n === n && r.tool === tool)?.m
  const verdict = (value: number, goal: number): string =>
    Number.isNaN(value) ? '?' : value <= goal ? 'met' : 'not met'
  const rtt = (ms: number): string => (ms > 0 ? `, registry RTT ${ms} ms` : '')
  const verifyScenario = `verify, identity (signed: ${verifyFormat})`
  for (const [tool] of SIGNETS) {
    const ratios: [string, string, number, string, number][] = [
      ['sign 20 keyless, bundle', 'keyless, bundle', 20, 'cosign v3', 0.4],
      ['sign 20 by key, legacy', 'key, legacy', 20, 'cosign v2', 0.8],
      ['verify 20', verifyScenario, 20, 'cosign v3', 1.0],
      ['verify 100', verifyScenario, 100, 'cosign v3', 0.6],
    ]
    for (const [label, scenario, n, peer, goal] of ratios) {
      for (const ms of [0, LATENCY_MS]) {
        const mine = find(scenario + rtt(ms), n, tool)
        const theirs = find(scenario + rtt(ms), n, peer)
        if (!mine || !theirs) continue
        const ratio = mine.seconds / theirs.seconds
        lines.push(
          `| ${tool} | ${label}${ms > 0 ? `, ${ms} ms RTT` : ', loopback'} vs ${peer} | ≤ ${goal.toFixed(1)}× | ${ratio.toFixed(2)}× (${mine.seconds.toFixed(2)} s vs ${theirs.seconds.toFixed(2)} s) | ${verdict(ratio, goal)} |`,
        )
      }
    }
    const node = startup.find((s) => s.tool === 'node -e 0')?.ms
    for (const mode of ['verify', 'sign keyless']) {
      const mine = startup.find((s) => s.tool === `${tool} ${mode}`)
      if (node === undefined || !mine) continue
      lines.push(
        `| ${tool} | start-up to the first request, ${mode} | ≤ node -e 0 + 50 ms | +${(mine.ms - node).toFixed(0)} ms (${mine.ms.toFixed(0)} vs ${node.toFixed(0)} ms) | ${verdict(mine.ms - node, 50)} |`,
      )
    }
    const hundred = find(verifyScenario, 100, tool)
    if (hundred)
      lines.push(
        `| ${tool} | peak memory verifying 100 | ≤ 100 MiB | ${hundred.peakMiB.toFixed(0)} MiB | ${verdict(hundred.peakMiB, 100)} |`,
      )
    // The fewest requests per image each format needs on this registry (distribution 2.8: no
    // referrers API, so referrers are listed in the fallback index tag), counted from the protocol;
    // cosign, doing the same work, is shown beside them.
    //  - keyless, bundle: resolve the image, the Rekor entry, the bundle blob (POST, PUT), the
    //    empty config (a HEAD or a mount), the referrer manifest, the fallback index (read, write,
    //    and the read-back that keeps concurrent signers' referrers): 9.
    //  - by key, legacy: resolve, Rekor, the payload layer (POST, PUT), the config (POST, PUT), the
    //    .sig tag (read, write, read back): 9.
    //  - verify cosign v3 bundles: resolve, the fallback index, the referrer manifest, the bundle: 4.
    // The run's one certificate (OIDC, Fulcio) is shared by its images.
    const requestPeers: [string, string, number, string, number | undefined][] = [
      ['sign keyless, bundle', 'keyless, bundle', 20, 'cosign v3', 9],
      ['sign by key, legacy', 'key, legacy', 20, 'cosign v2', 9],
      ['verify 20', verifyScenario, 20, 'cosign v3', verifyFormat === 'cosign-v3' ? 4 : undefined],
    ]
    for (const [label, scenario, n, peer, minimum] of requestPeers) {
      const mine = find(scenario, n, tool)
      const theirs = find(scenario, n, peer)
      if (!mine || !theirs) continue
      const against = minimum ?? theirs.requestsPerImage
      lines.push(
        `| ${tool} | requests per image, ${label} | within 1 of the format's minimum (${minimum ?? `${peer}'s`}) | ${mine.requestsPerImage.toFixed(1)} (${peer}: ${theirs.requestsPerImage.toFixed(1)}) | ${verdict(mine.requestsPerImage - against, 1)} |`,
      )
    }
  }
  if (lines.length === 0) return
  console.log("\n| build | issue 11's target | goal | measured | |")
  console.log('|---|---|---|---|---|')
  for (const line of lines) console.log(line)
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`)
  process.exit(1)
})
