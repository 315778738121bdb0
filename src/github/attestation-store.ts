/**
 * Stores Sigstore bundles with GitHub's artifact attestations API
 * (`POST /repos/{owner}/{repo}/attestations`, body `{"bundle": …}`), which is where
 * `gh attestation verify` looks by default. The registry copy stays the primary one: this store is
 * an extra, so a failure here becomes a warning that says what to fix, never a failed step.
 *
 * The Octokit comes from the front door (`api`): in the action, @actions/github's, which brings the
 * runner's proxy settings and user agent. @actions/github does not include @octokit/plugin-retry
 * (actions/attest adds it as a dependency): requests are retried on Signet's one retry policy
 * (../retry) instead, with GitHub's classifier, classifyGitHubOutcome (secondary rate limits
 * included), rather than with another dependency.
 */
import type { SerializedBundle } from '@sigstore/bundle'
import {
  displayURL,
  isRetryableError,
  isRetryableStatus,
  parseRetryAfter,
  rootMessage,
  withRetry,
  type RetryBudget,
  type RetryVerdict,
} from '../retry'
import type { Logger } from '../report/types'
import { octokitApi, type GitHubApiFactory } from './api'

export interface StoredAttestation {
  /** GitHub's attestation id. */
  id?: number
  /** `<server>/<owner>/<repo>/attestations/<id>`, for people (the summary, the log). */
  url?: string
}

export interface AttestationStore {
  /** `subjectDigest` (`sha256:…`) only labels log lines and errors: the bundle names its subjects. */
  store(bundle: SerializedBundle, subjectDigest: string): Promise<StoredAttestation>
}

export interface GitHubAttestationStoreOptions {
  /** Makes the Octokit: the front door's (the action's brings the runner's proxy); default plain. */
  api?: GitHubApiFactory
  /** The `github-token` input. Empty: store() fails with a no-token error, without a request. */
  token: string
  /** `owner/repo` (GITHUB_REPOSITORY). */
  repository: string
  /** GITHUB_API_URL: https://api.github.com, https://api.<sub>.ghe.com, or GHES https://host/api/v3. */
  apiUrl?: string
  /** GITHUB_SERVER_URL, for the human-facing URL; derived from apiUrl when absent. */
  serverUrl?: string
  /** Retries after the first attempt, for 429/5xx/network failures. Default 3. */
  retries?: number
  /** Lower bound of the backoff between attempts. Default 1 s; tests shorten it. */
  minRetryDelayMs?: number
  /** Per attempt: a hung connection must not hold the job until its timeout. Default 30 s. */
  timeoutMs?: number
  /** Retries are logged at debug level; Octokit's own warnings (deprecations) as warnings. */
  logger?: Logger
  /**
   * The run's retry budget (`retry-timeout`): when given, it bounds the retries (and logs them)
   * instead of `retries` and the 90 s total.
   */
  budget?: RetryBudget
}

export const DEFAULT_API_URL = 'https://api.github.com'
// GitHub's numbers on the one policy: fewer retries than a registry's, from a longer first wait
// (the policy's 10 s ceiling on one wait holds).
const DEFAULTS = { retries: 3, minRetryDelayMs: 1000, timeoutMs: 30_000 }
// Everything, retries included, within this: past it the warning is more useful than a wait.
const MAX_TOTAL_MS = 90_000
const CREATE_ROUTE = 'POST /repos/{owner}/{repo}/attestations'
// Pin the REST API version, as GitHub asks clients to, so a future default cannot change the shape.
export const API_VERSION = '2022-11-28'
export const USER_AGENT = 'signet'

/** Why a store failed; describeStoreFailure turns each into advice. */
export type StoreFailureKind =
  | 'no-token'
  | 'invalid-repository'
  | 'bad-credentials'
  | 'permission'
  | 'plan'
  | 'not-found'
  | 'rate-limited'
  | 'rejected'
  | 'server'
  | 'network'
  | 'unexpected'

export class AttestationStoreError extends Error {
  override readonly name = 'AttestationStoreError'
  readonly kind: StoreFailureKind
  readonly subjectDigest: string
  readonly repository: string
  readonly apiUrl: string
  /** HTTP status of the last answer; absent when no answer came (network, no token). */
  readonly status?: number
  /** GitHub's `message` field, without the documentation link Octokit appends. */
  readonly githubMessage?: string
  /** Requests made (0 when the request was never sent). */
  readonly attempts: number
  override readonly cause?: unknown

  constructor(fields: {
    kind: StoreFailureKind
    message: string
    subjectDigest: string
    repository: string
    apiUrl: string
    status?: number
    githubMessage?: string
    attempts: number
    cause?: unknown
  }) {
    super(fields.message)
    this.kind = fields.kind
    this.subjectDigest = fields.subjectDigest
    this.repository = fields.repository
    this.apiUrl = fields.apiUrl
    this.status = fields.status
    this.githubMessage = fields.githubMessage
    this.attempts = fields.attempts
    this.cause = fields.cause
  }
}

export function isAttestationStoreError(err: unknown): err is AttestationStoreError {
  return err instanceof AttestationStoreError
}

/**
 * The web UI's host for an API URL: api.github.com → github.com, api.<sub>.ghe.com (GHE.com data
 * residency) → <sub>.ghe.com, GHES host/api/v3 → host.
 */
export function serverUrlFromApiUrl(apiUrl: string): string {
  // Never throws: a malformed GITHUB_API_URL should fail the store (a warning), not construction.
  if (!URL.canParse(apiUrl)) return apiUrl.replace(/\/+$/, '').replace(/\/api\/v3$/, '')
  const url = new URL(apiUrl)
  if (url.hostname === 'api.github.com') return 'https://github.com'
  if (url.hostname.startsWith('api.') && url.hostname.endsWith('.ghe.com')) {
    return `${url.protocol}//${url.hostname.slice('api.'.length)}`
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '').replace(/\/api\/v3$/, '')}`
}

function splitRepository(repository: string): { owner: string; repo: string } | undefined {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(repository.trim())
  return m ? { owner: m[1], repo: m[2] } : undefined
}

export class GitHubAttestationStore implements AttestationStore {
  readonly repository: string
  readonly apiUrl: string
  readonly serverUrl: string
  private readonly token: string
  private readonly options: GitHubAttestationStoreOptions

  constructor(options: GitHubAttestationStoreOptions) {
    this.options = options
    this.token = (options.token ?? '').trim()
    this.repository = options.repository.trim()
    // Octokit joins baseUrl and the route as strings: a trailing slash would make `//repos`.
    this.apiUrl = (options.apiUrl?.trim() || DEFAULT_API_URL).replace(/\/+$/, '')
    this.serverUrl = (options.serverUrl?.trim() || serverUrlFromApiUrl(this.apiUrl)).replace(
      /\/+$/,
      '',
    )
  }

  async store(bundle: SerializedBundle, subjectDigest: string): Promise<StoredAttestation> {
    const base = { subjectDigest, repository: this.repository, apiUrl: this.apiUrl }
    const target = splitRepository(this.repository)
    if (!target) {
      throw new AttestationStoreError({
        ...base,
        kind: 'invalid-repository',
        message: `repository "${this.repository}" is not owner/repo`,
        attempts: 0,
      })
    }
    if (!this.token) {
      // Octokit throws on an empty token, and an anonymous request could only earn a 401.
      throw new AttestationStoreError({
        ...base,
        kind: 'no-token',
        message: 'no GitHub token',
        attempts: 0,
      })
    }

    const logger = this.options.logger
    const timeoutMs = this.options.timeoutMs ?? DEFAULTS.timeoutMs
    let attempts = 0
    try {
      // No `request` option here: it would replace @actions/github's proxy-aware fetch (Octokit
      // merges constructor options shallowly). That fetch picks its proxy for GITHUB_API_URL when
      // @actions/github loads, which in a run is this apiUrl. The per-request signal merges deeply.
      const octokit = (this.options.api ?? octokitApi)({
        token: this.token,
        baseUrl: this.apiUrl,
        userAgent: USER_AGENT,
        ...(logger && {
          log: {
            debug: (m: string) => logger.debug(m),
            info: (m: string) => logger.debug(m),
            warn: (m: string) => logger.warning(m),
            error: (m: string) => logger.warning(m),
          },
        }),
      })
      const response = await withRetry(
        async () => {
          attempts++
          return octokit.request(CREATE_ROUTE, {
            owner: target.owner,
            repo: target.repo,
            // Parameters not in the URL make up the JSON body: `{"bundle": …}`.
            bundle,
            headers: { 'x-github-api-version': API_VERSION },
            request: { signal: AbortSignal.timeout(timeoutMs) },
          })
        },
        {
          retries: this.options.retries ?? DEFAULTS.retries,
          minDelayMs: this.options.minRetryDelayMs ?? DEFAULTS.minRetryDelayMs,
          maxTotalMs: MAX_TOTAL_MS,
          budget: this.options.budget,
          service: `the GitHub API (${displayURL(this.apiUrl)})`,
          classify: classifyGitHubOutcome,
          // An Octokit response has already been read; there is no body to release.
          release: () => undefined,
          onRetry: ({ attempt, delayMs, reason }) => {
            if (this.options.budget) return
            logger?.debug(
              `GitHub attestations API: ${reason}; retry ${attempt} for ${subjectDigest} in ${delayMs} ms`,
            )
          },
        },
      )
      const id = attestationId(response.data)
      return id === undefined
        ? {}
        : { id, url: `${this.serverUrl}/${target.owner}/${target.repo}/attestations/${id}` }
    } catch (err) {
      throw toStoreError(err, { ...base, attempts, timeoutMs })
    }
  }
}

/**
 * An API answer's JSON: Octokit parses it, but hands over a string body when a proxy dropped the
 * JSON content type. Undefined for a string that is not JSON.
 */
export function jsonBody(data: unknown): unknown {
  if (typeof data !== 'string') return data
  try {
    return JSON.parse(data) as unknown
  } catch {
    return undefined
  }
}

/** 201 `{"id": 123}`. */
function attestationId(data: unknown): number | undefined {
  const id = (jsonBody(data) as { id?: unknown } | null | undefined)?.id
  return typeof id === 'number' ? id : undefined
}

/**
 * Reads an Octokit RequestError by shape (its class lives in a package we do not depend on).
 * Octokit reports a network failure as status 500 *without* a response: only a response means
 * GitHub answered.
 */
export function httpFailure(
  err: unknown,
): { status: number; headers: Record<string, string | undefined>; message?: string } | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const { status, response } = err as { status?: unknown; response?: unknown }
  if (typeof status !== 'number' || typeof response !== 'object' || response === null) {
    return undefined
  }
  const { headers, data } = response as { headers?: unknown; data?: unknown }
  let message: string | undefined
  if (typeof data === 'object' && data !== null && 'message' in data) {
    message = String(data.message)
  } else if (typeof data === 'string' && data.trim() !== '') {
    message = data.trim().slice(0, 500)
  }
  return {
    status,
    headers:
      typeof headers === 'object' && headers !== null ? (headers as Record<string, string>) : {},
    message,
  }
}

/** GitHub's secondary rate limits answer 403 (or 429) with Retry-After or remaining=0. */
export function isRateLimit(failure: {
  status: number
  headers: Record<string, string | undefined>
  message?: string
}): boolean {
  if (failure.status === 429) return true
  if (failure.status !== 403) return false
  return (
    failure.headers['retry-after'] !== undefined ||
    failure.headers['x-ratelimit-remaining'] === '0' ||
    /rate limit/i.test(failure.message ?? '')
  )
}

/**
 * GitHub's classifier for the one retry policy: Octokit throws every answer that is not a success,
 * so only errors are retried: rate limits (waiting for Retry-After or the reset), 408, 429 and 5xx,
 * and failed connections.
 */
export function classifyGitHubOutcome(
  outcome: { value: unknown } | { error: unknown },
  now: number,
): RetryVerdict {
  return 'error' in outcome ? classifyGitHubError(outcome.error, now) : { retry: false }
}

function classifyGitHubError(err: unknown, now: number): RetryVerdict {
  const failure = httpFailure(err)
  if (!failure) return { retry: isRetryableError(err), reason: rootMessage(err) }
  const reason = `HTTP ${failure.status}${failure.message ? ` (${failure.message})` : ''}`
  let retryAfterMs = parseRetryAfter(failure.headers['retry-after'], now)
  if (isRateLimit(failure)) {
    const reset = Number(failure.headers['x-ratelimit-reset'])
    // A reset far away exceeds the retry budget, and withRetry then gives up at once.
    if (retryAfterMs === undefined && failure.headers['x-ratelimit-remaining'] === '0' && reset) {
      retryAfterMs = Math.max(0, reset * 1000 - now)
    }
    return { retry: true, retryAfterMs, reason }
  }
  return { retry: isRetryableStatus(failure.status), retryAfterMs, reason }
}

/**
 * The useful part of a transport failure. Octokit's top message is often "fetch failed" or
 * "Unknown Error" (it reads the cause only when that is an `instanceof Error`, which a DOMException
 * or an error from another realm is not), so walk the cause chain by shape.
 */
export function transportDetail(err: unknown, timeoutMs: number): string {
  let message: string | undefined
  let code: string | undefined
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 8; depth++) {
    const { name, message: m, code: c, cause, errors } = e as Record<string, unknown>
    if (name === 'TimeoutError') return `no answer within ${timeoutMs} ms`
    if (typeof m === 'string' && m !== '' && m !== 'fetch failed' && m !== 'Unknown Error') {
      message = m
    }
    if (typeof c === 'string') code = c
    // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
    e = cause ?? (Array.isArray(errors) ? (errors[0] as unknown) : undefined)
  }
  message ??= rootMessage(err)
  return code && !message.includes(code) ? `${message} (${code})` : message
}

// GitHub's wording for a plan or repository-type limit, e.g. "Feature not available for
// user-owned private repositories." Its message is passed on as is: it is the precise one.
export const PLAN_LIMIT = /not available|user-owned private|upgrade|\bplan\b|enterprise cloud/i
export const NOT_ACCESSIBLE = /resource not accessible|must have admin|permission/i

function toStoreError(
  err: unknown,
  context: {
    subjectDigest: string
    repository: string
    apiUrl: string
    attempts: number
    timeoutMs: number
  },
): AttestationStoreError {
  const { subjectDigest, repository, apiUrl, attempts } = context
  const base = { subjectDigest, repository, apiUrl, attempts }
  if (err instanceof AttestationStoreError) return err
  const failure = httpFailure(err)
  if (!failure) {
    const networkish = isRetryableError(err) || (err as { status?: unknown })?.status === 500
    return new AttestationStoreError({
      ...base,
      kind: networkish ? 'network' : 'unexpected',
      message: transportDetail(err, context.timeoutMs),
      cause: err,
    })
  }
  const { status, message } = failure
  let kind: StoreFailureKind
  if (message && PLAN_LIMIT.test(message) && !isRateLimit(failure)) kind = 'plan'
  else if (status === 401) kind = 'bad-credentials'
  else if (isRateLimit(failure)) kind = 'rate-limited'
  else if (status === 403 || (status === 404 && message && NOT_ACCESSIBLE.test(message))) {
    kind = 'permission'
  } else if (status === 404) kind = 'not-found'
  else if (status >= 500) kind = 'server'
  else kind = 'rejected'
  return new AttestationStoreError({
    ...base,
    kind,
    status,
    githubMessage: message,
    message: `HTTP ${status}${message ? `: ${message}` : ''}`,
    cause: err,
  })
}

const TOKEN_HINT =
  'Pass a token in the `github-token` input (its default, `${{ github.token }}`, works when the ' +
  'job has `permissions: attestations: write`).'
const PERMISSION_HINT =
  "Add `attestations: write` to the job's `permissions:` (once `permissions:` is set, every " +
  'scope not listed there is none), or pass a token that has it in `github-token`.'

/**
 * One warning line for a failed store: what GitHub said and what to change. The caller logs it
 * with core.warning; signing has already succeeded, so the step does not fail.
 */
export function describeStoreFailure(err: unknown): string {
  const e = err instanceof AttestationStoreError ? err : undefined
  const subject = e ? ` for ${e.subjectDigest}` : ''
  const where = e ? ` in ${e.repository}` : ''
  const head = `GitHub artifact attestation${subject} not stored${where}`
  const said = e?.githubMessage ? ` GitHub said: "${e.githubMessage}".` : ''
  const status = e?.status !== undefined ? ` (HTTP ${e.status})` : ''
  if (!e) {
    return `${head}: ${rootMessage(err)}. Set \`github-attestations: false\` to skip this step.`
  }
  switch (e.kind) {
    case 'no-token':
      return `${head}: no GitHub token. ${TOKEN_HINT}`
    case 'invalid-repository':
      return `${head}: GITHUB_REPOSITORY "${e.repository}" is not owner/repo.`
    case 'bad-credentials':
      return `${head}: GitHub rejected the token${status}.${said} Check the \`github-token\` input; it needs \`attestations: write\` on this repository.`
    case 'permission':
      return `${head}: the token may not write attestations${status}.${said} ${PERMISSION_HINT}`
    case 'plan':
      return (
        `${head}${status}.${said} Artifact attestations are available for public repositories, ` +
        'and for private or internal ones on GitHub Enterprise Cloud only; set ' +
        '`github-attestations: false` to stop trying.'
      )
    case 'not-found':
      return (
        `${head}: ${e.apiUrl} answered 404 for the attestations endpoint.${said} Either the ` +
        'repository is not visible to the token (it needs `attestations: write`), or this server ' +
        'has no artifact attestations API (GitHub Enterprise Server does not offer it).'
      )
    case 'rate-limited':
      return `${head}: rate limited by GitHub${status} after ${e.attempts} attempt(s).${said} Try again later.`
    case 'server':
      return `${head}: ${e.apiUrl} kept failing${status} after ${e.attempts} attempt(s).${said}`
    case 'rejected':
      return `${head}: GitHub rejected the bundle${status}.${said}`
    case 'network':
      return (
        `${head}: no answer from ${e.apiUrl} after ${e.attempts} attempt(s): ${e.message}. ` +
        "Check GITHUB_API_URL and the runner's proxy settings (HTTPS_PROXY, NO_PROXY)."
      )
    case 'unexpected':
      return `${head}: ${e.message}`
  }
}

/**
 * The store for this workflow run, or undefined outside one (no GITHUB_REPOSITORY): the caller
 * warns that `github-attestations` needs a GitHub Actions run. A missing token still yields a
 * store, whose failure then explains the `github-token` input in the usual words.
 */
export function attestationsStoreFromEnv(
  env: NodeJS.ProcessEnv,
  token: string | undefined,
  api?: GitHubApiFactory,
  budget?: RetryBudget,
): GitHubAttestationStore | undefined {
  const repository = env.GITHUB_REPOSITORY?.trim()
  if (!repository || !splitRepository(repository)) return undefined
  return new GitHubAttestationStore({
    api,
    token: token ?? '',
    repository,
    apiUrl: env.GITHUB_API_URL || undefined,
    serverUrl: env.GITHUB_SERVER_URL || undefined,
    budget,
  })
}

/**
 * store() that never rejects: a failure is logged as a warning and yields undefined, so a caller
 * cannot turn it into a failed step by forgetting a catch.
 */
export async function storeOrWarn(
  store: AttestationStore,
  bundle: SerializedBundle,
  subjectDigest: string,
  logger: Logger,
): Promise<StoredAttestation | undefined> {
  try {
    return await store.store(bundle, subjectDigest)
  } catch (err) {
    logger.warning(describeStoreFailure(err))
    return undefined
  }
}
