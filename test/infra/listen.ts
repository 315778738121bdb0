/**
 * How the test servers take their ports: each listens on port 0, so the kernel picks a free port
 * as it binds, and reports the port it got. A port probed free and bound later can be taken in
 * between by any of the other servers the tests start at the same time.
 */
import type { Server as HttpServer } from 'node:http'
import type { Server as HttpsServer } from 'node:https'
import { createServer, type AddressInfo, type Server } from 'node:net'

/** Listens on 127.0.0.1 at a port the kernel picks; resolves to that port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/**
 * Stops an HTTP(S) server, closing its keep-alive connections too (undici's pool would otherwise
 * hold close() open). Stopping twice is harmless: close() only fails on a server not running.
 */
export function closeServer(server: HttpServer | HttpsServer): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections()
    server.close(() => resolve())
  })
}

/**
 * An http:// origin that refuses every connection, for tests of an unreachable service. Not a
 * port probed free and closed (the next server to start may get it): a server holds 127.0.0.1:PORT
 * while the test runs, and the origin is 127.0.0.2:PORT, loopback still. Nothing can listen there:
 * a wildcard bind of PORT fails while 127.0.0.1:PORT listens, and no test binds 127.0.0.2.
 */
export async function refusingOrigin(): Promise<{ origin: string; release(): Promise<void> }> {
  const holder = createServer((socket) => socket.destroy())
  const port = await listenOnLoopback(holder)
  return {
    origin: `http://127.0.0.2:${port}`,
    release: () => new Promise((resolve) => holder.close(() => resolve())),
  }
}
