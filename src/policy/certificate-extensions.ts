/**
 * What Fulcio recorded about the run that signed, each pinned through its certificate extension
 * (1.3.6.1.4.1.57264.1.N, https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md). A reusable
 * workflow gives every repository that calls it the same identity, so a keyless signer may also
 * pin `sourceRepository` (`owner/repo` on github.com, or the full URL) or `sourceRepositoryRegexp`
 * (matching the URL or, on github.com, `owner/repo`), `sourceRepositoryOwner` (`owner` or its URL),
 * `sourceRepositoryIdentifier` and `sourceRepositoryOwnerIdentifier` (GitHub's immutable numeric
 * ids, which a re-created repository of the same name does not get), `sourceRepositoryDigest` (the
 * commit), `sourceRef` or `sourceRefRegexp` (`refs/heads/main`, `refs/tags/v.*`), `trigger` (the
 * event: `push`, `release`…), `buildSignerURI` or `buildSignerURIRegexp` (the workflow that signed,
 * for GitHub the identity) and `runnerEnvironment` (`github-hosted` or `self-hosted`). The
 * `certificate-github-workflow-*` inputs pin Fulcio's deprecated GitHub extensions (.2 to .6) as
 * cosign's flags of the same names do. A certificate without the extension does not match.
 */
import type { GithubWorkflowClaims } from '../inputs'
import { matchesString } from './identities'
import type { ExtensionRequirement, KeylessSigner } from './types'

const GITHUB = 'https://github.com/'

function matchesExtension(requirement: ExtensionRequirement, value: string): boolean {
  if (matchesString(requirement.matcher, value)) return true
  if (!requirement.githubPath || !value.startsWith(GITHUB)) return false
  // `acme/app` written for https://github.com/acme/app: compare the path.
  return matchesString(requirement.matcher, value.slice(GITHUB.length))
}

/** "source repository acme/app", or "… matching the regular expression …", for reasons. */
function describeExtension(requirement: ExtensionRequirement): string {
  const m = requirement.matcher
  return m.kind === 'exact'
    ? `${requirement.name} ${m.value}`
    : `${requirement.name} matching the regular expression "${m.source}" (whole value)`
}

/**
 * The first extension requirement of a keyless signer that a certificate's Fulcio extensions
 * (`fulcioExtensions`: OID to string) do not meet, as a reason ("expected source repository
 * acme/app, got evil/app"); undefined when all are met. A missing extension meets none.
 */
export function extensionMismatch(
  signer: KeylessSigner,
  extensions: Record<string, string>,
): string | undefined {
  for (const requirement of signer.extensions ?? []) {
    const value = extensions[`1.3.6.1.4.1.57264.1.${requirement.extension}`]
    if (value !== undefined && matchesExtension(requirement, value)) continue
    const shown =
      value === undefined
        ? '(none)'
        : requirement.githubPath && value.startsWith(GITHUB)
          ? value.slice(GITHUB.length)
          : value
    return `expected ${describeExtension(requirement)}, got ${shown}`
  }
  return undefined
}

/** A policy-file key (and its regexp twin) that pins one Fulcio extension of a keyless signer. */
export interface ExtensionKey {
  key: string
  regexpKey?: string
  extension: number
  name: string
  githubPath?: boolean
  /** What an exact value must look like, when it is not a URL; the message says what to write. */
  shape?: { re: RegExp; message: string }
}

export const EXTENSION_KEYS: readonly ExtensionKey[] = [
  {
    key: 'sourceRepository',
    regexpKey: 'sourceRepositoryRegexp',
    extension: 12,
    name: 'source repository',
    githubPath: true,
    shape: {
      re: /^[^/\s]+\/[^/\s]+$/,
      message: 'write owner/repo (a github.com repository) or the full repository URL',
    },
  },
  {
    key: 'sourceRepositoryOwner',
    extension: 16,
    name: 'source repository owner',
    githubPath: true,
    shape: {
      re: /^[^/\s]+$/,
      message: 'write the owner (a github.com user or organisation) or its full URL',
    },
  },
  { key: 'sourceRepositoryIdentifier', extension: 15, name: 'source repository identifier' },
  {
    key: 'sourceRepositoryOwnerIdentifier',
    extension: 17,
    name: 'source repository owner identifier',
  },
  { key: 'sourceRepositoryDigest', extension: 13, name: 'source repository digest' },
  { key: 'sourceRef', regexpKey: 'sourceRefRegexp', extension: 14, name: 'source ref' },
  { key: 'trigger', extension: 20, name: 'trigger' },
  {
    key: 'buildSignerURI',
    regexpKey: 'buildSignerURIRegexp',
    extension: 9,
    name: 'build signer URI',
  },
  { key: 'runnerEnvironment', extension: 11, name: 'runner environment' },
]

/**
 * cosign's --certificate-github-workflow-* flags, checked as cosign checks them: the raw value of
 * Fulcio's deprecated GitHub extension (1.3.6.1.4.1.57264.1.2 to .6) must equal the flag exactly.
 */
export const GITHUB_WORKFLOW_INPUTS: readonly {
  claim: keyof GithubWorkflowClaims
  input: string
  extension: number
  name: string
}[] = [
  {
    claim: 'trigger',
    input: 'certificate-github-workflow-trigger',
    extension: 2,
    name: 'GitHub workflow trigger',
  },
  {
    claim: 'sha',
    input: 'certificate-github-workflow-sha',
    extension: 3,
    name: 'GitHub workflow sha',
  },
  {
    claim: 'name',
    input: 'certificate-github-workflow-name',
    extension: 4,
    name: 'GitHub workflow name',
  },
  {
    claim: 'repository',
    input: 'certificate-github-workflow-repository',
    extension: 5,
    name: 'GitHub workflow repository',
  },
  {
    claim: 'ref',
    input: 'certificate-github-workflow-ref',
    extension: 6,
    name: 'GitHub workflow ref',
  },
]
