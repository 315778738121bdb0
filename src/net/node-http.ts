/**
 * One HTTP exchange over node:http and node:https, answered as the part of a fetch Response that
 * Signet reads (`Answer`): the registry client's transport (src/registry/http.ts), the OIDC token
 * request's (src/sigstore/oidc.ts) and sigstore-js's (src/sigstore/sigstore-js-fetch.ts).
 *
 * Why not fetch: verifying 100 images (about 600 requests then) was CPU-bound, and fetch's
 * Request, Headers and WHATWG stream objects and its WebAssembly parser were about a fifth of its
 * CPU profile; over node:http the run took 0.64 s of CPU instead of 0.90 s, and 76 MiB instead
 * of 96 (`BENCH_ONLY=verify npm run bench` with BENCH_SIGNET_BEFORE, issue 11). What is the same
 * either way: keep-alive connections per origin, HTTPS with Node's CA store (and
 * NODE_EXTRA_CA_CERTS), redirects left to the caller, a deadline per hop. What differs, on
 * purpose: no Accept-Encoding is sent and nothing is decompressed, so the bytes a digest is
 * checked against are the bytes that came; duplicate response headers are joined with ", " as
 * fetch joins them.
 *
 * Proxies are fetch's (src/net/route.ts installs its dispatcher): with a proxy variable set, the
 * registry client is given fetch instead (src/action/registry.ts), and the other calls go over
 * fetch too (serviceSender).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'

/**
 * What Signet reads of an HTTP answer: the part of a fetch Response the registry client and the
 * OIDC token request use. NodeHttp answers with this; an injected fetch (tests, a proxy) answers
 * with a Response.
 */
export interface Answer {
  readonly status: number
  readonly ok: boolean
  readonly headers: { get(name: string): string | null }
  /** null for an answer without one (HEAD). */
  readonly body: AnswerBody | null
}

export interface AnswerBody {
  getReader(): {
    read(): Promise<{ done: boolean; value?: Uint8Array }>
    cancel(): Promise<void>
  }
  cancel(): Promise<void>
}

/** One hop as the transport sends it. */
export interface SendInit {
  method: string
  headers: Record<string, string>
  body?: Buffer
  timeoutMs: number
}

/** A body this small is read to its end when discarded, so its connection can be used again. */
const DRAIN_MAX_BYTES = 64 * 1024

/** The deadline of one hop, as AbortSignal.timeout's error names it (retried as a timeout). */
function timeoutError(ms: number): Error {
  const err = new Error(`the request timed out after ${ms} ms`)
  err.name = 'TimeoutError'
  return err
}

/** The response headers, read as fetch's Headers reads them: by any case, duplicates joined. */
class AnswerHeaders {
  constructor(private readonly res: IncomingMessage) {}

  get(name: string): string | null {
    const values = this.res.headersDistinct[name.toLowerCase()]
    return values ? values.join(', ') : null
  }
}

/** The response body as a reader of chunks, or cancelled (drained when small, else closed). */
class NodeBody implements AnswerBody {
  constructor(private readonly res: IncomingMessage) {}

  getReader(): ReturnType<AnswerBody['getReader']> {
    const chunks = this.res[Symbol.asyncIterator]() as AsyncIterator<Buffer>
    return {
      read: async () => {
        const next = await chunks.next()
        return next.done ? { done: true } : { done: false, value: next.value }
      },
      cancel: () => this.cancel(),
    }
  }

  cancel(): Promise<void> {
    const res = this.res
    const length = Number(res.headers['content-length'] ?? NaN)
    if (res.complete || (Number.isFinite(length) && length <= DRAIN_MAX_BYTES)) res.resume()
    else res.destroy()
    return Promise.resolve()
  }
}

class NodeAnswer implements Answer {
  readonly status: number
  readonly ok: boolean
  readonly headers: AnswerHeaders
  readonly body: NodeBody | null

  constructor(res: IncomingMessage, method: string) {
    this.status = res.statusCode ?? 0
    this.ok = this.status >= 200 && this.status < 300
    this.headers = new AnswerHeaders(res)
    // A HEAD answer has no body; reading its end frees the connection.
    if (method === 'HEAD') res.resume()
    this.body = method === 'HEAD' ? null : new NodeBody(res)
  }
}

/** Sends one request per call over keep-alive connections (one pool per protocol and origin). */
export class NodeHttp {
  // LIFO: the connection used last is used next, so a burst reuses a few warm connections.
  private readonly http = new HttpAgent({ keepAlive: true, scheduling: 'lifo' })
  private readonly https = new HttpsAgent({ keepAlive: true, scheduling: 'lifo' })

  send(url: URL, init: SendInit): Promise<Answer> {
    const https = url.protocol === 'https:'
    const headers: Record<string, string | number> = { ...init.headers }
    // PUT and POST state their length, empty or not, as fetch does.
    if (init.body !== undefined || init.method === 'PUT' || init.method === 'POST')
      headers['content-length'] = init.body?.length ?? 0
    return new Promise<Answer>((resolve, reject) => {
      const req = (https ? httpsRequest : httpRequest)(url, {
        method: init.method,
        headers,
        agent: https ? this.https : this.http,
      })
      let res: IncomingMessage | undefined
      // The whole hop, body included, as AbortSignal.timeout bounds a fetch.
      const timer = setTimeout(() => {
        const err = timeoutError(init.timeoutMs)
        if (res) res.destroy(err)
        else req.destroy(err)
      }, init.timeoutMs)
      timer.unref()
      req.once('response', (answer) => {
        res = answer
        answer.once('close', () => clearTimeout(timer))
        // A reader sees a failure mid-body through its iterator; unread, it must not crash the run.
        answer.on('error', () => undefined)
        resolve(new NodeAnswer(answer, init.method))
      })
      req.on('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      req.end(init.body)
    })
  }
}

/**
 * One request to a service that is not a registry (the runner's OIDC endpoint; Fulcio, Rekor and
 * the TSA, for sigstore-js): over node:http, or over fetch when a proxy variable is set, since
 * src/net/route.ts routes fetch and node:http is never proxied. Redirects: none over node:http
 * (none of these services sends one); fetch's own otherwise.
 */
export function serviceSender(proxied: boolean): ServiceSend {
  // fetch is looked up per call, not kept: the proxy routing replaces its dispatcher.
  return proxied ? fetchSender((url, init) => fetch(url, init), 'follow') : nodeHttpSender()
}

/** One hop as a function: what the registry transport and the services' senders call. */
export type ServiceSend = (url: URL, init: SendInit) => Promise<Answer>

/** Hops over node:http, on one set of keep-alive connections. */
export function nodeHttpSender(): ServiceSend {
  const http = new NodeHttp()
  return (url, init) => http.send(url, init)
}

/** Hops over a fetch (the global one behind a proxy; tests' fakes), bounded by the hop's deadline. */
export function fetchSender(fetchImpl: typeof fetch, redirect: 'follow' | 'manual'): ServiceSend {
  return (url, init) =>
    fetchImpl(url, {
      method: init.method,
      headers: init.headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
      redirect,
      signal: AbortSignal.timeout(init.timeoutMs),
    })
}
