/**
 * sigstore-js's HTTP over Signet's (src/sigstore/sigstore-js-fetch.ts): what @sigstore/sign's
 * external/fetch.js asks of make-fetch-happen. The real clients over it (Fulcio, Rekor, the TSA
 * against the Sigstore stand-in and failing services) are in sign-session and signing-errors.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import fetch from '../../src/sigstore/sigstore-js-fetch'

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void

let server: Server
let handler: Handler
let base: string

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => handler(req, Buffer.concat(chunks), res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

describe('sigstore-js-fetch', () => {
  it('sends what sigstore-js sends and answers as make-fetch-happen does', async () => {
    let seen: { method?: string; type?: string; agent?: string; body?: string } = {}
    handler = (req, body, res) => {
      seen = {
        method: req.method,
        type: req.headers['content-type'],
        agent: req.headers['user-agent'],
        body: body.toString(),
      }
      res.writeHead(201, { 'content-type': 'application/json', location: '/entries/1' })
      res.end(JSON.stringify({ uuid: 'abc' }))
    }
    const res = await fetch(`${base}/api/v1/log/entries`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'sigstore-js/4' },
      body: JSON.stringify({ kind: 'dsse' }),
      timeout: 5000,
    })
    expect(seen).toEqual({
      method: 'POST',
      type: 'application/json',
      agent: 'sigstore-js/4',
      body: '{"kind":"dsse"}',
    })
    expect([res.ok, res.status, res.statusText]).toEqual([true, 201, 'Created'])
    expect(res.headers.get('Location')).toBe('/entries/1')
    expect(await res.json()).toEqual({ uuid: 'abc' })
  })

  it('hands back bytes as they came (a timestamp response)', async () => {
    const bytes = Buffer.from([0x30, 0x82, 0x00, 0xff, 0x00])
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/timestamp-reply' })
      res.end(bytes)
    }
    const res = await fetch(`${base}/api/v1/timestamp`, { method: 'POST', body: 'x' })
    expect(Buffer.compare(await res.buffer(), bytes)).toBe(0)
  })

  it("reads a refusal's message, and frees the connection of one that is not JSON", async () => {
    handler = (_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: 'invalid entry' }))
    }
    const refused = await fetch(`${base}/x`, { method: 'POST', body: '{}' })
    expect([refused.ok, refused.status, refused.statusText]).toEqual([false, 400, 'Bad Request'])
    expect(await refused.json()).toEqual({ message: 'invalid entry' })

    const ports = new Set<number | undefined>()
    handler = (req, _body, res) => {
      ports.add(req.socket.remotePort)
      res.writeHead(503, { 'content-type': 'text/html' })
      res.end('<html>down</html>')
    }
    // sigstore-js never reads this body: read here, its connection serves the next request.
    for (let i = 0; i < 3; i++) {
      const down = await fetch(`${base}/x`, { method: 'POST', body: '{}' })
      expect(down.status).toBe(503)
    }
    expect(ports.size).toBe(1)
  })

  it('says an answer is not JSON without quoting it', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('<script>secret-looking text</script>')
    }
    const res = await fetch(`${base}/api/v2/signingCert`, { method: 'POST', body: '{}' })
    const err = await res.json().then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(err?.message).toBe('the answer is not JSON')
  })

  it('rejects when nothing answers, with the code the retry policy reads', async () => {
    await expect(
      fetch('http://127.0.0.1:9/api/v2/signingCert', { method: 'POST' }),
    ).rejects.toMatchObject({ code: 'ECONNREFUSED' })
  })

  it('gives up on a service that does not answer within the timeout', async () => {
    handler = () => undefined // never answers
    await expect(fetch(`${base}/slow`, { method: 'POST', timeout: 50 })).rejects.toMatchObject({
      name: 'TimeoutError',
    })
  })
})
