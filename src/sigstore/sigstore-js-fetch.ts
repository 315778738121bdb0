/**
 * make-fetch-happen as sigstore-js's signing clients call it (Fulcio, Rekor, the timestamp
 * authority: @sigstore/sign's external/fetch.js), over Signet's own HTTP: node:http, or fetch
 * when a proxy variable is set (src/net/). The bundle and the tests put this module in
 * make-fetch-happen's place (scripts/bundle.mjs, jest.config.js).
 *
 * Why by hand: make-fetch-happen brings an HTTP cache, agents with proxy rules of their own and
 * SOCKS support, none of which Signet uses, and loading them held a keyless run for about 35 ms
 * before it could ask Fulcio (issue 11); with one HTTP stack, one proxy rule (src/net/proxy.ts)
 * covers every request, with nothing to hook. What sigstore-js asks of it is small: fetch(url,
 * { method, headers, body, timeout }) and, of the answer, ok, status, statusText, headers.get(),
 * json() and buffer(). It retries itself (Signet tells it not to: withRetry is around it).
 *
 * The bundle builds this module into the file that holds sigstore-js (a copy of what it imports
 * with it), so it imports nothing that carries identity: no error classes, only node:http's
 * transport and the proxy check.
 */
import { STATUS_CODES } from 'node:http'
import { serviceSender, type Answer, type ServiceSend } from '../net/node-http'
import { proxyConfigured } from '../net/proxy'

export interface SigstoreJsFetchOptions {
  method?: string
  headers?: Record<string, string>
  body?: string | Buffer
  /** Milliseconds for the whole request; make-fetch-happen's default is none. */
  timeout?: number
}

/** A request sigstore-js sends without a timeout (it always gives one) waits at most this long. */
const DEFAULT_TIMEOUT_MS = 120_000
/** An answer is read up to this much: a Rekor entry, a timestamp, a certificate chain. */
const MAX_ANSWER_BYTES = 16 * 1024 * 1024

let direct: ServiceSend | undefined

/** Through a proxy, fetch (looked up per call: the proxy routing sets its dispatcher); else node:http. */
function sender(): ServiceSend {
  if (proxyConfigured(process.env)) return serviceSender(true)
  direct ??= serviceSender(false)
  return direct
}

export class SigstoreJsResponse {
  readonly ok: boolean
  readonly status: number
  readonly statusText: string
  readonly headers: Answer['headers']
  private bytes?: Promise<Buffer>

  constructor(private readonly answer: Answer) {
    this.ok = answer.ok
    this.status = answer.status
    this.statusText = STATUS_CODES[answer.status] ?? ''
    this.headers = answer.headers
  }

  async buffer(): Promise<Buffer> {
    this.bytes ??= readAll(this.answer)
    return this.bytes
  }

  async text(): Promise<string> {
    return (await this.buffer()).toString('utf8')
  }

  async json(): Promise<unknown> {
    const text = await this.text()
    try {
      return JSON.parse(text)
    } catch {
      // JSON.parse's own message would quote what the service sent.
      throw new Error('the answer is not JSON')
    }
  }
}

/** The answer's body, up to MAX_ANSWER_BYTES. */
async function readAll(answer: Answer): Promise<Buffer> {
  if (!answer.body) return Buffer.alloc(0)
  const reader = answer.body.getReader()
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done || !value) break
    total += value.byteLength
    if (total > MAX_ANSWER_BYTES) {
      await reader.cancel()
      throw new Error(`the answer is more than ${MAX_ANSWER_BYTES} bytes`)
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(chunks)
}

export default async function fetch(
  url: string | URL,
  options: SigstoreJsFetchOptions = {},
): Promise<SigstoreJsResponse> {
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    headers[name.toLowerCase()] = String(value)
  }
  const answer = await sender()(new URL(String(url)), {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : Buffer.from(options.body),
    timeoutMs: options.timeout || DEFAULT_TIMEOUT_MS,
  })
  const response = new SigstoreJsResponse(answer)
  // A refusal's body is read now: sigstore-js reads it only when it is JSON, and an unread body
  // would hold its connection.
  if (!response.ok) await response.buffer().catch(() => undefined)
  return response
}
