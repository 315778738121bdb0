/**
 * The registry client's own transport (src/registry/node-http.ts) against real sockets: what it
 * must keep of fetch's behaviour (headers read in any case, duplicates joined; a deadline per hop
 * that is retried as a timeout; failures of the connection retried; an HTTPS request to a
 * plain-HTTP server recognised) and what it does for speed (connections kept and reused, a small
 * body drained on discard, a large one closed).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { discard, readLimited } from '../../src/registry/http'
import { NodeHttp } from '../../src/net/node-http'
import { RegistryClient } from '../../src/registry/client'
import { isRetryableError } from '../../src/retry'
import { asyncErrorOf } from '../infra/expect'

/** What `promise` rejects with: a transport's own error, not a SignetError. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (err: unknown) => err,
  )
  // Node's own errors come from another realm than the test's: no instanceof.
  expect(outcome).toEqual(expect.objectContaining({ message: expect.any(String) }))
  return outcome as Error
}

interface Seen {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
  socket: Socket
}

let server: Server
let base: string
let handler: (req: IncomingMessage, res: ServerResponse) => void
const seen: Seen[] = []
const sockets = new Set<Socket>()

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        socket: req.socket,
      })
      handler(req, res)
    })
  })
  server.on('connection', (s) => sockets.add(s))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((resolve) => server.close(resolve))
})

beforeEach(() => {
  seen.length = 0
})

const send = (http: NodeHttp, path: string, method = 'GET', body?: Buffer, timeoutMs = 5_000) =>
  http.send(new URL(path, base), { method, headers: { 'user-agent': 'signet' }, body, timeoutMs })

describe('NodeHttp', () => {
  it('reads headers in any case and joins duplicates as fetch does', async () => {
    handler = (_req, res) => {
      res.setHeader('WWW-Authenticate', ['Bearer realm="a"', 'Basic realm="b"'])
      res.setHeader('Docker-Content-Digest', 'sha256:abc')
      res.end('{}')
    }
    const answer = await send(new NodeHttp(), '/v2/')
    expect(answer.status).toBe(200)
    expect(answer.ok).toBe(true)
    expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="a", Basic realm="b"')
    expect(answer.headers.get('DOCKER-CONTENT-DIGEST')).toBe('sha256:abc')
    expect(answer.headers.get('link')).toBeNull()
    expect((await readLimited(answer, 100, 'body')).toString()).toBe('{}')
  })

  it('sends a PUT body with its length, and an empty POST with a length of 0', async () => {
    handler = (_req, res) => res.writeHead(201).end()
    const http = new NodeHttp()
    await discard(await send(http, '/put', 'PUT', Buffer.from('manifest bytes')))
    await discard(await send(http, '/post', 'POST'))
    expect(seen.map((s) => [s.method, s.headers['content-length'], s.body.toString()])).toEqual([
      ['PUT', '14', 'manifest bytes'],
      ['POST', '0', ''],
    ])
    // Nothing asks for a compressed answer: a digest is checked against the bytes that came.
    expect(seen[0]?.headers['accept-encoding']).toBeUndefined()
  })

  it('keeps the connection after a HEAD, a read body and a small discarded body', async () => {
    handler = (_req, res) => res.writeHead(404, { 'content-length': 3 }).end('abc')
    const http = new NodeHttp()
    const head = await send(http, '/a', 'HEAD')
    expect(head.body).toBeNull()
    await new Promise((resolve) => setImmediate(resolve))
    await readLimited(await send(http, '/b'), 100, 'body')
    await discard(await send(http, '/c'))
    await new Promise((resolve) => setImmediate(resolve))
    await discard(await send(http, '/d'))
    expect(seen).toHaveLength(4)
    expect(new Set(seen.map((s) => s.socket)).size).toBe(1)
  })

  it('closes the connection of a large body it discards, rather than reading it', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 'x')
    handler = (_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big)
    const http = new NodeHttp()
    await discard(await send(http, '/big'))
    handler = (_req, res) => res.end('ok')
    await discard(await send(http, '/next'))
    expect(new Set(seen.map((s) => s.socket)).size).toBe(2)
  })

  it('refuses a body over the limit while reading it (no Content-Length)', async () => {
    handler = (_req, res) => {
      res.write(Buffer.alloc(600, 'a'))
      res.end(Buffer.alloc(600, 'b'))
    }
    const answer = await send(new NodeHttp(), '/chunked')
    expect(answer.headers.get('content-length')).toBeNull()
    const err = await asyncErrorOf(readLimited(answer, 1000, 'the listing'))
    expect(err.message).toBe('the listing is more than the 1000 bytes allowed')
  })

  it('ends a hop at its deadline with an error retried as a timeout', async () => {
    handler = () => undefined // never answers
    const err = await rejection(send(new NodeHttp(), '/slow', 'GET', undefined, 200))
    expect(err.name).toBe('TimeoutError')
    expect(isRetryableError(err)).toBe(true)
  })

  it('ends a body that stalls at the deadline too', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': 100 })
      res.write('partial')
    }
    const answer = await send(new NodeHttp(), '/stall', 'GET', undefined, 300)
    const err = await rejection(readLimited(answer, 1000, 'body'))
    expect(isRetryableError(err)).toBe(true)
  })

  it('fails a connection cut mid-body with an error that is retried', async () => {
    handler = (req, res) => {
      res.writeHead(200, { 'content-length': 100 })
      res.write('partial', () => req.socket.destroy())
    }
    const answer = await send(new NodeHttp(), '/cut')
    const err = await rejection(readLimited(answer, 1000, 'body'))
    expect(isRetryableError(err)).toBe(true)
  })

  it('fails a refused connection with an error that is retried', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const err = await rejection(
      new NodeHttp().send(new URL(`http://127.0.0.1:${port}/v2/`), {
        method: 'GET',
        headers: {},
        timeoutMs: 5_000,
      }),
    )
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNREFUSED')
    expect(isRetryableError(err)).toBe(true)
  })
})

describe('the registry client over NodeHttp', () => {
  it('says a registry does not speak HTTPS and names plain-http, without retrying', async () => {
    handler = (_req, res) => res.end('{}')
    const host = new URL(base).host
    const client = new RegistryClient({ retry: { minDelayMs: 5, maxDelayMs: 5, retries: 3 } })
    const err = await asyncErrorOf(
      client.headManifest({ registry: host, repository: 'library/alpine' }, 'latest'),
    )
    expect(err.message).toBe(
      `${host} does not speak HTTPS (the TLS handshake failed); if it is a registry served over plain HTTP, list ${host} in plain-http`,
    )
    expect(client.requestCount).toBe(1)
  })
})
