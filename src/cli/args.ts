/**
 * The command line, read into the same inputs the action takes: `signet sign|verify [flags]`, each
 * flag named like the action's input (`--images`, `--signature-format`, …), so a workflow's `with:`
 * block and a GitLab job's command line say the same things. Pure: argv in, a typed result out.
 */
import { SignetError } from '../errors'
import { INPUT } from '../inputs'

export type Command = 'sign' | 'verify' | 'policy'
export type OutputFormat = 'table' | 'json'

export interface CliArgs {
  command?: Command
  /** The action inputs given as flags; a list input given more than once is one newline-joined value. */
  inputs: Record<string, string>
  /** cosign's --identity-token: the OIDC token itself, or a file holding it. */
  identityToken?: string
  output: OutputFormat
  /** Where to write every bundle made, one JSON document per line (the action's bundle-path). */
  bundlePath?: string
  debug: boolean
  /** `signet policy`: generate even when the policy fails images no rule covers. */
  admitUnmatched: boolean
  help: boolean
  version: boolean
}

/** Inputs that only make sense in a workflow: the CLI refuses them rather than ignore them. */
const ACTION_ONLY: readonly string[] = [INPUT.mode, INPUT.summary]

/** Inputs that take true/false: `--flag` alone means true, `--no-flag` false. */
const BOOLEAN_INPUTS: readonly string[] = [
  INPUT.recursive,
  INPUT.provenance,
  INPUT.githubAttestations,
  INPUT.tlog,
  INPUT.enforce,
]

/** Inputs that hold lists or lines: given twice, the values add up (one per line). */
const REPEATABLE_INPUTS: readonly string[] = [
  INPUT.images,
  INPUT.annotations,
  INPUT.sbom,
  INPUT.plainHttp,
  INPUT.dockerfile,
  INPUT.buildArgs,
  INPUT.buildContexts,
  INPUT.requireAttestations,
]

const INPUT_FLAGS: ReadonlySet<string> = new Set(
  Object.values(INPUT).filter((name) => !ACTION_ONLY.includes(name)),
)

export const USAGE = `Usage: signet <sign|verify|policy> [flags]

Sign, attest and verify container images with Sigstore, in the formats cosign v2 and v3 read.
Every flag is named like the GitHub Action's input of the same name:

  signet sign --images ghcr.io/acme/app@sha256:… [--sbom sbom.json] [--key cosign.key]
  signet verify --images ghcr.io/acme/app:1.2 --certificate-identity-regexp '^https://…' \\
      --certificate-oidc-issuer https://gitlab.com
  signet verify --dockerfile Dockerfile --policy image-policy.yml
  signet policy --policy image-policy.yml [--admission-mode enforce] > admission.yaml

\`signet policy\` writes a Kyverno ClusterPolicy and sigstore policy-controller ClusterImagePolicies
that require what the Signet policy file requires (--signature-format, --signature-repository,
--admission-mode audit|enforce; --admit-unmatched when the policy fails images no rule covers).

Keyless signing takes its OIDC token from --identity-token (the token or a file holding it),
SIGSTORE_ID_TOKEN (GitLab: id_tokens with aud: sigstore), or the GitHub Actions environment.

Flags of the command line only:
  --identity-token <token|file>   the OIDC token to sign with
  --output table|json             what goes to standard output (default: table)
  --bundle-path <file>            also write every bundle made, one JSON document per line
  --debug                         print debug lines
  --help, --version
`

function usage(message: string, input?: string): SignetError {
  return new SignetError('INPUT_INVALID', `${message} (signet --help lists the flags)`, { input })
}

/**
 * Reads argv (without node and the script). `--name value` and `--name=value` both work; a flag's
 * value may start with `-` only in the `=` form, so a missing value is caught, not swallowed.
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = {
    inputs: {},
    output: 'table',
    debug: false,
    admitUnmatched: false,
    help: false,
    version: false,
  }
  const lists: Record<string, string[]> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (arg === '--help' || arg === '-h') {
      args.help = true
      continue
    }
    if (arg === '--version') {
      args.version = true
      continue
    }
    if (arg === '--debug') {
      args.debug = true
      continue
    }
    if (arg === '--admit-unmatched') {
      args.admitUnmatched = true
      continue
    }
    if (!arg.startsWith('--')) {
      if (args.command === undefined && (arg === 'sign' || arg === 'verify' || arg === 'policy')) {
        args.command = arg
        continue
      }
      throw usage(
        args.command === undefined
          ? `unknown command "${arg}": use sign, verify or policy`
          : `unexpected argument "${arg}": every value follows its flag`,
      )
    }
    const eq = arg.indexOf('=')
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2)
    const negated = name.startsWith('no-') && BOOLEAN_INPUTS.includes(name.slice(3))
    const inline = eq >= 0 ? arg.slice(eq + 1) : undefined
    const takeValue = (): string => {
      if (inline !== undefined) return inline
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) {
        throw usage(`flag --${name} needs a value`, name)
      }
      i++
      return next
    }
    if (name === 'identity-token') args.identityToken = takeValue()
    else if (name === 'bundle-path') args.bundlePath = takeValue()
    else if (name === 'output') {
      const value = takeValue()
      if (value !== 'table' && value !== 'json') {
        throw usage(`flag --output must be table or json, not "${value}"`, 'output')
      }
      args.output = value
    } else if (negated) {
      if (inline !== undefined) throw usage(`flag --${name} takes no value`, name.slice(3))
      args.inputs[name.slice(3)] = 'false'
    } else if (BOOLEAN_INPUTS.includes(name)) {
      // A bare boolean flag is true; `--tlog=false` and `--tlog false` say it outright.
      const next = argv[i + 1]
      if (inline !== undefined) args.inputs[name] = inline
      else if (next === 'true' || next === 'false') args.inputs[name] = argv[++i]
      else args.inputs[name] = 'true'
    } else if (INPUT_FLAGS.has(name)) {
      const value = takeValue()
      if (REPEATABLE_INPUTS.includes(name)) (lists[name] ??= []).push(value)
      else if (name in args.inputs) throw usage(`flag --${name} is given twice`, name)
      else args.inputs[name] = value
    } else if (ACTION_ONLY.includes(name)) {
      throw usage(
        name === INPUT.mode
          ? 'flag --mode is the command here: signet sign or signet verify'
          : `flag --${name} is the action's only`,
        name,
      )
    } else {
      throw usage(`unknown flag --${name}`, name)
    }
  }
  for (const [name, values] of Object.entries(lists)) args.inputs[name] = values.join('\n')
  return args
}
