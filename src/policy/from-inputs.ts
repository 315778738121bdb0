/**
 * The policy the identity inputs describe (`certificate-*`, `public-key`, `require-attestations`):
 * one rule for every image, for a workflow that needs no policy file.
 */
import { SignetError } from '../errors'
import type { GithubWorkflowClaims } from '../inputs'
import { GITHUB_WORKFLOW_INPUTS } from './certificate-extensions'
import { compileWholeMatch } from './identities'
import { globToRegExp } from './image-patterns'
import { resolvePredicateType } from './predicate-types'
import { keySigner, refusePaths, type PolicyReadOptions } from './public-keys'
import type { ExtensionRequirement, Policy, SignerRequirement, StringMatcher } from './types'

export interface PolicyInputs {
  certificateIdentity?: string
  certificateIdentityRegexp?: string
  certificateOidcIssuer?: string
  certificateOidcIssuerRegexp?: string
  /** cosign's --certificate-github-workflow-* flags: pins on the keyless signer's certificate. */
  certificateGithubWorkflow?: GithubWorkflowClaims
  publicKey?: string
  requireAttestations?: string[]
}

function inputInvalid(input: string, message: string): SignetError {
  return new SignetError('INPUT_INVALID', `${input}: ${message}`, { input })
}

function inputMatcher(
  exact: { name: string; value: string | undefined },
  re: { name: string; value: string | undefined },
): StringMatcher | undefined {
  const e = exact.value?.trim() || undefined
  const r = re.value?.trim() || undefined
  if (e !== undefined && r !== undefined) {
    throw inputInvalid(re.name, `set ${exact.name} or ${re.name}, not both`)
  }
  if (e !== undefined) return { kind: 'exact', value: e }
  if (r !== undefined) {
    const compiled = compileWholeMatch(r)
    if (typeof compiled === 'string') throw inputInvalid(re.name, compiled)
    return { kind: 'regexp', source: r, regexp: compiled }
  }
  return undefined
}

/**
 * The policy the `certificate-*`, `public-key` and `require-attestations` inputs describe: one rule
 * for every image (`**`), whose signers are the keyless identity and/or the public key (either
 * passes). The `certificate-github-workflow-*` inputs pin the keyless signer's certificate as
 * cosign's flags of the same names do. Undefined when none of them is set (the caller then needs a
 * `policy` file). Errors: an identity without an issuer or vice versa (naming the missing input), an
 * exact value and a regexp for the same thing, a regexp that does not compile, a public key that is
 * not one, a `certificate-github-workflow-*` input without a keyless identity, and
 * `require-attestations` without any signer (attestations are only meaningful from a known signer).
 * `options.readFile` reads `public-key` when it is a path (without it, a path is refused).
 */
export function policyFromInputs(
  inputs: PolicyInputs,
  options: PolicyReadOptions = {},
): Policy | undefined {
  const identity = inputMatcher(
    { name: 'certificate-identity', value: inputs.certificateIdentity },
    { name: 'certificate-identity-regexp', value: inputs.certificateIdentityRegexp },
  )
  const issuer = inputMatcher(
    { name: 'certificate-oidc-issuer', value: inputs.certificateOidcIssuer },
    { name: 'certificate-oidc-issuer-regexp', value: inputs.certificateOidcIssuerRegexp },
  )
  if (identity && !issuer) {
    throw inputInvalid(
      'certificate-oidc-issuer',
      'is required with certificate-identity(-regexp): set the OIDC issuer that must have issued ' +
        "the signer's certificate (for GitHub Actions https://token.actions.githubusercontent.com)",
    )
  }
  if (issuer && !identity) {
    throw inputInvalid(
      'certificate-identity',
      'is required with certificate-oidc-issuer(-regexp): set the signer identity (certificate ' +
        'SAN) to expect, or certificate-identity-regexp',
    )
  }
  const pinned = GITHUB_WORKFLOW_INPUTS.flatMap((spec) => {
    const value = inputs.certificateGithubWorkflow?.[spec.claim]?.trim()
    return value ? [{ spec, value }] : []
  })
  if (pinned.length > 0 && !identity) {
    throw inputInvalid(
      pinned[0].spec.input,
      "pins the keyless signer's certificate: set certificate-identity (or " +
        'certificate-identity-regexp) and certificate-oidc-issuer too',
    )
  }
  const extensions: ExtensionRequirement[] = pinned.map(({ spec, value }) => ({
    extension: spec.extension,
    name: spec.name,
    matcher: { kind: 'exact', value },
  }))
  const signers: SignerRequirement[] = []
  if (identity && issuer) {
    signers.push({
      kind: 'keyless',
      identity,
      issuer,
      ...(extensions.length > 0 ? { extensions } : {}),
    })
  }
  const key = inputs.publicKey?.trim()
  if (key) {
    signers.push(keySigner(key, 'public-key', options.readFile ?? refusePaths('public-key')))
  }
  const wanted = (inputs.requireAttestations ?? []).map((s) => s.trim()).filter((s) => s !== '')
  if (signers.length === 0) {
    if (wanted.length > 0) {
      throw inputInvalid(
        'require-attestations',
        'needs a signer to trust the attestations from: set certificate-identity and ' +
          'certificate-oidc-issuer, or public-key (or use a policy file)',
      )
    }
    return undefined
  }
  const sources = [
    identity && 'certificate-identity',
    ...pinned.map((p) => p.spec.input),
    key && 'public-key',
    wanted.length > 0 && 'require-attestations',
  ].filter(Boolean)
  return {
    unmatched: 'fail',
    rules: [
      {
        images: ['**'],
        patterns: [globToRegExp('**')],
        signers,
        attestations: wanted.map((type) => ({
          type,
          predicateTypes: resolvePredicateType(type, 'require-attestations'),
          bannedComponents: [],
        })),
        platforms: 'index-signature',
        source: `inputs (${sources.join(', ')})`,
      },
    ],
  }
}
