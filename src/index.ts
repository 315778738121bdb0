/** The action's entry: read the inputs once, run, report, fail in one place. */
import * as core from '@actions/core'
import { readInputs, secretValues } from './inputs'
import type { SignOutcome } from './report/types'
import {
  actionsLogger,
  applySignOutcome,
  applyVerifyOutcome,
  BundleFile,
  fail,
} from './action/report'

async function main(): Promise<void> {
  const get = (name: string): string => core.getInput(name)
  // Mask secrets before anything can print them.
  for (const secret of secretValues(get)) core.setSecret(secret)
  try {
    const inputs = readInputs(get)
    // Each mode loads only its own code: verifying starts without evaluating the signing stack.
    if (inputs.mode === 'verify') {
      const { runVerify } = await import('./verify/run')
      await applyVerifyOutcome(await runVerify(inputs, { log: actionsLogger }), inputs.summary)
      return
    }
    const { failureOf, runSign } = await import('./sign/run')
    const bundles = new BundleFile()
    // Set at once: the file is there (with what was made) even when the run fails midway.
    core.setOutput('bundle-path', bundles.path)
    let outcome: SignOutcome
    try {
      outcome = await runSign(inputs, { log: actionsLogger, onBundle: (b) => bundles.add(b) })
    } finally {
      bundles.close()
    }
    await applySignOutcome(outcome, inputs.summary)
    const failure = failureOf(outcome)
    if (failure) fail(failure)
  } catch (err) {
    core.setOutput(core.getInput('mode') === 'verify' ? 'verified' : 'signed', 'false')
    fail(err)
  }
}

void main()
