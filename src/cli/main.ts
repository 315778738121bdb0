/**
 * The command line's entry (`npx signet sign|verify`): the same core as the action, another front
 * door. Flags are the action's inputs; the log goes to standard error, the result (a table, or the
 * `results` JSON with `--output json`) to standard output; the exit status is the action's: 1 when
 * the step would fail (bad input, an image not signed, an image not verified under enforce).
 */
import { existsSync, readFileSync, statSync } from 'node:fs'
import { actionsRegistry } from '../action/registry'
import { BundleFile } from '../action/report'
import { isSignetError, SignetError } from '../errors'
import { INPUT, readInputs, secretValues, type AdmissionMode, type InputGetter } from '../inputs'
import { proxyConfigured } from '../net/proxy'
import { signOutputs } from '../report/summary'
import type { Logger, Outcome } from '../report/types'
import { stepVerdict } from '../report/verdict'
import { verifyOutputs } from '../report/verify-summary'
import { GitHubOidcProvider, type IdentityProvider } from '../sigstore/oidc'
import { parseArgs, USAGE, type CliArgs } from './args'
import { renderSignOutcome, renderVerifyOutcome, terminalText } from './render'
import packageJson from '../../package.json'

/** What the CLI touches of its process, so tests can run it in one. */
export interface CliIo {
  env: NodeJS.ProcessEnv
  stdout: (text: string) => void
  stderr: (text: string) => void
  /** Standard error is a terminal: colour and progress lines. */
  tty: boolean
  cwd: string
}

const NO_TOKEN =
  'keyless signing needs an OIDC token: pass --identity-token (the token or a file holding it), ' +
  'set SIGSTORE_ID_TOKEN (GitLab: id_tokens with aud: sigstore), run in GitHub Actions with ' +
  '`id-token: write`, or sign with --key'

/** Replaces every secret the run knows of before a line leaves the process. */
class Masker {
  private readonly secrets: string[] = []
  add(secret: string): void {
    if (secret.length >= 4 && !this.secrets.includes(secret)) this.secrets.push(secret)
  }
  apply(text: string): string {
    let out = text
    for (const secret of this.secrets) out = out.split(secret).join('***')
    return out
  }
}

function stderrLogger(io: CliIo, args: CliArgs, masker: Masker): Logger {
  const write = (prefix: string, message: string): void =>
    io.stderr(`${prefix}${masker.apply(terminalText(message))}\n`)
  return {
    info: (m) => write('', m),
    warning: (m) => write('warning: ', m),
    debug: (m) => {
      if (args.debug) write('debug: ', m)
    },
    group: async (name, fn) => {
      write(io.tty ? '\u25b8 ' : '== ', name)
      return fn()
    },
    mask: (secret) => masker.add(secret),
  }
}

/** The OIDC token for keyless signing: the flag, then SIGSTORE_ID_TOKEN, then GitHub Actions. */
function identityProvider(
  args: CliArgs,
  env: NodeJS.ProcessEnv,
  masker: Masker,
): IdentityProvider & { preflight(): void } {
  let token = args.identityToken ?? env.SIGSTORE_ID_TOKEN
  if (token !== undefined) {
    // cosign's --identity-token takes the token or a file holding it.
    if (args.identityToken !== undefined && existsSync(token) && statSync(token).isFile()) {
      token = readFileSync(token, 'utf8')
    }
    const value = token.trim()
    masker.add(value)
    return {
      preflight: () => {
        if (value === '') throw new SignetError('OIDC_UNAVAILABLE', NO_TOKEN, { input: 'key' })
      },
      getToken: async () => value,
    }
  }
  const github = new GitHubOidcProvider(env, { mask: (secret) => masker.add(secret) })
  return {
    preflight: () => {
      if (!github.available()) {
        throw new SignetError('OIDC_UNAVAILABLE', NO_TOKEN, { input: 'identity-token' })
      }
    },
    getToken: () => github.getToken(),
  }
}

/** A run's outcome, and for a sign run the admission mode its policies are offered in. */
interface Executed {
  outcome: Outcome
  admissionMode?: AdmissionMode
}

async function execute(args: CliArgs, io: CliIo, log: Logger, masker: Masker): Promise<Executed> {
  const flags = args.inputs
  const get: InputGetter = (name) => {
    if (name === INPUT.mode) return args.command ?? ''
    // The action's default is the job's token; a terminal's is the environment's, if any.
    if (name === INPUT.githubToken) return flags[name] ?? io.env.GITHUB_TOKEN ?? ''
    return flags[name] ?? ''
  }
  for (const secret of secretValues(get)) masker.add(secret)
  // As the action's entry does (src/index.ts): before any request, only with a proxy variable.
  if (proxyConfigured(io.env)) (await import('../net/route')).routeThroughProxy(io.env, log)
  const inputs = readInputs(get)
  const registry = actionsRegistry(inputs, io.env, log)
  if (inputs.mode === 'verify') {
    const { runVerify } = await import('../verify/run')
    return { outcome: await runVerify(inputs, { log, env: io.env, registry, cwd: io.cwd }) }
  }
  const { runSign } = await import('../sign/run')
  const bundles = args.bundlePath ? new BundleFile(args.bundlePath) : undefined
  try {
    const outcome = await runSign(inputs, {
      log,
      env: io.env,
      registry,
      cwd: io.cwd,
      identity: inputs.key ? undefined : identityProvider(args, io.env, masker),
      onBundle: bundles ? (b) => bundles.add(b) : undefined,
    })
    return { outcome, admissionMode: inputs.admissionMode }
  } finally {
    bundles?.close()
  }
}

/** One line on standard error naming the flag at fault, as the action's `::error::` names the input. */
function errorLine(err: unknown): string {
  if (isSignetError(err)) {
    const flag = err.input && !err.message.includes(`--${err.input}`) ? ` (--${err.input})` : ''
    return `error: ${err.message}${flag}`
  }
  const message = err instanceof Error ? err.message : String(err)
  return `error: Signet failed unexpectedly: ${message}. Please report this at the Signet repository.`
}

/** Runs one command line; resolves to the exit status. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const masker = new Masker()
  let args: CliArgs
  try {
    args = parseArgs(argv)
  } catch (err) {
    io.stderr(`${terminalText(errorLine(err))}\n`)
    return 1
  }
  if (args.help || (!args.command && !args.version)) {
    ;(args.help ? io.stdout : io.stderr)(USAGE)
    return args.help ? 0 : 1
  }
  if (args.version) {
    io.stdout(`signet ${packageJson.version}\n`)
    return 0
  }
  const log = stderrLogger(io, args, masker)
  if (args.command === 'policy') {
    try {
      const { policyCommand } = await import('./policy-command')
      const generated = policyCommand(args, io.cwd)
      for (const note of generated.notes) log.info(`note: ${note}`)
      for (const problem of generated.problems) log.warning(problem)
      io.stdout(generated.yaml)
      return 0
    } catch (err) {
      io.stderr(`${terminalText(errorLine(err))}\n`)
      return 1
    }
  }
  try {
    const { outcome, admissionMode } = await execute(args, io, log, masker)
    const outputs = outcome.mode === 'sign' ? signOutputs(outcome) : verifyOutputs(outcome)
    if (outcome.mode === 'sign') {
      // The action's kyverno-policy and cluster-image-policy outputs name files; here the JSON
      // carries the YAML itself (`signet policy` makes them from a policy file instead).
      // Loaded for a sign run only, as the action does: verify starts without the generators.
      const { policiesForSignRun } = await import('../admission')
      const policies = policiesForSignRun(outcome, admissionMode ?? 'audit')
      for (const problem of policies.problems) log.warning(problem)
      if (policies.kyverno) outputs['kyverno-policy'] = policies.kyverno.yaml
      if (policies.clusterImagePolicy) {
        outputs['cluster-image-policy'] = policies.clusterImagePolicy.yaml
      }
    }
    if (args.output === 'json') {
      // The action's outputs, with `results` as JSON rather than a string holding JSON.
      const { results, ...rest } = outputs
      const document = { ...rest, results: JSON.parse(results) as unknown }
      io.stdout(`${masker.apply(JSON.stringify(document, null, 2))}\n`)
    } else {
      const options = { color: io.tty && io.env.NO_COLOR === undefined }
      const text =
        outcome.mode === 'sign'
          ? renderSignOutcome(outcome, options)
          : renderVerifyOutcome(outcome, options)
      io.stdout(masker.apply(text))
    }
    const verdict = stepVerdict(outcome)
    if (verdict.passed) return 0
    if (verdict.error) io.stderr(`${masker.apply(terminalText(errorLine(verdict.error)))}\n`)
    return 1
  } catch (err) {
    io.stderr(`${masker.apply(terminalText(errorLine(err)))}\n`)
    if (args.debug && err instanceof Error && err.stack) {
      io.stderr(`${masker.apply(err.stack)}\n`)
    }
    return 1
  }
}
