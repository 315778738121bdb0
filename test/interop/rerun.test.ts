/**
 * Issue 12.2, judged by real cosign v3 and v2: a run interrupted part way (the registry goes away
 * for the second image's writes), then run again. Every image ends up signed and attested once
 * (no duplicate `.sig` or `.att` layers, no duplicate referrers), cosign v3 and v2 verify every
 * image, and the second run's results say which were already signed.
 *
 * The bundled action (dist/) signs keyless against the Sigstore stand-in, with its trusted root
 * (what a re-run verifies existing signatures against), in Debian's docker-registry (no referrers
 * API: the fallback index tag) and in the project's registry with the referrers API, each behind a
 * loopback proxy that can stop taking one repository's writes: it drops their connections, as a
 * registry that went away does. The first run has a short `retry-timeout` (2s), so it gives up on
 * them quickly instead of waiting out the default ten minutes.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/client'
import { anonymousCredentials } from '../../src/registry/credentials'
import {
  MEDIA_TYPES,
  type ImageIndex,
  type ImageManifest,
  type Repository,
} from '../../src/registry/types'
import { runAction, type ActionRun } from '../infra/action-runner'
import { INSECURE_REGISTRY as INSECURE } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { identityFlags, oidcEnv, pushFreshImage, type PushedImage } from '../infra/harness'
import { closeServer, listenOnLoopback } from '../infra/listen'
import { CYCLONEDX } from '../infra/sboms'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { runToolAsync } from '../infra/tools'

let distribution: TestRegistry
let oci: TestRegistry
/** The registry the proxy forwards to, for the test running. */
let registry: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let sbomPath: string
/** The proxy's host, which the images are named by. */
let proxyHost: string
let stopProxy: () => Promise<void>
/** The repository whose writes the proxy refuses while set. */
let gone: string | undefined

/** Forwards to the registry, keeping the Host header (its upload URLs then name the proxy). */
function forward(req: IncomingMessage, res: ServerResponse): void {
  const repository = /^\/v2\/(.+?)\/(?:manifests|blobs|referrers)\//.exec(req.url ?? '')?.[1]
  if (gone !== undefined && repository === gone && req.method !== 'GET' && req.method !== 'HEAD') {
    // Gone: the connection drops without an answer (ECONNRESET for the client).
    req.socket.destroy()
    return
  }
  const [hostname, port] = registry.host.split(':')
  const upstream = request(
    { hostname, port: Number(port), method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', () => res.destroy())
  req.pipe(upstream)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-rerun-'))
  ;[distribution, oci, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startTestRegistry('oci'),
    startSigstoreStandIn({ dir }),
  ])
  expect(distribution.kind).toBe('distribution')
  const proxy = createServer(forward)
  proxyHost = `127.0.0.1:${await listenOnLoopback(proxy)}`
  stopProxy = () => closeServer(proxy)
  sbomPath = join(dir, 'sbom.cdx.json')
  writeFileSync(sbomPath, JSON.stringify(CYCLONEDX))
})

afterAll(async () => {
  await Promise.all([distribution?.stop(), oci?.stop(), sigstore?.stop(), stopProxy?.()])
})

const client = () =>
  new RegistryClient({ credentials: anonymousCredentials, plainHttp: [proxyHost] })

/** The layers of each legacy tag of a digest, and its referrers (by the API, or the fallback index). */
async function stored(repo: Repository, digest: string) {
  const stem = digest.replace(':', '-')
  const accept = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex]
  const read = async <T>(tag: string): Promise<T | undefined> => {
    const fetched = await client().getManifest(repo, tag, accept)
    return fetched && (JSON.parse(fetched.bytes.toString('utf8')) as T)
  }
  const layers = async (tag: string) => (await read<ImageManifest>(tag))?.layers.length ?? 0
  return {
    sig: await layers(`${stem}.sig`),
    att: await layers(`${stem}.att`),
    referrers: registry.referrers
      ? ((await client().referrers(repo, digest))?.manifests.length ?? 0)
      : ((await read<ImageIndex>(stem))?.manifests.length ?? 0),
  }
}

function run(images: PushedImage[], retryTimeout = '10m'): Promise<ActionRun> {
  return runAction(
    {
      images: images.map((i) => i.ref).join('\n'),
      'retry-timeout': retryTimeout,
      sbom: sbomPath,
      'plain-http': proxyHost,
      'fulcio-url': sigstore.fulcioURL,
      'rekor-url': sigstore.rekorURL,
      'trusted-root': sigstore.trustedRootPath,
    },
    oidcEnv(sigstore),
  )
}

interface Result {
  image: string
  digest: string
  signed: boolean
  alreadySigned?: boolean
  signatures: { format: string; existing?: boolean }[]
  attestations: { format: string; existing?: boolean }[]
}

describe('a run interrupted part way, then run again (issue 12.2)', () => {
  it.each([
    ['distribution 2.8 (fallback tag)', () => distribution],
    ['a registry with the referrers API', () => oci],
  ])(
    'on %s: every image signed once; cosign v3 and v2 verify them; the second run says which were already signed',
    async (_label, registryOf) => {
      registry = registryOf()
      const [app, worker] = await Promise.all([
        pushFreshImage(proxyHost, 'rerun/app'),
        pushFreshImage(proxyHost, 'rerun/worker'),
      ])

      gone = worker.repo.repository
      const first = await run([app, worker], '2s')
      gone = undefined
      expect(first.exitCode).toBe(1)
      const firstResults = JSON.parse(first.outputs.results) as Result[]
      expect(firstResults.map((r) => [r.image, r.signed])).toEqual([
        [app.name, true],
        [worker.name, false],
      ])

      const second = await run([app, worker])
      if (second.exitCode !== 0)
        throw new Error(`action failed: ${second.stdout}\n${second.stderr}`)
      const results = JSON.parse(second.outputs.results) as Result[]
      expect(results.map((r) => [r.image, r.signed, r.alreadySigned])).toEqual([
        [app.name, true, true],
        [worker.name, true, undefined],
      ])
      const [appResult, workerResult] = results
      for (const record of [...appResult.signatures, ...appResult.attestations])
        expect(record.existing).toBe(true)
      for (const record of [...workerResult.signatures, ...workerResult.attestations])
        expect(record.existing).toBeUndefined()
      expect(second.summary).toContain('2 of 2 image(s) signed (1 already signed)')
      // Only the worker's: a .sig, a signature bundle and an SBOM attestation.
      expect(second.bundleLines).toHaveLength(3)

      for (const image of [app, worker]) {
        // One signature and one attestation in each format: a .sig layer, an .att layer, and two
        // referrers (the signature bundle and the SBOM bundle) in the fallback index.
        expect(await stored(image.repo, image.image.digest)).toEqual({
          sig: 1,
          att: 1,
          referrers: 2,
        })
        const flags = [...INSECURE, ...identityFlags(sigstore)]
        await runToolAsync('cosign3', [
          'verify',
          ...flags,
          '--trusted-root',
          sigstore.trustedRootPath,
          image.ref,
        ])
        await runToolAsync('cosign2', ['verify', ...flags, image.ref], {
          env: sigstore.cosignV2Env,
        })
        await runToolAsync('cosign3', [
          'verify-attestation',
          ...flags,
          '--trusted-root',
          sigstore.trustedRootPath,
          '--type',
          'cyclonedx',
          image.ref,
        ])
        await runToolAsync(
          'cosign2',
          ['verify-attestation', ...flags, '--type', 'cyclonedx', image.ref],
          { env: sigstore.cosignV2Env },
        )
      }
    },
  )
})
