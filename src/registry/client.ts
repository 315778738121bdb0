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
 * the registry token. Credentials go to a token realm only on the registry's own host or one of
 * the few hosts that really serve a registry's tokens (see realmMayReceiveCredentials).
 *
 * Everything a registry answers is the registry's to choose, and a registry can be named by whoever
 * writes a Dockerfile: its text reaches messages only as the distribution error JSON's code and
 * message, cleaned and bounded (registryText), and what it makes Signet read is bounded (the
 * limits in ./types).
 */
import { createHash } from 'node:crypto'
import { SignetError } from '../errors'
import { anonymousCredentials, type Credential, type CredentialProvider } from './credentials'
import { canonicalRegistryHost, isDigest, isDockerHubHost, validateDigest } from './reference'
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
  MAX_LISTED_REFERRERS,
  MAX_MANIFEST_BYTES,
  MAX_REFERRER_PAGES,
  MAX_REFERRERS_LISTING_BYTES,
  MEDIA_TYPES,
  registryLimit,
  type Descriptor,
  type FetchedManifest,
  type ImageIndex,
  type PutManifestResult,
  type Registry,
  type Repository,
} from './types'

export { MAX_MANIFEST_BYTES } from './types'
/** Cosign's default cap on an attachment (COSIGN_MAX_ATTACHMENT_SIZE). */
export const DEFAULT_MAX_BLOB_BYTES = 128 * 1024 * 1024
/** Redirects followed for one request. */
const MAX_REDIRECTS = 5
/** An error body is read up to this much, for its distribution error JSON. */
const MAX_ERROR_BODY_BYTES = 64 * 1024
/** A token service's answer, at most. */
const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024
/** Registry-supplied text (error code and message, a host, a path) shown in a message, at most. */
export const MAX_REGISTRY_TEXT = 200
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
  /** The body holds a secret (the OAuth2 refresh grant): never sent on to another host. */
  secretBody?: boolean
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
  /** The page's size, counted against MAX_REFERRERS_LISTING_BYTES. */
  bytes: number
  next?: URL
}

interface CachedToken {
  authorization: string
  expiresAt: number
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
/** A bearer token as RFC 6750 allows one (token68), which is what may go into a header. */
const TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/

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

/** `text` resolved against `base`, or undefined when it is not a URL. */
function parseUrl(text: string, base?: URL): URL | undefined {
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
function describeUrl(url: URL): string {
  return registryText(`${url.host}${url.pathname}`, 120)
}

/** A valid media type, lowercased, or undefined. */
function validMediaType(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined
  const type = value.split(';')[0].trim().toLowerCase()
  return MEDIA_TYPE_RE.test(type) ? type : undefined
}

/** The Content-Type's media type; undefined when missing or not a media type at all. */
function mediaTypeOf(res: Response): string | undefined {
  return validMediaType(res.headers.get('content-type'))
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

/**
 * Reads a body, refusing (before or while reading) anything larger than `max` bytes. `over` makes
 * the error when a limit of Signet's rather than the size the content should have is at stake.
 */
async function readLimited(
  res: Response,
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

/**
 * The registry's own explanation, as much of it as may be shown: the code and message of
 * `errors[0]` in the distribution error JSON, cleaned and bounded by registryText. Never anything
 * else of the body (`detail`, an HTML page from a proxy, text written to be echoed into a summary):
 * the HTTP status says enough then.
 */
async function registryMessage(res: Response): Promise<string> {
  let parsed: unknown
  try {
    const text = (await readLimited(res, MAX_ERROR_BODY_BYTES, 'error body')).toString('utf8')
    parsed = JSON.parse(text)
  } catch {
    return ''
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors
  const first: unknown = Array.isArray(errors) ? errors[0] : undefined
  if (typeof first !== 'object' || first === null) return ''
  const { code, message } = first as { code?: unknown; message?: unknown }
  const parts = [
    typeof code === 'string' && ERROR_CODE_RE.test(code) ? code : '',
    typeof message === 'string' ? message : '',
  ].filter((part) => part.trim() !== '')
  return registryText(parts.join(': '))
}

/** Parses JSON a registry sent, without echoing it: JSON.parse's error quotes the text. */
function parseRegistryJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new SignetError('REGISTRY_ERROR', `${what} is not JSON`)
  }
}

/** Hosts that serve Docker Hub's tokens for its registry hosts. */
const DOCKER_HUB_TOKEN_HOST = 'auth.docker.io'

/**
 * True for a two-label name that is, or looks like, a public suffix under a country code (co.uk,
 * com.au, ne.jp, gov.uk, …): a short second label under a two-letter top-level domain. It errs
 * towards refusing (a real two-letter domain such as ab.io counts too, and is then asked
 * anonymously), never towards accepting such a suffix.
 */
function looksLikePublicSuffix(labels: string[]): boolean {
  return labels.length === 2 && labels[1].length === 2 && labels[0].length <= 4
}

/**
 * Whether the credentials Signet holds for `registryHost` may be sent to the token realm `realm`
 * (already known to be https, or http on a plain-http host). A registry names its realm itself, so
 * this is what stops a registry from sending its users' credentials anywhere it likes:
 * - the registry's own host (host:port compared after normalisation: lowercase, `:443` dropped);
 * - Docker Hub's registry hosts → auth.docker.io, where Hub's tokens are served;
 * - a parent domain of the registry host, on the default port: registry.gitlab.com →
 *   gitlab.com, as GitLab (hosted and self-managed) serves them. Whoever holds a parent domain
 *   already controls every name under it, so it learns nothing it could not take. The parent must
 *   be a DNS name of at least two labels that does not look like a public suffix (co.uk is never
 *   a parent that qualifies), and never an IP address.
 * Elsewhere (a sibling such as api.example.com for registry.example.com, another domain) the realm
 * is asked anonymously, which serves public images; a private image then fails to authenticate
 * with a message that says why.
 */
export function realmMayReceiveCredentials(registryHost: string, realm: URL): boolean {
  let registry: URL
  try {
    // The registry's host:port as the realm's scheme would contact it, so default ports compare.
    registry = new URL(`${realm.protocol}//${canonicalRegistryHost(registryHost)}`)
  } catch {
    return false
  }
  if (registry.host === realm.host) return true
  if (isDockerHubHost(registryHost) && realm.host === DOCKER_HUB_TOKEN_HOST) return true
  if (realm.port !== '') return false
  const parent = realm.hostname
  if (/^[\d.]+$/.test(parent) || parent.startsWith('[')) return false
  const labels = parent.split('.')
  if (labels.length < 2 || labels.includes('') || looksLikePublicSuffix(labels)) return false
  return registry.hostname.endsWith(`.${parent}`)
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
  /** Registry host → the realm host its credentials were withheld from (for the auth error). */
  private readonly withheldFrom = new Map<string, string>()

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
    maxBytes = MAX_MANIFEST_BYTES,
  ): Promise<FetchedManifest | undefined> {
    checkRepository(repo)
    checkReference(reference)
    const limit = Math.min(maxBytes, MAX_MANIFEST_BYTES)
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
        const bytes = await readLimited(
          res,
          limit,
          `manifest ${reference} in ${repo.registry}/${repo.repository}`,
        )
        const digest = digestOf(bytes, isDigest(reference) ? algorithmOf(reference) : 'sha256')
        // Only a digest reference can be checked: for tags ggcr gave up trusting
        // Docker-Content-Digest (too many registries get it wrong), and so do we.
        if (isDigest(reference) && digest !== reference) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `GET ${repo.registry}/v2/${repo.repository}/manifests/${reference}: the registry returned a manifest whose digest is ${digest}, not the requested ${reference}`,
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
            `PUT ${repo.registry}${path}: ${reference} changed since it was read (412 Precondition Failed)`,
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
        const next = header ? parseUrl(header, url) : undefined
        if (!next || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `POST ${repo.registry}/v2/${repo.repository}/blobs/uploads/: the registry started an upload without a usable Location`,
          )
        }
        return next
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
    let bytesLeft = MAX_REFERRERS_LISTING_BYTES
    const seen = new Set<string>()
    const listing = `the referrers listing of ${digest} in ${repo.registry}/${repo.repository}`
    let page: URL | undefined = first
    for (let n = 0; page; n++) {
      if (seen.has(page.href)) {
        throw new SignetError('REGISTRY_ERROR', `${listing} links back to a page it listed before`)
      }
      if (n >= MAX_REFERRER_PAGES) {
        throw registryLimit(
          `${listing} goes on past ${MAX_REFERRER_PAGES} pages`,
          `${MAX_REFERRER_PAGES} pages of referrers`,
        )
      }
      seen.add(page.href)
      const budget = bytesLeft
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
          const bytes = await readLimited(res, budget, listing, () =>
            registryLimit(
              `${listing} is larger than ${MAX_REFERRERS_LISTING_BYTES} bytes`,
              `${MAX_REFERRERS_LISTING_BYTES} bytes of referrers listing`,
            ),
          )
          const index = parseRegistryJson(bytes, listing) as ImageIndex
          if (!Array.isArray(index?.manifests)) {
            throw new SignetError('REGISTRY_ERROR', `${listing} has no manifests array`)
          }
          const applied = (res.headers.get('oci-filters-applied') ?? '')
            .split(',')
            .map((s) => s.trim())
            .includes('artifactType')
          return {
            index,
            applied,
            bytes: bytes.length,
            next: parseLinkNext(res.headers.get('link'), url),
          }
        },
      )
      if (!result) {
        if (n === 0) {
          this.noReferrersApi.add(repo.registry)
          return undefined
        }
        throw new SignetError('REGISTRY_ERROR', `a later page of ${listing} is missing`)
      }
      bytesLeft -= result.bytes
      manifests.push(...result.index.manifests)
      if (manifests.length > MAX_LISTED_REFERRERS) {
        throw registryLimit(
          `${listing} has more than ${MAX_LISTED_REFERRERS} entries`,
          `${MAX_LISTED_REFERRERS} referrers`,
        )
      }
      filtered &&= result.applied
      page = result.next
      // Credentials are bound to the registry host; a listing continued elsewhere is not followed.
      if (page && page.host !== first.host) {
        throw new SignetError(
          'REGISTRY_ERROR',
          `${listing} continues on another host (${registryText(page.host, 100)})`,
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
          const what = `the tag list of ${repo.registry}/${repo.repository}`
          const body = parseRegistryJson(
            await readLimited(res, MAX_MANIFEST_BYTES, what),
            what,
          ) as { tags?: unknown } | null
          const tags = Array.isArray(body?.tags)
            ? body.tags.filter((t): t is string => typeof t === 'string')
            : []
          return { tags, next: parseLinkNext(res.headers.get('link'), url) }
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
      `could not reach the registry ${host}: ${registryText(rootMessage(err))}`,
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

  /**
   * One request, following redirects by hand. Authorization goes only to the registry host, and
   * never again once a redirect has left it; a body that holds a secret is never sent elsewhere.
   */
  private async send(
    request: Request,
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

  /**
   * The token protocol: GET realm?service&scope with Basic credentials, or the OAuth2 refresh
   * grant. The realm must be https (or on a plain-http host) whatever Signet holds for it, and it
   * receives the registry's credentials only where realmMayReceiveCredentials allows; elsewhere it
   * is asked anonymously.
   */
  private async fetchToken(
    repo: Repository,
    access: Access,
    challenge: AuthChallenge,
  ): Promise<CachedToken> {
    const host = repo.registry
    const held = await this.credentials.get(host)
    if (held?.registryToken) {
      return { authorization: `Bearer ${held.registryToken}`, expiresAt: Infinity }
    }
    const realm = parseUrl(challenge.params.realm ?? '')
    if (!realm || (realm.protocol !== 'https:' && realm.protocol !== 'http:')) {
      throw new SignetError(
        'REGISTRY_ERROR',
        `registry ${host} asked for a token from a realm that is not an http(s) URL`,
      )
    }
    if (realm.username !== '' || realm.password !== '') {
      throw new SignetError(
        'REGISTRY_ERROR',
        `registry ${host} asked for a token from a realm URL with credentials in it`,
      )
    }
    const realmName = describeUrl(realm)
    if (realm.protocol !== 'https:' && !this.isPlainHttp(realm.host)) {
      throw new SignetError(
        'REGISTRY_AUTH',
        `registry ${host} asked for a token from http://${realmName}, which is not HTTPS: Signet asks token services over HTTPS only (list ${registryText(realm.host, 100)} in plain-http if it is a local registry served over HTTP)`,
        { input: 'plain-http' },
      )
    }
    const hasSecret = Boolean(held?.identityToken || (held?.username && held.password))
    let credential = held
    if (hasSecret && !realmMayReceiveCredentials(host, realm)) {
      this.log(
        `registry ${host} asked for a token from ${realmName}, which is not on its host: asking it without the credentials from ${held?.source}`,
      )
      this.withheldFrom.set(host.toLowerCase(), registryText(realm.host, 100))
      credential = undefined
    }

    const scope = `repository:${repo.repository}:${access === 'push' ? 'pull,push' : 'pull'}`
    const service = challenge.params.service
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
        secretBody: true,
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

    const what = `token for ${scope} from ${realmName}`
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
      const body = parseRegistryJson(
        await readLimited(res, MAX_TOKEN_ANSWER_BYTES, `the ${what}`),
        `the answer to a ${what}`,
      ) as { token?: unknown; access_token?: unknown; expires_in?: unknown } | null
      const value = [body?.token, body?.access_token].find(
        (t): t is string => typeof t === 'string' && t !== '',
      )
      // A token goes into a header: one with other characters would make fetch throw an error
      // that quotes it.
      if (!value || !TOKEN_RE.test(value)) {
        throw new SignetError('REGISTRY_ERROR', `the answer to a ${what} holds no usable token`)
      }
      // The spec's default lifetime is 60 s when expires_in is absent.
      const expiresIn = body?.expires_in
      const lifetime = (typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : 60) * 1000
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
    const withheld = this.withheldFrom.get(host.toLowerCase())
    if (withheld) {
      return new SignetError(
        'REGISTRY_AUTH',
        `registry ${host} refused ${what} (${detail}): its token service is on another host (${withheld}), and Signet sends a registry's credentials only to the registry's own host (or its parent domain, or auth.docker.io for Docker Hub), so it asked without them`,
      )
    }
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
    const what = `${method} ${registryText(url.pathname, 120)}`
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

/**
 * Content-Type, unless it is missing, generic or not a media type: then the manifest's own
 * mediaType field, if that is one. Either way a valid media type: it reaches the report.
 */
function manifestMediaType(res: Response, bytes: Buffer): string {
  const ct = mediaTypeOf(res)
  if (ct && ct !== 'application/json' && ct !== 'application/octet-stream' && ct !== 'text/plain')
    return ct
  try {
    const own = validMediaType(
      (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType,
    )
    if (own) return own
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
