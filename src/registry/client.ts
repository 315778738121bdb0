/**
 * An OCI distribution client over fetch: the registry half of Signet.
 *
 * Auth follows the distribution token protocol as Docker and go-containerregistry do it: a request
 * goes out anonymously (or with what we learned from this host before); a 401 names the scheme
 * (Basic, or Bearer with a token realm); we authenticate and repeat it once. Tokens are cached per
 * host, repository and access, and once a host is known to want tokens they are fetched up front,
 * which saves a 401 round trip per repository.
 *
 * Redirects are followed by hand so that credentials never leave the registry host: blob GETs are
 * routinely redirected to object storage (S3, GCS, a CDN) with pre-signed URLs, which must not see
 * the registry token.
 */
import { createHash } from 'node:crypto'
import { SignetError } from '../errors'
import { anonymousCredentials, type Credential, type CredentialProvider } from './credentials'
import { isDigest, validateDigest } from './reference'
import {
  classifyOutcome,
  isRetryableStatus,
  isTlsMismatch,
  rootMessage,
  withRetry,
  type RetryOptions,
} from './retry'
import {
  MANIFEST_ACCEPT,
  MEDIA_TYPES,
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type PutManifestResult,
  type Registry,
  type Repository,
} from './types'

/** Registries reject larger manifests (distribution, GHCR, ECR all use 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
/** Cosign's default cap on an attachment (COSIGN_MAX_ATTACHMENT_SIZE). */
export const DEFAULT_MAX_BLOB_BYTES = 128 * 1024 * 1024
const MAX_REDIRECTS = 5
/** Bounds a referrers listing whose Link headers loop or never end. */
const MAX_REFERRER_PAGES = 100
const MAX_ERROR_BODY_BYTES = 64 * 1024
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
/** Referrers API answers that mean "not served here": use the fallback tag schema (D.5). */
const REFERRERS_UNSUPPORTED = new Set([400, 404, 405, 406])
/** Refresh tokens a little before the registry says they expire, to survive slow requests. */
const TOKEN_EXPIRY_MARGIN_MS = 15_000

export interface RegistryClientOptions {
  credentials?: CredentialProvider
  /** Hosts (host or host:port) reached over plain HTTP; everything else is HTTPS. */
  plainHttp?: string[]
  retry?: RetryOptions
  fetch?: typeof fetch
  userAgent?: string
  /** Per HTTP request (one hop). Default 120 s. */
  timeoutMs?: number
  /** Debug logging (retries). */
  log?: (message: string) => void
}

type Access = 'pull' | 'push'

/** One parsed WWW-Authenticate challenge. */
export interface AuthChallenge {
  scheme: string
  params: Record<string, string>
}

interface Request {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST'
  repo: Repository
  /** Absolute URL, or a path on the registry. */
  url: URL | string
  access: Access
  headers?: Record<string, string>
  body?: Buffer
}

interface Exchange {
  res: Response
  /** The URL that answered (after redirects), to resolve relative Location and Link headers. */
  url: URL
}

interface ReferrersPage {
  index: ImageIndex
  /** OCI-Filters-Applied named artifactType: the server filtered this page. */
  applied: boolean
  next?: URL
}

interface CachedToken {
  authorization: string
  expiresAt: number
}

const REPOSITORY_RE =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
const TAG_RE = /^[\w][\w.-]{0,127}$/

/**
 * Parses WWW-Authenticate into challenges. Several challenges may share one header (fetch joins
 * repeated headers with ", "), and Bearer parameters carry commas inside quotes, hence a tokenizer.
 */
export function parseWwwAuthenticate(header: string | null | undefined): AuthChallenge[] {
  if (!header) return []
  const challenges: AuthChallenge[] = []
  const re = /([\w!#$%&'*+.^`|~-]+)(?:\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*)))?/g
  for (let m = re.exec(header); m !== null; m = re.exec(header)) {
    const [, name, quoted, bare] = m
    if (quoted === undefined && bare === undefined) {
      challenges.push({ scheme: name.toLowerCase(), params: {} })
    } else if (challenges.length > 0) {
      challenges[challenges.length - 1].params[name.toLowerCase()] =
        quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : bare
    }
  }
  return challenges
}

/** The URL of `Link: <…>; rel="next"`, resolved against the page that carried it. */
export function parseLinkNext(header: string | null | undefined, base: URL): URL | undefined {
  if (!header) return undefined
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part)
    if (m && /;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(;|$)/i.test(m[2])) {
      return new URL(m[1], base)
    }
  }
  return undefined
}

function mediaTypeOf(res: Response): string | undefined {
  const ct = res.headers.get('content-type')
  return ct ? ct.split(';')[0].trim().toLowerCase() : undefined
}

function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256'
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => undefined)
}

/** Reads a body, refusing (before or while reading) anything larger than `max` bytes. */
async function readLimited(res: Response, max: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN)
  if (Number.isFinite(declared) && declared > max) {
    await discard(res)
    throw new SignetError(
      'REGISTRY_ERROR',
      `${what} is ${declared} bytes, more than the ${max} allowed`,
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
      throw new SignetError('REGISTRY_ERROR', `${what} is more than the ${max} bytes allowed`)
    }
    chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength))
  }
  return Buffer.concat(chunks, total)
}

/** The registry's own explanation: `errors[0]` of the distribution error JSON, else the text. */
async function registryMessage(res: Response): Promise<string> {
  let text: string
  try {
    text = (await readLimited(res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8').trim()
  } catch {
    return ''
  }
  if (text === '') return ''
  try {
    const parsed = JSON.parse(text) as {
      errors?: { code?: string; message?: string; detail?: unknown }[]
    }
    const first = parsed.errors?.[0]
    if (first) {
      return [first.code, first.message].filter((s) => typeof s === 'string' && s !== '').join(': ')
    }
  } catch {
    // Not JSON: plain text (or HTML from a proxy); keep a short line of it.
  }
  return text.split('\n')[0].slice(0, 200)
}

export class RegistryClient implements Registry {
  /** Blob uploads of this run, by registry/repository@digest, shared by concurrent callers. */
  private readonly blobPushes = new Map<string, Promise<Descriptor>>()
  /** HTTP requests made (every hop, token requests included): benchmarks and tests count them. */
  requestCount = 0

  private readonly credentials: CredentialProvider
  private readonly plainHttp: Set<string>
  private readonly retry: RetryOptions
  private readonly fetchImpl: typeof fetch
  private readonly userAgent: string
  private readonly timeoutMs: number
  private readonly log: (message: string) => void
  /** What each host asked for on its last 401; absent = anonymous has worked so far. */
  private readonly challenges = new Map<string, AuthChallenge>()
  /**
   * Registries that answered the referrers API with "not served here": asked once per run, since
   * a registry serves the API for all its repositories or for none.
   */
  private readonly noReferrersApi = new Set<string>()
  private readonly tokens = new Map<string, Promise<CachedToken>>()

  constructor(options: RegistryClientOptions = {}) {
    this.credentials = options.credentials ?? anonymousCredentials
    this.plainHttp = new Set((options.plainHttp ?? []).map((h) => h.trim().toLowerCase()))
    this.retry = options.retry ?? {}
    this.fetchImpl = options.fetch ?? fetch
    this.userAgent = options.userAgent ?? 'signet'
    this.timeoutMs = options.timeoutMs ?? 120_000
    this.log = options.log ?? (() => undefined)
  }

  // ---------------------------------------------------------------------------------------------
  // Registry

  async headManifest(repo: Repository, reference: string): Promise<Descriptor | undefined> {
    checkRepository(repo)
    checkReference(reference)
    const head = await this.call(
      {
        method: 'HEAD',
        repo,
        url: `/v2/${repo.repository}/manifests/${reference}`,
        access: 'pull',
        headers: { accept: MANIFEST_ACCEPT.join(', ') },
      },
      async ({ res, url }) => {
        if (res.status === 404) return null
        if (!res.ok) return this.fail('HEAD', url, res, repo)
        await discard(res)
        const mediaType = mediaTypeOf(res)
        const digest = isDigest(reference)
          ? reference
          : (res.headers.get('docker-content-digest') ?? undefined)
        const size = Number(res.headers.get('content-length') ?? NaN)
        if (!mediaType || !digest || !isDigest(digest) || !Number.isFinite(size)) return undefined
        return { mediaType, digest, size }
      },
    )
    if (head === null) return undefined
    if (head) return head
    // Some registries leave out Docker-Content-Digest or Content-Length on HEAD: GET and compute.
    return (await this.getManifest(repo, reference))?.descriptor
  }

  async getManifest(
    repo: Repository,
    reference: string,
    accept: string[] = [],
  ): Promise<FetchedManifest | undefined> {
    checkRepository(repo)
    checkReference(reference)
    const acceptHeader = [...new Set([...accept, ...MANIFEST_ACCEPT])].join(', ')
    return this.call(
      {
        method: 'GET',
        repo,
        url: `/v2/${repo.repository}/manifests/${reference}`,
        access: 'pull',
        headers: { accept: acceptHeader },
      },
      async ({ res, url }) => {
        if (res.status === 404) {
          await discard(res)
          return undefined
        }
        if (!res.ok) return this.fail('GET', url, res, repo)
        const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `manifest ${url.pathname}`)
        const digest = digestOf(bytes, isDigest(reference) ? algorithmOf(reference) : 'sha256')
        // Only a digest reference can be checked: for tags ggcr gave up trusting
        // Docker-Content-Digest (too many registries get it wrong), and so do we.
        if (isDigest(reference) && digest !== reference) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `GET ${url.host}${url.pathname}: the registry returned a manifest whose digest is ${digest}, not the requested ${reference}`,
          )
        }
        const mediaType = manifestMediaType(res, bytes)
        const etag = res.headers.get('etag') ?? undefined
        return {
          descriptor: { mediaType, digest, size: bytes.length },
          bytes,
          ...(etag ? { etag } : {}),
        }
      },
    )
  }

  async putManifest(
    repo: Repository,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    options: { ifMatch?: string } = {},
  ): Promise<PutManifestResult> {
    checkRepository(repo)
    checkReference(reference)
    const path = `/v2/${repo.repository}/manifests/${reference}`
    if (bytes.length > MAX_MANIFEST_BYTES) {
      throw new SignetError(
        'REGISTRY_ERROR',
        `PUT ${repo.registry}${path}: the manifest is ${bytes.length} bytes; registries accept at most ${MAX_MANIFEST_BYTES}`,
      )
    }
    const digest = digestOf(bytes)
    const headers: Record<string, string> = { 'content-type': mediaType }
    if (options.ifMatch) headers['if-match'] = options.ifMatch
    // A registry may not see a blob another request has just committed: distribution 2.8 can read
    // a half-written link file (DIGEST_INVALID), S3-backed ones may not list it yet (BLOB_UNKNOWN).
    // We uploaded every blob and computed the digest ourselves, so try again shortly.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.putManifestOnce(repo, path, reference, bytes, digest, headers, options)
      } catch (err) {
        const racy =
          err instanceof SignetError &&
          err.code === 'REGISTRY_ERROR' &&
          /HTTP 400: (DIGEST_INVALID|BLOB_UNKNOWN|MANIFEST_BLOB_UNKNOWN)/.test(err.message)
        if (!racy || attempt >= 4) throw err
        await new Promise((r) => setTimeout(r, 150 * attempt))
      }
    }
  }

  private async putManifestOnce(
    repo: Repository,
    path: string,
    reference: string,
    bytes: Buffer,
    digest: string,
    headers: Record<string, string>,
    options: { ifMatch?: string },
  ): Promise<PutManifestResult> {
    return this.call(
      { method: 'PUT', repo, url: path, access: 'push', headers, body: bytes },
      async ({ res, url }) => {
        if (res.status === 412 && options.ifMatch) {
          await discard(res)
          throw new SignetError(
            'CONCURRENT_WRITE',
            `PUT ${url.host}${url.pathname}: ${reference} changed since it was read (412 Precondition Failed)`,
          )
        }
        if (!res.ok) return this.fail('PUT', url, res, repo)
        await discard(res)
        const ociSubject = res.headers.get('oci-subject') ?? undefined
        return { digest, ...(ociSubject ? { ociSubject } : {}) }
      },
    )
  }

  async pushBlob(
    repo: Repository,
    bytes: Buffer,
    mediaType: string,
    options: { fresh?: boolean } = {},
  ): Promise<Descriptor> {
    checkRepository(repo)
    const digest = digestOf(bytes)
    // One upload per blob per run: parallel signatures share blobs (the empty config), and
    // distribution 2.8 mishandles concurrent uploads of the same blob to one repository.
    const key = `${repo.registry}/${repo.repository}@${digest}`
    let push = this.blobPushes.get(key)
    if (!push) {
      push = this.pushBlobOnce(repo, bytes, mediaType, digest, options)
      this.blobPushes.set(key, push)
      push.catch(() => this.blobPushes.delete(key))
    }
    const pushed = await push
    return { ...pushed, mediaType }
  }

  private async pushBlobOnce(
    repo: Repository,
    bytes: Buffer,
    mediaType: string,
    digest: string,
    options: { fresh?: boolean },
  ): Promise<Descriptor> {
    const descriptor: Descriptor = { mediaType, digest, size: bytes.length }
    // HEAD with push access: it is the first step of an upload, and one token then serves both.
    // Skipped for blobs that cannot be there yet (they hold a signature made a moment ago).
    if (!options.fresh && (await this.hasBlob(repo, descriptor.digest, 'push'))) return descriptor

    const location = await this.call(
      { method: 'POST', repo, url: `/v2/${repo.repository}/blobs/uploads/`, access: 'push' },
      async ({ res, url }) => {
        if (res.status !== 202) return this.fail('POST', url, res, repo)
        await discard(res)
        const header = res.headers.get('location')
        if (!header) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `POST ${url.host}${url.pathname}: the registry started an upload without a Location`,
          )
        }
        return new URL(header, url)
      },
    )
    // Location may be relative and may carry the registry's upload state in its query already;
    // append to that query as is (re-serialising it could change the state token's encoding).
    location.search = `${location.search ? `${location.search}&` : '?'}digest=${encodeURIComponent(descriptor.digest)}`
    try {
      await this.call(
        {
          method: 'PUT',
          repo,
          url: location,
          access: 'push',
          headers: { 'content-type': 'application/octet-stream' },
          body: bytes,
        },
        async ({ res, url }) => {
          if (res.status !== 201 && res.status !== 204 && res.status !== 200) {
            return this.fail('PUT', url, res, repo)
          }
          await discard(res)
        },
      )
    } catch (err) {
      // A retried PUT can find its upload session consumed by the attempt whose answer was lost;
      // if the blob is there, the upload did happen.
      if (
        (err as SignetError).code === 'REGISTRY_ERROR' &&
        (await this.hasBlob(repo, descriptor.digest, 'push'))
      ) {
        return descriptor
      }
      throw err
    }
    return descriptor
  }

  /** HEAD a blob. `access` is 'push' when the HEAD is the first step of an upload. */
  async hasBlob(
    repo: Repository,
    digest: string,
    access: 'pull' | 'push' = 'pull',
  ): Promise<boolean> {
    checkRepository(repo)
    validateDigest(digest, 'digest')
    return this.call(
      { method: 'HEAD', repo, url: `/v2/${repo.repository}/blobs/${digest}`, access },
      async ({ res, url }) => {
        await discard(res)
        if (res.status === 404) return false
        if (res.ok) return true
        return this.fail('HEAD', url, res, repo)
      },
    )
  }

  async getBlob(
    repo: Repository,
    digest: string,
    maxBytes = DEFAULT_MAX_BLOB_BYTES,
  ): Promise<Buffer> {
    checkRepository(repo)
    validateDigest(digest, 'digest')
    return this.call(
      { method: 'GET', repo, url: `/v2/${repo.repository}/blobs/${digest}`, access: 'pull' },
      async ({ res, url }) => {
        if (!res.ok) return this.fail('GET', url, res, repo)
        const bytes = await readLimited(
          res,
          maxBytes,
          `blob ${digest} in ${repo.registry}/${repo.repository}`,
        )
        const actual = digestOf(bytes, algorithmOf(digest))
        if (actual !== digest) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `GET ${repo.registry}/v2/${repo.repository}/blobs/${digest}: the content's digest is ${actual}`,
          )
        }
        return bytes
      },
    )
  }

  async referrers(
    repo: Repository,
    digest: string,
    artifactType?: string,
  ): Promise<ImageIndex | undefined> {
    checkRepository(repo)
    validateDigest(digest, 'digest')
    if (this.noReferrersApi.has(repo.registry)) return undefined
    const first = new URL(`/v2/${repo.repository}/referrers/${digest}`, this.baseUrl(repo.registry))
    if (artifactType) first.searchParams.set('artifactType', artifactType)

    const manifests: Descriptor[] = []
    let filtered = true
    const seen = new Set<string>()
    let page: URL | undefined = first
    for (let n = 0; page; n++) {
      if (n >= MAX_REFERRER_PAGES || seen.has(page.href)) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `GET ${first.host}${first.pathname}: the referrers listing did not end after ${n} pages`,
        )
      }
      seen.add(page.href)
      const result: ReferrersPage | undefined = await this.call(
        {
          method: 'GET',
          repo,
          url: page,
          access: 'pull',
          headers: { accept: MEDIA_TYPES.ociIndex },
        },
        async ({ res, url }) => {
          if (REFERRERS_UNSUPPORTED.has(res.status)) {
            await discard(res)
            return undefined
          }
          if (!res.ok) return this.fail('GET', url, res, repo)
          // go-containerregistry's rule: a 200 that is not an OCI index is not the referrers API.
          if (mediaTypeOf(res) !== MEDIA_TYPES.ociIndex) {
            await discard(res)
            return undefined
          }
          const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `referrers ${url.pathname}`)
          let index: ImageIndex
          try {
            index = JSON.parse(bytes.toString('utf8')) as ImageIndex
          } catch {
            throw new SignetError(
              'REGISTRY_ERROR',
              `GET ${url.host}${url.pathname}: the referrers index is not JSON`,
            )
          }
          if (!Array.isArray(index.manifests)) {
            throw new SignetError(
              'REGISTRY_ERROR',
              `GET ${url.host}${url.pathname}: the referrers index has no manifests array`,
            )
          }
          const applied = (res.headers.get('oci-filters-applied') ?? '')
            .split(',')
            .map((s) => s.trim())
            .includes('artifactType')
          return { index, applied, next: parseLinkNext(res.headers.get('link'), url) }
        },
      )
      if (!result) {
        if (n === 0) {
          this.noReferrersApi.add(repo.registry)
          return undefined
        }
        throw new SignetError(
          'REGISTRY_ERROR',
          `GET ${page.host}${page.pathname}: a later page of the referrers listing is missing`,
        )
      }
      manifests.push(...result.index.manifests)
      filtered &&= result.applied
      page = result.next
      // Credentials are bound to the registry host; a listing continued elsewhere is not followed.
      if (page && page.host !== first.host) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `GET ${first.host}${first.pathname}: the referrers listing continues on another host (${page.host})`,
        )
      }
    }
    const kept =
      artifactType && !filtered
        ? manifests.filter((m) => m.artifactType === artifactType)
        : manifests
    return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: kept }
  }

  /** Every tag in a repository (following pagination); [] when the repository does not exist. */
  async listTags(repo: Repository): Promise<string[]> {
    checkRepository(repo)
    const tags: string[] = []
    let page: URL | undefined = new URL(
      `/v2/${repo.repository}/tags/list`,
      this.baseUrl(repo.registry),
    )
    const seen = new Set<string>()
    while (page && !seen.has(page.href) && seen.size < MAX_REFERRER_PAGES) {
      seen.add(page.href)
      const result: { tags: string[]; next?: URL } = await this.call(
        { method: 'GET', repo, url: page, access: 'pull', headers: { accept: 'application/json' } },
        async ({ res, url }) => {
          if (res.status === 404) {
            await discard(res)
            return { tags: [] }
          }
          if (!res.ok) return this.fail('GET', url, res, repo)
          const body = JSON.parse(
            (await readLimited(res, MAX_MANIFEST_BYTES, 'tag list')).toString('utf8'),
          ) as { tags?: string[] | null }
          return { tags: body.tags ?? [], next: parseLinkNext(res.headers.get('link'), url) }
        },
      )
      tags.push(...result.tags)
      page = result.next && result.next.host === page.host ? result.next : undefined
    }
    return tags
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private isPlainHttp(host: string): boolean {
    const h = host.toLowerCase()
    return this.plainHttp.has(h) || this.plainHttp.has(h.replace(/:\d+$/, ''))
  }

  private baseUrl(host: string): string {
    return `${this.isPlainHttp(host) ? 'http' : 'https'}://${host}`
  }

  /**
   * One logical request, retried as a whole (auth handshake, redirects, and `handle` reading the
   * body, so a connection reset mid-body is retried too). `handle` sees only non-retryable
   * statuses; a retryable one that outlasts the retry budget becomes an error here.
   */
  private async call<T>(request: Request, handle: (exchange: Exchange) => Promise<T>): Promise<T> {
    type Outcome = { done: T } | { retryable: Exchange }
    const outcome = await withRetry<Outcome>(
      async () => {
        const exchange = await this.exchange(request)
        if (isRetryableStatus(exchange.res.status)) return { retryable: exchange }
        return { done: await handle(exchange) }
      },
      {
        ...this.retry,
        classify: (o, now) => {
          if ('error' in o) return classifyOutcome(o, now)
          if ('done' in o.value) return { retry: false }
          return classifyOutcome({ value: o.value.retryable.res }, now)
        },
        release: async (o) => {
          if ('retryable' in o) await discard(o.retryable.res)
        },
        onRetry: (info) => {
          this.log(
            `${request.method} ${request.repo.registry}/${request.repo.repository}: retry ${info.attempt} in ${info.delayMs} ms (${info.reason})`,
          )
          this.retry.onRetry?.(info)
        },
      },
    ).catch((err: unknown) => {
      throw this.transportError(err, request)
    })
    if ('done' in outcome) return outcome.done
    const { res, url } = outcome.retryable
    return this.fail(request.method, url, res, request.repo)
  }

  /** A failure to talk to the registry at all, said in terms of what the user can change. */
  private transportError(err: unknown, request: Request): unknown {
    if (err instanceof SignetError) return err
    const host = request.repo.registry
    if (isTlsMismatch(err)) {
      return new SignetError(
        'REGISTRY_ERROR',
        `${host} does not speak HTTPS (the TLS handshake failed); if it is a registry served over plain HTTP, list ${host} in plain-http`,
        { input: 'plain-http', cause: err },
      )
    }
    return new SignetError(
      'REGISTRY_ERROR',
      `could not reach the registry ${host}: ${rootMessage(err)}`,
      { input: 'images', cause: err },
    )
  }

  /** Sends a request with the best authorization we have; on a 401, authenticates and repeats once. */
  private async exchange(request: Request): Promise<Exchange> {
    const { repo, access } = request
    const host = repo.registry
    const url =
      typeof request.url === 'string' ? new URL(request.url, this.baseUrl(host)) : request.url
    const before = await this.authorization(repo, access)
    const first = await this.send(request, url, before)
    if (first.res.status !== 401) return first

    const challenge = pickChallenge(parseWwwAuthenticate(first.res.headers.get('www-authenticate')))
    if (!challenge) return first
    this.challenges.set(host.toLowerCase(), challenge)
    // The token we sent was refused: expired, revoked, or for too little scope. Get a fresh one.
    if (before) this.forgetToken(repo, access)
    const after = await this.authorization(repo, access)
    if (!after || after === before) return first
    await discard(first.res)
    return this.send(request, url, after)
  }

  /** One request, following redirects by hand; Authorization goes only to the registry host. */
  private async send(
    request: Request,
    start: URL,
    authorization: string | undefined,
  ): Promise<Exchange> {
    const registryHost = request.repo.registry.toLowerCase()
    let url = start
    let method: string = request.method
    let body = request.body
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...request.headers }
      if (authorization && url.host.toLowerCase() === registryHost) {
        headers.authorization = authorization
      }
      if (body === undefined) delete headers['content-type']
      this.requestCount++
      const res = await this.fetchImpl(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: 'manual',
        signal: AbortSignal.timeout(this.timeoutMs),
      })
      const location = res.headers.get('location')
      if (!REDIRECT_STATUSES.has(res.status) || !location) return { res, url }
      await discard(res)
      if (hop >= MAX_REDIRECTS) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${request.method} ${start.host}${start.pathname}: more than ${MAX_REDIRECTS} redirects`,
        )
      }
      const next = new URL(location, url)
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${request.method} ${start.host}${start.pathname}: refusing a redirect from https to ${next.protocol}//${next.host}`,
        )
      }
      // Fetch's rules: 303 (and 301/302 after a POST) continue as a GET without the body.
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === 'POST')) {
        method = 'GET'
        body = undefined
      }
      // Once off the registry host, never send the credentials again, even if bounced back.
      if (next.host.toLowerCase() !== url.host.toLowerCase()) authorization = undefined
      url = next
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Auth

  private tokenKey(repo: Repository, access: Access): string {
    return `${repo.registry.toLowerCase()}|${repo.repository}|${access}`
  }

  private forgetToken(repo: Repository, access: Access): void {
    this.tokens.delete(this.tokenKey(repo, access))
    if (access === 'pull') this.tokens.delete(this.tokenKey(repo, 'push'))
  }

  /** The Authorization header for a request, or undefined to go anonymously. */
  private async authorization(repo: Repository, access: Access): Promise<string | undefined> {
    const challenge = this.challenges.get(repo.registry.toLowerCase())
    if (!challenge) return undefined
    if (challenge.scheme === 'basic') {
      const credential = await this.credentials.get(repo.registry)
      if (!credential?.username || !credential.password) return undefined
      return basic(credential)
    }
    if (challenge.scheme !== 'bearer') return undefined

    // A push token also serves pulls, and is what we fetch first when we are about to write.
    const keys =
      access === 'pull'
        ? [this.tokenKey(repo, 'push'), this.tokenKey(repo, 'pull')]
        : [this.tokenKey(repo, 'push')]
    for (const key of keys) {
      const cached = this.tokens.get(key)
      if (!cached) continue
      try {
        const token = await cached
        if (token.expiresAt > Date.now()) return token.authorization
      } catch {
        // A failed fetch was already reported to whoever started it; try again below.
      }
      if (this.tokens.get(key) === cached) this.tokens.delete(key)
    }
    const key = this.tokenKey(repo, access)
    const pending = this.fetchToken(repo, access, challenge)
    this.tokens.set(key, pending)
    try {
      return (await pending).authorization
    } catch (err) {
      if (this.tokens.get(key) === pending) this.tokens.delete(key)
      throw err
    }
  }

  /** The token protocol: GET realm?service&scope with Basic credentials, or the OAuth2 refresh grant. */
  private async fetchToken(
    repo: Repository,
    access: Access,
    challenge: AuthChallenge,
  ): Promise<CachedToken> {
    const host = repo.registry
    const credential = await this.credentials.get(host)
    if (credential?.registryToken) {
      return { authorization: `Bearer ${credential.registryToken}`, expiresAt: Infinity }
    }
    const realmText = challenge.params.realm
    let realm: URL
    try {
      realm = new URL(realmText ?? '')
    } catch {
      throw new SignetError(
        'REGISTRY_ERROR',
        `registry ${host} asked for a token from an invalid realm "${realmText}"`,
      )
    }
    const scope = `repository:${repo.repository}:${access === 'push' ? 'pull,push' : 'pull'}`
    const service = challenge.params.service
    const hasSecret = Boolean(
      credential?.identityToken || (credential?.username && credential.password),
    )
    if (hasSecret && realm.protocol !== 'https:' && !this.isPlainHttp(realm.host)) {
      throw new SignetError(
        'REGISTRY_AUTH',
        `registry ${host} asked for credentials at ${realm.protocol}//${realm.host}, which is not HTTPS; refusing to send them (list the host in plain-http if this is a local registry)`,
      )
    }

    const tokenRepo: Repository = { registry: realm.host, repository: repo.repository }
    let request: Request
    if (credential?.identityToken) {
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: credential.identityToken,
        client_id: 'signet',
        scope,
        ...(service ? { service } : {}),
      })
      request = {
        method: 'POST',
        repo: tokenRepo,
        url: realm,
        access,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      }
    } else {
      const url = new URL(realm)
      if (service) url.searchParams.set('service', service)
      url.searchParams.set('scope', scope)
      request = { method: 'GET', repo: tokenRepo, url, access }
    }
    const authorization =
      !credential?.identityToken && credential?.username && credential.password
        ? basic(credential)
        : undefined

    const what = `token for ${scope} from ${realm.host}${realm.pathname}`
    const token = await withRetry(() => this.send(request, request.url as URL, authorization), {
      ...this.retry,
      classify: (o, now) =>
        'error' in o ? classifyOutcome(o, now) : classifyOutcome({ value: o.value.res }, now),
      release: async (o) => discard(o.res),
    }).then(async ({ res }) => {
      if (res.status === 401 || res.status === 403) {
        const message = await registryMessage(res)
        throw await this.authError(host, repo, `a ${what}`, res.status, message, credential)
      }
      if (!res.ok) {
        const message = await registryMessage(res)
        throw new SignetError(
          'REGISTRY_ERROR',
          `could not get a ${what}: HTTP ${res.status}${message ? `: ${message}` : ''}`,
        )
      }
      const body = JSON.parse((await readLimited(res, 1 << 20, what)).toString('utf8')) as {
        token?: string
        access_token?: string
        expires_in?: number
      }
      const value = body.token || body.access_token
      if (!value) throw new SignetError('REGISTRY_ERROR', `the ${what} answer holds no token`)
      // The spec's default lifetime is 60 s when expires_in is absent.
      const lifetime =
        (typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60) * 1000
      return {
        authorization: `Bearer ${value}`,
        expiresAt: Date.now() + Math.max(lifetime - TOKEN_EXPIRY_MARGIN_MS, lifetime / 2),
      }
    })
    return token
  }

  // ---------------------------------------------------------------------------------------------
  // Errors

  private async authError(
    host: string,
    repo: Repository,
    what: string,
    status: number,
    message: string,
    credential: Credential | undefined,
  ): Promise<SignetError> {
    const detail = `HTTP ${status}${message ? `: ${message}` : ''}`
    if (!credential) {
      return new SignetError(
        'REGISTRY_AUTH',
        `registry ${host} refused ${what} (${detail}) and Signet has no credentials for it: log in before this step (docker/login-action) or set the registry-username and registry-password inputs`,
      )
    }
    const hint =
      status === 403
        ? `they are not allowed to do this on ${repo.repository}: check the account's permissions${host === 'ghcr.io' ? ' (for github-token: permissions: packages: write)' : ''}`
        : `check them (docker/login-action, or the registry-username and registry-password inputs)`
    return new SignetError(
      'REGISTRY_AUTH',
      `registry ${host} refused ${what} with the credentials from ${credential.source} (${detail}): ${hint}`,
    )
  }

  /** Turns an unexpected answer into a SignetError naming the method and path, never credentials. */
  private async fail(method: string, url: URL, res: Response, repo: Repository): Promise<never> {
    const message = await registryMessage(res)
    const what = `${method} ${url.pathname}`
    if (res.status === 401 || res.status === 403) {
      throw await this.authError(
        repo.registry,
        repo,
        what,
        res.status,
        message,
        await this.credentials.get(repo.registry),
      )
    }
    throw new SignetError(
      'REGISTRY_ERROR',
      `registry ${repo.registry}: ${what} failed: HTTP ${res.status}${message ? `: ${message}` : ''}`,
    )
  }
}

function basic(credential: Credential): string {
  return `Basic ${Buffer.from(`${credential.username}:${credential.password}`).toString('base64')}`
}

/** Bearer when offered (it is what distribution-spec registries use), else Basic. */
function pickChallenge(challenges: AuthChallenge[]): AuthChallenge | undefined {
  return (
    challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic')
  )
}

/** Content-Type, unless it is missing or generic: then the manifest's own mediaType field. */
function manifestMediaType(res: Response, bytes: Buffer): string {
  const ct = mediaTypeOf(res)
  if (ct && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain')
    return ct
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }
    if (typeof parsed.mediaType === 'string') return parsed.mediaType
  } catch {
    // Fall through.
  }
  return ct ?? MEDIA_TYPES.ociManifest
}

function checkRepository(repo: Repository): void {
  if (
    !REPOSITORY_RE.test(repo.repository) ||
    repo.registry === '' ||
    /[/\s@]/.test(repo.registry)
  ) {
    throw new SignetError(
      'IMAGE_REFERENCE_INVALID',
      `"${repo.registry}/${repo.repository}" is not a valid registry/repository`,
    )
  }
}

function checkReference(reference: string): void {
  if (reference.includes(':')) {
    validateDigest(reference, 'digest')
  } else if (!TAG_RE.test(reference)) {
    throw new SignetError('IMAGE_REFERENCE_INVALID', `"${reference}" is neither a tag nor a digest`)
  }
}
