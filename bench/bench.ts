/**
 * Signet beside cosign v3 and v2 on the same work, in one run: sign N fresh images keyless
 * (bundle format, and legacy) and by key (legacy format) against a real registry (Debian's
 * docker-registry behind a counting proxy) and the Sigstore stand-in. Prints wall time, HTTP
 * requests per image (registry + Sigstore) and peak memory, and the ratios. Then verifies 20 and
 * 100 signed images (and 20 behind a registry round trip) in one Signet run beside one
 * `cosign verify` (v3, and v2) naming the same images.
 * Reports figures; asserts nothing, but a run that fails (or a verify that does not verify every
 * image) is marked failed. Each figure is the median of BENCH_REPEATS (3) runs (sign: on fresh
 * images; verify: on the same images, which a verify does not change).
 *
 *   npm run bench                            # all: sign N = 1, 10, 20, 50, …, attest, verify
 *   npm run bench -- 5 20                    # sign only, other sizes (loopback only)
 *   BENCH_ONLY=verify npm run bench          # verify only: N = 20, 100, then 20 with a 20 ms RTT
 *   BENCH_ONLY=verify npm run bench -- 500   # verify only, other sizes (loopback only)
 *   BENCH_ONLY=attest npm run bench          # attest only
 *
 * BENCH_VERIFY_FORMAT=bundle|legacy signs the verify images in one format (default: both);
 * BENCH_VERBOSE=1 prints every run's log with timestamps; BENCH_SIGNET_NODE_OPTIONS (e.g.
 * `--cpu-prof`) goes to Signet's Node; BENCH_SIGNET_ENTRY runs another build of the action.
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
/** Runs of each measurement; the median is reported. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3)

interface Measure {
  seconds: number
  /** CPU seconds (user + system) of the tool's own process. */
  cpuSeconds: number
  peakMiB: number
  requestsPerImage: number
  ok: boolean
  /** stdout and stderr, interleaved. */
  output: string
}

/** Forwards to the registry and counts requests: the same count for every tool. */
async function countingProxy(
  target: string,
  latency: { ms: number },
): Promise<{ host: string; count: () => number; stop: () => Promise<void> }> {
  let count = 0
  const [targetHost, targetPort] = target.split(':')
  const server = createServer((req, res) => {
    count++
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
    count: () => count,
    stop: () => new Promise((r) => server.close(() => r())),
  }
}

function sigstoreRequests(s: SigstoreStandIn): number {
  return Object.values(s.requests).reduce((a, b) => a + b, 0)
}

/** Runs a command under GNU time for its peak RSS. */
async function measure(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  images: number,
  counters: () => number,
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
    requestsPerImage: (counters() - before) / images,
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
  // BENCH_ONLY=attest (or verify) runs just the attestation (or verify) comparison.
  const only = process.env.BENCH_ONLY
  if (only !== undefined && only !== 'attest' && only !== 'verify')
    throw new Error(`BENCH_ONLY=${only}: expected attest or verify`)
  const counts = only ? [] : sizes.length > 0 ? sizes : [1, 10, 20, 50]
  // The same work again with a registry round trip, as a registry across the network has.
  const latencyCounts = sizes.length > 0 || only ? [] : [20]
  const attestRun = sizes.length === 0 && only !== 'verify'
  // Sizes on the command line are for signing, or for verifying under BENCH_ONLY=verify.
  const verifyCounts =
    only === 'verify' && sizes.length > 0
      ? sizes
      : only === 'attest' || sizes.length > 0
        ? []
        : [20, 100]
  // The same images again with a registry round trip (not for sizes from the command line).
  const verifyLatencyCounts = verifyCounts.length > 0 && sizes.length === 0 ? [20] : []
  if (!existsSync('/usr/bin/time')) throw new Error('GNU time is needed (apt-get install time)')
  const dir = mkdtempSync(join(tmpdir(), 'signet-bench-'))
  const registry = await startTestRegistry('distribution')
  const latency = { ms: 0 }
  const proxy = await countingProxy(registry.host, latency)
  const sigstore = await startSigstoreStandIn({ dir })
  const host = proxy.host
  const counters = () => proxy.count() + sigstoreRequests(sigstore)
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
    return measure(NODE, [SIGNET_ENTRY], env, refs.length, counters)
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
  const median = async (run: () => Promise<Measure>): Promise<Measure> => {
    const trials: Measure[] = []
    for (let i = 0; i < REPEATS; i++) trials.push(await run())
    return middle(trials)
  }
  const report = (scenario: string, n: number, tool: string, m: Measure): void => {
    rows.push({ scenario, n, tool, m })
    console.error(
      `  ${scenario} ×${n} ${tool}: ${m.seconds.toFixed(2)} s${m.ok ? '' : ' (FAILED)'}`,
    )
  }
  const runs: [number, number][] = [
    ...counts.map((n): [number, number] => [0, n]),
    ...latencyCounts.map((n): [number, number] => [LATENCY_MS, n]),
  ]
  for (const [ms, n] of runs) {
    latency.ms = ms
    const scenarios: [string, string, () => Promise<Measure>][] = [
      [
        'keyless, bundle',
        'signet',
        async () => signet(await freshImages(n), { 'signature-format': 'bundle' }, true),
      ],
      [
        'keyless, bundle',
        'cosign v3',
        async () => cosign('cosign3', cosign3Keyless, await freshImages(n)),
      ],
      [
        'keyless, legacy',
        'signet',
        async () => signet(await freshImages(n), { 'signature-format': 'legacy' }, true),
      ],
      [
        'keyless, legacy',
        'cosign v2',
        async () => cosign('cosign2', cosign2Keyless(), await freshImages(n), sigstore.cosignV2Env),
      ],
      [
        'key, legacy',
        'signet',
        async () =>
          signet(
            await freshImages(n),
            { 'signature-format': 'legacy', key: keyPath, 'key-password': 'bench' },
            false,
          ),
      ],
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
    for (const [scenario, tool, run] of scenarios) {
      report(ms > 0 ? `${scenario}, registry RTT ${ms} ms` : scenario, n, tool, await median(run))
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
        ok: parts.every((p) => p.ok),
        output: parts.map((p) => p.output).join('\n'),
      }
    }
    const scenario = 'attest 10 MB SBOM'
    const attestRuns: [string, string, () => Promise<Measure>][] = [
      [
        `${scenario}, bundle`,
        'signet',
        async () =>
          signet(await freshImages(n), { 'signature-format': 'bundle', sbom: sbomPath }, true),
      ],
      [`${scenario}, bundle`, 'cosign v3', () => cosignEach('cosign3', cosign3Keyless, {})],
      [
        `${scenario}, legacy`,
        'signet',
        async () =>
          signet(await freshImages(n), { 'signature-format': 'legacy', sbom: sbomPath }, true),
      ],
      [
        `${scenario}, legacy`,
        'cosign v2',
        () => cosignEach('cosign2', cosign2Keyless(), sigstore.cosignV2Env),
      ],
    ]
    latency.ms = 0
    for (const [label, tool, run] of attestRuns) report(label, n, tool, await run())
  }

  // Verifying N images signed once (by Signet, keyless, by default in both formats: a bundle
  // referrer for cosign v3, a `.sig` tag for cosign v2): one Signet run beside one `cosign verify`
  // naming all N. Signing is set-up, not measured; the images are the same for every run and tool.
  const cosignHome = join(dir, 'cosign-home')
  // cosign verifies offline: a private HOME and TUF_ROOT, the stand-in's trust material.
  const cosignEnv = { HOME: cosignHome, TUF_ROOT: join(cosignHome, 'tuf') }
  const signetVerify = async (refs: string[]): Promise<Measure> => {
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
    const m = await measure(NODE, [SIGNET_ENTRY], env, refs.length, counters)
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
  // BENCH_VERIFY_FORMAT=bundle (or legacy) signs in one format only, so Signet finds one signature
  // per image as cosign does (cosign v2 reads no bundle, so it sits out the bundle run).
  const verifyFormat = process.env.BENCH_VERIFY_FORMAT ?? 'both'
  if (!['both', 'bundle', 'legacy'].includes(verifyFormat))
    throw new Error(`BENCH_VERIFY_FORMAT=${verifyFormat}: expected both, bundle or legacy`)
  const signed = new Map<number, string[]>()
  const signedImages = async (n: number): Promise<string[]> => {
    const cached = signed.get(n)
    if (cached) return cached
    latency.ms = 0
    const refs = await freshImages(n)
    const signing = await signet(refs, { 'signature-format': verifyFormat }, true)
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
      ['signet', () => signetVerify(images)],
      ['cosign v3', () => cosignVerify('cosign3', images)],
      ['cosign v2', () => cosignVerify('cosign2', images)],
    ]
    const tools = contenders.filter(([tool]) => tool !== 'cosign v2' || verifyFormat !== 'bundle')
    // The images do not change, so the tools take turns (Signet, v3, v2, Signet, …): a change in
    // the machine's load during the runs then falls on every tool alike.
    const trials = tools.map((): Measure[] => [])
    for (let i = 0; i < REPEATS; i++) {
      for (const [t, [, run]] of tools.entries()) trials[t].push(await run())
    }
    for (const [t, [tool]] of tools.entries()) report(scenario, n, tool, middle(trials[t]))
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
      return row.tool === 'signet' && p ? `${(row.m.seconds / p.m.seconds).toFixed(2)}×` : ''
    }
    console.log(
      `| ${row.scenario} | ${row.n} | ${row.tool}${row.m.ok ? '' : ' (failed)'} | ${row.m.seconds.toFixed(2)} | ${row.m.cpuSeconds.toFixed(2)} | ${row.m.requestsPerImage.toFixed(1)} | ${row.m.peakMiB.toFixed(0)} | ${ratio('cosign v3')} | ${ratio('cosign v2')} |`,
    )
  }
  await sigstore.stop()
  await proxy.stop()
  await registry.stop()
}

main().catch((err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack : String(err)}`)
  process.exit(1)
})
