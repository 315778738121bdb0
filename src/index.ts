/**
 * The action's entry: read the inputs once, run the mode they name, and end the step in one
 * place (src/action/report.ts) whichever mode ran and however it ended.
 */
import { readInputs, secretValues, type Inputs } from './inputs'
import type { Outcome } from './report/types'
import type { GitHubApiFactory } from './github/api'
import { actionsRegistry } from './action/registry'
import {
  actionsLogger,
  BundleFile,
  prepareSignReport,
  reportError,
  reportOutcome,
} from './action/report'
import * as core from './action/workflow-commands'
import { setFlagsFromString } from 'node:v8'
import { networkTurn } from './concurrency'
import { proxyConfigured } from './net/proxy'
import { GitHubOidcProvider } from './sigstore/oidc'

async function main(): Promise<void> {
  const get = (name: string): string => core.getInput(name)
  // Mask secrets before anything can print them.
  for (const secret of secretValues(get)) core.setSecret(secret)
  try {
    await routeProxies()
    const inputs = readInputs(get)
    if (holdsMuchAtOnce(inputs)) preferMemory()
    await reportOutcome(await run(inputs), {
      summary: inputs.summary,
      admissionMode: inputs.mode === 'sign' ? inputs.admissionMode : undefined,
    })
  } catch (err) {
    reportError(err, core.getInput('mode'))
  }
}

/**
 * Runs that hold much at once: verify (100 images' bundles and certificates), and sign runs that
 * attest an SBOM or a predicate file (a 10 MB SBOM is held, encoded, several times per image).
 */
function holdsMuchAtOnce(inputs: Inputs): boolean {
  return inputs.mode === 'verify' || inputs.sbom !== undefined || inputs.predicatePath !== undefined
}

/**
 * Memory over speed for the rest of the run (issue 11: verifying 100 images peaked at 130 MiB,
 * for a heap of about 20 MiB live). V8's young generation grows from 1 MiB per semi-space to
 * 16 MiB as a run allocates, and stays resident: kept at its first size, short-lived garbage
 * (registry answers, parsed bundles) is collected young; V8's size-favouring heuristics keep the
 * old generation tight; no optimizing tiers (TurboFan, Maglev), whose compiler zones and code stay
 * mapped: the interpreter and Sparkplug remain, and the work is mostly in native crypto.
 * Verifying 100: 130-146 -> 90-95 MiB, CPU within the noise; attesting a 10 MB SBOM to 10 images:
 * 574 -> 391 MiB. Other sign runs keep V8's defaults: these flags (--optimize-for-size alone,
 * even) cost signing 20 images keyless a fifth of its CPU (0.22 -> 0.27 s) and 8% of its time,
 * for memory it does not need (72 MiB either way).
 *
 * The runner starts the action without Node options and NODE_OPTIONS refuses V8 flags, so they
 * are set here; V8 reads these as it decides (not once at start), so setting them now takes
 * effect. After the first turn of the event loop (the first requests out): during start-up they
 * cost more time (about 20 ms of scavenges) than they save memory.
 */
function preferMemory(): void {
  setImmediate(() =>
    setFlagsFromString('--semi-space-growth-factor=1 --optimize-for-size --no-opt --no-maglev'),
  )
}

/**
 * HTTPS_PROXY, HTTP_PROXY and NO_PROXY for every request, as @actions/http-client reads them
 * (src/net/). First, before any request and before the signing stack loads (its HTTP stack is
 * hooked as it loads); and only with a proxy variable set, so other runs load none of it.
 */
async function routeProxies(): Promise<void> {
  if (!proxyConfigured(process.env)) return
  const { routeThroughProxy } = await import('./net/route')
  routeThroughProxy(process.env, actionsLogger)
}

/**
 * GitHub's API as the runner offers it (src/action/github.ts), loaded on first use: @actions/github
 * with its Octokit and proxy agents is about a fifth of the bundle's start-up, and most runs
 * (verify without `github-attestations`, sign without attestations to GitHub) never call it.
 * The factory is synchronous, so the module comes in through the bundler's lazy require.
 */
const actionsGitHubApi: GitHubApiFactory = (options) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const github = require('./action/github') as typeof import('./action/github')
  return github.actionsGitHubApi(options)
}

/** The runner's OIDC token for keyless signing, masked in the log as soon as it is fetched. */
function actionsIdentity(): GitHubOidcProvider {
  return new GitHubOidcProvider(process.env, { mask: (secret) => actionsLogger.mask?.(secret) })
}

/** The run of the mode the inputs name; each loads only its own code. */
async function run(inputs: Inputs): Promise<Outcome> {
  if (inputs.mode === 'verify') {
    // Verifying starts without evaluating the signing stack.
    const { runVerify } = await import('./verify/run')
    return runVerify(inputs, {
      log: actionsLogger,
      registry: actionsRegistry(inputs, process.env, actionsLogger),
      githubApi: actionsGitHubApi,
    })
  }
  // Keyless: the workflow's OIDC token is asked for first, and sign mode's code (sigstore-js's
  // signing stack) loads while it travels (issue 11: start-up to the first request).
  const identity = inputs.key ? undefined : actionsIdentity()
  if (identity?.available()) {
    identity.getToken().catch(() => undefined)
    await networkTurn()
  }
  const { runSign } = await import('./sign/run')
  const bundles = new BundleFile()
  // Set at once: the file is there (with what was made) even when the run fails midway.
  core.setOutput('bundle-path', bundles.path)
  try {
    return await runSign(inputs, {
      log: actionsLogger,
      registry: actionsRegistry(inputs, process.env, actionsLogger),
      githubApi: actionsGitHubApi,
      identity,
      onBundle: (b) => bundles.add(b),
      whileSettling: prepareSignReport,
    })
  } finally {
    bundles.close()
  }
}

void main()
