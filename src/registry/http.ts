/**
 * The HTTP half of the registry client: one request out and its answer back, with the limits that
 * make a registry's answers safe to read.
 *
 * Redirects are followed by hand so that credentials never leave the registry host: blob GETs are
 * routinely redirected to object storage (S3, GCS, a CDN) with pre-signed URLs, which must not see
 * the registry token.
 *
 * Everything a registry answers is the registry's to choose, and a registry can be named by whoever
 * writes a Dockerfile: its text reaches messages only as the distribution error JSON's code and
 * message, cleaned and bounded (registryText), and what it makes Signet read is bounded (readLimited,
 * and the limits in ./types).
 */
import { SignetError } from '../errors'
import { isTlsMismatch, rootMessage } from '../retry'
import {
  fetchSender,
  nodeHttpSender,
  type Answer,
  type AnswerBody,
  type SendInit,
} from '../net/node-http'
import type { Repository } from './types'

export type { Answer, AnswerBody } from '../net/node-http'

/** Redirects followed for one request. */
const MAX_REDIRECTS = 5
/** An error body is read up to this much, for its distribution error JSON. */
export const MAX_ERROR_BODY_BYTES = 64 * 1024
/** Registry-supplied text (error code and message, a host, a path) shown in a message, at most. */
export const MAX_REGISTRY_TEXT = 200
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])

export type Access = 'pull' | 'push'

/** One request to a registry (or its token realm), before authorization and redirects. */
export interface RegistryRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST'
  repo: Repository
  /** Absolute URL, or a path on the registry. */
  url: URL | string
  access: Access
  headers?: Record<string, string>
  body?: Buffer
  /** The body holds a secret (the OAuth2 refresh grant): never sent on to another host. */
  secretBody?: boolean
  /**
   * A cross-repository mount's source repository (same registry): the token must also grant
   * pull on it, as distribution's token auth requires.
   */
  mountFrom?: string
}

export interface Exchange {
  res: Answer
  /** The URL that answered (after redirects), to resolve relative Location and Link headers. */
  url: URL
}

export interface HttpTransportOptions {
  /** Hosts (host or host:port) reached over plain HTTP; everything else is HTTPS. */
  plainHttp?: string[]
  /** Send with this fetch instead of node:http (tests; proxies, whose routing is fetch's). */
  fetch?: typeof fetch
  userAgent?: string
  /** Per HTTP request (one hop). Default 120 s. */
  timeoutMs?: number
}

/** A media type as RFC 6838 spells one (lowercased); anything else from a registry is refused. */
const MEDIA_TYPE_RE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/
/** A distribution error code (UNAUTHORIZED, MANIFEST_UNKNOWN, …). */
const ERROR_CODE_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/
/**
 * Characters that make one line of text into something else: C0 and C1 controls (newlines, ESC,
 * NEL), DEL, Unicode line and paragraph separators, and bidirectional overrides.
 */
const UNSAFE_TEXT_RE =
  /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]+/g

/** `text` resolved against `base`, or undefined when it is not a URL. */
export function parseUrl(text: string, base?: URL): URL | undefined {
  try {
    return new URL(text, base)
  } catch {
    return undefined
  }
}

/** The URL of `Link: <…>; rel="next"`, resolved against the page that carried it. */
export function parseLinkNext(header: string | null | undefined, base: URL): URL | undefined {
  if (!header) return undefined
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part)
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2])) {
      const next = parseUrl(m[1], base)
      if (!next) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${describeUrl(base)}: the next page's Link is not a URL`,
        )
      }
      return next
    }
  }
  return undefined
}

/**
 * Registry-supplied text as it may appear in a message (and so in a reason, an annotation, the
 * summary or a log line): one line, without control characters, at most `max` characters.
 */
export function registryText(text: string, max = MAX_REGISTRY_TEXT): string {
  const line = text.replace(UNSAFE_TEXT_RE, ' ').replace(/\s+/g, ' ').trim()
  const chars = [...line]
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : line
}

/** host/path of a URL a registry named (a redirect, a realm), for messages. */
export function describeUrl(url: URL): string {
  return registryText(`${url.host}${url.pathname}`, 120)
}

/** A valid media type, lowercased, or undefined. */
export function validMediaType(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const type = value.split(';')[0].trim().toLowerCase()
  return MEDIA_TYPE_RE.test(type) ? type : undefined
}

/** The Content-Type's media type; undefined when missing or not a media type at all. */
export function mediaTypeOf(res: Answer): string | undefined {
  return validMediaType(res.headers.get('content-type'))
}

/** Frees a response's connection without reading its body. */
export async function discard(res: Answer): Promise<void> {
  await res.body?.cancel().catch(() => undefined)
}

/**
 * Reads a body, refusing (before or while reading) anything larger than `max` bytes. `over` makes
 * the error when a limit of Signet's rather than the size the content should have is at stake.
 */
export async function readLimited(
  res: Answer,
  max: number,
  what: string,
  over?: () => SignetError,
): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) {
    await discard(res)
    throw (
      over?.() ??
      new SignetError(
        'REGISTRY_ERROR',
        `${what} is ${declared} bytes, more than the ${max} allowed`,
      )
    )
  }
  if (!res.body) return Buffer.alloc(0)
  const reader = res.body.getReader()
  const chunks: Buffer[] = []
  let total = 0
  for (;;) {
    const chunk: { done: boolean; value?: Uint8Array } = await reader.read()
    const value = chunk.value
    if (chunk.done || !value) break
    total += value.byteLength
    if (total > max) {
      await reader.cancel().catch(() => undefined)
      throw (
        over?.() ??
        new SignetError('REGISTRY_ERROR', `${what} is more than the ${max} bytes allowed`)
      )
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(chunks, total)
}

/** `res` with its body replaced by `bytes` (already read from it), to be read again. */
export function withBody(res: Answer, bytes: Buffer): Answer {
  let unread = true
  const body: AnswerBody = {
    getReader: () => ({
      read: () => {
        const chunk = unread ? { done: false, value: bytes } : { done: true }
        unread = false
        return Promise.resolve(chunk)
      },
      cancel: () => body.cancel(),
    }),
    cancel: () => {
      unread = false
      return Promise.resolve()
    },
  }
  return { status: res.status, ok: res.ok, headers: res.headers, body }
}

/**
 * The registry's own explanation, as much of it as may be shown: the code and message of
 * `errors[0]` in the distribution error JSON, cleaned and bounded by registryText. Never anything
 * else of the body (`detail`, an HTML page from a proxy, text written to be echoed into a summary):
 * the HTTP status says enough then. `code` is the distribution error code alone (DIGEST_INVALID,
 * BLOB_UNKNOWN, …), for a retry classifier; `text` is what a message may show.
 */
export async function registryError(res: Answer): Promise<{ code?: string; text: string }> {
  let parsed: unknown
  try {
    const text = (await readLimited(res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8')
    parsed = JSON.parse(text)
  } catch {
    return { text: '' }
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined
  if (typeof first !== 'object' || first === null) return { text: '' }
  const { code, message } = first as { code?: unknown; message?: unknown }
  const validCode = typeof code === 'string' && ERROR_CODE_RE.test(code) ? code : undefined
  const parts = [validCode ?? '', typeof message === 'string' ? message : ''].filter(
    (part) => part.trim() !== '',
  )
  return { ...(validCode ? { code: validCode } : {}), text: registryText(parts.join(': ')) }
}

/** The shown part of registryError: the code and message, cleaned and bounded. */
export async function registryMessage(res: Answer): Promise<string> {
  return (await registryError(res)).text
}

/**
 * A registry's answer that is an error (REGISTRY_ERROR), with what a retry classifier needs: the
 * HTTP status and the distribution error code.
 */
export class RegistryAnswerError extends SignetError {
  constructor(
    message: string,
    readonly status: number,
    readonly registryCode?: string,
  ) {
    super('REGISTRY_ERROR', message)
  }
}

/** Parses JSON a registry sent, without echoing it: JSON.parse's error quotes the text. */
export function parseRegistryJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new SignetError('REGISTRY_ERROR', `${what} is not JSON`)
  }
}

/** Sends requests: plain HTTP or HTTPS per host, a timeout per hop, redirects followed by hand. */
export class HttpTransport {
  /** HTTP requests made (every hop, token requests included): benchmarks and tests count them. */
  requestCount = 0

  private readonly plainHttp: Set<string>
  private readonly sendHop: (url: URL, init: SendInit) => Promise<Answer>
  private readonly userAgent: string
  private readonly timeoutMs: number

  constructor(options: HttpTransportOptions = {}) {
    this.plainHttp = new Set((options.plainHttp ?? []).map((h) => h.trim().toLowerCase()))
    // Redirects are followed by hand (send, below), over either.
    this.sendHop = options.fetch ? fetchSender(options.fetch, 'manual') : nodeHttpSender()
    this.userAgent = options.userAgent ?? 'signet'
    this.timeoutMs = options.timeoutMs ?? 120_000
  }

  isPlainHttp(host: string): boolean {
    const h = host.toLowerCase()
    return this.plainHttp.has(h) || this.plainHttp.has(h.replace(/:\d+$/, ''))
  }

  baseUrl(host: string): string {
    return `${this.isPlainHttp(host) ? 'http' : 'https'}://${host}`
  }

  /** The request's URL, a path resolved against its registry. */
  urlOf(request: RegistryRequest): URL {
    return typeof request.url === 'string'
      ? new URL(request.url, this.baseUrl(request.repo.registry))
      : request.url
  }

  /**
   * One request, following redirects by hand. Authorization goes only to the registry host, and
   * never again once a redirect has left it; a body that holds a secret is never sent elsewhere.
   */
  async send(
    request: RegistryRequest,
    start: URL,
    authorization: string | undefined,
  ): Promise<Exchange> {
    const registryHost = new URL(this.baseUrl(request.repo.registry)).host
    const what = `${request.method} ${describeUrl(start)}`
    let url = start
    let method: string = request.method
    let body = request.body
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...request.headers }
      if (authorization && url.host === registryHost) headers.authorization = authorization
      if (body === undefined) delete headers['content-type']
      this.requestCount++
      const res = await this.sendHop(url, { method, headers, body, timeoutMs: this.timeoutMs })
      const location = res.headers.get('location')
      if (!REDIRECT_STATUSES.has(res.status) || !location) return { res, url }
      await discard(res)
      if (hop >= MAX_REDIRECTS) {
        throw new SignetError('REGISTRY_ERROR', `${what}: more than ${MAX_REDIRECTS} redirects`)
      }
      const next = parseUrl(location, url)
      if (!next || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${what}: the registry redirected to something that is not an http(s) URL`,
        )
      }
      // fetch refuses such a URL with a message that quotes it; refuse first, quoting nothing.
      if (next.username !== '' || next.password !== '') {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${what}: the registry redirected to a URL with credentials in it`,
        )
      }
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${what}: refusing a redirect from https to http://${registryText(next.host, 100)}`,
        )
      }
      // Fetch's rules: 303 (and 301/302 after a POST) continue as a GET without the body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      if (next.host !== url.host) {
        // Once off the registry host, never send the credentials again, even if bounced back.
        authorization = undefined
        if (body !== undefined && request.secretBody) {
          throw new SignetError(
            'REGISTRY_AUTH',
            `${what}: the token service redirected the request, credentials and all, to another host (${registryText(next.host, 100)}); Signet does not follow it`,
          )
        }
      }
      url = next
    }
  }
}

/** A failure to talk to the registry at all, said in terms of what the user can change. */
export function transportError(err: unknown, host: string): unknown {
  if (err instanceof SignetError) return err
  if (isTlsMismatch(err)) {
    return new SignetError(
      'REGISTRY_ERROR',
      `${host} does not speak HTTPS (the TLS handshake failed); if it is a registry served over plain HTTP, list ${host} in plain-http`,
      { input: 'plain-http', cause: err },
    )
  }
  return new SignetError(
    'REGISTRY_ERROR',
    `could not reach the registry ${host}: ${registryText(rootMessage(err))}`,
    { input: 'images', cause: err },
  )
}
