/** The action's entry: read the inputs once, run, report, fail in one place. */
import * as core from '@actions/core'
import { readInputs, secretValues } from './inputs'
import { failureOf, runSign } from './main'
import { actionsLogger, applySignOutcome, fail } from './report/actions'

async function main(): Promise<void> {
  const get = (name: string): string => core.getInput(name)
  // Mask secrets before anything can print them.
  for (const secret of secretValues(get)) core.setSecret(secret)
  try {
    const inputs = readInputs(get)
    const outcome = await runSign(inputs, { log: actionsLogger })
    await applySignOutcome(outcome, inputs.summary)
    const failure = failureOf(outcome)
    if (failure) fail(failure)
  } catch (err) {
    core.setOutput('signed', 'false')
    fail(err)
  }
}

void main()
