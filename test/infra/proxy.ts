/**
 * A real forward proxy for the tests (Debian's tinyproxy), and a way to put the test servers where
 * a proxy applies to them.
 *
 * The rule Signet follows (@actions/http-client's) never proxies a loopback host: localhost,
 * 127.*, [::1]. The test servers all listen on 127.0.0.1, so a run pointed at them would bypass
 * any proxy, rightly. Rather than bend the rule for tests, each service is also exposed at a
 * non-loopback address: the machine's own network address (the first non-internal IPv4 address,
 * as a self-hosted runner's LAN address would be), by a plain TCP forwarder to the loopback
 * server. The rule then treats it as a remote host, the proxy connects to it as to any other, and
 * one forwarder per service gives each service its own host:port, so the proxy's log tells them
 * apart even where one server (the Sigstore stand-in) plays several. A hosts alias would need
 * /etc/hosts edited, and a network namespace root and iproute2; the forwarder needs neither.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net'
import { networkInterfaces, tmpdir } from 'node:os'
import { join } from 'node:path'
import { stopChild } from './docker-registry'
import { listenOnLoopback } from './listen'
import { toolPath } from './tools'

/** The machine's first non-internal IPv4 address; fails, saying why, on a machine without one. */
export function nonLoopbackAddress(): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const a of addresses ?? []) {
      if (a.family === 'IPv4' && !a.internal && !a.address.startsWith('127.')) return a.address
    }
  }
  throw new Error(
    'the proxy tests need a non-loopback IPv4 address on this machine (a loopback target is never proxied, by the rule under test)',
  )
}

export interface ExposedService {
  /** `address:port`, on the non-loopback address. */
  host: string
  /** `http://address:port`. */
  origin: string
  /** Connections the forwarder has accepted: a service reached directly still counts here. */
  connections: number
  stop(): Promise<void>
}

/** Forwards a port on the non-loopback address to `target` (`127.0.0.1:port`), byte for byte. */
export async function exposeOnNetwork(target: string): Promise<ExposedService> {
  const [targetHost, targetPort] = target.split(':')
  const sockets = new Set<Socket>()
  const track = (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  }
  const server = createServer((client) => {
    exposed.connections++
    const upstream = createConnection({ host: targetHost, port: Number(targetPort) })
    track(client)
    track(upstream)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.pipe(upstream).pipe(client)
  })
  const address = nonLoopbackAddress()
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, address, () => resolve((server.address() as AddressInfo).port))
  })
  const exposed: ExposedService = {
    host: `${address}:${port}`,
    origin: `http://${address}:${port}`,
    connections: 0,
    stop: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
  return exposed
}

export interface Tinyproxy {
  /** `http://127.0.0.1:port` (with `user:password@` when started with basicAuth). */
  url: string
  /**
   * The targets of the requests it forwarded, as its log names them: `host:port` for a CONNECT,
   * the absolute URL's `host:port` for a plain request.
   */
  targets(): Promise<string[]>
  /** The hosts it refused to forward to (see onlyHost). */
  refused(): Promise<string[]>
  /** Its whole log. */
  log(): Promise<string>
  stop(): Promise<void>
}

/** A free loopback port now; tinyproxy cannot be told port 0, so a taken one is retried. */
async function freePort(): Promise<number> {
  const probe = createServer()
  const port = await listenOnLoopback(probe)
  await new Promise((resolve) => probe.close(resolve))
  return port
}

/** Resolves once tinyproxy accepts connections on `port`; rejects if it exits first. */
async function waitForProxy(
  child: ChildProcess,
  port: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`tinyproxy exited (${child.exitCode ?? child.signalCode}): ${output()}`)
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => {
        s.destroy()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (up) return
    if (Date.now() > deadline) throw new Error(`tinyproxy did not listen on ${port}: ${output()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * Starts tinyproxy in the foreground on a loopback port, logging every request at Info level to a
 * file in a temp dir of its own. With basicAuth, it answers 407 to a request without them.
 */
export async function startTinyproxy(
  options: {
    basicAuth?: { user: string; password: string }
    /**
     * The one host it forwards to (the tests' non-loopback address); it refuses every other with
     * 403, after logging the request, so a run that asks for the internet shows in the log and
     * reaches nothing.
     */
    onlyHost?: string
  } = {},
): Promise<Tinyproxy> {
  const dir = await mkdtemp(join(tmpdir(), 'signet-tinyproxy-'))
  const logFile = join(dir, 'tinyproxy.log')
  const filterFile = join(dir, 'filter')
  if (options.onlyHost !== undefined)
    await writeFile(filterFile, `^${options.onlyHost.replace(/[.[\]]/g, '\\$&')}$\n`)
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const config = [
      `Port ${port}`,
      'Listen 127.0.0.1',
      'Timeout 120',
      `LogFile "${logFile}"`,
      'LogLevel Info',
      'MaxClients 100',
      'DisableViaHeader Yes',
      // No Allow and no ConnectPort lines: any client, CONNECT to any port (the services' ports).
      ...(options.basicAuth
        ? [`BasicAuth ${options.basicAuth.user} ${options.basicAuth.password}`]
        : []),
      ...(options.onlyHost !== undefined
        ? [`Filter "${filterFile}"`, 'FilterType ere', 'FilterDefaultDeny Yes']
        : []),
    ].join('\n')
    await writeFile(join(dir, 'tinyproxy.conf'), `${config}\n`)
    const child = spawn(toolPath('tinyproxy'), ['-d', '-c', join(dir, 'tinyproxy.conf')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-4000)
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    try {
      await waitForProxy(child, port, () => output)
    } catch (err) {
      await stopChild(child)
      // Another server took the port between the probe and tinyproxy's bind: try another.
      if (attempt < 5) continue
      await rm(dir, { recursive: true, force: true })
      throw err
    }
    const auth = options.basicAuth
      ? `${encodeURIComponent(options.basicAuth.user)}:${encodeURIComponent(options.basicAuth.password)}@`
      : ''
    const log = () => readFile(logFile, 'utf8').catch(() => '')
    return {
      url: `http://${auth}127.0.0.1:${port}`,
      log,
      async targets() {
        const targets: string[] = []
        for (const m of (await log()).matchAll(/Request \(file descriptor \d+\): (\S+) (\S+)/g)) {
          const [method, target] = [m[1], m[2]]
          targets.push(method === 'CONNECT' ? target : new URL(target).host)
        }
        return targets
      },
      async refused() {
        const log = await readFile(logFile, 'utf8').catch(() => '')
        return [...log.matchAll(/Proxying refused on filtered domain "([^"]+)"/g)].map((m) => m[1])
      },
      async stop() {
        await stopChild(child)
        await rm(dir, { recursive: true, force: true })
      },
    }
  }
}
