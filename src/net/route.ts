/**
 * Sends every request Signet makes through the proxy src/net/proxy.ts chooses for it, or directly.
 * Loaded only when a proxy variable is set (see proxyConfigured): without one, nothing here runs
 * and requests go out as Node sends them.
 *
 * With a proxy variable set, every request goes over Node's fetch (undici): registries and their
 * token realms, the workflow OIDC token, Fulcio, Rekor and the TSA (sigstore-js's clients, through
 * src/sigstore/sigstore-js-fetch.ts), which otherwise go over node:http (src/net/node-http.ts),
 * and TUF (tuf-js) and GitHub's API (Octokit), which always do. One global dispatcher routes them
 * all: an undici Agent whose per-origin factory hands a proxied origin to undici's ProxyAgent
 * (CONNECT, as @actions/http-client's dispatcher does) and any other to a plain Pool. Global
 * rather than per request because tuf-js and Octokit call fetch themselves; per origin, so a
 * registry's redirect to blob storage on another host is routed by that host. Node's built-in
 * fetch and the undici package share the global dispatcher (undici's
 * Symbol.for('undici.globalDispatcher.1')).
 */
import { Agent, Pool, ProxyAgent, setGlobalDispatcher, type Dispatcher } from 'undici'
import type { Logger } from '../report/types'
import {
  describeProxy,
  proxyAuthorization,
  proxyFor,
  proxySecrets,
  proxyVariableFor,
  type ProxyEnv,
} from './proxy'

/** undici's ProxyAgent for `proxy`, its credentials (if any) sent as @actions/http-client does. */
function proxyAgentFor(proxy: URL): ProxyAgent {
  const token = proxyAuthorization(proxy)
  // The URI undici keeps carries no credentials, so none of its errors can quote them.
  const uri = new URL(proxy.href)
  uri.username = ''
  uri.password = ''
  return new ProxyAgent({ uri: uri.href, ...(token ? { token } : {}) })
}

/**
 * The fetch dispatcher: per origin, through the proxy the rule names or directly. The Agent asks
 * its factory once per origin and listens to what it returns, so each proxied origin gets a
 * ProxyAgent of its own (a shared one would gather the Agent's listeners, one set per origin).
 */
export function routingDispatcher(env: ProxyEnv): Dispatcher {
  return new Agent({
    factory: (origin, options) => {
      const proxy = proxyFor(new URL(String(origin)), env)
      return proxy ? proxyAgentFor(proxy) : new Pool(origin, options)
    },
  })
}

/** One line for the log: which proxy each scheme uses and what bypasses it; no credentials. */
export function describeRouting(env: ProxyEnv): string {
  const parts: string[] = []
  for (const scheme of ['https', 'http'] as const) {
    const probe = new URL(`${scheme}://proxy.invalid`)
    const variable = proxyVariableFor(probe, env)
    if (!variable) continue
    const proxy = describeProxy(proxyFor(probe, { [variable]: env[variable] })) ?? 'no proxy'
    parts.push(`${scheme}:// through ${proxy} (${variable})`)
  }
  const noProxy = env.no_proxy || env.NO_PROXY
  parts.push(`direct: loopback hosts${noProxy ? ` and NO_PROXY (${noProxy})` : ''}`)
  return `Proxy: ${parts.join('; ')}`
}

/**
 * Routes every request of this process by the proxy variables in `env`: masks any proxy
 * password, checks the proxy URLs (a bad one fails here, naming its variable), installs the fetch
 * dispatcher, and says in the log what it did.
 */
export function routeThroughProxy(env: ProxyEnv, log: Logger): void {
  for (const secret of proxySecrets(env)) log.mask?.(secret)
  log.info(describeRouting(env))
  setGlobalDispatcher(routingDispatcher(env))
}
