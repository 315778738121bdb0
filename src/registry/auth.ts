/**
 * Registry auth, as Docker and go-containerregistry do it (the distribution token protocol): a
 * request goes out anonymously (or with what we learned from this host before); a 401 names the
 * scheme (Basic, or Bearer with a token realm); we authenticate and repeat it once. Tokens are
 * cached per host, repository and access, and once a host is known to want tokens they are fetched
 * up front, which saves a 401 round trip per repository.
 *
 * Credentials go to a token realm only on the registry's own host or one of the few hosts that
 * really serve a registry's tokens (see realmMayReceiveCredentials).
 */
import { SignetError } from '../errors'
import type { Credential, CredentialProvider } from './credentials'
import {
  describeUrl,
  discard,
  parseRegistryJson,
  parseUrl,
  readLimited,
  registryMessage,
  registryText,
  type Access,
  type Exchange,
  type HttpTransport,
  type RegistryRequest,
} from './http'
import { canonicalRegistryHost, isDockerHubHost } from './reference'
import { classifyOutcome, withRetry, type RetryOptions } from '../retry'
import type { Repository } from './types'

/** A token service's answer, at most. */
const MAX_TOKEN_ANSWER_BYTES = 1024 * 1024
/** Refresh tokens a little before the registry says they expire, to survive slow requests. */
const TOKEN_EXPIRY_MARGIN_MS = 15_000
/** A bearer token as RFC 6750 allows one (token68), which is what may go into a header. */
const TOKEN_RE = /^[A-Za-z0-9\-._~+/]+=*$/

/** One parsed WWW-Authenticate challenge. */
export interface AuthChallenge {
  scheme: string
  params: Record<string, string>
}

interface CachedToken {
  authorization: string
  expiresAt: number
}

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

/**
 * What Signet has learned about each registry's auth in this run (its challenge, its tokens) and
 * the requests that use it. One per RegistryClient.
 */
export class RegistryAuth {
  /** What each host asked for on its last 401; absent = anonymous has worked so far. */
  private readonly challenges = new Map<string, AuthChallenge>()
  private readonly tokens = new Map<string, Promise<CachedToken>>()
  /** Registry host → the realm host its credentials were withheld from (for the auth error). */
  private readonly withheldFrom = new Map<string, string>()

  constructor(
    private readonly http: HttpTransport,
    private readonly credentials: CredentialProvider,
    private readonly retry: RetryOptions,
    private readonly log: (message: string) => void,
  ) {}

  /** Sends a request with the best authorization we have; on a 401, authenticates and repeats once. */
  async exchange(request: RegistryRequest): Promise<Exchange> {
    const { repo, access, mountFrom } = request
    const host = repo.registry
    const url = this.http.urlOf(request)
    const before = await this.authorization(repo, access, mountFrom)
    const first = await this.http.send(request, url, before)
    if (first.res.status !== 401) return first

    const challenge = pickChallenge(parseWwwAuthenticate(first.res.headers.get('www-authenticate')))
    if (!challenge) return first
    this.challenges.set(host.toLowerCase(), challenge)
    // The token we sent was refused: expired, revoked, or for too little scope. Get a fresh one.
    if (before) this.forgetToken(repo, access, mountFrom)
    const after = await this.authorization(repo, access, mountFrom)
    if (!after || after === before) return first
    await discard(first.res)
    return this.http.send(request, url, after)
  }

  /** The error for a 401 or 403 on `what`, saying which credentials were refused and what to do. */
  async refusal(
    repo: Repository,
    what: string,
    status: number,
    message: string,
  ): Promise<SignetError> {
    return this.authError(
      repo.registry,
      repo,
      what,
      status,
      message,
      await this.credentials.get(repo.registry),
    )
  }

  private tokenKey(repo: Repository, access: Access, mountFrom?: string): string {
    const key = `${repo.registry.toLowerCase()}|${repo.repository}|${access}`
    return mountFrom ? `${key}|mount-from:${mountFrom}` : key
  }

  private forgetToken(repo: Repository, access: Access, mountFrom?: string): void {
    this.tokens.delete(this.tokenKey(repo, access, mountFrom))
    if (access === 'pull') this.tokens.delete(this.tokenKey(repo, 'push'))
  }

  /** The Authorization header for a request, or undefined to go anonymously. */
  private async authorization(
    repo: Repository,
    access: Access,
    mountFrom?: string,
  ): Promise<string | undefined> {
    const challenge = this.challenges.get(repo.registry.toLowerCase())
    if (!challenge) return undefined
    if (challenge.scheme === 'basic') {
      const credential = await this.credentials.get(repo.registry)
      if (!credential?.username || !credential.password) return undefined
      return basic(credential)
    }
    if (challenge.scheme !== 'bearer') return undefined

    // A push token also serves pulls, and is what we fetch first when we are about to write. A
    // mount's token also grants pull on the repository mounted from: a token of its own.
    const keys = mountFrom
      ? [this.tokenKey(repo, access, mountFrom)]
      : access === 'pull'
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
    const key = this.tokenKey(repo, access, mountFrom)
    const pending = this.fetchToken(repo, access, challenge, mountFrom)
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
    mountFrom?: string,
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
    if (realm.protocol !== 'https:' && !this.http.isPlainHttp(realm.host)) {
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

    const scopes = [
      `repository:${repo.repository}:${access === 'push' ? 'pull,push' : 'pull'}`,
      ...(mountFrom ? [`repository:${mountFrom}:pull`] : []),
    ]
    // The OAuth2 form takes the scopes space-separated; the GET, one scope parameter each.
    const scope = scopes.join(' ')
    const service = challenge.params.service
    const tokenRepo: Repository = { registry: realm.host, repository: repo.repository }
    let request: RegistryRequest
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
      for (const each of scopes) url.searchParams.append('scope', each)
      request = { method: 'GET', repo: tokenRepo, url, access }
    }
    const authorization =
      !credential?.identityToken && credential?.username && credential.password
        ? basic(credential)
        : undefined

    const what = `token for ${scope} from ${realmName}`
    const token = await withRetry(
      () => this.http.send(request, request.url as URL, authorization),
      {
        service: `the token service ${realmName}`,
        ...this.retry,
        classify: (o, now) =>
          'error' in o ? classifyOutcome(o, now) : classifyOutcome({ value: o.value.res }, now),
        release: async (o) => discard(o.res),
      },
    ).then(async ({ res }) => {
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
