/**
 * `signet policy`: the admission policies a Signet policy file asks for, as YAML on standard
 * output: a Kyverno ClusterPolicy, then sigstore policy-controller ClusterImagePolicies, so a
 * cluster enforces what the pull-request check verifies (src/admission; issue 13.3).
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { admissionFromPolicy, clusterImagePolicy, kyvernoPolicy } from '../admission'
import { isSignetError, SignetError } from '../errors'
import { INPUT, type AdmissionMode, type SignatureFormat } from '../inputs'
import { parsePolicy } from '../policy/policy-file'
import { parseImageReference } from '../registry/reference'
import type { CliArgs } from './args'

/** The flags `signet policy` reads; any other input is a mistake worth stopping for. */
const POLICY_FLAGS: readonly string[] = [
  INPUT.policy,
  INPUT.signatureFormat,
  INPUT.signatureRepository,
  INPUT.admissionMode,
  INPUT.tlog,
]

function choice<T extends string>(
  flags: Record<string, string>,
  name: string,
  allowed: T[],
  fallback: T,
): T {
  const value = flags[name]
  if (value === undefined) return fallback
  if ((allowed as string[]).includes(value)) return value as T
  throw new SignetError(
    'INPUT_INVALID',
    `--${name} must be one of ${allowed.join(', ')}, not "${value}"`,
    {
      input: name,
    },
  )
}

export interface GeneratedAdmission {
  /** Both resources, as one YAML stream. */
  yaml: string
  /** Where a controller reads the policy otherwise than Signet. */
  notes: string[]
  /** The resource that could not be generated, and why. */
  problems: string[]
}

export function policyCommand(args: CliArgs, cwd: string): GeneratedAdmission {
  const flags = args.inputs
  for (const name of Object.keys(flags)) {
    if (!POLICY_FLAGS.includes(name)) {
      throw new SignetError('INPUT_INVALID', `flag --${name} is not used by signet policy`, {
        input: name,
      })
    }
  }
  const file = flags[INPUT.policy]
  if (!file) {
    throw new SignetError('INPUT_INVALID', 'signet policy needs --policy, the Signet policy file', {
      input: INPUT.policy,
    })
  }
  const readFile = (path: string): string => readFileSync(resolve(cwd, path), 'utf8')
  let text: string
  try {
    text = readFile(file)
  } catch {
    throw new SignetError('INPUT_INVALID', `--policy: cannot read ${file}`, { input: INPUT.policy })
  }
  const policy = parsePolicy(text, file, { readFile })
  const mode = choice<AdmissionMode>(flags, INPUT.admissionMode, ['audit', 'enforce'], 'audit')
  const signatureFormat = choice<SignatureFormat>(
    flags,
    INPUT.signatureFormat,
    ['legacy', 'bundle', 'both'],
    'both',
  )
  const repository = flags[INPUT.signatureRepository]
  if (repository !== undefined) parseImageReference(repository, INPUT.signatureRepository)
  const spec = admissionFromPolicy(policy, {
    signatureFormat,
    transparencyLog: choice(flags, INPUT.tlog, ['true', 'false'], 'true') === 'true',
    admitUnmatched: args.admitUnmatched,
    signatureRepository: repository,
  })
  // Each resource on its own, as the action's outputs are: what one controller cannot check (a
  // banned package in a ClusterImagePolicy) costs only that resource, and says so.
  const yaml: string[] = []
  const notes: string[] = []
  const problems: string[] = []
  for (const [what, make] of [
    ['Kyverno ClusterPolicy', kyvernoPolicy],
    ['ClusterImagePolicy', clusterImagePolicy],
  ] as const) {
    try {
      const generated = make(spec, { mode })
      yaml.push(generated.yaml.replace(/\n*$/, '\n'))
      for (const note of generated.notes) if (!notes.includes(note)) notes.push(note)
    } catch (err) {
      if (!isSignetError(err)) throw err
      problems.push(`no ${what}: ${err.message}`)
    }
  }
  if (yaml.length === 0) {
    throw new SignetError('ADMISSION_UNSUPPORTED', problems.join('; '), { input: INPUT.policy })
  }
  return { yaml: yaml.join('---\n'), notes, problems }
}
