/**
 * Sends every request Signet makes through the proxy src/net/proxy.ts chooses for it, or directly.
 * Loaded only when a proxy variable is set (see proxyConfigured): without one, nothing here runs
 * and requests go out as Node sends them.
 *
 * Signet's requests leave by two HTTP stacks, and each gets the one rule:
 *
 * - Node's fetch (undici): registries and their token realms, the workflow OIDC token, TUF
 *   (tuf-js), GitHub's API (Octokit). One global dispatcher, an undici Agent whose per-origin
 *   factory hands a proxied origin to undici's ProxyAgent (CONNECT, as @actions/http-client's
 *   dispatcher does) and any other to a plain Pool. Global rather than per request because tuf-js
 *   and Octokit call fetch themselves; per origin, so a registry's redirect to blob storage on
 *   another host is routed by that host. Node's built-in fetch and the undici package share the
 *   global dispatcher (undici's Symbol.for('undici.globalDispatcher.1')).
 * - sigstore-js's Fulcio, Rekor and TSA clients: make-fetch-happen over node:http, whose agent
 *   comes from @npmcli/agent's getAgent. That reads the proxy variables itself, by other rules: no
 *   loopback bypass, https_proxy for http: URLs too, NO_PROXY by domain labels without ports or
 *   `*`. Its getAgent takes `proxy` and `noProxy` options, which sigstore-js never passes, so the
 *   module's getAgent is wrapped to pass them from Signet's rule: the proxy chosen, with an empty
 *   NO_PROXY; or, to go direct, a NO_PROXY naming the host. make-fetch-happen takes getAgent from
 *   the module object when it is first loaded, so this must run before the signing stack loads
 *   (the entry does it first thing), and the proxy action test checks it did.
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

/** The part of @npmcli/agent this module wraps (the package ships no types). */
interface NpmcliAgentModule {
  getAgent: (url: string | URL, options?: Record<string, unknown>) => unknown
}

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

/**
 * @npmcli/agent's getAgent, told the rule's answer for each URL: a proxy with an empty NO_PROXY,
 * or a NO_PROXY that names the host (so none of its own variables can send it through a proxy).
 */
export function routedGetAgent(
  getAgent: NpmcliAgentModule['getAgent'],
  env: ProxyEnv,
): NpmcliAgentModule['getAgent'] {
  return (url, options = {}) => {
    const target = new URL(String(url))
    const proxy = proxyFor(target, env)
    return getAgent(
      url,
      proxy
        ? { ...options, proxy: proxy.href, noProxy: [] }
        : { ...options, noProxy: [target.hostname] },
    )
  }
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
 * dispatcher and wraps @npmcli/agent, and says in the log what it did.
 */
export function routeThroughProxy(env: ProxyEnv, log: Logger): void {
  for (const secret of proxySecrets(env)) log.mask?.(secret)
  log.info(describeRouting(env))
  setGlobalDispatcher(routingDispatcher(env))
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the module object, see above
  const npmcli = require('@npmcli/agent') as NpmcliAgentModule
  npmcli.getAgent = routedGetAgent(npmcli.getAgent, env)
}
