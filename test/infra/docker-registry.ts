/**
 * Debian's docker-registry (distribution 2.8) on loopback: the registry most self-hosted setups run,
 * and one that has no referrers API, so Signet's fallback tag schema is tested against the real
 * thing. Filesystem storage lives in a temp dir removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises'
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

// /proc/PID/net/tcp's columns: sl local_address rem_address st ... uid timeout inode (10th).
const TCP_LISTEN = '0A' // the `st` column
const LOOPBACK_HEX = '0100007F' // 127.0.0.1: the address word in host (little-endian) order

/**
 * The loopback port a process listens on, read from the kernel's socket table. distribution binds
 * `http.addr` as configured and, told port 0, gets one from the kernel with no race; it names that
 * port only in an info-level log line, and info level logs every request, which would crowd the
 * errors out of what a failed start reports. So: the process's socket inodes (/proc/PID/fd), and
 * the listening IPv4 socket among them in its namespace's TCP table (/proc/PID/net/tcp).
 */
async function listeningPort(pid: number): Promise<number | undefined> {
  const inodes = new Set<string>()
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [])
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')
    const socket = /^socket:\[(\d+)\]$/.exec(target)
    if (socket) inodes.add(socket[1])
  }
  const table = await readFile(`/proc/${pid}/net/tcp`, 'utf8').catch(() => '')
  for (const line of table.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    const [ip, port] = (fields[1] ?? '').split(':')
    if (fields[3] === TCP_LISTEN && ip === LOOPBACK_HEX && inodes.has(fields[9]))
      return parseInt(port, 16)
  }
  return undefined
}

/** Waits for the child to bind its port, then for GET /v2/ to answer; returns `127.0.0.1:port`. */
async function waitUntilServing(child: ChildProcess, output: () => string): Promise<string> {
  const deadline = Date.now() + 20_000
  let host: string | undefined
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}): ${output()}`)
    }
    if (host === undefined && child.pid !== undefined) {
      const port = await listeningPort(child.pid)
      if (port !== undefined) host = `127.0.0.1:${port}`
    }
    if (host !== undefined) {
      if (await answers(host)) return host
    }
    if (Date.now() > deadline)
      throw new Error(`docker-registry did not start on ${host ?? 'any port'}: ${output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function answers(host: string): Promise<boolean> {
  try {
    // 200 anonymous, 401 with htpasswd: either way the API is up.
    const res = await fetch(`http://${host}/v2/`, { signal: AbortSignal.timeout(2000) })
    await res.body?.cancel()
    return res.status === 200 || res.status === 401
  } catch {
    return false // bound, not yet serving
  }
}

/** Stops a tool the tests started: SIGTERM, then SIGKILL after 5 s. */
export function stopChild(child: ChildProcess): Promise<void> {
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

/** Starts `docker-registry serve` on a port the kernel picks; resolves once GET /v2/ answers. */
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
    // Port 0: the kernel picks a free port as distribution binds it, and listeningPort reads it back.
    const config =
      `version: 0.1\n` +
      `log:\n  level: error\n  accesslog:\n    disabled: true\n` +
      `storage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\n  delete:\n    enabled: true\n` +
      `  maintenance:\n    uploadpurging:\n      enabled: false\n` +
      `http:\n  addr: 127.0.0.1:0\n  secret: ${randomBytes(16).toString('hex')}\n` +
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
    let host: string
    try {
      host = await waitUntilServing(child, () => output)
    } catch (err) {
      await stopChild(child)
      throw err
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
