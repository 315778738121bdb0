/**
 * One sign run: SignInputs and deps in, a SignOutcome out. Touches no runner: the front door
 * (src/index.ts and src/action/ for the action) gives the logger, the registry factory and the
 * GitHub client, and turns the outcome into outputs, a summary and an exit status.
 */
import { INPUT, type SignInputs } from '../inputs'
import type { Registry } from '../registry/types'
import { deferredLogger } from '../report/deferred-logger'
import type { Logger, SignOutcome } from '../report/types'
import { resolveImages } from '../subjects/resolve'
import { SIGN_CONCURRENCY, signImages } from './sign-images'
import {
  describeCertificate,
  reusableWorkflowNote,
  type CertificateIdentity,
} from '../sigstore/certificate'
import { loadSigningKeyInBackground } from '../sigstore/keys'
import { decodeJwtClaims, GitHubOidcProvider, type IdentityProvider } from '../sigstore/oidc'
import { appliesTo, planAttestations, type PlannedAttestation } from './attestation-plan'
import type { ResolvedImage } from '../subjects/resolve'
import { keyOnlyRoot, registryLookup, runSigner, type RunSigner } from './existing'
import { checkTlogEntrySizes } from './tlog-size'
import type { GitHubApiFactory } from '../github/api'
import { attestationsStoreFromEnv, type AttestationStore } from '../github/attestation-store'
import { usesOnlyPublicGood } from '../sigstore/services'
import { SigningSession } from '../sigstore/signing-session'
import { signingTrustRoots, WitnessCheck } from '../sigstore/witness-check'
import { buildVerifyCommand } from '../report/verify-command'
import { requestedImages } from '../subjects'
import type { Bundle } from '@sigstore/bundle'
import { RetryBudget } from '../retry'
import { networkTurn } from '../concurrency'

// The command a user pastes to check what was signed; it lives with the report (pure, tested alone).
export { buildVerifyCommand }
// The outcome lives with the report; re-exported for callers that import it from here.
export type { SignOutcome }

export interface RunDependencies {
  log: Logger
  env?: NodeJS.ProcessEnv
  /**
   * The registry client, or a factory of it (the action's: HTTP, with credentials from the inputs
   * and the Docker config), given the registries the inputs name: registry-username/password go
   * to those only (issue 8.3).
   */
  registry: Registry | ((namedRegistries: string[]) => Registry)
  /** Defaults to the GitHub Actions OIDC token endpoint. */
  identity?: IdentityProvider & { preflight?(): void }
  /** Defaults to GitHub's attestations API of GITHUB_REPOSITORY. */
  githubStore?: AttestationStore
  /** Makes the Octokit of that default store (the action's brings the runner's proxy settings). */
  githubApi?: GitHubApiFactory
  /** Where relative SBOM and predicate paths start (the workspace). */
  cwd?: string
  /** Receives the bundles of every image signed, once its tags are confirmed (the bundle-path file). */
  onBundle?: (bundle: Bundle) => void
  /** Called when the images are written and only their read-backs remain (SignOptions). */
  whileSettling?: () => void
  /** For tests: where TUF looks and caches (the public-good root, when no trusted-root is given). */
  tuf?: { mirrorURL?: string; cacheDir?: string; timeoutMs?: number }
  /** For tests: the retry budget (a fake clock); else one of `retry-timeout`, logging to `log`. */
  retryBudget?: RetryBudget
}

export async function runSign(inputs: SignInputs, deps: RunDependencies): Promise<SignOutcome> {
  const env = deps.env ?? process.env
  const log = deps.log
  // Everything that can be checked without writing is checked first: nothing is written for bad input.
  const requested = requestedImages(inputs, env)
  // How long OIDC, Fulcio, Rekor, the TSA and GitHub may each be unavailable (retry-timeout).
  const budget =
    deps.retryBudget ?? new RetryBudget(inputs.retryTimeoutMs, { log: (line) => log.info(line) })
  // cosign's key derivation (scrypt, a tenth of a second and more) runs off the event loop while
  // the images are resolved (issue 11); the key is awaited before anything else needs it.
  const keyLoad = inputs.key
    ? loadSigningKeyInBackground(inputs.key, inputs.keyPassword)
    : undefined
  keyLoad?.catch(() => undefined)
  let identity: RunDependencies['identity']
  if (!inputs.key) {
    identity =
      deps.identity ??
      new GitHubOidcProvider(env, { mask: (secret) => log.mask?.(secret), retry: { budget } })
    identity.preflight?.()
  }
  const keyless = !keyLoad
  // Something comes back from a service (a certificate, a log entry, a timestamp) to check.
  const witnessed = keyless || inputs.tlog || inputs.tsaURL !== undefined
  const publicGood = usesOnlyPublicGood({
    keyless,
    fulcioURL: inputs.fulcioURL,
    rekorURL: inputs.rekorURL,
    tlog: inputs.tlog,
    tsaURL: inputs.tsaURL,
  })
  // The signature repository is named by the workflow too: its registry gets the same credentials.
  const registry =
    typeof deps.registry === 'function'
      ? deps.registry([
          ...requested.map((r) => r.registry),
          ...(inputs.signatureRepository ? [inputs.signatureRepository.registry] : []),
        ])
      : deps.registry
  // The images are resolved (read only) while the key is derived and the attestations are read;
  // what resolving says waits for its own group.
  const resolveLog = deferredLogger()
  const resolving = resolveImages(registry, requested, {
    recursive: inputs.recursive,
    log: resolveLog,
    concurrency: SIGN_CONCURRENCY,
  })
  resolving.catch(() => undefined)
  // The reads go out before sigstore-js's signing stack loads (SigningSession, below): they travel
  // while it compiles, which holds the event loop (issue 11).
  await networkTurn()
  const key = await keyLoad

  // The root what the services hand back is checked against. The trusted-root file is input, read
  // and checked before any service is asked; TUF (the public-good root) loads meanwhile, and its
  // log lines wait for their own group.
  const rootLog = deferredLogger()
  const trust = signingTrustRoots({
    trustedRoot: inputs.trustedRoot,
    publicGood,
    witnessed,
    cwd: deps.cwd ?? process.cwd(),
    log: rootLog,
    tuf: deps.tuf,
    retry: budget,
  })
  trust.catch(() => undefined)
  if (inputs.trustedRoot) await trust
  const check = trust.then(
    (t) =>
      t &&
      new WitnessCheck(t.roots, {
        keyless,
        tlog: inputs.tlog,
        publicKeyPem: key?.publicKeyPem,
        rootName: t.name,
      }),
  )
  check.catch(() => undefined)

  const session = new SigningSession({
    fulcioURL: inputs.fulcioURL,
    rekorURL: inputs.rekorURL,
    tsaURL: inputs.tsaURL,
    tlog: inputs.tlog,
    key,
    identity,
    check,
    budget,
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
    // Before anything is written: an entry the log would refuse fails the run here.
    checkTlogEntrySizes(planned, {
      tlog: inputs.tlog,
      // The public-good Rekor, whatever the other services are.
      publicGoodRekor: usesOnlyPublicGood({
        keyless: false,
        fulcioURL: inputs.fulcioURL,
        rekorURL: inputs.rekorURL,
        tlog: true,
      }),
      rekorURL: inputs.rekorURL,
      publicKeyPem: key?.publicKeyPem,
      images: requested,
    })
    return planned
  })
  const githubStore = inputs.githubAttestations
    ? (deps.githubStore ??
      attestationsStoreFromEnv(env, inputs.githubToken, deps.githubApi, budget))
    : undefined
  if (inputs.githubAttestations && !githubStore) {
    log.warning(
      'github-attestations: GITHUB_REPOSITORY is not set, so there is no repository to store attestations in; skipped',
    )
  }

  const images = await log.group('Resolving images', async () => {
    const resolved = await resolving.finally(() => resolveLog.replayTo(log))
    for (const image of resolved) {
      log.info(`${image.name}@${image.digest}${image.platform ? ` (${image.platform})` : ''}`)
    }
    return resolved
  })

  // Re-runs finish the job: what the images already carry is read while the certificate is being
  // issued, and judged once its identity is known. Checking needs a root (trusted-root, or the
  // public-good one), or nothing to check but the key (by key with no log and no timestamp).
  const canCheckExisting = !witnessed || inputs.trustedRoot !== undefined || publicGood
  const plannedFor = (image: ResolvedImage): PlannedAttestation[] =>
    image.parent ? [] : attestations.filter((a) => appliesTo(a, image.name, image.digest))
  const lookup = canCheckExisting
    ? registryLookup(registry, plannedFor, log, inputs.signatureRepository)
    : undefined
  lookup?.prefetch(images.slice(0, SIGN_CONCURRENCY))

  let certificate: CertificateIdentity | undefined
  if (session.keyless) {
    certificate = await log.group('Getting a signing certificate', async () => {
      const described = describeCertificate(((await chain) as string[])[0])
      log.info(`identity: ${described.subject}`)
      log.info(`issuer: ${described.issuer ?? '(none)'}`)
      return described
    })
  }

  // Before the first signature: a root TUF could not verify fails the run here.
  const trusted = await trust
  const witnessCheck = await check
  if (trusted) {
    await log.group('Trusted root', async () => {
      rootLog.replayTo(log)
      log.info(witnessNote(keyless, inputs, trusted.name))
    })
  } else {
    rootLog.replayTo(log)
  }

  if (inputs.signatureRepository) {
    log.info(
      `${INPUT.signatureRepository}: signatures and attestations are stored in ${inputs.signatureRepository.name}`,
    )
  }

  let signer: RunSigner | undefined
  const roots = trusted?.roots ?? (witnessed ? undefined : [keyOnlyRoot()])
  if (lookup && roots) {
    if (key)
      signer = runSigner({ keyless: false, publicKeyPem: key.publicKeyPem }, roots, inputs.tlog)
    else if (certificate) signer = runSigner({ keyless: true, ...certificate }, roots, inputs.tlog)
  } else {
    log.info(
      'signing every image in full: with no trusted root for these services (set ' +
        `${INPUT.trustedRoot}), signatures already there cannot be verified, so none is reused`,
    )
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
        whileSettling: deps.whileSettling,
        signatureRepository: inputs.signatureRepository,
        rerun: lookup && signer ? { lookup, signer } : undefined,
        log,
      }),
  )
  if (witnessCheck) log.debug(`${INPUT.trustedRoot}: ${witnessCheck.summary()}`)

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
    customInstance: !publicGood,
    trustedRoot: inputs.trustedRoot,
    tlog: inputs.tlog,
    timestamped: inputs.tsaURL !== undefined,
    ...(inputs.signatureRepository ? { signatureRepository: inputs.signatureRepository.name } : {}),
  }
  outcome.verifyCommand = buildVerifyCommand(outcome)
  return outcome
}

/** What the trusted root checks in this run, for the log. */
function witnessNote(
  keyless: boolean,
  inputs: Pick<SignInputs, 'tlog' | 'tsaURL'>,
  rootName: string,
): string {
  const answers = [
    ...(keyless ? ["Fulcio's certificate chain and SCT"] : []),
    ...(inputs.tlog ? ["Rekor's log entry"] : []),
    ...(inputs.tsaURL !== undefined ? ["the timestamp authority's timestamp"] : []),
  ]
  if (answers.length === 0) {
    return `signing by key with no log entry and no timestamp: nothing from ${rootName} applies`
  }
  return `${answers.join(', ')}: verified against ${rootName} before anything is written`
}
