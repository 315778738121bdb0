/**
 * Debian's docker-registry (distribution 2.8) on loopback: the registry most self-hosted setups run,
 * and one that has no referrers API, so Signet's fallback tag schema is tested against the real
 * thing. Filesystem storage lives in a temp dir removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startOciRegistry, type OciRegistryOptions } from './oci-registry'
import { hasTool, runTool, toolPath } from './tools'

export interface TestRegistry {
  /** 127.0.0.1:port, to be listed in plainHttp. */
  host: string
  /** Which registry actually runs (distribution falls back to oci when not installed). */
  kind: 'distribution' | 'oci'
  /** Whether it serves the referrers API. */
  referrers: boolean
  stop(): Promise<void>
}

export interface DockerRegistryOptions {
  htpasswd?: { username: string; password: string }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      const port = typeof address === 'object' && address ? address.port : 0
      probe.close(() => resolve(port))
    })
  })
}

async function waitUntilServing(
  host: string,
  child: ChildProcess,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 20_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}): ${output()}`)
    }
    try {
      // 200 anonymous, 401 with htpasswd: either way the API is up.
      const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) })
      await res.body?.cancel()
      if (res.status === 200 || res.status === 401) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry did not start on ${host}: ${output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Starts `docker-registry serve` on a free loopback port; resolves once GET /v2/ answers. */
export async function startDockerRegistry(
  options: DockerRegistryOptions = {},
): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'signet-registry-'))
  try {
    let auth = ''
    if (options.htpasswd) {
      // distribution only reads bcrypt entries.
      const line = runTool('htpasswd', [
        '-Bbn',
        options.htpasswd.username,
        options.htpasswd.password,
      ])
      await writeFile(join(dir, 'htpasswd'), line)
      auth = `auth:\n  htpasswd:\n    realm: signet-test\n    path: ${join(dir, 'htpasswd')}\n`
    }
    // The free port can be taken between probing and binding: try a few.
    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort()
      const host = `127.0.0.1:${port}`
      const config =
        `version: 0.1\n` +
        `log:\n  level: error\n  accesslog:\n    disabled: true\n` +
        `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
        `  maintenance:\n    uploadpurging:\n      enabled: false\n` +
        `http:\n  addr: ${host}\n  secret: ${randomBytes(16).toString('hex')}\n` +
        auth
      const configPath = join(dir, 'config.yml')
      await writeFile(configPath, config)
      const child = spawn(toolPath('docker-registry'), ['serve', configPath], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
      })
      let output = ''
      const collect = (chunk: Buffer): void => {
        output = (output + chunk.toString('utf8')).slice(-4000)
      }
      child.stdout?.on('data', collect)
      child.stderr?.on('data', collect)
      try {
        await waitUntilServing(host, child, () => output)
      } catch (err) {
        lastError = err
        await stopChild(child)
        continue
      }
      return {
        host,
        kind: 'distribution',
        referrers: false,
        async stop() {
          await stopChild(child)
          await rm(dir, { recursive: true, force: true })
        },
      }
    }
    throw lastError
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
}

/**
 * A registry of the given kind. 'distribution' is Debian's docker-registry when installed; without
 * it, the project's own registry with the referrers API turned off stands in (with a warning),
 * which answers the way distribution 2.8 does where Signet can tell.
 */
export async function startTestRegistry(
  kind: 'distribution' | 'oci',
  options: DockerRegistryOptions & OciRegistryOptions = {},
): Promise<TestRegistry> {
  if (kind === 'distribution') {
    if (hasTool('docker-registry') && (!options.htpasswd || hasTool('htpasswd'))) {
      return startDockerRegistry(options)
    }
    console.warn(
      'docker-registry is not installed: using the in-memory registry without the referrers API (run scripts/install-test-tools.sh)',
    )
  }
  const { htpasswd, ...ociOptions } = options
  const referrers = kind === 'oci' ? (ociOptions.referrers ?? true) : false
  const registry = await startOciRegistry({
    ...ociOptions,
    referrers,
    ...(htpasswd && !ociOptions.basicAuth ? { basicAuth: htpasswd } : {}),
  })
  return { host: registry.host, kind: 'oci', referrers, stop: () => registry.stop() }
}
