/**
 * One run of the action: inputs in, results out. Touches no @actions/core: index.ts binds the
 * logger and applies the outcome, so the demo and the benchmark run the same code.
 */
import { SignetError, isSignetError } from './errors'
import { INPUT, type Inputs } from './inputs'
import { createRegistry } from './registry/create'
import type { Registry } from './registry/types'
import type { ImageResult, Logger } from './report/types'
import { resolveImages } from './resolve'
import { signImages } from './sign'
import {
  describeCertificate,
  reusableWorkflowNote,
  type CertificateIdentity,
} from './sigstore/certificate'
import { loadSigningKey, type SigningKey } from './sigstore/keys'
import { decodeJwtClaims, GitHubOidcProvider, type IdentityProvider } from './sigstore/oidc'
import { planAttestations } from './attestations'
import { attestationsStoreFromEnv, type AttestationStore } from './github/attestations'
import { PUBLIC_GOOD } from './sigstore/services'
import { SigningSession } from './sigstore/signing'
import { buildVerifyCommand } from './report/verify-command'
import { requestedImages } from './subjects'
import type { Bundle } from '@sigstore/bundle'

// The command a user pastes to check what was signed; it lives with the report (pure, tested alone).
export { buildVerifyCommand }

export interface RunDependencies {
  log: Logger
  env?: NodeJS.ProcessEnv
  /** Defaults to an HTTP client with credentials from the inputs and the Docker config. */
  registry?: Registry
  /** Defaults to the GitHub Actions OIDC token endpoint. */
  identity?: IdentityProvider & { preflight?(): void }
  /** Defaults to GitHub's attestations API of GITHUB_REPOSITORY. */
  githubStore?: AttestationStore
  /** Where relative SBOM and predicate paths start (the workspace). */
  cwd?: string
  /** Receives every bundle as it is made (the bundle-path file). */
  onBundle?: (bundle: Bundle) => void
}

export interface SignOutcome {
  mode: 'sign'
  results: ImageResult[]
  signed: boolean
  /** How many bundles went to the bundle-path file. */
  bundleCount: number
  keyless: boolean
  identity?: CertificateIdentity
  /** A plain-language warning for reusable workflows. */
  identityNote?: string
  publicKeyPem?: string
  verifyCommand: string
  signatureFormat: Inputs['signatureFormat']
  /** Signed against other Sigstore services than the public good instance. */
  customInstance: boolean
  /** Recorded in Rekor. */
  tlog: boolean
  /** Stamped by a timestamp authority. */
  timestamped: boolean
  /** Why images were not signed. */
  errors: unknown[]
}

export async function runSign(inputs: Inputs, deps: RunDependencies): Promise<SignOutcome> {
  const env = deps.env ?? process.env
  const log = deps.log
  // Everything that can be checked without writing is checked first: nothing is written for bad input.
  const requested = requestedImages(inputs)
  let key: SigningKey | undefined
  let identity: RunDependencies['identity']
  if (inputs.key) {
    key = loadSigningKey(inputs.key, inputs.keyPassword)
  } else {
    identity =
      deps.identity ?? new GitHubOidcProvider(env, { mask: (secret) => log.mask?.(secret) })
    identity.preflight?.()
  }
  const registry = deps.registry ?? createRegistry(inputs, requested, env, log)
  const session = new SigningSession({
    fulcioURL: inputs.fulcioURL,
    rekorURL: inputs.rekorURL,
    tsaURL: inputs.tsaURL,
    tlog: inputs.tlog,
    key,
    identity,
  })
  // Ask Fulcio while the registry is being read: nothing is written before both are done.
  const chain = session.certificateChain()
  chain.catch(() => undefined)

  // Attestations are read and checked before anything is written, like every other input.
  const attestations = await log.group('Reading attestations', async () => {
    const planned = await planAttestations(inputs, requested, {
      cwd: deps.cwd ?? process.cwd(),
      env,
      log,
      claims: identity ? async () => decodeJwtClaims(await identity.getToken()) : undefined,
    })
    for (const a of planned) log.info(`${a.label}: ${a.predicateType}`)
    return planned
  })
  const githubStore = inputs.githubAttestations
    ? (deps.githubStore ?? attestationsStoreFromEnv(env, inputs.githubToken))
    : undefined
  if (inputs.githubAttestations && !githubStore) {
    log.warning(
      'github-attestations: GITHUB_REPOSITORY is not set, so there is no repository to store attestations in; skipped',
    )
  }

  const images = await log.group('Resolving images', async () => {
    const resolved = await resolveImages(registry, requested, { recursive: inputs.recursive, log })
    for (const image of resolved) {
      log.info(`${image.name}@${image.digest}${image.platform ? ` (${image.platform})` : ''}`)
    }
    return resolved
  })

  let certificate: CertificateIdentity | undefined
  if (session.keyless) {
    certificate = await log.group('Getting a signing certificate', async () => {
      const described = describeCertificate(((await chain) as string[])[0])
      log.info(`identity: ${described.subject}`)
      log.info(`issuer: ${described.issuer ?? '(none)'}`)
      return described
    })
  }

  const run = await log.group(
    `Signing ${images.length} image(s) (${inputs.signatureFormat})`,
    async () =>
      signImages(registry, session, images, {
        format: inputs.signatureFormat,
        annotations: inputs.annotations,
        attestations,
        githubStore,
        onBundle: deps.onBundle,
        log,
      }),
  )

  const outcome: SignOutcome = {
    mode: 'sign',
    results: run.results,
    signed: run.results.every((r) => r.signed),
    bundleCount: run.bundleCount,
    keyless: session.keyless,
    identity: certificate,
    identityNote: certificate ? reusableWorkflowNote(certificate) : undefined,
    publicKeyPem: key?.publicKeyPem,
    verifyCommand: '',
    signatureFormat: inputs.signatureFormat,
    errors: run.errors,
    customInstance:
      (session.keyless && inputs.fulcioURL !== PUBLIC_GOOD.fulcioURL) ||
      (inputs.tlog && inputs.rekorURL !== PUBLIC_GOOD.rekorURL) ||
      (inputs.tsaURL !== undefined && !inputs.tsaURL.startsWith(PUBLIC_GOOD.tsaURL)),
    tlog: inputs.tlog,
    timestamped: inputs.tsaURL !== undefined,
  }
  outcome.verifyCommand = buildVerifyCommand(outcome)
  return outcome
}

/** The step's verdict as one error, naming the input at fault where one is. */
export function failureOf(outcome: SignOutcome): SignetError | undefined {
  const failed = outcome.results.filter((r) => !r.signed)
  if (failed.length === 0) return undefined
  const cause = outcome.errors[0]
  return new SignetError(
    isSignetError(cause) ? cause.code : 'SIGSTORE_ERROR',
    `${failed.length} of ${outcome.results.length} image(s) not signed; ` +
      `${failed[0].image}@${failed[0].digest}: ${failed[0].error}`,
    { input: isSignetError(cause) && cause.input ? cause.input : INPUT.images, cause },
  )
}
