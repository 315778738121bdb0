/**
 * The workflow's OIDC token, as `@actions/core`'s getIDToken fetches it, without @actions/core so
 * that the signing code runs outside the runner too (the demo, the benchmark).
 */
import { SignetError } from '../errors'

export interface IdentityProvider {
  getToken(): Promise<string>
}

const NO_TOKEN_HINT =
  'keyless signing needs the workflow OIDC token: add `permissions: id-token: write` to the job ' +
  '(pull requests from forks never get one; sign on push, or use `key`)'

export interface GitHubOidcOptions {
  /** `sigstore`, as Fulcio expects. */
  audience?: string
  /**
   * Called with the token as soon as it is fetched, before anything can print it; in the action
   * this is the runner's `::add-mask::` (Logger.mask), as `core.getIDToken` masks its token.
   */
  mask?: (secret: string) => void
}

export class GitHubOidcProvider implements IdentityProvider {
  private token?: Promise<string>
  private readonly audience: string
  private readonly mask: (secret: string) => void

  constructor(
    private readonly env: NodeJS.ProcessEnv = process.env,
    options: GitHubOidcOptions = {},
  ) {
    this.audience = options.audience ?? 'sigstore'
    this.mask = options.mask ?? (() => undefined)
  }

  /** True when the runner offers a token (the job has `id-token: write`). */
  available(): boolean {
    return Boolean(this.env.ACTIONS_ID_TOKEN_REQUEST_URL && this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
  }

  preflight(): void {
    if (!this.available())
      throw new SignetError('OIDC_UNAVAILABLE', NO_TOKEN_HINT, { input: 'key' })
  }

  async getToken(): Promise<string> {
    // One token per run: Fulcio is asked once, and the runner's endpoint is not hammered.
    this.token ??= this.fetchToken()
    return this.token
  }

  private async fetchToken(): Promise<string> {
    this.preflight()
    const url = new URL(this.env.ACTIONS_ID_TOKEN_REQUEST_URL as string)
    url.searchParams.append('audience', this.audience)
    let lastError: unknown
    for (let attempt = 0; attempt < 4; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 250 * 2 ** attempt))
      try {
        const response = await fetch(url, {
          headers: {
            Accept: 'application/json',
            Authorization: `Bearer ${this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN}`,
          },
        })
        if (response.status >= 500 || response.status === 429) {
          lastError = new Error(`HTTP ${response.status}`)
          continue
        }
        if (!response.ok) {
          throw new SignetError(
            'OIDC_UNAVAILABLE',
            `the runner refused an OIDC token (HTTP ${response.status}); ${NO_TOKEN_HINT}`,
            { input: 'key' },
          )
        }
        const body = (await response.json()) as { value?: unknown }
        if (typeof body.value !== 'string' || body.value.split('.').length !== 3) {
          throw new SignetError('OIDC_UNAVAILABLE', 'the runner answered without an OIDC token', {
            input: 'key',
          })
        }
        // Masked before it leaves this function: whatever logs it later logs ***.
        this.mask(body.value)
        return body.value
      } catch (err) {
        if (err instanceof SignetError) throw err
        lastError = err
      }
    }
    throw new SignetError(
      'OIDC_UNAVAILABLE',
      `could not fetch the workflow OIDC token: ${String(lastError)}`,
      {
        input: 'key',
        cause: lastError,
      },
    )
  }
}

/** The JWT's claims, unverified: Fulcio verifies the token; we only read what we report. */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const part = token.split('.')[1]
  if (!part) throw new SignetError('OIDC_UNAVAILABLE', 'the OIDC token is not a JWT')
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>
}

/** The claim Fulcio's proof of possession signs: e-mail for e-mail issuers, else `sub`. */
export function challengeSubject(claims: Record<string, unknown>): string {
  const emailIssuers = ['https://accounts.google.com', 'https://oauth2.sigstore.dev/auth']
  const subject =
    typeof claims.iss === 'string' && emailIssuers.includes(claims.iss) ? claims.email : claims.sub
  if (typeof subject !== 'string' || subject === '') {
    throw new SignetError('OIDC_UNAVAILABLE', 'the OIDC token has no subject')
  }
  return subject
}
