/**
 * Runs the bundled action (dist/index.cjs) the way the GitHub runner does: inputs as INPUT_*
 * variables with action.yml's defaults filled in, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
 * RUNNER_TEMP, and Node 24.
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'

export const ROOT = resolve(__dirname, '..', '..')
export const NODE = join(ROOT, 'node_modules', '.bin', 'node')

export interface ActionRun {
  exitCode: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  summary: string
  /** The text of each output that names a file the run wrote in RUNNER_TEMP (e.g. kyverno-policy). */
  outputFiles: Record<string, string>
  /** The `::error::` lines the runner would turn into annotations. */
  errors: string[]
  /** The log as the runner shows it: `::add-mask::` commands consumed, masked values as ***. */
  visibleLog: string
  /** The bundle-path file's lines, read before the run's temp dir is removed. */
  bundleLines: string[]
}

interface ActionYaml {
  inputs: Record<string, { default?: string }>
}

function actionDefaults(): Record<string, string> {
  const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml
  const defaults: Record<string, string> = {}
  for (const [name, spec] of Object.entries(action.inputs)) {
    // The runner evaluates expressions; `${{ github.token }}` becomes the job's token.
    defaults[name] = (spec.default ?? '').replace('${{ github.token }}', '')
  }
  return defaults
}

/** GITHUB_OUTPUT's `name<<delimiter` heredoc format, as @actions/core writes it. */
export function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i])
    if (!m) continue
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i])
    outputs[m[1]] = value.join('\n')
  }
  return outputs
}

/** What the runner does with `::add-mask::`: drops the command and replaces the value with ***. */
export function maskLog(log: string): string {
  const lines = log.split('\n')
  const masks = lines
    .filter((l) => l.startsWith('::add-mask::'))
    .map((l) => l.slice('::add-mask::'.length))
  return lines
    .filter((l) => !l.startsWith('::add-mask::'))
    .map((l) => masks.reduce((line, m) => (m ? line.split(m).join('***') : line), l))
    .join('\n')
}

/** The environment the runner gives an action: INPUT_* with defaults, GITHUB_OUTPUT, … */
export function actionEnv(
  inputs: Record<string, string>,
  env: Record<string, string | undefined>,
  files: { outputFile: string; summaryFile: string; runnerTemp: string },
): Record<string, string> {
  const merged = { ...actionDefaults(), ...inputs }
  const inputEnv: Record<string, string> = {}
  for (const [name, value] of Object.entries(merged)) {
    inputEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  const childEnv: Record<string, string> = {}
  for (const [k, v] of Object.entries({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_ACTIONS: 'true',
    GITHUB_OUTPUT: files.outputFile,
    GITHUB_STEP_SUMMARY: files.summaryFile,
    RUNNER_TEMP: files.runnerTemp,
    ...inputEnv,
    ...env,
  })) {
    if (v !== undefined) childEnv[k] = v
  }
  return childEnv
}

export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  options: { cwd?: string } = {},
): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'signet-action-'))
  const outputFile = join(dir, 'output')
  const summaryFile = join(dir, 'summary')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  const childEnv = actionEnv(inputs, env, { outputFile, summaryFile, runnerTemp: dir })
  // SIGNET_ACTION_ENTRY: a bundle built elsewhere (a developer's own build beside the committed dist/).
  const entry = process.env.SIGNET_ACTION_ENTRY ?? join(ROOT, 'dist', 'index.cjs')
  const child = spawn(NODE, [entry], {
    env: childEnv,
    // The workspace: relative paths in inputs (Dockerfiles, policies) start here.
    cwd: options.cwd ?? dir,
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const exitCode = await new Promise<number>((res) => child.on('close', (code) => res(code ?? -1)))
  const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'))
  const bundlePath = outputs['bundle-path']
  const result: ActionRun = {
    bundleLines: bundlePath
      ? readFileSync(bundlePath, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [],
    exitCode,
    stdout,
    stderr,
    outputs,
    summary: readFileSync(summaryFile, 'utf8'),
    // Outputs naming files the run wrote in RUNNER_TEMP, read before the directory goes.
    outputFiles: Object.fromEntries(
      Object.entries(outputs)
        .filter(([, value]) => value.startsWith(`${dir}/`) && existsSync(value))
        .map(([name, value]) => [name, readFileSync(value, 'utf8')]),
    ),
    errors: stdout.split('\n').filter((l) => l.startsWith('::error')),
    visibleLog: maskLog(stdout + stderr),
  }
  if (!process.env.SIGNET_KEEP_TMP) rmSync(dir, { recursive: true, force: true })
  return result
}
