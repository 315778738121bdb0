/**
 * An OCI distribution client over fetch: the registry half of Signet, behind the `Registry`
 * interface (./types). Three layers, one file each:
 * - ./http: one request and its answer (plain HTTP or HTTPS per host, redirects followed by hand
 *   so credentials never leave the registry host, size limits, registryText for what a registry
 *   says);
 * - ./auth: the distribution token protocol (challenges, the token cache, which realm may receive
 *   credentials, Basic and Bearer);
 * - this file: manifests, blobs, tags and referrers, each call retried as a whole (../retry) and
 *   its answer checked (digests, media types, the limits in ./types).
 */
import { createHash } from 'node:crypto'
import { SignetError } from '../errors'
import { RegistryAuth } from './auth'
import { anonymousCredentials, type CredentialProvider } from './credentials'
import {
  discard,
  HttpTransport,
  mediaTypeOf,
  parseLinkNext,
  parseRegistryJson,
  parseUrl,
  MAX_ERROR_BODY_BYTES,
  readLimited,
  registryError,
  RegistryAnswerError,
  registryText,
  transportError,
  validMediaType,
  withBody,
  type Answer,
  type Exchange,
  type RegistryRequest,
} from './http'
import { isDigest, validateDigest } from './reference'
import {
  classifyOutcome,
  isRetryableError,
  isRetryableStatus,
  withRetry,
  type RetryOptions,
  type RetryVerdict,
} from '../retry'
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
// What the rest of Signet and the tests use of the layers below: only this file, ./types,
// ./reference and ./credentials are imported from outside src/registry.
export { MAX_REGISTRY_TEXT, parseLinkNext, registryText } from './http'
export { parseWwwAuthenticate, realmMayReceiveCredentials, type AuthChallenge } from './auth'

/** Cosign's default cap on an attachment (COSIGN_MAX_ATTACHMENT_SIZE). */
export const DEFAULT_MAX_BLOB_BYTES = 128 * 1024 * 1024
/** Referrers API answers that mean "not served here": use the fallback tag schema (D.5). */
const REFERRERS_UNSUPPORTED = new Set([400, 404, 405, 406])

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

interface ReferrersPage {
  index: ImageIndex
  /** OCI-Filters-Applied named artifactType: the server filtered this page. */
  applied: boolean
  /** The page's size, counted against MAX_REFERRERS_LISTING_BYTES. */
  bytes: number
  next?: URL
}

const REPOSITORY_RE =
  /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/
const TAG_RE = /^[\w][\w.-]{0,127}$/

export class RegistryClient implements Registry {
  /** Blob uploads of this run, by registry/repository@digest, shared by concurrent callers. */
  private readonly blobPushes = new Map<string, Promise<Descriptor>>()
  private readonly http: HttpTransport
  private readonly auth: RegistryAuth
  private readonly retry: RetryOptions
  private readonly log: (message: string) => void
  /**
   * Registries that answered the referrers API with "not served here": asked once per run, since
   * a registry serves the API for all its repositories or for none.
   */
  private readonly noReferrersApi = new Set<string>()
  /**
   * The first referrers listing asked of each registry, settled or not: concurrent callers wait
   * for its answer rather than each asking whether the API is served (verifying 20 images at once
   * asked 16 times).
   */
  private readonly referrersProbes = new Map<string, Promise<unknown>>()
  /**
   * Blobs a run pushes to several repositories of one registry (the empty config every bundle
   * referrer names): where the first push went, which the others mount from.
   */
  private readonly blobOrigins = new Map<string, { repository: string; pushed: Promise<unknown> }>()
  /** Registries that would not mount a blob from another repository: not asked again this run. */
  private readonly noMount = new Set<string>()

  constructor(options: RegistryClientOptions = {}) {
    this.http = new HttpTransport(options)
    this.retry = options.retry ?? {}
    this.log = options.log ?? (() => undefined)
    this.auth = new RegistryAuth(
      this.http,
      options.credentials ?? anonymousCredentials,
      this.retry,
      this.log,
    )
  }

  /** HTTP requests made (every hop, token requests included): benchmarks and tests count them. */
  get requestCount(): number {
    return this.http.requestCount
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
    return this.call(
      { method: 'PUT', repo, url: path, access: 'push', headers, body: bytes },
      async ({ res, url }) => {
        // Harbor refuses to overwrite an immutable tag with 412 too: that is no lost race, and its
        // text (src/storage/immutable-tags.ts) tells the two apart.
        if (res.status === 412 && options.ifMatch) {
          const { immutable, answer } = await readImmutable(res)
          if (!immutable) {
            throw new SignetError(
              'CONCURRENT_WRITE',
              `PUT ${repo.registry}${path}: ${reference} changed since it was read (412 Precondition Failed)`,
            )
          }
          return this.fail('PUT', url, answer, repo)
        }
        if (!res.ok) return this.fail('PUT', url, res, repo)
        await discard(res)
        const ociSubject = res.headers.get('oci-subject') ?? undefined
        return { digest, ...(ociSubject ? { ociSubject } : {}) }
      },
      manifestPutClassifier(),
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
      push = this.pushShared(repo, bytes, mediaType, digest, options)
      this.blobPushes.set(key, push)
      push.catch(() => this.blobPushes.delete(key))
    }
    const pushed = await push
    return { ...pushed, mediaType }
  }

  /**
   * A blob this run has pushed to another repository of the registry is mounted from there (one
   * request, where HEAD, POST and PUT were three); issue 11: signing 20 images of 20 repositories
   * made 38 requests fewer (`npm run bench -- 20`). The first push of a blob goes ahead, and the
   * others wait for it. A registry that does not mount (it answers neither 201 nor 202:
   * cross-repository access refused) gets ordinary uploads for the rest of the run.
   */
  private async pushShared(
    repo: Repository,
    bytes: Buffer,
    mediaType: string,
    digest: string,
    options: { fresh?: boolean },
  ): Promise<Descriptor> {
    // A fresh blob (a signature made a moment ago) is in no other repository.
    if (options.fresh) return this.pushBlobOnce(repo, bytes, mediaType, digest, options)
    const key = `${repo.registry}@${digest}`
    const origin = this.blobOrigins.get(key)
    if (!origin) {
      const pushed = this.pushBlobOnce(repo, bytes, mediaType, digest, options)
      this.blobOrigins.set(key, { repository: repo.repository, pushed })
      pushed.catch(() => {
        if (this.blobOrigins.get(key)?.pushed === pushed) this.blobOrigins.delete(key)
      })
      return pushed
    }
    const there = await origin.pushed.then(
      () => true,
      () => false,
    )
    if (there && !this.noMount.has(repo.registry)) {
      if (await this.mountBlob(repo, bytes, digest, origin.repository)) {
        return { mediaType, digest, size: bytes.length }
      }
    }
    return this.pushBlobOnce(repo, bytes, mediaType, digest, options)
  }

  /**
   * Mounts `digest` from `from` (same registry): true when the blob is there after it (201, or a
   * 202 whose upload session this completes with the bytes), false when the registry refused.
   */
  private async mountBlob(
    repo: Repository,
    bytes: Buffer,
    digest: string,
    from: string,
  ): Promise<boolean> {
    const query = `mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`
    const session = await this.call(
      {
        method: 'POST',
        repo,
        url: `/v2/${repo.repository}/blobs/uploads/?${query}`,
        access: 'push',
        mountFrom: from,
      },
      async ({ res, url }) => {
        await discard(res)
        if (res.status === 201) return 'mounted' as const
        const next = res.status === 202 ? uploadLocation(res, url) : undefined
        if (next) return next
        this.noMount.add(repo.registry)
        return 'refused' as const
      },
    )
    if (session === 'refused') return false
    if (session === 'mounted') return true
    // The registry started an ordinary upload instead (it could not mount): finish it.
    await this.putUpload(repo, session, bytes, digest)
    return true
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
        const next = uploadLocation(res, url)
        if (!next) {
          throw new SignetError(
            'REGISTRY_ERROR',
            `POST ${repo.registry}/v2/${repo.repository}/blobs/uploads/: the registry started an upload without a usable Location`,
          )
        }
        return next
      },
    )
    await this.putUpload(repo, location, bytes, descriptor.digest)
    return descriptor
  }

  /** Completes an upload session at `location` with `bytes` in one PUT. */
  private async putUpload(
    repo: Repository,
    location: URL,
    bytes: Buffer,
    digest: string,
  ): Promise<void> {
    // Location may be relative and may carry the registry's upload state in its query already;
    // append to that query as is (re-serialising it could change the state token's encoding).
    location.search = `${location.search ? `${location.search}&` : '?'}digest=${encodeURIComponent(digest)}`
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
        (await this.hasBlob(repo, digest, 'push'))
      ) {
        return
      }
      throw err
    }
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
    const probe = this.referrersProbes.get(repo.registry)
    if (!probe) {
      const listing = this.listReferrers(repo, digest, artifactType)
      this.referrersProbes.set(
        repo.registry,
        listing.catch(() => undefined),
      )
      return listing
    }
    await probe
    return this.listReferrers(repo, digest, artifactType)
  }

  private async listReferrers(
    repo: Repository,
    digest: string,
    artifactType?: string,
  ): Promise<ImageIndex | undefined> {
    if (this.noReferrersApi.has(repo.registry)) return undefined
    const first = new URL(
      `/v2/${repo.repository}/referrers/${digest}`,
      this.http.baseUrl(repo.registry),
    )
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
      this.http.baseUrl(repo.registry),
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
  // One call

  /**
   * One logical request, retried as a whole (auth handshake, redirects, and `handle` reading the
   * body, so a connection reset mid-body is retried too). `handle` sees only non-retryable
   * statuses; a retryable one that outlasts the retry budget becomes an error here. What `handle`
   * throws is classified by `classifyError` (the call site's classifier; transport errors by
   * default).
   */
  private async call<T>(
    request: RegistryRequest,
    handle: (exchange: Exchange) => Promise<T>,
    classifyError: (outcome: { error: unknown }, now: number) => RetryVerdict = classifyOutcome,
  ): Promise<T> {
    type Outcome = { done: T } | { retryable: Exchange }
    const outcome = await withRetry<Outcome>(
      async () => {
        const exchange = await this.auth.exchange(request)
        if (isRetryableStatus(exchange.res.status)) return { retryable: exchange }
        return { done: await handle(exchange) }
      },
      {
        service: `the registry ${request.repo.registry}`,
        ...this.retry,
        classify: (o, now) => {
          if ('error' in o) return classifyError(o, now)
          if ('done' in o.value) return { retry: false }
          return classifyOutcome({ value: o.value.retryable.res }, now)
        },
        release: async (o) => {
          if ('retryable' in o) await discard(o.retryable.res)
        },
        onRetry: (info) => {
          // With a budget, the budget logs the retry for everyone to see.
          if (!this.retry.budget) {
            this.log(
              `${request.method} ${request.repo.registry}/${request.repo.repository}: retry ${info.attempt} in ${info.delayMs} ms (${info.reason})`,
            )
          }
          this.retry.onRetry?.(info)
        },
      },
    ).catch((err: unknown) => {
      const failure = transportError(err, request.repo.registry)
      throw isRetryableError(err) ? this.withRetryHint(failure) : failure
    })
    if ('done' in outcome) return outcome.done
    const { res, url } = outcome.retryable
    return this.fail(request.method, url, res, request.repo, true)
  }

  /** A failure the retries could not outlast, saying so and what to do (the budget's hint). */
  private withRetryHint(failure: unknown): unknown {
    const hint = this.retry.budget?.exhaustedHint()
    if (!hint || !(failure instanceof SignetError) || failure instanceof RegistryAnswerError) {
      return failure
    }
    return new SignetError(failure.code, `${failure.message}; ${hint}`, {
      input: failure.input,
      cause: failure.cause,
    })
  }

  /** Turns an unexpected answer into a SignetError naming the method and path, never credentials. */
  private async fail(
    method: string,
    url: URL,
    res: Answer,
    repo: Repository,
    retried = false,
  ): Promise<never> {
    const { code, text: message } = await registryError(res)
    const what = `${method} ${registryText(url.pathname, 120)}`
    if (res.status === 401 || res.status === 403) {
      throw await this.auth.refusal(repo, what, res.status, message)
    }
    const hint = retried && this.retry.budget ? `; ${this.retry.budget.exhaustedHint()}` : ''
    throw new RegistryAnswerError(
      `registry ${repo.registry}: ${what} failed: HTTP ${res.status}${message ? `: ${message}` : ''}${hint}`,
      res.status,
      code,
    )
  }
}

/**
 * Reads a 412's error body (bounded): whether it names the tag immutable, and the answer with its
 * body still to read, for fail() to report.
 */
async function readImmutable(res: Answer): Promise<{ immutable: boolean; answer: Answer }> {
  // The whole body (bounded), not the shortened text a message shows: the word comes last.
  const body = await readLimited(res, MAX_ERROR_BODY_BYTES, 'error body').catch(() =>
    Buffer.alloc(0),
  )
  return { immutable: /\bimmutable\b/i.test(body.toString('utf8')), answer: withBody(res, body) }
}

/**
 * Distribution error codes of a manifest PUT that names a blob the registry cannot see yet, though
 * it was uploaded: distribution 2.8 can read a half-written link file of a blob another request has
 * just committed (DIGEST_INVALID), S3-backed registries may not list it yet (BLOB_UNKNOWN,
 * MANIFEST_BLOB_UNKNOWN).
 */
const BLOB_RACE_CODES = new Set(['DIGEST_INVALID', 'BLOB_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN'])

/**
 * A 400 naming a BLOB_RACE_CODES is retried this many times at most: the registry catching up
 * takes seconds, and a registry that means it must not hold the run for the whole retry-timeout.
 */
const BLOB_RACE_RETRIES = 5

/**
 * The retry classifier of one manifest PUT: what any call retries, and a 400 naming one of
 * BLOB_RACE_CODES (at most BLOB_RACE_RETRIES times). Signet uploaded every blob the manifest
 * names and computed its digest itself, so such a 400 is the registry catching up, and the same
 * PUT is tried again shortly.
 */
function manifestPutClassifier(): (outcome: { error: unknown }, now: number) => RetryVerdict {
  let races = 0
  return (outcome, now) => {
    const err = outcome.error
    if (
      err instanceof RegistryAnswerError &&
      err.status === 400 &&
      BLOB_RACE_CODES.has(err.registryCode ?? '')
    ) {
      return races++ < BLOB_RACE_RETRIES
        ? { retry: true, reason: `HTTP 400 ${err.registryCode}: a blob just written not seen yet` }
        : { retry: false }
    }
    return classifyOutcome(outcome, now)
  }
}

/** An upload session's Location (relative to `url`), when it is an http(s) URL. */
function uploadLocation(res: Answer, url: URL): URL | undefined {
  const header = res.headers.get('location')
  const next = header ? parseUrl(header, url) : undefined
  return next && (next.protocol === 'https:' || next.protocol === 'http:') ? next : undefined
}

function digestOf(bytes: Buffer, algorithm: 'sha256' | 'sha512' = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

function algorithmOf(digest: string): 'sha256' | 'sha512' {
  return digest.startsWith('sha512:') ? 'sha512' : 'sha256'
}

/**
 * Content-Type, unless it is missing, generic or not a media type: then the manifest's own
 * mediaType field, if that is one. Either way a valid media type: it reaches the report.
 */
function manifestMediaType(res: Answer, bytes: Buffer): string {
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
