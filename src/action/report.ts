/**
 * The action's report: the runner binding (./workflow-commands) of the logger, the outputs, the
 * job summary, the annotations and the step's failure. With index.ts, the only place that talks to
 * the runner; the core hands it an outcome and a Logger seam, nothing more.
 */
import type { Bundle } from '@sigstore/bundle'
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SignRunPolicies } from '../admission'
import { isSignetError } from '../errors'
import type { AdmissionMode } from '../inputs'
import { oneLine, signOutputs, signSummary } from '../report/summary'
import type { Logger, Outcome, SignOutcome, VerifyOutcome } from '../report/types'
import { stepVerdict } from '../report/verdict'
import { verifyAnnotations, verifyOutputs, verifySummary } from '../report/verify-summary'
import * as core from './workflow-commands'

export const actionsLogger: Logger = {
  // One line: a message quoting a registry, a signature or a certificate must not be able to start
  // a workflow command (`::…`, or the legacy `##[…]` anywhere in a line) of its own. Warnings and
  // debug lines are commands the toolkit escapes (%, \r, \n); one line keeps their text plain too.
  info: (m) => core.info(oneLine(m)),
  warning: (m) => core.warning(oneLine(m)),
  debug: (m) => core.debug(oneLine(m)),
  group: async (name, fn) => core.group(oneLine(name), fn),
  mask: (secret) => core.setSecret(secret),
}

/**
 * The bundle-path file, written one line per bundle as bundles are made: a run attesting large
 * SBOMs to many images does not hold every bundle in memory until the end.
 */
export class BundleFile {
  readonly path: string
  private readonly fd: number

  /** `path`: where to write (the CLI's --bundle-path); a new file in the runner's temp otherwise. */
  constructor(path?: string) {
    this.path =
      path ??
      join(process.env.RUNNER_TEMP || tmpdir(), `signet-bundles-${process.pid}-${Date.now()}.jsonl`)
    this.fd = openSync(this.path, 'w')
  }

  add(bundle: Bundle): void {
    // Loaded here, not imported: only a sign run makes bundles, and verify starts without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { bundleToJSON } = require('@sigstore/bundle') as typeof import('@sigstore/bundle')
    writeSync(this.fd, `${JSON.stringify(bundleToJSON(bundle))}\n`)
  }

  close(): void {
    closeSync(this.fd)
  }
}

/**
 * Where either mode's run ends, in one place: outputs, the job summary, annotations, then the
 * step's exit status from the outcome's verdict.
 */
export async function reportOutcome(
  outcome: Outcome,
  options: { summary: boolean; admissionMode?: AdmissionMode },
): Promise<void> {
  const writeSummary = options.summary
  if (outcome.mode === 'sign') {
    await applySignOutcome(outcome, writeSummary, options.admissionMode ?? 'audit')
  } else await applyVerifyOutcome(outcome, writeSummary)
  const verdict = stepVerdict(outcome)
  if (verdict.passed) return
  // Sign mode fails with one error; verify mode's failed images are annotated one by one already.
  if (verdict.error) fail(verdict.error)
  else process.exitCode = 1
}

/**
 * A run that stopped before it had an outcome (bad input, a trusted root that does not verify):
 * its mode's verdict output is false, and the error fails the step. `mode` is the raw input, so
 * even an invalid one is answered.
 */
export function reportError(err: unknown, mode: string): void {
  core.setOutput(mode === 'verify' ? 'verified' : 'signed', 'false')
  fail(err)
}

async function applySignOutcome(
  outcome: SignOutcome,
  writeSummary: boolean,
  admissionMode: AdmissionMode,
): Promise<void> {
  for (const [name, value] of Object.entries(signOutputs(outcome))) core.setOutput(name, value)
  if (outcome.identityNote) core.notice(oneLine(outcome.identityNote))
  core.info(oneLine(`verify with: ${outcome.verifyCommand}`))
  const admission = writeAdmissionPolicies(outcome, admissionMode)
  if (writeSummary && process.env.GITHUB_STEP_SUMMARY) {
    await core.appendSummary(signSummary(outcome, admission.kyverno))
  }
}

/**
 * The admission policies for what was signed (src/admission), each written to a file in the
 * runner's temp directory and named by its output (`kyverno-policy`, `cluster-image-policy`).
 * Audit mode unless admission-mode says enforce: a policy is rolled out reporting first. A policy that cannot be made
 * is a log line, not a failure: the images are signed.
 */
function writeAdmissionPolicies(outcome: SignOutcome, mode: AdmissionMode): SignRunPolicies {
  const { policiesForSignRun } = admissionGenerators()
  const policies = policiesForSignRun(outcome, mode)
  for (const problem of policies.problems) core.info(oneLine(problem))
  const dir = process.env.RUNNER_TEMP || tmpdir()
  const stamp = `${process.pid}-${Date.now()}`
  for (const [output, policy] of [
    ['kyverno-policy', policies.kyverno],
    ['cluster-image-policy', policies.clusterImagePolicy],
  ] as const) {
    if (!policy) continue
    const path = join(dir, `signet-${output}-${stamp}.yaml`)
    writeFileSync(path, policy.yaml)
    core.setOutput(output, path)
    for (const note of policy.notes) core.info(oneLine(`${output}: ${note}`))
  }
  return policies
}

/**
 * The policy generators (and yaml), required when first used, not imported: they are sign mode's,
 * after the signing; a verify run starts without them (issue 11: start-up). A sign run loads them
 * while it waits on its read-backs (prepareSignReport), not after.
 */
function admissionGenerators(): typeof import('../admission') {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('../admission') as typeof import('../admission')
}

/** Loads what the sign report needs that start-up left out, while the run is idle. */
export function prepareSignReport(): void {
  admissionGenerators()
}

/**
 * Verify mode's report. Each failed image gets its own annotation (on its FROM line when it came
 * from a Dockerfile): an error that fails the step, or in audit mode a warning that does not.
 */
async function applyVerifyOutcome(outcome: VerifyOutcome, writeSummary: boolean): Promise<void> {
  for (const [name, value] of Object.entries(verifyOutputs(outcome))) core.setOutput(name, value)
  for (const note of outcome.notes) core.warning(oneLine(note))
  if (writeSummary && process.env.GITHUB_STEP_SUMMARY) {
    await core.appendSummary(verifySummary(outcome))
  }
  for (const a of verifyAnnotations(outcome)) {
    // The toolkit escapes the file name as a property (`,` `:` % and line breaks): a Dockerfile
    // path cannot add properties; the message is one line (verifyAnnotations).
    const properties = a.file ? { file: a.file, startLine: a.line } : {}
    if (outcome.enforce) core.error(a.message, properties)
    else core.warning(`(audit mode) ${a.message}`, properties)
  }
}

/** The step fails with one `::error::` that names the input at fault. */
function fail(err: unknown): void {
  if (isSignetError(err)) {
    const named = err.input && !err.message.includes(err.input) ? ` (input: ${err.input})` : ''
    // One line: the message may quote a Dockerfile, a policy file or a registry.
    const message = oneLine(`${err.message}${named}`)
    if (err.file) {
      // On the line at fault (a Dockerfile, a policy file), so the pull request shows it there.
      core.error(message, { file: err.file, startLine: err.line })
      process.exitCode = 1
    } else {
      core.setFailed(message)
    }
    if (err.cause instanceof Error) core.debug(`cause: ${err.cause.message}`)
    return
  }
  // An unexpected error is a bug of ours: say so plainly; the stack goes to the debug log only.
  const message = err instanceof Error ? err.message : String(err)
  core.setFailed(
    oneLine(`Signet failed unexpectedly: ${message}. Please report this at the Signet repository.`),
  )
  if (err instanceof Error && err.stack) core.debug(err.stack)
}
