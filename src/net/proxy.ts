/**
 * Which proxy, if any, a request goes through: the rule of @actions/http-client (lib/proxy.js,
 * getProxyUrl and checkBypass), which every official action follows, mirrored here so that every
 * call Signet makes (registries, token realms, OIDC, Fulcio, Rekor, the TSA, TUF, GitHub's API)
 * agrees with the runner's other steps. Pure: the environment is a parameter, nothing is loaded.
 *
 * - An https: URL uses `https_proxy`, else `HTTPS_PROXY`; any other URL `http_proxy`, else
 *   `HTTP_PROXY` (the lower-case form wins, as there).
 * - Loopback hosts (`localhost`, `127.*`, `[::1]`) never go through a proxy, whatever NO_PROXY says.
 * - `no_proxy`, else `NO_PROXY`: comma-separated, case-insensitive entries; `*` bypasses everything;
 *   an entry matches the host or the `host:port` (port defaulted from the scheme) exactly, or as a
 *   suffix after a dot (`example.com` and `.example.com` both match `a.example.com`; only the
 *   former matches `example.com` itself). No CIDR ranges, no wildcards inside an entry.
 * - A proxy value without a scheme (`proxy.corp:3128`) is read as `http://<value>`. (http-client
 *   does so only when the value does not parse as a URL at all, and `proxy.corp:3128` parses, as
 *   the scheme `proxy.corp:`, which then fails every request; any value it can use means the same
 *   proxy here.) A scheme other than http: or https: is refused, naming the variable.
 */
import { SignetError } from '../errors'

export type ProxyEnv = Readonly<Record<string, string | undefined>>

/** The variables that name a proxy, in the order they are consulted per scheme. */
export const PROXY_VARIABLES = {
  https: ['https_proxy', 'HTTPS_PROXY'],
  http: ['http_proxy', 'HTTP_PROXY'],
} as const

/**
 * Whether any proxy variable is set: without one no request is proxied, and the machinery that
 * routes requests (undici's proxy agent, the hook in sigstore-js's HTTP stack) is never loaded.
 */
export function proxyConfigured(env: ProxyEnv): boolean {
  return [...PROXY_VARIABLES.https, ...PROXY_VARIABLES.http].some((name) => !!env[name])
}

/** @actions/http-client's isLoopbackAddress: by name, not by resolving it. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase()
  return (
    host === 'localhost' ||
    host.startsWith('127.') ||
    host.startsWith('[::1]') ||
    host.startsWith('[0:0:0:0:0:0:0:1]')
  )
}

/** @actions/http-client's checkBypass: true when `url` must be reached directly. */
export function bypassesProxy(url: URL, env: ProxyEnv): boolean {
  if (!url.hostname) return false
  if (isLoopbackHost(url.hostname)) return true
  const noProxy = env.no_proxy || env.NO_PROXY || ''
  if (!noProxy) return false
  let port: number | undefined
  if (url.port) port = Number(url.port)
  else if (url.protocol === 'http:') port = 80
  else if (url.protocol === 'https:') port = 443
  const host = url.hostname.toUpperCase()
  const candidates = port === undefined ? [host] : [host, `${host}:${port}`]
  return noProxy
    .split(',')
    .map((entry) => entry.trim().toUpperCase())
    .filter((entry) => entry !== '')
    .some(
      (entry) =>
        entry === '*' ||
        candidates.some(
          (c) =>
            c === entry || c.endsWith(`.${entry}`) || (entry.startsWith('.') && c.endsWith(entry)),
        ),
    )
}

function hasScheme(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value)
}

/** The proxy variable that applies to `url`'s scheme, by name, or undefined when none is set. */
export function proxyVariableFor(url: URL, env: ProxyEnv): string | undefined {
  const names = url.protocol === 'https:' ? PROXY_VARIABLES.https : PROXY_VARIABLES.http
  return names.find((name) => !!env[name])
}

/**
 * The proxy `url` goes through, or undefined to reach it directly (@actions/http-client's
 * getProxyUrl, and the `hostname` check its getAgentDispatcher adds). The URL keeps its
 * credentials percent-encoded, as written; proxyAuthorization decodes them.
 *
 * A value that is not an http(s) URL nor host[:port] fails with the variable's name: http-client
 * would hand it to undici and fail later, obscurely, on every request.
 */
export function proxyFor(url: URL, env: ProxyEnv): URL | undefined {
  if (bypassesProxy(url, env)) return undefined
  const variable = proxyVariableFor(url, env)
  if (!variable) return undefined
  const value = env[variable] as string
  let proxy: URL | undefined
  try {
    proxy = new URL(hasScheme(value) ? value : `http://${value}`)
  } catch {
    proxy = undefined
  }
  if (proxy === undefined || (proxy.protocol !== 'http:' && proxy.protocol !== 'https:')) {
    throw new SignetError(
      'INPUT_INVALID',
      `${variable} is not a proxy URL (${describeProxy(proxy) ?? 'it does not parse'}): set it ` +
        `to http://host:port (or https://), or unset it to connect directly`,
    )
  }
  return proxy.hostname ? proxy : undefined
}

/**
 * The proxy as the log may show it: scheme, host and port, never the user or password (which a
 * proxy URL may carry as user:pass@).
 */
export function describeProxy(proxy: URL | undefined): string | undefined {
  if (!proxy) return undefined
  return proxy.host ? `${proxy.protocol}//${proxy.host}` : proxy.protocol
}

/**
 * The Proxy-Authorization value for a proxy URL with credentials, as @actions/http-client builds
 * it (Basic, of the decoded user and password), or undefined without any.
 */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (!proxy.username && !proxy.password) return undefined
  const user = decodeURIComponent(proxy.username)
  const password = decodeURIComponent(proxy.password)
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
}

/**
 * What the log must never show of the proxy variables: each proxy URL's password and its whole
 * user:password part, encoded as written and decoded (an error may quote either).
 */
export function proxySecrets(env: ProxyEnv): string[] {
  const secrets = new Set<string>()
  for (const name of [...PROXY_VARIABLES.https, ...PROXY_VARIABLES.http]) {
    const value = env[name]
    if (!value) continue
    let url: URL
    try {
      url = new URL(hasScheme(value) ? value : `http://${value}`)
    } catch {
      continue
    }
    if (!url.password) continue
    for (const secret of [
      url.password,
      decodeURIComponent(url.password),
      `${url.username}:${url.password}`,
      `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`,
    ])
      if (secret.length >= 3) secrets.add(secret)
  }
  return [...secrets]
}
