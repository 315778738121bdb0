/**
 * Reads GitHub's artifact attestations of an image digest, for verify mode with
 * `github-attestations: true`. actions/attest stores its bundles there by default (not in the
 * registry), and `gh attestation verify` reads them from the same endpoints:
 *  - `GET /orgs/{org}/attestations/{subject_digest}` (what `gh attestation verify --owner` calls),
 *  - `GET /users/{username}/attestations/{subject_digest}` (the same for a user account),
 *  - `GET /repos/{owner}/{repo}/attestations/{subject_digest}` (`--repo`),
 * each answering `{"attestations": [{"bundle": {…}, "repository_id": …, "bundle_url": …}]}`,
 * paged with a `Link: <…>; rel="next"` cursor, and 404 when there are none.
 *
 * Nothing read here is trusted: each bundle joins the image's discovered bundles and is verified
 * like a registry referrer, against the rule's signers and the trust roots (the public-good root
 * for public repositories; GitHub's own instance, given through `trusted-root`, for private ones).
 *
 * Bounded like registry discovery: every byte read counts against the image's discovery budget
 * (the caller's `charge`), and pages and attestations are capped. The token goes to GITHUB_API_URL
 * only (a next-page link elsewhere is not followed) and never into a message.
 */
import { SignetError, isSignetError } from '../errors'
import { INPUT } from '../inputs'
import { registryText } from '../registry/client'
import { displayURL, isRetryableError, rootMessage, withRetry, type RetryBudget } from '../retry'
import { registryLimit } from '../registry/types'
import type { Logger } from '../report/types'
import { octokitApi, type GitHubApi, type GitHubApiFactory } from './api'
import {
  API_VERSION,
  DEFAULT_API_URL,
  NOT_ACCESSIBLE,
  USER_AGENT,
  classifyGitHubOutcome,
  httpFailure,
  jsonBody,
  isRateLimit,
  transportDetail,
} from './attestation-store'

/** Attestations of one digest read from GitHub, over all pages; more fail the image. */
export const MAX_GITHUB_ATTESTATIONS = 100
/** Pages of one listing followed; a listing that pages on past this fails the image. */
export const MAX_GITHUB_ATTESTATION_PAGES = 10
/** GitHub's largest page. */
const PER_PAGE = 100
// GitHub's numbers on the one policy: fewer retries than a registry's, from a longer first wait
// (the policy's 10 s ceiling on one wait holds).
const DEFAULTS = { retries: 2, minRetryDelayMs: 1000, timeoutMs: 30_000 }
// A verify run waits on this per image: past it, the failure is more useful than a wait.
const MAX_TOTAL_MS = 60_000

// GitHub's rules for account names (letters, digits, single hyphens) and repository names.
const OWNER_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
const REPO_RE = /^[A-Za-z0-9._-]{1,100}$/

/** Where to ask: an account (organisation or user), or one repository of it. */
export interface GitHubOwner {
  owner: string
  repo?: string
}

/**
 * The `github-attestations-owner` input: `owner` (an organisation or user) or `owner/repo`.
 * Throws INPUT_INVALID naming the input.
 */
export function parseOwnerInput(text: string): GitHubOwner {
  const value = text.trim()
  const [owner, repo, ...rest] = value.split('/')
  if (
    rest.length === 0 &&
    OWNER_RE.test(owner ?? '') &&
    (repo === undefined || (REPO_RE.test(repo) && repo !== '.' && repo !== '..'))
  ) {
    return repo === undefined ? { owner } : { owner, repo }
  }
  throw new SignetError(
    'INPUT_INVALID',
    `input ${INPUT.githubAttestationsOwner}: expected a GitHub user or organisation (e.g. octo-org) ` +
      `or owner/repo, got ${JSON.stringify(registryText(value, 100))}`,
    { input: INPUT.githubAttestationsOwner },
  )
}

/**
 * Whose attestations to read for an image (`registry/repository`): the input when given, else
 * the owner in a ghcr.io name (`ghcr.io/<owner>/…`, GitHub's container registry names images by
 * their account). Undefined when neither says: there is then nowhere to look.
 */
export function ownerFor(imageName: string, input?: string): GitHubOwner | undefined {
  if (input?.trim()) return parseOwnerInput(input)
  const m = /^ghcr\.io(?::443)?\/([^/]+)\/./i.exec(imageName)
  return m && OWNER_RE.test(m[1]) ? { owner: m[1] } : undefined
}

function describeOwner(where: GitHubOwner): string {
  return where.repo ? `${where.owner}/${where.repo}` : where.owner
}

/** One bundle as GitHub listed it, for discovery to add to the image's bundles. */
export interface GitHubFoundBundle {
  /** `github:<owner>/attestations/<id>` (or `…/<digest>#<n>` when GitHub gives no id). */
  reference: string
  /** The bundle JSON, unverified. */
  json: unknown
}

export interface GitHubLookupRequest {
  /** The image's `registry/repository`: on ghcr.io, its owner is where to look. */
  name: string
  /** `sha256:…` */
  digest: string
  /**
   * Charges the image's discovery byte budget before (or as) bytes are read; throws
   * REGISTRY_LIMIT past it, which fails the image.
   */
  charge: (bytes: number, what: string) => void
  /**
   * A rule requires attestations of this image. A failed lookup then fails the image (an unread
   * attestation could be the one the rule needs, or one with a banned component); otherwise it
   * is a warning and a note (what is missing can then only fail the image, never pass it).
   */
  required: boolean
}

export interface GitHubLookup {
  bundles: GitHubFoundBundle[]
  /** For the report: no owner, none found, entries set aside, a failure that was not fatal. */
  notes: string[]
}

export interface GitHubAttestationSource {
  /** The API base URL asked (GITHUB_API_URL). */
  readonly apiUrl: string
  /**
   * The attestations GitHub holds for the digest. Throws GitHubAttestationLookupError when the
   * lookup fails and `required` is set, and REGISTRY_LIMIT over a limit whatever `required` says.
   */
  lookup(request: GitHubLookupRequest): Promise<GitHubLookup>
}

export type LookupFailureKind =
  | 'no-token'
  | 'bad-credentials'
  | 'permission'
  | 'rate-limited'
  | 'server'
  | 'network'
  | 'unexpected'

export class GitHubAttestationLookupError extends Error {
  override readonly name = 'GitHubAttestationLookupError'
  readonly kind: LookupFailureKind
  readonly status?: number
  override readonly cause?: unknown

  constructor(kind: LookupFailureKind, message: string, status?: number, cause?: unknown) {
    super(message)
    this.kind = kind
    this.status = status
    this.cause = cause
  }
}

export interface GitHubAttestationSourceOptions {
  /** Makes the Octokit: the front door's (the action's brings the runner's proxy); default plain. */
  api?: GitHubApiFactory
  /** The `github-token` input. Empty: every lookup fails with a no-token error, without a request. */
  token: string
  /** The `github-attestations-owner` input: checked here, so bad input fails before any network. */
  owner?: string
  /** GITHUB_API_URL; default https://api.github.com. */
  apiUrl?: string
  log: Logger
  /** Retries after the first attempt, for 429/5xx/network failures. Default 2. */
  retries?: number
  /** Lower bound of the backoff between attempts. Default 1 s; tests shorten it. */
  minRetryDelayMs?: number
  /** Per request. Default 30 s. */
  timeoutMs?: number
  /**
   * The run's retry budget (`retry-timeout`): when given, it bounds the retries (and logs them)
   * instead of `retries` and the 60 s total.
   */
  budget?: RetryBudget
}

/** The source for one verify run, created once from the inputs (before any network). */
export function createGitHubAttestationSource(
  options: GitHubAttestationSourceOptions,
): GitHubAttestationSource {
  const input = options.owner?.trim() || undefined
  if (input) parseOwnerInput(input)
  return new ApiSource({ ...options, owner: input })
}

type Fetch = typeof fetch

interface Page {
  data: unknown
  link?: string
}

class ApiSource implements GitHubAttestationSource {
  readonly apiUrl: string
  private readonly token: string
  private readonly base: URL
  private octokit?: GitHubApi
  /** Warnings already given, so a GitHub outage is one warning, not one per image. */
  private readonly warned = new Set<string>()

  constructor(private readonly options: GitHubAttestationSourceOptions) {
    this.token = options.token.trim()
    // Octokit joins baseUrl and the route as strings: a trailing slash would make `//orgs`.
    this.apiUrl = (options.apiUrl?.trim() || DEFAULT_API_URL).replace(/\/+$/, '')
    this.base = new URL(URL.canParse(this.apiUrl) ? this.apiUrl : DEFAULT_API_URL)
  }

  async lookup(request: GitHubLookupRequest): Promise<GitHubLookup> {
    const where = ownerFor(request.name, this.options.owner)
    if (!where) {
      return {
        bundles: [],
        notes: [
          `not looked up in GitHub's artifact attestations: ${registryText(request.name, 200)} is ` +
            `not a ghcr.io image; set ${INPUT.githubAttestationsOwner} to name its owner`,
        ],
      }
    }
    try {
      return await this.list(where, request)
    } catch (err) {
      if (isSignetError(err)) throw err
      const failure = this.failure(err, where, request.digest)
      if (request.required) throw failure
      const key = `${describeOwner(where)}#${failure.kind}`
      if (!this.warned.has(key)) {
        this.warned.add(key)
        this.options.log.warning(
          `${failure.message} (no rule requires attestations of the image, so it is not failed for this)`,
        )
      }
      return { bundles: [], notes: [failure.message] }
    }
  }

  /** Every attestation listed, over the routes that apply (an organisation, else a user). */
  private async list(where: GitHubOwner, request: GitHubLookupRequest): Promise<GitHubLookup> {
    if (!this.token) throw new GitHubAttestationLookupError('no-token', 'no GitHub token')
    const digest = encodeURIComponent(request.digest)
    const routes = where.repo
      ? [`/repos/${where.owner}/${where.repo}/attestations/${digest}`]
      : [
          `/orgs/${where.owner}/attestations/${digest}`,
          `/users/${where.owner}/attestations/${digest}`,
        ]
    for (const route of routes) {
      const found = await this.pages(route, where, request)
      if (found) return found
    }
    // 404 from each: GitHub says so for an owner with no attestations of this digest (and for
    // one whose repositories the token cannot see).
    this.options.log.debug(
      `GitHub lists no attestations of ${request.digest} for ${describeOwner(where)}`,
    )
    return {
      bundles: [],
      notes: [
        `GitHub lists no artifact attestations of ${request.digest} for ${describeOwner(where)}`,
      ],
    }
  }

  /** The listing at `route`, all pages; undefined when its first page is a 404 (none). */
  private async pages(
    route: string,
    where: GitHubOwner,
    request: GitHubLookupRequest,
  ): Promise<GitHubLookup | undefined> {
    const bundles: GitHubFoundBundle[] = []
    const notes: string[] = []
    const label = describeOwner(where)
    let url = `${this.apiUrl}${route}?per_page=${PER_PAGE}`
    for (let page = 1; ; page++) {
      if (page > MAX_GITHUB_ATTESTATION_PAGES) {
        throw registryLimit(
          `GitHub lists more than ${MAX_GITHUB_ATTESTATION_PAGES} pages of attestations of ${request.digest} for ${label}`,
          `${MAX_GITHUB_ATTESTATION_PAGES} pages of GitHub artifact attestations`,
        )
      }
      let response: Page
      try {
        response = await this.get(
          url,
          request,
          `GitHub's attestations of ${request.digest} (page ${page})`,
        )
      } catch (err) {
        const failure = httpFailure(err)
        // 404 is GitHub's "none" (or: not an organisation, when asked as one).
        if (page === 1 && failure?.status === 404 && !NOT_ACCESSIBLE.test(failure.message ?? ''))
          return undefined
        throw err
      }
      const entries = attestationsOf(response.data)
      if (!entries) {
        throw new GitHubAttestationLookupError(
          'unexpected',
          `the answer for page ${page} is not a list of attestations`,
        )
      }
      entries.forEach((entry, i) => {
        const n = bundles.length + notes.length + 1
        const id =
          typeof entry?.id === 'number' && Number.isSafeInteger(entry.id) ? entry.id : undefined
        const reference = `github:${label}/attestations/${id ?? `${request.digest}#${n}`}`
        const bundle = entry?.bundle
        if (typeof bundle === 'object' && bundle !== null && !Array.isArray(bundle)) {
          bundles.push({ reference, json: bundle })
        } else {
          // Newer answers may carry only `bundle_url` (a compressed blob elsewhere): not read.
          notes.push(`${reference} (entry ${i + 1} of page ${page}) has no inline bundle: not read`)
        }
      })
      if (bundles.length + notes.length > MAX_GITHUB_ATTESTATIONS) {
        throw registryLimit(
          `GitHub lists more than ${MAX_GITHUB_ATTESTATIONS} attestations of ${request.digest} for ${label}`,
          `${MAX_GITHUB_ATTESTATIONS} GitHub artifact attestations`,
        )
      }
      const next = nextLink(response.link)
      if (!next) break
      url = this.sameApi(next)
    }
    this.options.log.debug(
      `GitHub lists ${bundles.length} attestation(s) of ${request.digest} for ${label}`,
    )
    return { bundles, notes }
  }

  /** A next-page link, when it stays on the API the token is for; otherwise a failure. */
  private sameApi(link: string): string {
    const url = URL.canParse(link, this.base.href) ? new URL(link, this.base) : undefined
    const prefix = this.base.pathname.replace(/\/+$/, '')
    if (!url || url.origin !== this.base.origin || !url.pathname.startsWith(`${prefix}/`)) {
      throw new GitHubAttestationLookupError(
        'unexpected',
        `the next-page link leads away from ${this.apiUrl}: not followed (the token goes there only)`,
      )
    }
    return octokitSafe(url)
  }

  private client(): GitHubApi {
    // No `request` option here: it would replace @actions/github's proxy-aware fetch (Octokit
    // merges constructor options shallowly). Each request wraps that fetch instead.
    this.octokit ??= (this.options.api ?? octokitApi)({
      token: this.token,
      baseUrl: this.apiUrl,
      userAgent: USER_AGENT,
      log: {
        debug: (m: string) => this.options.log.debug(m),
        info: (m: string) => this.options.log.debug(m),
        warn: (m: string) => this.options.log.debug(m),
        error: (m: string) => this.options.log.debug(m),
      },
    })
    return this.octokit
  }

  /** One GET with retries; every byte of every answer is charged to the image's budget. */
  private async get(url: string, request: GitHubLookupRequest, what: string): Promise<Page> {
    const octokit = this.client()
    const defaults = octokit.request.endpoint.DEFAULTS.request
    const baseFetch: Fetch = defaults?.fetch ?? fetch
    // A budget error thrown inside fetch reaches us as Octokit's generic 500: keep the original.
    let limit: SignetError | undefined
    const charged: Fetch = async (input, init) => {
      const response = await baseFetch(input, init)
      try {
        return await chargedResponse(response, (bytes) => request.charge(bytes, what))
      } catch (err) {
        if (isSignetError(err)) limit = err
        throw err
      }
    }
    const timeoutMs = this.options.timeoutMs ?? DEFAULTS.timeoutMs
    try {
      const response = await withRetry(
        () =>
          octokit.request({
            method: 'GET',
            url,
            headers: { 'x-github-api-version': API_VERSION },
            request: { fetch: charged, signal: AbortSignal.timeout(timeoutMs) },
          }),
        {
          retries: this.options.retries ?? DEFAULTS.retries,
          minDelayMs: this.options.minRetryDelayMs ?? DEFAULTS.minRetryDelayMs,
          maxTotalMs: MAX_TOTAL_MS,
          budget: this.options.budget,
          service: `the GitHub API (${displayURL(this.apiUrl)})`,
          // Over the image's budget is final, whatever status Octokit made of it.
          classify: (outcome, now) =>
            limit !== undefined ? { retry: false } : classifyGitHubOutcome(outcome, now),
          release: () => undefined,
          onRetry: ({ attempt, delayMs, reason }) => {
            if (this.options.budget) return
            this.options.log.debug(
              `GitHub attestations API: ${reason}; retry ${attempt} for ${what} in ${delayMs} ms`,
            )
          },
        },
      )
      const link = (response.headers as Record<string, string | undefined>).link
      return { data: response.data, link }
    } catch (err) {
      if (limit !== undefined) throw limit
      throw err
    }
  }

  /** A failure as one message that says what to do; never the token. */
  private failure(err: unknown, where: GitHubOwner, digest: string): GitHubAttestationLookupError {
    const head = `GitHub artifact attestations of ${digest} for ${describeOwner(where)} could not be read`
    const made = (
      kind: LookupFailureKind,
      detail: string,
      status?: number,
    ): GitHubAttestationLookupError =>
      new GitHubAttestationLookupError(kind, this.redact(`${head}: ${detail}`), status, err)
    if (err instanceof GitHubAttestationLookupError) {
      if (err.kind === 'no-token')
        return made(
          'no-token',
          `no GitHub token; pass one in \`${INPUT.githubToken}\` (its default, the job's token, ` +
            'works when the job has `permissions: attestations: read`)',
        )
      return made(err.kind, err.message, err.status)
    }
    const failure = httpFailure(err)
    if (!failure) {
      const networkish = isRetryableError(err) || (err as { status?: unknown })?.status === 500
      const detail = transportDetail(err, this.options.timeoutMs ?? DEFAULTS.timeoutMs)
      return networkish
        ? made(
            'network',
            `no answer from ${this.apiUrl}: ${registryText(detail, 200)}. Check GITHUB_API_URL ` +
              "and the runner's proxy settings",
          )
        : made('unexpected', registryText(rootMessage(err), 200))
    }
    const { status } = failure
    const said = failure.message ? ` GitHub said: "${registryText(failure.message, 200)}".` : ''
    if (status === 401)
      return made(
        'bad-credentials',
        `GitHub rejected the token (HTTP 401).${said} Check the \`${INPUT.githubToken}\` input`,
        status,
      )
    if (isRateLimit(failure))
      return made('rate-limited', `rate limited by GitHub (HTTP ${status}).${said}`, status)
    if (status === 403 || status === 404)
      return made(
        'permission',
        `the token may not read them (HTTP ${status}).${said} Add \`attestations: read\` to the ` +
          `job's \`permissions:\`, or pass a token that has it in \`${INPUT.githubToken}\``,
        status,
      )
    if (status >= 500)
      return made('server', `${this.apiUrl} kept failing (HTTP ${status}).${said}`, status)
    return made('unexpected', `HTTP ${status}.${said}`, status)
  }

  private redact(message: string): string {
    return this.token ? message.split(this.token).join('***') : message
  }
}

/**
 * A URL Octokit sends as it is. Octokit reads `:name` in a URL as a parameter (its old syntax) and
 * `{name}` as a template, so `sha256:c0ffee…` would lose its digest: those characters go
 * percent-encoded, which GitHub reads the same (the digest in the path is always encoded so).
 */
function octokitSafe(url: URL): string {
  const encode = (text: string): string =>
    text.replace(/[:{}]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `${url.origin}${encode(url.pathname)}${encode(url.search)}`
}

/** The `attestations` array of a listing; undefined when the answer is not one. */
function attestationsOf(
  data: unknown,
): { bundle?: unknown; id?: unknown; bundle_url?: unknown }[] | undefined {
  const value = jsonBody(data)
  if (typeof value !== 'object' || value === null) return undefined
  const list = (value as { attestations?: unknown }).attestations
  if (list === undefined) return []
  if (!Array.isArray(list)) return undefined
  return (list as unknown[]).map((e) =>
    typeof e === 'object' && e !== null ? (e as { bundle?: unknown; id?: unknown }) : {},
  )
}

/** The `rel="next"` target of a Link header. */
export function nextLink(header: string | undefined): string | undefined {
  if (!header) return undefined
  // Each link is `<url>` and its parameters up to the next `<` (a URL may hold commas).
  for (const [, url, params] of header.matchAll(/<([^>]*)>([^<]*)/g)) {
    if (/;\s*rel\s*=\s*(?:"(?:[^"]*\s)?next(?:\s[^"]*)?"|next)\s*(?:[;,]|$)/i.test(params))
      return url
  }
  return undefined
}

/**
 * The response with its body read here, each chunk charged as it arrives (the decoded bytes:
 * fetch undoes any gzip), so an answer past the image's budget stops being read at once.
 */
async function chargedResponse(
  response: Response,
  charge: (bytes: number) => void,
): Promise<Response> {
  const chunks: Uint8Array[] = []
  if (response.body) {
    const reader = (response.body as ReadableStream<Uint8Array>).getReader()
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        charge(value.byteLength)
        chunks.push(value)
      }
    } catch (err) {
      await reader.cancel().catch(() => undefined)
      throw err
    }
  }
  // A Response of these statuses may have no body at all.
  const empty = [101, 204, 205, 304].includes(response.status)
  return new Response(empty ? null : Buffer.concat(chunks), {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  })
}
