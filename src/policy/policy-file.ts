/**
 * The policy file (the `policy` input), YAML:
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
 *   - images: registry.example.com/strict/**
 *     signatureRepository: registry.example.com/signatures   # optional (see Signature repository)
 *     signers: …
 * ```
 *
 * What each part means lives beside the code that checks it: images in image-patterns.ts,
 * identities and regexps in identities.ts, the GitHub claims in certificate-extensions.ts, public
 * keys in public-keys.ts, attestations in predicate-types.ts.
 *
 * Platforms. What a platform manifest reached through an image index (listed under it with the
 * `recursive` input, or chosen by a Dockerfile's `FROM --platform=…`) needs. `index-signature`
 * (the default): its own signature, or else the index's, which covers it because the signed index
 * binds every platform manifest by its digest (what `cosign sign` on an index writes, and what
 * cosign, Kyverno and policy-controller accept). `own-signature`: its own signature only (what
 * `cosign sign --recursive` and Signet's `recursive` write). A platform manifest named by its own
 * digest always needs its own signature, and attestations are required of the named image only.
 *
 * Signature repository. Where the rule's images' signatures and attestations are stored when not
 * beside each image: cosign's COSIGN_REPOSITORY (see src/storage/signature-repository.ts). A
 * repository, without tag or digest. It overrides the `signature-repository` input for the images
 * the rule covers; a rule without one uses the input.
 *
 * Strictness: an unknown key anywhere, a rule without signers, an empty list, a regexp that does not
 * compile, a `publicKey` that is not a public key, and invalid YAML are all errors naming the file
 * and line (a typo must never silently weaken a policy). Errors are {@link PolicyError}s (a
 * SignetError with `input: 'policy'`, and `file`/`line` for an annotation on the policy file).
 */
import type * as Yaml from 'yaml'
import type { LineCounter, Node as YamlNode, YAMLMap } from 'yaml'
import { SignetError, isSignetError, type SignetErrorCode } from '../errors'
import { EXTENSION_KEYS } from './certificate-extensions'
import { compileWholeMatch } from './identities'
import { globToRegExp, normaliseImagePattern } from './image-patterns'
import { parseImageReference, type ImageReference } from '../registry/reference'
import { isSbomType, resolvePredicateType } from './predicate-types'
import {
  keySigner,
  refusePaths,
  type PolicyFileReader,
  type PolicyReadOptions,
} from './public-keys'
import {
  PLATFORM_COVERAGES,
  type AttestationRequirement,
  type ExtensionRequirement,
  type PlatformCoverage,
  type Policy,
  type Rule,
  type SignerRequirement,
  type StringMatcher,
} from './types'

/**
 * The YAML parser, loaded when a policy file is first read: most runs name their signer in inputs
 * and never parse one, and imported, the parser was loaded before every verify run's first request
 * (issue 11: start-up).
 */
function yaml(): typeof Yaml {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('yaml') as typeof Yaml
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
  if (!yaml().isMap(node)) throw fail(ctx, node, `${what} must be a mapping`)
  const out = new Map<string, { key: YamlNode; value: YamlNode | null }>()
  for (const pair of (node as YAMLMap<YamlNode, YamlNode | null>).items) {
    const key = pair.key
    if (!yaml().isScalar(key) || typeof key.value !== 'string') {
      throw fail(ctx, yaml().isScalar(key) ? key : node, `${what}: keys must be plain strings`)
    }
    if (!allowed.includes(key.value)) {
      throw fail(ctx, key, `unknown key "${key.value}" in ${what} (allowed: ${allowed.join(', ')})`)
    }
    out.set(key.value, { key, value: pair.value })
  }
  return out
}

function str(ctx: Ctx, node: YamlNode | null | undefined, what: string): string {
  if (!yaml().isScalar(node) || typeof node.value !== 'string') {
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
  if (yaml().isSeq(node)) {
    const items = node.items as (YamlNode | null)[]
    if (items.length === 0) throw fail(ctx, node, `${what} is an empty list`)
    return items.map((item) => ({ value: str(ctx, item, `each entry of ${what}`), node: item! }))
  }
  return [{ value: str(ctx, node, what), node: node! }]
}

function seq(ctx: Ctx, node: YamlNode | null | undefined, what: string): (YamlNode | null)[] {
  if (!yaml().isSeq(node)) throw fail(ctx, node, `${what} must be a list`)
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
      return keySigner(text, 'policy', readFile)
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
  if (yaml().isMap(node)) {
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
  if (!yaml().isSeq(node)) throw fail(ctx, node, 'attestations must be a list')
  return (node.items as (YamlNode | null)[]).map((a) => parseAttestation(ctx, a))
}

function parseRule(ctx: Ctx, node: YamlNode | null, readFile: PolicyFileReader): Rule {
  const fields = entries(ctx, node, 'a rule', [
    'name',
    'images',
    'platforms',
    'signers',
    'attestations',
    'signatureRepository',
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
  const signatureRepository = fields.get('signatureRepository')
  return {
    ...(name ? { name: str(ctx, name.value, 'name') } : {}),
    images: patterns.map((p) => p.value),
    patterns: patterns.map((p) => p.re),
    signers: seq(ctx, signers.value, 'signers').map((s) => parseSigner(ctx, s, readFile)),
    attestations:
      attestations && !(yaml().isScalar(attestations.value) && attestations.value.value === null)
        ? attestationList(ctx, attestations.value)
        : [],
    platforms: platforms ? platformCoverage(ctx, platforms.value) : 'index-signature',
    ...(signatureRepository
      ? { signatureRepository: repositoryOnly(ctx, signatureRepository.value) }
      : {}),
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

/** `signatureRepository:`, read as the signature-repository input is: a repository only. */
function repositoryOnly(ctx: Ctx, node: YamlNode | null): ImageReference {
  const value = str(ctx, node, 'signatureRepository').trim()
  let ref: ImageReference
  try {
    ref = parseImageReference(value, 'signatureRepository')
  } catch (err) {
    throw fail(ctx, node, isSignetError(err) ? err.message : String(err))
  }
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw fail(
      ctx,
      node,
      `signatureRepository names a repository, without a tag or digest: "${value}"`,
    )
  }
  return ref
}

function rejectAliases(ctx: Ctx, node: unknown): void {
  if (yaml().isAlias(node))
    throw fail(ctx, node, 'YAML aliases (*name) are not supported in a policy')
  if (yaml().isMap(node) || yaml().isSeq(node)) {
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
  const lines = new (yaml().LineCounter)()
  const ctx: Ctx = { file, lines }
  const doc = yaml().parseDocument(text, {
    lineCounter: lines,
    uniqueKeys: true,
    prettyErrors: false,
  })
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem) {
    const line = problem.linePos?.[0].line ?? lines.linePos(problem.pos[0]).line
    const message = problem.message.split('\n')[0]
    throw new PolicyError(file, line, `invalid YAML: ${message}`, { cause: problem })
  }
  const root = doc.contents
  if (root === null || (yaml().isScalar(root) && root.value === null)) {
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
