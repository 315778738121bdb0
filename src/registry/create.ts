/** The registry client a run uses: HTTP, with credentials for the registries the run names. */
import type { Inputs } from '../inputs'
import type { Logger } from '../report/types'
import type { RequestedImage } from '../subjects'
import { RegistryClient } from './client'
import { createCredentialProvider } from './credentials'

/** The HTTP registry client, with credentials for the registries the run names. */
export function createRegistry(
  inputs: Inputs,
  requested: RequestedImage[],
  env: NodeJS.ProcessEnv,
  log: Logger,
): RegistryClient {
  return new RegistryClient({
    credentials: createCredentialProvider({
      explicit:
        inputs.registryUsername && inputs.registryPassword
          ? {
              username: inputs.registryUsername,
              password: inputs.registryPassword,
              registries: [...new Set(requested.map((r) => r.registry))],
            }
          : undefined,
      githubToken: inputs.githubToken,
      githubActor: env.GITHUB_ACTOR,
      env,
      log: (message) => log.debug(message),
    }),
    plainHttp: inputs.plainHttp,
    log: (message) => log.debug(message),
  })
}
