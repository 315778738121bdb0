/**
 * The action's registry client: HTTP, with the runner's Docker config, the job's github-token for
 * ghcr.io, and registry-username/password for the registries the workflow named. The runs get it
 * as a factory and say which registries those are.
 */
import type { Inputs } from '../inputs'
import { proxyConfigured } from '../net/proxy'
import { RegistryClient } from '../registry/client'
import { RetryBudget } from '../retry'
import { createCredentialProvider } from '../registry/credentials'
import type { Registry } from '../registry/types'
import type { Logger } from '../report/types'

/**
 * A factory of the run's registry client. `namedRegistries`: the hosts the workflow itself named
 * (images, metadata), the only ones registry-username/password go to; never a host that only a
 * Dockerfile names, which a pull request chose (issue 8.3).
 */
export function actionsRegistry(
  inputs: Pick<
    Inputs,
    'registryUsername' | 'registryPassword' | 'githubToken' | 'plainHttp' | 'retryTimeoutMs'
  >,
  env: NodeJS.ProcessEnv,
  log: Logger,
): (namedRegistries: string[]) => Registry {
  return (namedRegistries) =>
    new RegistryClient({
      credentials: createCredentialProvider({
        explicit:
          inputs.registryUsername && inputs.registryPassword
            ? {
                username: inputs.registryUsername,
                password: inputs.registryPassword,
                registries: [...new Set(namedRegistries)],
              }
            : undefined,
        githubToken: inputs.githubToken,
        githubActor: env.GITHUB_ACTOR,
        env,
        log: (message) => log.debug(message),
      }),
      plainHttp: inputs.plainHttp,
      // Through a proxy, requests go by fetch, whose dispatcher src/net/route.ts routes; else by
      // node:http (src/net/node-http.ts).
      ...(proxyConfigured(env) ? { fetch } : {}),
      // Each registry may be unavailable for retry-timeout; every retry says so in the log.
      retry: { budget: new RetryBudget(inputs.retryTimeoutMs, { log: (line) => log.info(line) }) },
      log: (message) => log.debug(message),
    })
}
