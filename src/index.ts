/**
 * The action's entry: read the inputs once, run the mode they name, and end the step in one
 * place (src/action/report.ts) whichever mode ran and however it ended.
 */
import * as core from '@actions/core'
import { readInputs, secretValues, type Inputs } from './inputs'
import type { Outcome } from './report/types'
import { actionsGitHubApi } from './action/github'
import { actionsRegistry } from './action/registry'
import { actionsLogger, BundleFile, reportError, reportOutcome } from './action/report'

async function main(): Promise<void> {
  const get = (name: string): string => core.getInput(name)
  // Mask secrets before anything can print them.
  for (const secret of secretValues(get)) core.setSecret(secret)
  try {
    const inputs = readInputs(get)
    await reportOutcome(await run(inputs), inputs.summary)
  } catch (err) {
    reportError(err, core.getInput('mode'))
  }
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
  const { runSign } = await import('./sign/run')
  const bundles = new BundleFile()
  // Set at once: the file is there (with what was made) even when the run fails midway.
  core.setOutput('bundle-path', bundles.path)
  try {
    return await runSign(inputs, {
      log: actionsLogger,
      registry: actionsRegistry(inputs, process.env, actionsLogger),
      githubApi: actionsGitHubApi,
      onBundle: (b) => bundles.add(b),
    })
  } finally {
    bundles.close()
  }
}

void main()
