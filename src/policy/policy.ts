/**
 * The verify-mode policy: which signers (and which attestations) each image needs. Pure: it parses
 * and answers questions; fetching and verifying signatures is the verifier's job.
 *
 * A policy file (the `policy` input) is YAML:
 *
 * ```yaml
 * unmatched: fail            # or skip; default fail: an image no rule matches fails
 * rules:                     # ordered; the FIRST rule whose `images` match an image applies
 *   - name: our images       # optional label for reports
 *     images: ghcr.io/acme/**          # one glob or a list
 *     signers:                         # the image passes if ANY signer verifies
 *       - identityRegexp: https://github\.com/acme/[^/]+/\.github/workflows/release\.yml@refs/tags/v.*
 *         issuer: https://token.actions.githubusercontent.com
 *     attestations:                    # each must be present and valid
 *       - slsaprovenance
 *       - type: cyclonedx
 *         bannedComponents: [log4j-core]
 *   - images: [node, python]           # Docker Hub official images
 *     platforms: own-signature         # optional; default index-signature (see Platforms)
 *     signers:
 *       - publicKey: keys/docker-official.pub   # PEM text or a path
 * ```
 *
 * Images. A pattern is matched against the image's normalised name, `registry/repository` the way
 * go-containerregistry (hence cosign) renders it, with any tag or digest ignored: `node:20` is
 * `index.docker.io/library/node`. Patterns are normalised by Docker's rule too: a first component
 * with no `.` or `:` that is not `localhost` means Docker Hub (`node` → `index.docker.io/library/node`,
 * `bitnami/*` → `index.docker.io/bitnami/*`, `docker.io/**` → `index.docker.io/**`), except that
 * a first component that is only wildcards (`*`, `**`) stands for any registry (`**` matches every
 * image, `** /app` (without the space) any repository named app). Globs: `*` matches within one path
 * component, `**` across `/` (`a/** /b` also matches `a/b`), `?` one character other than `/`;
 * everything else is literal. `ghcr.io/acme/**` matches everything under ghcr.io/acme but not a
 * repository named `ghcr.io/acme` itself. Patterns must be lowercase and carry no tag or digest.
 *
 * Signers. Keyless: `identity` (exact SAN) or `identityRegexp`, with `issuer` (exact) or
 * `issuerRegexp`; both halves are required. A reusable workflow gives every repository that calls it
 * the same identity, so a keyless signer may also pin what Fulcio recorded about the run, each
 * compared with its certificate extension (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md):
 * `sourceRepository` (`owner/repo` on github.com, or the full URL) or `sourceRepositoryRegexp`
 * (matching the URL or, on github.com, `owner/repo`), `sourceRepositoryOwner` (`owner` or its URL),
 * `sourceRepositoryIdentifier` and `sourceRepositoryOwnerIdentifier` (GitHub's immutable numeric
 * ids, which a re-created repository of the same name does not get), `sourceRepositoryDigest` (the
 * commit), `sourceRef` or `sourceRefRegexp` (`refs/heads/main`, `refs/tags/v.*`), `trigger` (the
 * event: `push`, `release`…), `buildSignerURI` or `buildSignerURIRegexp` (the workflow that signed,
 * for GitHub the identity) and `runnerEnvironment` (`github-hosted` or `self-hosted`). A certificate
 * without the extension does not match. Key: `publicKey`, PEM text or a path relative to the
 * workspace (as for every other path input), read by the reader the caller passes: this module
 * reads no files itself (see PolicyReadOptions). UNLIKE cosign, whose
 * `--certificate-identity-regexp` is an unanchored search, every regexp here (in the file and in
 * the `certificate-*-regexp` inputs) must match the WHOLE value: it is compiled as `^(?:re)$`, so
 * `acme/app` does not match `https://github.com/evil/acme/app/...`. Regexps are JavaScript
 * syntax (for the usual RE2 subset the same), compiled alone first so an unbalanced `)` cannot
 * escape the anchors. Remember to escape dots: `github.com` also matches `githubXcom`.
 *
 * Attestations. A predicate type URI or one of the short names below. `spdx` accepts the
 * unversioned type cosign/syft write and the versioned ones GitHub writes (`…/Document/v2.3`); a URI
 * written out is matched exactly. `slsaprovenance` accepts SLSA v1 (what Signet and GitHub write)
 * and v0.2 (what cosign's `--type slsaprovenance` and slsa-github-generator write); a policy that
 * needs one of them says `slsaprovenance1` or `slsaprovenance02`.
 * `bannedComponents` (package names an SBOM must not contain) is allowed only on SBOM types.
 *
 * Platforms. What a platform manifest reached through an image index (listed under it with the
 * `recursive` input, or chosen by a Dockerfile's `FROM --platform=…`) needs. `index-signature`
 * (the default): its own signature, or else the index's, which covers it because the signed index
 * binds every platform manifest by its digest (what `cosign sign` on an index writes, and what
 * cosign, Kyverno and policy-controller accept). `own-signature`: its own signature only (what
 * `cosign sign --recursive` and Signet's `recursive` write). A platform manifest named by its own
 * digest always needs its own signature, and attestations are required of the named image only.
 *
 * Strictness: an unknown key anywhere, a rule without signers, an empty list, a regexp that does not
 * compile, a `publicKey` that is not a public key, and invalid YAML are all errors naming the file
 * and line (a typo must never silently weaken a policy). Errors are {@link PolicyError}s (a
 * SignetError with `input: 'policy'`, and `file`/`line` for an annotation on the policy file).
 */
import type { KeyObject } from 'node:crypto'
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Node as YamlNode,
  type YAMLMap,
} from 'yaml'
import { SignetError, isSignetError, type SignetErrorCode } from '../errors'
import type { GithubWorkflowClaims } from '../inputs'
import { parseImageReference, policyRegistryName } from '../registry/reference'
import { loadPublicKey } from '../sigstore/keys'

/** A string requirement: an exact value, or a regexp that must match the whole value. */
export type StringMatcher =
  | { kind: 'exact'; value: string }
  /** `source` as the user wrote it; `regexp` is the anchored `^(?:source)$`. */
  | { kind: 'regexp'; source: string; regexp: RegExp }

/** What one Fulcio certificate extension (1.3.6.1.4.1.57264.1.N) of a keyless signer must hold. */
export interface ExtensionRequirement {
  /** N of the extension's OID 1.3.6.1.4.1.57264.1.N. */
  extension: number
  /** For reasons: "source repository". */
  name: string
  matcher: StringMatcher
  /** The value is a URL that, on github.com, may be written as its path (`acme/app`). */
  githubPath?: boolean
}

export interface KeylessSigner {
  kind: 'keyless'
  identity: StringMatcher
  issuer: StringMatcher
  /** Extensions the certificate must carry, each as required; absent when none is pinned. */
  extensions?: ExtensionRequirement[]
}

/** Reads a file by its path as written; the caller decides what the path is relative to. */
export type PolicyFileReader = (path: string) => string

/**
 * How a policy file or the inputs read public-key files named by path. The policy reads no files
 * of its own: verify mode passes its rule-file reader (relative to the workspace, or at
 * `policy-ref`). Without `readFile`, a key named by path is refused (PEM text still works), so no
 * caller silently reads relative to the process's working directory.
 */
export interface PolicyReadOptions {
  readFile?: PolicyFileReader
}

/**
 * The reader of a caller that gave none: it refuses every path. The message does not quote the
 * path, for the reason keys.ts gives: the value may be a secret pasted into the wrong input.
 */
function refusePaths(input: string): PolicyFileReader {
  return () => {
    throw new SignetError(
      'KEY_INVALID',
      `${input}: a public key named by path needs a file reader, and none was given ` +
        '(the caller reads key files, relative to the workspace); give the key as PEM text',
      { input },
    )
  }
}

export interface KeySigner {
  kind: 'key'
  publicKey: KeyObject
  /** Where the key came from, for reports: the path, or `inline PEM`. Never the PEM itself. */
  source: string
}

export type SignerRequirement = KeylessSigner | KeySigner

export interface AttestationRequirement {
  /** As written: a short name or a URI. */
  type: string
  /** Predicate types any one of which satisfies the requirement (see resolvePredicateType). */
  predicateTypes: string[]
  /** Package names an SBOM attestation must not contain (SBOM types only; may be empty). */
  bannedComponents: string[]
}

/**
 * What covers a platform manifest reached through an index: `index-signature`, its own signature
 * or the index's; `own-signature`, its own signature only (see the module comment, Platforms).
 */
export type PlatformCoverage = 'index-signature' | 'own-signature'

export const PLATFORM_COVERAGES: readonly PlatformCoverage[] = ['index-signature', 'own-signature']

export interface Rule {
  /** The optional `name:` of the rule. */
  name?: string
  /** The patterns as written. */
  images: string[]
  /** The normalised patterns, compiled; a name matches when any one matches. */
  patterns: RegExp[]
  /** At least one; the image passes when ANY verifies. */
  signers: SignerRequirement[]
  /** Every one must be present and valid. */
  attestations: AttestationRequirement[]
  /** What a platform manifest reached through an index needs (`platforms:`; index-signature). */
  platforms: PlatformCoverage
  /** Where the rule is written (`policy.yml:12`), or the inputs it was made from. */
  source: string
}

export interface Policy {
  rules: Rule[]
  unmatched: 'fail' | 'skip'
}

/** A policy-file error: a SignetError naming input `policy`, with the file and line at fault. */
export class PolicyError extends SignetError {
  declare readonly file: string
  declare readonly line: number

  constructor(
    file: string,
    line: number,
    message: string,
    options: { code?: SignetErrorCode; cause?: unknown } = {},
  ) {
    super(options.code ?? 'POLICY_INVALID', `policy: ${file}:${line}: ${message}`, {
      input: 'policy',
      cause: options.cause,
      file,
      line,
    })
    this.name = 'PolicyError'
  }
}

// ---------------------------------------------------------------------------------------------
// Predicate types

const SPDX = 'https://spdx.dev/Document'
const CYCLONEDX = 'https://cyclonedx.org/bom'

const PREDICATE_TYPES: Record<string, string[]> = {
  cyclonedx: [CYCLONEDX],
  cyclonedxxml: [CYCLONEDX],
  spdx: [SPDX, `${SPDX}/v2.2`, `${SPDX}/v2.3`],
  spdxjson: [SPDX, `${SPDX}/v2.2`, `${SPDX}/v2.3`],
  // What Signet and GitHub write (v1) and what cosign's `--type slsaprovenance` means (v0.2).
  slsaprovenance: ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2'],
  slsaprovenance1: ['https://slsa.dev/provenance/v1'],
  slsaprovenance02: ['https://slsa.dev/provenance/v0.2'],
  vuln: ['https://cosign.sigstore.dev/attestation/vuln/v1'],
  openvex: ['https://openvex.dev/ns'],
  link: ['https://in-toto.io/Link/v1'],
  custom: ['https://cosign.sigstore.dev/attestation/v1'],
}

const URI = /^[a-z][a-z0-9+.-]*:[^\s]+$/i

/**
 * The predicate types a required attestation accepts: a short name (case-insensitive: cyclonedx,
 * spdx, spdxjson, slsaprovenance, slsaprovenance1, slsaprovenance02, vuln, openvex, link, custom)
 * maps to its URI(s); a URI is taken as is. Anything else is an INPUT_INVALID error naming `input`.
 */
export function resolvePredicateType(nameOrUri: string, input = 'require-attestations'): string[] {
  const value = nameOrUri.trim()
  const known = PREDICATE_TYPES[value.toLowerCase()]
  if (known) return [...known]
  if (URI.test(value)) return [value]
  throw new SignetError(
    'INPUT_INVALID',
    `${input}: unknown predicate type "${value}": use a predicate type URI ` +
      `(e.g. https://slsa.dev/provenance/v1) or one of ${Object.keys(PREDICATE_TYPES).join(', ')}`,
    { input },
  )
}

function isSbomType(predicateType: string): boolean {
  return (
    predicateType === CYCLONEDX ||
    predicateType.startsWith(`${CYCLONEDX}/`) ||
    predicateType === SPDX ||
    predicateType.startsWith(`${SPDX}/`)
  )
}

// ---------------------------------------------------------------------------------------------
// Image patterns

/**
 * A glob as an anchored RegExp: `*` matches within one path component, `**` across `/` (and
 * `**` followed by `/` also matches nothing, so `a/** /b` (no space) matches `a/b`), `?` one
 * character other than `/`; every other character is literal.
 */
export function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length;) {
    const c = glob[i]
    if (c === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?'
        i += 3
      } else {
        out += '.*'
        i += 2
      }
    } else if (c === '*') {
      out += '[^/]*'
      i += 1
    } else if (c === '?') {
      out += '[^/]'
      i += 1
    } else {
      out += c.replace(/[\\^$.|+()[\]{}-]/g, '\\$&')
      i += 1
    }
  }
  return new RegExp(`^${out}$`)
}

/**
 * Brings a pattern to the form of a normalised image name (see the module comment), or returns an
 * error message.
 */
function normaliseImagePattern(pattern: string): { pattern: string } | { error: string } {
  const p = pattern.trim()
  if (p === '') return { error: 'an image pattern is empty' }
  if (/\s/.test(p)) return { error: `image pattern "${p}" contains whitespace` }
  if (p.includes('://')) {
    return {
      error: `image pattern "${p}": drop the URL scheme (registries are named by host only)`,
    }
  }
  if (p.includes('@')) {
    return { error: `image pattern "${p}": patterns match repositories; drop the digest` }
  }
  if (p !== p.toLowerCase()) {
    return { error: `image pattern "${p}" must be lowercase ("${p.toLowerCase()}")` }
  }
  const slash = p.indexOf('/')
  const first = slash >= 0 ? p.slice(0, slash) : ''
  const firstIsRegistry =
    slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')
  const rest = firstIsRegistry ? p.slice(slash + 1) : p
  if (rest.includes(':')) {
    return { error: `image pattern "${p}": patterns match repositories; drop the tag` }
  }
  if (p === '**' || (slash >= 0 && /^\*+$/.test(first))) return { pattern: p }
  if (!firstIsRegistry) {
    return { pattern: `index.docker.io/${rest.includes('/') ? rest : `library/${rest}`}` }
  }
  // The registry as image names carry it (policyName): every Docker Hub alias is index.docker.io,
  // and a default port is dropped, so `ghcr.io:443/*` and `ghcr.io/*` are one pattern.
  const registry = /[*?]/.test(first)
    ? first.replace(/:(?:443|80)$/, '')
    : policyRegistryName(first)
  if (registry === 'index.docker.io') {
    return { pattern: `index.docker.io/${rest.includes('/') ? rest : `library/${rest}`}` }
  }
  return { pattern: `${registry}/${rest}` }
}

/**
 * The first rule whose images match `imageName` (any reference form; the tag and digest are
 * ignored), or undefined. Throws IMAGE_REFERENCE_INVALID for a name that is not a reference.
 */
export function ruleFor(policy: Policy, imageName: string): Rule | undefined {
  // policyName, not name: a default port (`ghcr.io:443`, `host:80`) cannot move an image out of
  // the rule its registry is under.
  const name = parseImageReference(imageName).policyName
  return policy.rules.find((rule) => rule.patterns.some((re) => re.test(name)))
}

// ---------------------------------------------------------------------------------------------
// Identities

/**
 * Compiles a user's regexp to match whole values, or returns why it cannot. The source is compiled
 * alone first: `a)|(b` would otherwise become `^(?:a)|(b)$`, whose second branch is unanchored.
 */
function compileWholeMatch(source: string): RegExp | string {
  if (source === '') return 'the regular expression is empty'
  try {
    new RegExp(source)
    return new RegExp(`^(?:${source})$`)
  } catch (err) {
    return `invalid regular expression "${source}": ${(err as Error).message}`
  }
}

/** "identity \"X\"" or "identity matching the regular expression …", for reasons. */
export function describeMatcher(what: string, m: StringMatcher): string {
  return m.kind === 'exact'
    ? `${what} "${m.value}"`
    : `${what} matching the regular expression "${m.source}" (whole value)`
}

export function matchesString(m: StringMatcher, value: string): boolean {
  return m.kind === 'exact' ? m.value === value : m.regexp.test(value)
}

/**
 * Whether a certificate's SAN and OIDC issuer satisfy a keyless signer. Exact values compare as
 * strings; regexps must match the whole value. The reason names what was expected and found.
 */
export function matchesIdentity(
  signer: KeylessSigner,
  san: string,
  issuer: string,
): { ok: true } | { ok: false; reason: string } {
  const reasons: string[] = []
  if (!matchesString(signer.identity, san)) {
    reasons.push(`expected ${describeMatcher('identity', signer.identity)}, got "${san}"`)
  }
  if (!matchesString(signer.issuer, issuer)) {
    reasons.push(`expected ${describeMatcher('issuer', signer.issuer)}, got "${issuer}"`)
  }
  return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') }
}

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

// ---------------------------------------------------------------------------------------------
// The policy file

interface Ctx {
  file: string
  lines: LineCounter
}

function lineOf(ctx: Ctx, node: YamlNode | null | undefined): number {
  const offset = node?.range?.[0]
  return offset === undefined ? 1 : ctx.lines.linePos(offset).line
}

function fail(ctx: Ctx, node: YamlNode | null | undefined, message: string): PolicyError {
  return new PolicyError(ctx.file, lineOf(ctx, node), message)
}

/** The entries of a mapping, checked against the keys allowed there. */
function entries(
  ctx: Ctx,
  node: YamlNode | null | undefined,
  what: string,
  allowed: readonly string[],
): Map<string, { key: YamlNode; value: YamlNode | null }> {
  if (!isMap(node)) throw fail(ctx, node, `${what} must be a mapping`)
  const out = new Map<string, { key: YamlNode; value: YamlNode | null }>()
  for (const pair of (node as YAMLMap<YamlNode, YamlNode | null>).items) {
    const key = pair.key
    if (!isScalar(key) || typeof key.value !== 'string') {
      throw fail(ctx, isScalar(key) ? key : node, `${what}: keys must be plain strings`)
    }
    if (!allowed.includes(key.value)) {
      throw fail(ctx, key, `unknown key "${key.value}" in ${what} (allowed: ${allowed.join(', ')})`)
    }
    out.set(key.value, { key, value: pair.value })
  }
  return out
}

function str(ctx: Ctx, node: YamlNode | null | undefined, what: string): string {
  if (!isScalar(node) || typeof node.value !== 'string') {
    throw fail(ctx, node, `${what} must be a string`)
  }
  if (node.value.trim() === '') throw fail(ctx, node, `${what} is empty`)
  return node.value
}

/** A string or a non-empty list of strings. */
function strList(
  ctx: Ctx,
  node: YamlNode | null | undefined,
  what: string,
): { value: string; node: YamlNode }[] {
  if (isSeq(node)) {
    const items = node.items as (YamlNode | null)[]
    if (items.length === 0) throw fail(ctx, node, `${what} is an empty list`)
    return items.map((item) => ({ value: str(ctx, item, `each entry of ${what}`), node: item! }))
  }
  return [{ value: str(ctx, node, what), node: node! }]
}

function seq(ctx: Ctx, node: YamlNode | null | undefined, what: string): (YamlNode | null)[] {
  if (!isSeq(node)) throw fail(ctx, node, `${what} must be a list`)
  const items = node.items as (YamlNode | null)[]
  if (items.length === 0) throw fail(ctx, node, `${what} is an empty list`)
  return items
}

function matcher(
  ctx: Ctx,
  fields: Map<string, { key: YamlNode; value: YamlNode | null }>,
  exactKey: string,
  regexpKey: string,
  signerNode: YamlNode,
): StringMatcher {
  const exact = fields.get(exactKey)
  const re = fields.get(regexpKey)
  if (exact && re) {
    throw fail(ctx, re.key, `a signer has both ${exactKey} and ${regexpKey}; give one`)
  }
  if (exact) return { kind: 'exact', value: str(ctx, exact.value, exactKey) }
  if (re) {
    const source = str(ctx, re.value, regexpKey)
    const compiled = compileWholeMatch(source)
    if (typeof compiled === 'string') throw fail(ctx, re.value, `${regexpKey}: ${compiled}`)
    return { kind: 'regexp', source, regexp: compiled }
  }
  throw fail(
    ctx,
    signerNode,
    `a keyless signer needs ${exactKey} or ${regexpKey} (identity and issuer are both required)`,
  )
}

/** A policy-file key (and its regexp twin) that pins one Fulcio extension of a keyless signer. */
interface ExtensionKey {
  key: string
  regexpKey?: string
  extension: number
  name: string
  githubPath?: boolean
  /** What an exact value must look like, when it is not a URL; the message says what to write. */
  shape?: { re: RegExp; message: string }
}

const EXTENSION_KEYS: readonly ExtensionKey[] = [
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

const SIGNER_KEYS = [
  'identity',
  'identityRegexp',
  'issuer',
  'issuerRegexp',
  'publicKey',
  ...EXTENSION_KEYS.flatMap((e) => (e.regexpKey ? [e.key, e.regexpKey] : [e.key])),
] as const

/** The extension requirements a keyless signer's fields state, in EXTENSION_KEYS order. */
function extensionRequirements(
  ctx: Ctx,
  fields: Map<string, { key: YamlNode; value: YamlNode | null }>,
): ExtensionRequirement[] {
  const out: ExtensionRequirement[] = []
  for (const spec of EXTENSION_KEYS) {
    const exact = fields.get(spec.key)
    const re = spec.regexpKey ? fields.get(spec.regexpKey) : undefined
    if (exact && re) {
      throw fail(ctx, re.key, `a signer has both ${spec.key} and ${spec.regexpKey}; give one`)
    }
    let matcher: StringMatcher | undefined
    if (exact) {
      const value = str(ctx, exact.value, spec.key).trim()
      if (spec.shape && !value.includes('://') && !spec.shape.re.test(value)) {
        throw fail(ctx, exact.value, `${spec.key} "${value}": ${spec.shape.message}`)
      }
      matcher = { kind: 'exact', value }
    } else if (re && spec.regexpKey) {
      const source = str(ctx, re.value, spec.regexpKey)
      const compiled = compileWholeMatch(source)
      if (typeof compiled === 'string') throw fail(ctx, re.value, `${spec.regexpKey}: ${compiled}`)
      matcher = { kind: 'regexp', source, regexp: compiled }
    }
    if (matcher) {
      out.push({
        extension: spec.extension,
        name: spec.name,
        matcher,
        ...(spec.githubPath ? { githubPath: true } : {}),
      })
    }
  }
  return out
}

function parseSigner(
  ctx: Ctx,
  node: YamlNode | null,
  readFile: PolicyFileReader,
): SignerRequirement {
  const fields = entries(ctx, node, 'a signer', SIGNER_KEYS)
  const key = fields.get('publicKey')
  if (key) {
    const other = [...fields.keys()].find((k) => k !== 'publicKey')
    if (other !== undefined) {
      throw fail(
        ctx,
        fields.get(other)!.key,
        `a signer is either a publicKey or a keyless identity, not both ("${other}"); ` +
          'list them as two signers',
      )
    }
    const text = str(ctx, key.value, 'publicKey')
    try {
      return {
        kind: 'key',
        publicKey: loadPublicKey(text, 'policy', readFile),
        source: text.includes('-----BEGIN') ? 'inline PEM' : text.trim(),
      }
    } catch (err) {
      const message = isSignetError(err) ? err.message.replace(/^policy: /, '') : String(err)
      throw new PolicyError(ctx.file, lineOf(ctx, key.value), `publicKey: ${message}`, {
        code: isSignetError(err) ? err.code : 'POLICY_INVALID',
        cause: err,
      })
    }
  }
  if (fields.size === 0) throw fail(ctx, node, 'a signer is empty')
  const identity = matcher(ctx, fields, 'identity', 'identityRegexp', node!)
  const issuer = matcher(ctx, fields, 'issuer', 'issuerRegexp', node!)
  const extensions = extensionRequirements(ctx, fields)
  return {
    kind: 'keyless',
    identity,
    issuer,
    ...(extensions.length > 0 ? { extensions } : {}),
  }
}

function parseAttestation(ctx: Ctx, node: YamlNode | null): AttestationRequirement {
  let typeNode: YamlNode | null | undefined = node
  let banned: string[] = []
  let bannedNode: YamlNode | undefined
  if (isMap(node)) {
    const fields = entries(ctx, node, 'an attestation', ['type', 'bannedComponents'])
    const t = fields.get('type')
    if (!t)
      throw fail(ctx, node, 'an attestation needs a type (a predicate type URI or short name)')
    typeNode = t.value
    const b = fields.get('bannedComponents')
    if (b) {
      bannedNode = b.key
      banned = seq(ctx, b.value, 'bannedComponents').map((item) =>
        str(ctx, item, 'each entry of bannedComponents').trim(),
      )
    }
  }
  const type = str(ctx, typeNode, 'an attestation type')
  let predicateTypes: string[]
  try {
    predicateTypes = resolvePredicateType(type, 'policy')
  } catch (err) {
    const message = isSignetError(err) ? err.message.replace(/^policy: /, '') : String(err)
    throw fail(ctx, typeNode, message)
  }
  if (bannedNode && !predicateTypes.every(isSbomType)) {
    throw fail(
      ctx,
      bannedNode,
      `bannedComponents applies to SBOM attestations (cyclonedx, spdx), not "${type}"`,
    )
  }
  return { type: type.trim(), predicateTypes, bannedComponents: banned }
}

function attestationList(ctx: Ctx, node: YamlNode | null): AttestationRequirement[] {
  if (!isSeq(node)) throw fail(ctx, node, 'attestations must be a list')
  return (node.items as (YamlNode | null)[]).map((a) => parseAttestation(ctx, a))
}

function parseRule(ctx: Ctx, node: YamlNode | null, readFile: PolicyFileReader): Rule {
  const fields = entries(ctx, node, 'a rule', [
    'name',
    'images',
    'platforms',
    'signers',
    'attestations',
  ])
  const where = `${ctx.file}:${lineOf(ctx, node)}`
  const images = fields.get('images')
  if (!images) throw fail(ctx, node, 'a rule needs images: (a glob or a list of globs)')
  const patterns = strList(ctx, images.value, 'images').map(({ value, node: n }) => {
    const normalised = normaliseImagePattern(value)
    if ('error' in normalised) throw fail(ctx, n, normalised.error)
    return { value: value.trim(), re: globToRegExp(normalised.pattern) }
  })
  const signers = fields.get('signers')
  if (!signers) {
    throw fail(
      ctx,
      node,
      'a rule needs signers: (who must have signed its images); a rule never accepts any signer',
    )
  }
  const attestations = fields.get('attestations')
  const name = fields.get('name')
  const platforms = fields.get('platforms')
  return {
    ...(name ? { name: str(ctx, name.value, 'name') } : {}),
    images: patterns.map((p) => p.value),
    patterns: patterns.map((p) => p.re),
    signers: seq(ctx, signers.value, 'signers').map((s) => parseSigner(ctx, s, readFile)),
    attestations:
      attestations && !(isScalar(attestations.value) && attestations.value.value === null)
        ? attestationList(ctx, attestations.value)
        : [],
    platforms: platforms ? platformCoverage(ctx, platforms.value) : 'index-signature',
    source: where,
  }
}

function platformCoverage(ctx: Ctx, node: YamlNode | null): PlatformCoverage {
  const value = str(ctx, node, 'platforms')
  const known = PLATFORM_COVERAGES.find((c) => c === value)
  if (!known) {
    throw fail(
      ctx,
      node,
      `platforms must be "index-signature" (a platform manifest reached through an index is ` +
        `covered by the index's signature) or "own-signature" (it needs its own), not "${value}"`,
    )
  }
  return known
}

function rejectAliases(ctx: Ctx, node: unknown): void {
  if (isAlias(node)) throw fail(ctx, node, 'YAML aliases (*name) are not supported in a policy')
  if (isMap(node) || isSeq(node)) {
    for (const item of node.items as unknown[]) {
      if (item && typeof item === 'object' && 'key' in item && 'value' in item) {
        rejectAliases(ctx, (item as { key: unknown }).key)
        rejectAliases(ctx, (item as { value: unknown }).value)
      } else {
        rejectAliases(ctx, item)
      }
    }
  }
}

/**
 * Parses a policy file's text. `file` names it in errors (as the user gave it in `policy`);
 * `options.readFile` reads the public keys it names by path (without it, such a key is refused).
 * Throws a PolicyError (or KEY_INVALID for a bad publicKey), each with the line at fault.
 */
export function parsePolicy(text: string, file: string, options: PolicyReadOptions = {}): Policy {
  const lines = new LineCounter()
  const ctx: Ctx = { file, lines }
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false })
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem) {
    const line = problem.linePos?.[0].line ?? lines.linePos(problem.pos[0]).line
    const message = problem.message.split('\n')[0]
    throw new PolicyError(file, line, `invalid YAML: ${message}`, { cause: problem })
  }
  const root = doc.contents
  if (root === null || (isScalar(root) && root.value === null)) {
    throw new PolicyError(file, 1, 'the policy is empty; it needs rules:')
  }
  rejectAliases(ctx, root)
  const fields = entries(ctx, root, 'the policy', ['rules', 'unmatched'])
  let unmatched: Policy['unmatched'] = 'fail'
  const um = fields.get('unmatched')
  if (um) {
    const value = str(ctx, um.value, 'unmatched')
    if (value !== 'fail' && value !== 'skip') {
      throw fail(ctx, um.value, `unmatched must be "fail" or "skip", not "${value}"`)
    }
    unmatched = value
  }
  const rules = fields.get('rules')
  if (!rules) throw fail(ctx, root, 'the policy needs rules:')
  const readFile = options.readFile ?? refusePaths('policy')
  return {
    rules: seq(ctx, rules.value, 'rules').map((r) => parseRule(ctx, r, readFile)),
    unmatched,
  }
}

// ---------------------------------------------------------------------------------------------
// The identity inputs

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

/**
 * cosign's --certificate-github-workflow-* flags, checked as cosign checks them: the raw value of
 * Fulcio's deprecated GitHub extension (1.3.6.1.4.1.57264.1.2 to .6) must equal the flag exactly.
 */
const GITHUB_WORKFLOW_INPUTS: readonly {
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
    signers.push({
      kind: 'key',
      publicKey: loadPublicKey(key, 'public-key', options.readFile ?? refusePaths('public-key')),
      source: key.includes('-----BEGIN') ? 'inline PEM' : key,
    })
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
