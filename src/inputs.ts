/**
 * Every input, read once into one typed object and validated here; errors name the input.
 * Pure: `readInputs` takes a getter (core.getInput in the action, a map in tests).
 */
import { SignetError } from './errors'
import { parseImageReference, type ImageReference } from './registry/reference'
import { PUBLIC_GOOD } from './sigstore/services'

export const INPUT = {
  mode: 'mode',
  images: 'images',
  digest: 'digest',
  metadata: 'metadata',
  recursive: 'recursive',
  signatureFormat: 'signature-format',
  key: 'key',
  keyPassword: 'key-password',
  annotations: 'annotations',
  sbom: 'sbom',
  sbomPredicateType: 'sbom-predicate-type',
  provenance: 'provenance',
  predicateType: 'predicate-type',
  predicate: 'predicate',
  githubAttestations: 'github-attestations',
  githubAttestationsOwner: 'github-attestations-owner',
  fulcioURL: 'fulcio-url',
  rekorURL: 'rekor-url',
  tsaURL: 'tsa-url',
  tlog: 'tlog',
  trustedRoot: 'trusted-root',
  retryTimeout: 'retry-timeout',
  signatureRepository: 'signature-repository',
  admissionMode: 'admission-mode',
  certificateIdentity: 'certificate-identity',
  certificateIdentityRegexp: 'certificate-identity-regexp',
  certificateOidcIssuer: 'certificate-oidc-issuer',
  certificateOidcIssuerRegexp: 'certificate-oidc-issuer-regexp',
  certificateGithubWorkflowRepository: 'certificate-github-workflow-repository',
  certificateGithubWorkflowRef: 'certificate-github-workflow-ref',
  certificateGithubWorkflowTrigger: 'certificate-github-workflow-trigger',
  certificateGithubWorkflowSha: 'certificate-github-workflow-sha',
  certificateGithubWorkflowName: 'certificate-github-workflow-name',
  publicKey: 'public-key',
  policy: 'policy',
  dockerfile: 'dockerfile',
  buildArgs: 'build-args',
  buildContexts: 'build-contexts',
  policyRef: 'policy-ref',
  requireAttestations: 'require-attestations',
  enforce: 'enforce',
  registryUsername: 'registry-username',
  registryPassword: 'registry-password',
  plainHttp: 'plain-http',
  githubToken: 'github-token',
  summary: 'summary',
} as const

export type Mode = 'sign' | 'verify'
export type SignatureFormat = 'legacy' | 'bundle' | 'both'

/** What both modes read. */
export interface CommonInputs {
  mode: Mode
  /** Image references as written; parsed in subjects/. */
  images: string[]
  digest?: string
  /** The raw `metadata` JSON of build-push-action or bake-action. */
  metadata?: string
  recursive: boolean
  tlog: boolean
  /**
   * A trusted_root.json path; undefined: the public-good root through TUF. Verify mode verifies
   * against it; sign mode checks what the services hand back against it before writing.
   */
  trustedRoot?: string
  registryUsername?: string
  registryPassword?: string
  plainHttp: string[]
  githubToken?: string
  summary: boolean
  /**
   * How long the run keeps retrying an unavailable service (registry, Fulcio, Rekor, TSA, OIDC,
   * TUF, GitHub API), in milliseconds; 0: one attempt each.
   */
  retryTimeoutMs: number
  /**
   * cosign's COSIGN_REPOSITORY: signatures and attestations are stored in (and looked for in)
   * this repository instead of the image's own. A repository only: no tag, no digest.
   */
  signatureRepository?: ImageReference
  /**
   * Sign: also store each bundle through GitHub's artifact attestations API. Verify: also look the
   * digest's attestations up there.
   */
  githubAttestations: boolean
}

/** Sign mode's inputs: what to sign with, and what to attest. */
export interface SignInputs extends CommonInputs {
  mode: 'sign'
  signatureFormat: SignatureFormat
  /** PEM text or a path; empty means keyless. */
  key?: string
  keyPassword?: string
  annotations: Record<string, string>
  fulcioURL: string
  rekorURL: string
  tsaURL?: string
  /** The raw `sbom` input: paths, globs, or `image=path` lines (parsed in sign/attestation-plan.ts). */
  sbom?: string
  sbomPredicateType?: string
  provenance: boolean
  /** A custom attestation: its predicate type URI and the path of its predicate JSON. */
  predicateType?: string
  predicatePath?: string
  /**
   * The admission policies offered for what was signed (kyverno-policy, cluster-image-policy):
   * `audit` reports, `enforce` refuses. Audit by default: a policy is rolled out reporting first.
   */
  admissionMode: AdmissionMode
}

export type AdmissionMode = 'audit' | 'enforce'

/** Verify mode's inputs: whom to trust, and which images (Dockerfiles among them) to check. */
export interface VerifyInputs extends CommonInputs {
  mode: 'verify'
  /** The GitHub owner to look attestations up under; default: from a ghcr.io image name. */
  githubAttestationsOwner?: string
  certificateIdentity?: string
  certificateIdentityRegexp?: string
  certificateOidcIssuer?: string
  certificateOidcIssuerRegexp?: string
  /** cosign's --certificate-github-workflow-* flags: exact values of the Fulcio GitHub claims. */
  certificateGithubWorkflow: GithubWorkflowClaims
  /** PEM text or a path. */
  publicKey?: string
  /** A policy file path. */
  policy?: string
  /** Dockerfile paths or globs. */
  dockerfiles: string[]
  /** docker/build-push-action's `build-args`: NAME=value, one per line. */
  buildArgs: Record<string, string>
  /** docker/build-push-action's `build-contexts`: name=value (docker-image://…, a path, a URL). */
  buildContexts: Record<string, string>
  /**
   * A git commit or ref the policy, public key and trusted root are read at (`git show ref:path`),
   * so a pull request cannot change the rules it is checked against.
   */
  policyRef?: string
  requireAttestations: string[]
  enforce: boolean
}

/**
 * Every input, typed by mode: sign code reads SignInputs and cannot reach a verify-only input,
 * and the other way round. `mode` says which.
 */
export type Inputs = SignInputs | VerifyInputs

/** The GitHub claims of a Fulcio certificate that cosign's --certificate-github-workflow-* pin. */
export interface GithubWorkflowClaims {
  repository?: string
  ref?: string
  trigger?: string
  sha?: string
  name?: string
}

export type InputGetter = (name: string) => string

function optional(get: InputGetter, name: string): string | undefined {
  const value = get(name).trim()
  return value === '' ? undefined : value
}

/** Newline- or comma-separated, blank entries dropped. */
export function parseList(value: string | undefined): string[] {
  if (!value) return []
  return value
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

export function parseBoolean(get: InputGetter, name: string, fallback: boolean): boolean {
  const value = get(name).trim().toLowerCase()
  if (value === '') return fallback
  if (value === 'true') return true
  if (value === 'false') return false
  throw new SignetError(
    'INPUT_INVALID',
    `input ${name} must be true or false, not "${get(name).trim()}"`,
    {
      input: name,
    },
  )
}

function oneOf<T extends string>(
  get: InputGetter,
  name: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = get(name).trim()
  if (value === '') return fallback
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new SignetError(
    'INPUT_INVALID',
    `input ${name} must be one of ${allowed.join(', ')}, not "${value}"`,
    { input: name },
  )
}

/** `key=value` lines (or comma-separated); the key may not be empty. */
export function parseKeyValues(value: string | undefined, name: string): Record<string, string> {
  const result: Record<string, string> = {}
  for (const entry of parseList(value)) {
    const eq = entry.indexOf('=')
    if (eq <= 0) {
      throw new SignetError('INPUT_INVALID', `input ${name}: "${entry}" is not a key=value pair`, {
        input: name,
      })
    }
    result[entry.slice(0, eq).trim()] = entry.slice(eq + 1).trim()
  }
  return result
}

/**
 * docker/build-push-action's `build-args` and `build-contexts`: `NAME=value` per line. A build arg
 * keeps everything after the first `=` (commas included, as build-push-action reads it); contexts
 * may also be comma-separated. A name given twice takes its last value, as docker buildx does.
 */
export function parseNameValues(
  value: string | undefined,
  name: string,
  commaSeparated: boolean,
): Record<string, string> {
  const result: Record<string, string> = {}
  const entries = commaSeparated
    ? parseList(value)
    : (value ?? '')
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter((s) => s !== '')
  for (const entry of entries) {
    const eq = entry.indexOf('=')
    const key = eq > 0 ? entry.slice(0, eq).trim() : ''
    if (key === '' || /\s/.test(key)) {
      throw new SignetError(
        'INPUT_INVALID',
        `input ${name}: "${entry}" is not NAME=value (one per line, as docker/build-push-action takes it)`,
        { input: name },
      )
    }
    result[key] = entry.slice(eq + 1)
  }
  return result
}

function serviceURL(
  get: InputGetter,
  name: string,
  fallback: string | undefined,
): string | undefined {
  const value = optional(get, name) ?? fallback
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new SignetError('INPUT_INVALID', `input ${name} is not a URL: "${value}"`, {
      input: name,
    })
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new SignetError('INPUT_INVALID', `input ${name} must be an http(s) URL`, { input: name })
  }
  return value.replace(/\/+$/, '')
}

/** Default of `retry-timeout`: long enough to ride out the public services' usual outages. */
export const DEFAULT_RETRY_TIMEOUT_MS = 10 * 60_000
/** A longer wait is a mistake (a job's own limit is 6 h; signing should not hold it that long). */
const MAX_RETRY_TIMEOUT_MS = 6 * 60 * 60_000
const DURATION_UNITS_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }

/**
 * A duration as Go (hence cosign's --timeout) writes one: `10m`, `90s`, `1h30m`, `1.5m`, `500ms`;
 * a bare number is seconds; `0` turns retrying off.
 */
export function parseDuration(value: string, name: string): number {
  const text = value.trim()
  const bad = (why: string): SignetError =>
    new SignetError(
      'INPUT_INVALID',
      `input ${name} must be a duration such as 10m, 90s or 1h30m (${why}), not "${text}"`,
      { input: name },
    )
  let ms: number
  if (/^\d+(?:\.\d+)?$/.test(text)) {
    ms = Number(text) * 1000
  } else {
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|h|m|s)/g)]
    if (parts.length === 0 || parts.map((m) => m[0]).join('') !== text) {
      throw bad('a number and a unit: h, m, s or ms')
    }
    ms = parts.reduce((sum, m) => sum + Number(m[1]) * DURATION_UNITS_MS[m[2]], 0)
  }
  if (!Number.isFinite(ms) || ms > MAX_RETRY_TIMEOUT_MS) throw bad('at most 6h')
  return Math.round(ms)
}

/** `signature-repository`: a repository, without tag or digest (cosign's COSIGN_REPOSITORY). */
function parseSignatureRepository(get: InputGetter): ImageReference | undefined {
  const value = optional(get, INPUT.signatureRepository)
  if (value === undefined) return undefined
  const ref = parseImageReference(value, INPUT.signatureRepository)
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw new SignetError(
      'INPUT_INVALID',
      `input ${INPUT.signatureRepository} names a repository, without a tag or digest: "${value}"`,
      { input: INPUT.signatureRepository },
    )
  }
  return ref
}

/** Inputs that only verify mode reads: set in sign mode, they are a mistake worth stopping for. */
const VERIFY_ONLY = [
  INPUT.githubAttestationsOwner,
  INPUT.certificateIdentity,
  INPUT.certificateIdentityRegexp,
  INPUT.certificateOidcIssuer,
  INPUT.certificateOidcIssuerRegexp,
  INPUT.publicKey,
  INPUT.policy,
  INPUT.certificateGithubWorkflowRepository,
  INPUT.certificateGithubWorkflowRef,
  INPUT.certificateGithubWorkflowTrigger,
  INPUT.certificateGithubWorkflowSha,
  INPUT.certificateGithubWorkflowName,
  INPUT.dockerfile,
  INPUT.buildArgs,
  INPUT.buildContexts,
  INPUT.policyRef,
  INPUT.requireAttestations,
]

/** Inputs that only sign mode reads (those with an empty default). */
const SIGN_ONLY = [
  INPUT.key,
  INPUT.keyPassword,
  INPUT.annotations,
  INPUT.sbom,
  INPUT.sbomPredicateType,
  INPUT.predicateType,
  INPUT.predicate,
  INPUT.tsaURL,
  INPUT.admissionMode,
]

function refuseOtherModeInputs(get: InputGetter, mode: Mode): void {
  const others = mode === 'sign' ? VERIFY_ONLY : SIGN_ONLY
  for (const name of others) {
    if (optional(get, name) === undefined) continue
    const hint =
      mode === 'verify' && name === INPUT.key
        ? ': to verify key-signed images, give the public key in public-key'
        : `: remove it, or set mode: ${mode === 'sign' ? 'verify' : 'sign'}`
    throw new SignetError('INPUT_INVALID', `input ${name} is not used in mode: ${mode}${hint}`, {
      input: name,
    })
  }
}

/**
 * The inputs of the mode the `mode` input names. With `mode` given (a front door whose command
 * is the mode, or a test), that mode is read, and a `mode` input that says otherwise is refused.
 */
export function readInputs(get: InputGetter): Inputs
export function readInputs(get: InputGetter, mode: 'sign'): SignInputs
export function readInputs(get: InputGetter, mode: 'verify'): VerifyInputs
export function readInputs(get: InputGetter, expected?: Mode): Inputs {
  const mode = oneOf<Mode>(get, INPUT.mode, ['sign', 'verify'], expected ?? 'sign')
  if (expected && mode !== expected) {
    throw new SignetError('INPUT_INVALID', `input mode must be ${expected} here, not "${mode}"`, {
      input: INPUT.mode,
    })
  }
  refuseOtherModeInputs(get, mode)
  // A custom attestation needs both halves; an empty type is the usual slip (an unset variable).
  const predicatePath = optional(get, INPUT.predicate)
  const predicateTypeRaw = get(INPUT.predicateType)
  const predicateType = optional(get, INPUT.predicateType)
  if (predicatePath && !predicateType) {
    throw new SignetError(
      'INPUT_INVALID',
      predicateTypeRaw === ''
        ? 'input predicate is set but predicate-type is empty: give the predicate type URI (e.g. https://cosign.sigstore.dev/attestation/vuln/v1)'
        : 'input predicate-type is empty (only spaces): give the predicate type URI',
      { input: INPUT.predicateType },
    )
  }
  if (predicateType && !predicatePath) {
    throw new SignetError(
      'INPUT_INVALID',
      'input predicate-type is set but predicate is empty: give the path of the predicate JSON file',
      { input: INPUT.predicate },
    )
  }
  if (predicateType && !/^[a-z][a-z0-9+.-]*:\S+$/i.test(predicateType)) {
    throw new SignetError(
      'INPUT_INVALID',
      `input predicate-type must be a URI (e.g. https://example.com/attestation/v1), not "${predicateType}"`,
      { input: INPUT.predicateType },
    )
  }

  const key = optional(get, INPUT.key)
  const tlog = parseBoolean(get, INPUT.tlog, true)
  const tsaURL = serviceURL(get, INPUT.tsaURL, undefined)
  if (mode === 'sign' && !key && !tlog && !tsaURL) {
    throw new SignetError(
      'INPUT_INVALID',
      'input tlog: false with keyless signing needs tsa-url: without a transparency log entry, ' +
        'only a trusted timestamp proves the short-lived certificate was valid when it signed',
      { input: INPUT.tlog },
    )
  }
  const registryUsername = optional(get, INPUT.registryUsername)
  const registryPassword = optional(get, INPUT.registryPassword)
  if (Boolean(registryUsername) !== Boolean(registryPassword)) {
    throw new SignetError(
      'INPUT_INVALID',
      'inputs registry-username and registry-password go together: give both or neither',
      { input: registryUsername ? INPUT.registryPassword : INPUT.registryUsername },
    )
  }

  // Every input is parsed in the order it always was, in both modes: those action.yml gives a
  // default (signature-format, fulcio-url, rekor-url, provenance, enforce) always arrive set, so
  // they cannot be refused as the other mode's, and a bad value of one fails either mode alike.
  const images = parseList(get(INPUT.images))
  const digest = optional(get, INPUT.digest)
  const metadata = optional(get, INPUT.metadata)
  const recursive = parseBoolean(get, INPUT.recursive, true)
  const signatureFormat = oneOf<SignatureFormat>(
    get,
    INPUT.signatureFormat,
    ['legacy', 'bundle', 'both'],
    'both',
  )
  const keyPassword = get(INPUT.keyPassword) === '' ? undefined : get(INPUT.keyPassword)
  const annotations = parseKeyValues(get(INPUT.annotations), INPUT.annotations)
  const fulcioURL = serviceURL(get, INPUT.fulcioURL, PUBLIC_GOOD.fulcioURL) as string
  const rekorURL = serviceURL(get, INPUT.rekorURL, PUBLIC_GOOD.rekorURL) as string
  const plainHttp = parseList(get(INPUT.plainHttp))
  const githubToken = optional(get, INPUT.githubToken)
  const summary = parseBoolean(get, INPUT.summary, true)
  const sbom = optional(get, INPUT.sbom)
  const sbomPredicateType = optional(get, INPUT.sbomPredicateType)
  const provenance = parseBoolean(get, INPUT.provenance, false)
  const githubAttestations = parseBoolean(get, INPUT.githubAttestations, false)
  const retryTimeout = get(INPUT.retryTimeout).trim()
  const retryTimeoutMs =
    retryTimeout === '' ? DEFAULT_RETRY_TIMEOUT_MS : parseDuration(retryTimeout, INPUT.retryTimeout)
  const signatureRepository = parseSignatureRepository(get)
  const common = {
    images,
    digest,
    metadata,
    recursive,
    tlog,
    trustedRoot: optional(get, INPUT.trustedRoot),
    registryUsername,
    registryPassword,
    plainHttp,
    githubToken,
    summary,
    githubAttestations,
    retryTimeoutMs,
    signatureRepository,
  }
  const verify: Omit<VerifyInputs, keyof CommonInputs> = {
    githubAttestationsOwner: optional(get, INPUT.githubAttestationsOwner),
    certificateIdentity: optional(get, INPUT.certificateIdentity),
    certificateIdentityRegexp: optional(get, INPUT.certificateIdentityRegexp),
    certificateOidcIssuer: optional(get, INPUT.certificateOidcIssuer),
    certificateOidcIssuerRegexp: optional(get, INPUT.certificateOidcIssuerRegexp),
    publicKey: optional(get, INPUT.publicKey),
    policy: optional(get, INPUT.policy),
    certificateGithubWorkflow: {
      repository: optional(get, INPUT.certificateGithubWorkflowRepository),
      ref: optional(get, INPUT.certificateGithubWorkflowRef),
      trigger: optional(get, INPUT.certificateGithubWorkflowTrigger),
      sha: optional(get, INPUT.certificateGithubWorkflowSha),
      name: optional(get, INPUT.certificateGithubWorkflowName),
    },
    dockerfiles: parseList(get(INPUT.dockerfile)),
    buildArgs: parseNameValues(get(INPUT.buildArgs), INPUT.buildArgs, false),
    buildContexts: parseNameValues(get(INPUT.buildContexts), INPUT.buildContexts, true),
    policyRef: optional(get, INPUT.policyRef),
    requireAttestations: parseList(get(INPUT.requireAttestations)),
    enforce: parseBoolean(get, INPUT.enforce, true),
  }
  if (mode === 'verify') return { mode, ...common, ...verify }
  return {
    mode,
    ...common,
    signatureFormat,
    key,
    keyPassword,
    annotations,
    fulcioURL,
    rekorURL,
    tsaURL,
    sbom,
    sbomPredicateType,
    provenance,
    predicateType,
    predicatePath,
    admissionMode: oneOf<AdmissionMode>(get, INPUT.admissionMode, ['audit', 'enforce'], 'audit'),
  }
}

/**
 * The secret values among the inputs, to mask before anything is logged. A PEM key is also masked
 * line by line, since the runner matches masks within single log lines.
 */
export function secretValues(get: InputGetter): string[] {
  const secrets = [INPUT.keyPassword, INPUT.registryPassword, INPUT.githubToken]
    .map((name) => get(name).trim())
    .filter((v) => v !== '')
  const key = get(INPUT.key).trim()
  if (key.includes('PRIVATE KEY')) {
    secrets.push(
      key,
      ...key.split(/\r?\n/).filter((line) => line.length >= 8 && !line.startsWith('-----')),
    )
  }
  return secrets
}
