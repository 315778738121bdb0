/**
 * The part of an Octokit that Signet calls: `request`, and the `fetch` it was built with. The
 * front door may make the client: the action passes @actions/github's getOctokit, which brings the
 * runner's proxy settings and user agent. Without one, a plain Octokit (@octokit/core) is used, so
 * nothing under src/github/ depends on the runner and a CLI works as it is.
 */
import type { Octokit } from '@octokit/core'

/** What a request may carry beside its route: Octokit's per-request options among them. */
export interface GitHubRequestParameters {
  headers?: Record<string, string>
  /** Octokit's per-request options: merged deeply with the client's, unlike its constructor's. */
  request?: { fetch?: typeof fetch; signal?: AbortSignal }
  [parameter: string]: unknown
}

export interface GitHubResponse {
  status: number
  data: unknown
  headers: Record<string, string | number | undefined>
}

export interface GitHubRequest {
  /** `GET https://api.github.com/…` given whole, as a next-page link is. */
  (options: GitHubRequestParameters & { method: string; url: string }): Promise<GitHubResponse>
  /** A route such as `POST /repos/{owner}/{repo}/attestations`, its parameters filled in. */
  (route: string, parameters?: GitHubRequestParameters): Promise<GitHubResponse>
  /** The client's defaults: the `fetch` it was built with, which a request's own fetch wraps. */
  endpoint: { DEFAULTS: { request?: { fetch?: typeof fetch } } }
}

export interface GitHubApi {
  request: GitHubRequest
}

export interface GitHubApiOptions {
  /** Never empty: the callers refuse a missing token before asking for a client. */
  token: string
  /** GITHUB_API_URL without a trailing slash (Octokit joins it and the route as strings). */
  baseUrl: string
  userAgent: string
  /** Octokit's own messages (deprecations, its debug lines). */
  log?: {
    debug(message: string): void
    info(message: string): void
    warn(message: string): void
    error(message: string): void
  }
}

/**
 * Makes the client for one token and API. Octokit merges constructor options shallowly: a factory
 * that sets a `request` option of its own replaces the fetch it was built with (the action's is
 * proxy-aware), so the callers pass none and wrap that fetch per request instead.
 */
export type GitHubApiFactory = (options: GitHubApiOptions) => GitHubApi

/** Octokit itself: plain fetch, no runner. What a run uses when its front door gives no factory. */
export const octokitApi: GitHubApiFactory = ({ token, ...options }) => {
  // Loaded on first use: most verify runs never call GitHub, and imported, Octokit was loaded
  // before every run's first request (issue 11: start-up).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Octokit: OctokitClass } = require('@octokit/core') as { Octokit: typeof Octokit }
  return new OctokitClass({ auth: token, ...options })
}
