/**
 * The runner's workflow commands, written as @actions/core 3.x writes them (the same bytes: the
 * unit test workflow-commands.test.ts runs both on the same calls): inputs from INPUT_*, outputs
 * to GITHUB_OUTPUT as `name<<delimiter` heredocs, `::command k=v,…::data` lines with the toolkit's
 * escaping, the job summary appended to GITHUB_STEP_SUMMARY.
 *
 * Why not @actions/core itself: it imports its OIDC client, and with it @actions/http-client,
 * undici and tunnel, at load. That was about a fifth of the action's start-up (issue 11), for a
 * token Signet fetches itself (src/sigstore/oidc.ts). This is the part of it the action uses.
 */
import { randomUUID } from 'node:crypto'
import { appendFileSync, existsSync } from 'node:fs'
import { access, appendFile, constants } from 'node:fs/promises'
import { EOL } from 'node:os'

/** Where an annotation points: @actions/core's AnnotationProperties, the part Signet uses. */
export interface AnnotationProperties {
  title?: string
  file?: string
  startLine?: number
}

/** An input as the runner passes it (INPUT_<NAME>, spaces as `_`), trimmed; '' when unset. */
export function getInput(name: string): string {
  return (process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] || '').trim()
}

/** The runner replaces the value with *** in every later log line. */
export function setSecret(secret: string): void {
  issueCommand('add-mask', {}, secret)
}

export function setOutput(name: string, value: string): void {
  const file = process.env.GITHUB_OUTPUT || ''
  if (file) {
    issueFileCommand(file, keyValueMessage(name, value))
    return
  }
  process.stdout.write(EOL)
  issueCommand('set-output', { name }, value)
}

export function info(message: string): void {
  process.stdout.write(message + EOL)
}

export function debug(message: string): void {
  issueCommand('debug', {}, message)
}

export function notice(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('notice', commandProperties(properties), message)
}

export function warning(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('warning', commandProperties(properties), message)
}

export function error(message: string, properties: AnnotationProperties = {}): void {
  issueCommand('error', commandProperties(properties), message)
}

/** An error annotation, and the step fails (exit code 1). */
export function setFailed(message: string): void {
  process.exitCode = 1
  error(message)
}

/** A collapsible group of log lines around `fn`, closed however `fn` ends. */
export async function group<T>(name: string, fn: () => Promise<T>): Promise<T> {
  issueCommand('group', {}, name)
  try {
    return await fn()
  } finally {
    issueCommand('endgroup', {}, '')
  }
}

/**
 * Appends to the job summary (GITHUB_STEP_SUMMARY), which must be there and writable, as
 * `core.summary.addRaw(text).write()` does.
 */
export async function appendSummary(text: string): Promise<void> {
  const file = process.env.GITHUB_STEP_SUMMARY
  if (!file) {
    throw new Error(
      'Unable to find environment variable for $GITHUB_STEP_SUMMARY. Check if your runtime environment supports job summaries.',
    )
  }
  try {
    await access(file, constants.R_OK | constants.W_OK)
  } catch {
    throw new Error(
      `Unable to access summary file: '${file}'. Check if the file has correct read/write permissions.`,
    )
  }
  await appendFile(file, text, { encoding: 'utf8' })
}

/** A property's value; unset ones are left out of the command. */
type Property = string | number | undefined

/** `::command k=v,…::message`, as @actions/core's Command writes it. */
function issueCommand(
  command: string,
  properties: Record<string, Property>,
  message: string,
): void {
  const pairs = Object.entries(properties)
    .filter((entry): entry is [string, string | number] => Boolean(entry[1]))
    .map(([key, value]) => `${key}=${escapeProperty(String(value))}`)
  // A space whenever properties were given, even all unset (`::error ::…`), as the toolkit does.
  const props = Object.keys(properties).length > 0 ? ` ${pairs.join(',')}` : ''
  process.stdout.write(`::${command}${props}::${escapeData(message)}${EOL}`)
}

/** The runner reads these back: a message cannot end its line. */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

/** …and a property value cannot end its property (`,`) or the properties (`:`). */
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

/** The runner's names for an annotation's properties, as @actions/core maps them. */
function commandProperties(p: AnnotationProperties): Record<string, Property> {
  return Object.keys(p).length > 0 ? { title: p.title, file: p.file, line: p.startLine } : {}
}

function issueFileCommand(file: string, message: string): void {
  if (!existsSync(file)) throw new Error(`Missing file at path: ${file}`)
  appendFileSync(file, `${message}${EOL}`, { encoding: 'utf8' })
}

/** `name<<delimiter` heredoc with a fresh random delimiter neither side may contain. */
function keyValueMessage(key: string, value: string): string {
  const delimiter = `ghadelimiter_${randomUUID()}`
  if (key.includes(delimiter))
    throw new Error(`Unexpected input: name should not contain the delimiter "${delimiter}"`)
  if (value.includes(delimiter))
    throw new Error(`Unexpected input: value should not contain the delimiter "${delimiter}"`)
  return `${key}<<${delimiter}${EOL}${value}${EOL}${delimiter}`
}
