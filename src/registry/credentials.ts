/**
 * Where registry credentials come from, in the order a workflow author expects:
 *   1. the `registry-username` / `registry-password` inputs, for the registries named in `images`;
 *   2. the Docker config (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`) as
 *      `docker login` and docker/login-action write it: `credHelpers`, `credsStore`, `auths`;
 *   3. `github-token` for ghcr.io;
 *   4. anonymous.
 * The Docker config beats github-token because a workflow that ran docker/login-action for ghcr.io
 * (often with a PAT that can write packages the GITHUB_TOKEN cannot) meant those credentials.
 */
import type * as ChildProcess from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { canonicalRegistryHost, isDockerHubHost } from './reference'

export interface Credential {
  username?: string
  password?: string
  /** An OAuth2 refresh token (Docker's `identitytoken`), exchanged at the token realm. */
  identityToken?: string
  /** A bearer token to send as is (Docker's `registrytoken`). */
  registryToken?: string
  /** Where it came from, for messages ("docker config /home/runner/.docker/config.json"). */
  source: string
}

export interface CredentialProvider {
  /** Credentials for a registry API host (host[:port]), or undefined to go anonymously. */
  get(host: string): Promise<Credential | undefined>
}

/** Goes anonymously everywhere. */
export const anonymousCredentials: CredentialProvider = { get: async () => undefined }

/** A fixed map host → credential (tests, or callers that resolved credentials themselves). */
export function staticCredentials(
  map: Record<string, { username: string; password: string }>,
): CredentialProvider {
  return {
    get: async (host) => {
      const c = map[host]
      return c ? { ...c, source: 'static credentials' } : undefined
    },
  }
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin. */
export type CredentialHelperRunner = (
  helper: string,
  serverUrl: string,
) => Promise<{ Username?: string; Secret?: string } | undefined>

export interface CredentialProviderOptions {
  /** From the `registry-username` / `registry-password` inputs. */
  explicit?: { username: string; password: string; registries: string[] }
  /** From the `github-token` input; used for ghcr.io only. */
  githubToken?: string
  /**
   * The username sent with github-token. ghcr.io checks only the token, but docker/login-action's
   * documented setup sends `github.actor`, so we do the same (GITHUB_ACTOR), and fall back to
   * `x-access-token` (GitHub's conventional name for token auth) outside Actions.
   */
  githubActor?: string
  /** Directory holding config.json. Default: $DOCKER_CONFIG, else ~/.docker. */
  dockerConfigDir?: string
  env?: NodeJS.ProcessEnv
  runHelper?: CredentialHelperRunner
  /** Non-fatal problems (unreadable config, failing helper), for core.warning/debug. */
  log?: (message: string) => void
}

export const GHCR_HOST = 'ghcr.io'
/** The key Docker uses for Docker Hub in config.json and credential helpers. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

/**
 * What every spelling of a config key or API host reduces to: host[:port], lowercase, `:443`
 * dropped (https's default port: the same endpoint), and `docker.io` for every Docker Hub alias.
 * The same normalisation as image references (src/registry/reference.ts), so `ghcr.io:443` gets
 * ghcr.io's credentials and nothing else does; another port is another endpoint and gets none.
 */
export function normalizeRegistryKey(key: string): string {
  let host = key.trim().toLowerCase()
  host = host.replace(/^[a-z][a-z0-9+.-]*:\/\//, '')
  host = host.replace(/\/.*$/, '')
  return isDockerHubHost(host) ? 'docker.io' : canonicalRegistryHost(host)
}

interface DockerAuthEntry {
  auth?: string
  username?: string
  password?: string
  identitytoken?: string
  registrytoken?: string
}

interface DockerConfig {
  auths?: Record<string, DockerAuthEntry>
  credHelpers?: Record<string, string>
  credsStore?: string
}

/** `docker-credential-<helper> get`: stdin = server URL, stdout = {ServerURL, Username, Secret}. */
export const runCredentialHelper = (
  helper: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ Username?: string; Secret?: string } | undefined> =>
  new Promise((resolve, reject) => {
    if (!/^[A-Za-z0-9._-]+$/.test(helper)) {
      reject(new Error(`invalid credential helper name "${helper}"`))
      return
    }
    // Required here: most runs start no helper, and loading child_process was a cost of every
    // run's start-up (issue 11).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { execFile } = require('node:child_process') as typeof ChildProcess
    const child = execFile(
      `docker-credential-${helper}`,
      ['get'],
      { timeout: 30_000, maxBuffer: 1 << 20, env },
      (err, stdout, stderr) => {
        if (err) {
          const text = `${stdout}${stderr}`
          // The helper protocol's "nothing stored for this server" answer, not a failure.
          if (/credentials not found/i.test(text)) return resolve(undefined)
          const code = (err as { code?: unknown }).code
          if (code === 'ENOENT') {
            return reject(new Error(`docker-credential-${helper} is not on PATH`))
          }
          return reject(
            new Error(`docker-credential-${helper} get failed: ${text.trim() || err.message}`),
          )
        }
        try {
          resolve(JSON.parse(stdout) as { Username?: string; Secret?: string })
        } catch {
          reject(new Error(`docker-credential-${helper} get printed something that is not JSON`))
        }
      },
    )
    child.stdin?.end(serverUrl)
  })

function fromEntry(entry: DockerAuthEntry, source: string): Credential | undefined {
  const c: Credential = { source }
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon > 0) {
      c.username = decoded.slice(0, colon)
      c.password = decoded.slice(colon + 1)
    }
  }
  if (entry.username) c.username = entry.username
  if (entry.password) c.password = entry.password
  if (entry.identitytoken) c.identityToken = entry.identitytoken
  if (entry.registrytoken) c.registryToken = entry.registrytoken
  const usable = (c.username && c.password) || c.identityToken || c.registryToken
  return usable ? c : undefined
}

/** The Docker credentials for `host` from a parsed config.json (helpers run through `runHelper`). */
export async function dockerConfigCredential(
  config: DockerConfig,
  host: string,
  source: string,
  runHelper: CredentialHelperRunner,
  log: (message: string) => void = () => undefined,
): Promise<Credential | undefined> {
  const want = normalizeRegistryKey(host)
  const hub = want === 'docker.io'
  // The server URL Docker itself would pass: the legacy v1 URL for Hub, the host otherwise.
  const serverUrl = hub ? DOCKER_HUB_AUTH_KEY : host

  const viaHelper = async (helper: string): Promise<Credential | undefined> => {
    try {
      const answer = await runHelper(helper, serverUrl)
      if (!answer?.Secret) return undefined
      // Helpers mark an identity (refresh) token with this username.
      if (answer.Username === '<token>') {
        return { identityToken: answer.Secret, source: `docker-credential-${helper}` }
      }
      if (!answer.Username) return undefined
      return {
        username: answer.Username,
        password: answer.Secret,
        source: `docker-credential-${helper}`,
      }
    } catch (err) {
      log(
        `could not get credentials for ${host} from a credential helper: ${(err as Error).message}`,
      )
      return undefined
    }
  }

  const helpers = config.credHelpers ?? {}
  const helperKey = Object.keys(helpers).find((k) => normalizeRegistryKey(k) === want)
  if (helperKey !== undefined && helpers[helperKey]) {
    // Docker uses only the named helper for this host; so do we.
    return viaHelper(helpers[helperKey])
  }
  if (config.credsStore) {
    const found = await viaHelper(config.credsStore)
    if (found) return found
  }

  const auths = config.auths ?? {}
  // An exact key beats a normalised match, as in Docker (keys differing only in scheme or path are
  // otherwise the same registry).
  const exact = [host, `https://${host}`, `http://${host}`, ...(hub ? [DOCKER_HUB_AUTH_KEY] : [])]
  const keys = [
    ...exact.filter((k) => k in auths),
    ...Object.keys(auths).filter((k) => !exact.includes(k) && normalizeRegistryKey(k) === want),
  ]
  for (const key of keys) {
    const entry = auths[key]
    const c = entry && fromEntry(entry, source)
    if (c) return c
  }
  return undefined
}

/** The provider Signet uses: explicit inputs, Docker config, github-token for ghcr.io, anonymous. */
export function createCredentialProvider(
  options: CredentialProviderOptions = {},
): CredentialProvider {
  const env = options.env ?? process.env
  const log = options.log ?? (() => undefined)
  const runHelper: CredentialHelperRunner =
    options.runHelper ?? ((helper, serverUrl) => runCredentialHelper(helper, serverUrl, env))
  const configDir = options.dockerConfigDir ?? env.DOCKER_CONFIG ?? join(homedir(), '.docker')
  const configPath = join(configDir, 'config.json')
  const explicitHosts = new Set((options.explicit?.registries ?? []).map(normalizeRegistryKey))

  let config: Promise<DockerConfig | undefined> | undefined
  const loadConfig = (): Promise<DockerConfig | undefined> =>
    (config ??= readFile(configPath, 'utf8').then(
      (text) => {
        try {
          return JSON.parse(text) as DockerConfig
        } catch {
          log(`ignoring ${configPath}: it is not valid JSON`)
          return undefined
        }
      },
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') log(`could not read ${configPath}: ${err.message}`)
        return undefined
      },
    ))

  // Credential helpers can be slow (and some prompt a keychain): ask once per host.
  const cache = new Map<string, Promise<Credential | undefined>>()

  const resolve = async (host: string): Promise<Credential | undefined> => {
    const key = normalizeRegistryKey(host)
    const explicit = options.explicit
    if (explicit && explicit.username && explicit.password && explicitHosts.has(key)) {
      return {
        username: explicit.username,
        password: explicit.password,
        source: 'the registry-username and registry-password inputs',
      }
    }
    const parsed = await loadConfig()
    if (parsed) {
      const c = await dockerConfigCredential(
        parsed,
        host,
        `docker config ${configPath}`,
        runHelper,
        log,
      )
      if (c) return c
    }
    if (key === GHCR_HOST && options.githubToken) {
      return {
        username: options.githubActor || env.GITHUB_ACTOR || 'x-access-token',
        password: options.githubToken,
        source: 'the github-token input',
      }
    }
    return undefined
  }

  return {
    get(host) {
      const key = host.toLowerCase()
      let hit = cache.get(key)
      if (!hit) {
        hit = resolve(host)
        cache.set(key, hit)
      }
      return hit
    },
  }
}
