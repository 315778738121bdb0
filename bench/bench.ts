/**
 * Signet beside cosign v3 and v2 on the same work, in one run: sign N fresh images keyless
 * (bundle format, and legacy) and by key (legacy format) against a real registry (Debian's
 * docker-registry behind a counting proxy) and the Sigstore stand-in. Prints wall time, HTTP
 * requests per image (registry + Sigstore) and peak memory, and the ratios. Reports figures;
 * asserts nothing. Each figure is the median of BENCH_REPEATS (3) runs on fresh images.
 *
 *   npm run bench              # N = 1, 10, 20, 50 on loopback, then N = 20 with a 20 ms registry RTT
 *   npm run bench -- 5 20      # other sizes (loopback only)
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
import { actionEnv, NODE, ROOT } from '../test/infra/action-runner'
import { startTestRegistry } from '../test/infra/docker-registry'
import { pushTestImage } from '../test/infra/images'
import { startSigstoreStandIn, type SigstoreStandIn } from '../test/infra/sigstore-standin'
import { toolPath } from '../test/infra/tools'

/** The registry round trip of the second pass (ghcr.io from a GitHub runner is about this). */
const LATENCY_MS = Number(process.env.BENCH_LATENCY_MS ?? 20)
/** Runs of each measurement; the median is reported. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3)

interface Measure {
  seconds: number
  /** CPU seconds (user + system) of the tool's own process. */
  cpuSeconds: number
  peakMiB: number
  requestsPerImage: number
  ok: boolean
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
    child.stdout.on('data', (d: Buffer) => (output += d.toString()))
    child.stderr.on('data', (d: Buffer) => (output += d.toString()))
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
  // BENCH_ONLY=attest runs just the attestation comparison.
  const attestOnly = process.env.BENCH_ONLY === 'attest'
  const counts = attestOnly ? [] : sizes.length > 0 ? sizes : [1, 10, 20, 50]
  // The same work again with a registry round trip, as a registry across the network has.
  const latencyCounts = sizes.length > 0 || attestOnly ? [] : [20]
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
    return measure(NODE, [join(ROOT, 'dist', 'index.cjs')], env, refs.length, counters)
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
        async () =>
          cosign(
            'cosign3',
            [
              '--identity-token',
              tokenPath,
              '--trusted-root',
              sigstore.trustedRootPath,
              '--signing-config',
              signingConfigPath,
            ],
            await freshImages(n),
          ),
      ],
      [
        'keyless, legacy',
        'signet',
        async () => signet(await freshImages(n), { 'signature-format': 'legacy' }, true),
      ],
      [
        'keyless, legacy',
        'cosign v2',
        async () =>
          cosign(
            'cosign2',
            [
              '--fulcio-url',
              sigstore.fulcioURL,
              '--rekor-url',
              sigstore.rekorURL,
              '--identity-token',
              sigstore.mintToken(),
            ],
            await freshImages(n),
            sigstore.cosignV2Env,
          ),
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
      // The median of a few runs: one run on a shared 2-core machine is noisy.
      const trials: Measure[] = []
      for (let i = 0; i < REPEATS; i++) trials.push(await run())
      trials.sort((a, b) => a.seconds - b.seconds)
      const m = { ...trials[Math.floor(trials.length / 2)], ok: trials.every((t) => t.ok) }
      const label = ms > 0 ? `${scenario}, registry RTT ${ms} ms` : scenario
      rows.push({ scenario: label, n, tool, m })
      console.error(`  ${label} ×${n} ${tool}: ${m.seconds.toFixed(2)} s${m.ok ? '' : ' (FAILED)'}`)
    }
  }

  // Attesting a 10 MB SBOM to 10 images. cosign attests one image per call, so it runs once per
  // image, as a workflow's shell loop would; Signet runs once, and also signs each image.
  if (sizes.length === 0) {
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
      [
        `${scenario}, bundle`,
        'cosign v3',
        () =>
          cosignEach(
            'cosign3',
            [
              '--identity-token',
              tokenPath,
              '--trusted-root',
              sigstore.trustedRootPath,
              '--signing-config',
              signingConfigPath,
            ],
            {},
          ),
      ],
      [
        `${scenario}, legacy`,
        'signet',
        async () =>
          signet(await freshImages(n), { 'signature-format': 'legacy', sbom: sbomPath }, true),
      ],
      [
        `${scenario}, legacy`,
        'cosign v2',
        () =>
          cosignEach(
            'cosign2',
            [
              '--fulcio-url',
              sigstore.fulcioURL,
              '--rekor-url',
              sigstore.rekorURL,
              '--identity-token',
              sigstore.mintToken(),
            ],
            sigstore.cosignV2Env,
          ),
      ],
    ]
    latency.ms = 0
    for (const [label, tool, run] of attestRuns) {
      const m = await run()
      rows.push({ scenario: label, n, tool, m })
      console.error(`  ${label} ×${n} ${tool}: ${m.seconds.toFixed(2)} s${m.ok ? '' : ' (FAILED)'}`)
    }
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
