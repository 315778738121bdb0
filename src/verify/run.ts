/**
 * One verify run: the policy and trust roots, the images (from `images` and from the FROM lines of
 * `dockerfile`) resolved to digests, what signs each digest discovered in its registry, and a
 * verdict per image. Touches no runner (the front door reports the outcome). Needs no OIDC token.
 *
 * A platform manifest reached through an index (listed under it by `recursive`, or chosen by
 * `FROM --platform`) is verified by its own signature or, unless its rule says
 * `platforms: own-signature`, by the index's: the signed index binds it by digest. One named by its
 * own digest needs its own signature.
 *
 * Bad input (an unreadable policy, a Dockerfile that cannot be read, a key that is not a key, no
 * policy at all, an unreadable trusted-root file) is an error before any registry is read. The
 * trust roots load while the images are resolved, so a trusted-root file that is read but is not a
 * valid root fails the run after that, before any signature is read. An image that cannot be found
 * or read is a failed image, not an error: the report names it with the reason, as for a bad
 * signature.
 */
import { mapLimit, networkTurn } from '../concurrency'
import { describeError, SignetError } from '../errors'
import { INPUT, type VerifyInputs } from '../inputs'
import {
  parsePolicy,
  policyFromInputs,
  resolvePredicateType,
  ruleFor,
  type Policy,
  type Rule,
} from '../policy/policy'
import type { Registry, Repository } from '../registry/types'
import type { DockerfileLocation, Logger, VerifyImageResult, VerifyOutcome } from '../report/types'
import { subjectsToVerify, type ReplacedByContext, type Subject } from '../subjects'
import { resolveSubject } from '../subjects/resolve'
import type { GitHubApiFactory } from '../github/api'
import { createGitHubAttestationSource } from '../github/attestation-lookup'
import { deferredLogger } from '../report/deferred-logger'
import {
  ImageDiscovery,
  SIGNATURE_FORMATS,
  type Discovery,
  type SignatureFormat,
} from '../storage/discover'
import { signatureStore, type SignatureStore } from '../storage/signature-repository'
import type { ImageVerification, PlatformVerification } from './image'
import { ruleFiles, type RuleFiles } from './rule-files'
import { RetryBudget } from '../retry'

// The outcome lives with the report; re-exported for callers that import it from here.
export type { DockerfileLocation, VerifyImageResult, VerifyOutcome }

export interface VerifyDependencies {
  log: Logger
  env?: NodeJS.ProcessEnv
  /**
   * The registry client, or a factory of it (the action's: HTTP, with credentials from the inputs
   * and the Docker config), given the registries images/metadata name: registry-username/password
   * go to those only, never to a host only a Dockerfile names (issue 8.3).
   */
  registry: Registry | ((namedRegistries: string[]) => Registry)
  /** Makes the Octokit for github-attestations (the action's brings the runner's proxy settings). */
  githubApi?: GitHubApiFactory
  /** Where relative paths start (the workspace). */
  cwd?: string
  /** For tests: where TUF looks and caches. */
  tuf?: { mirrorURL?: string; cacheDir?: string; timeoutMs?: number }
}

const CONCURRENCY = 16

async function readPolicy(
  inputs: VerifyInputs,
  files: RuleFiles,
): Promise<{ policy: Policy; source: string }> {
  const identityPolicy = policyFromInputs(
    {
      certificateIdentity: inputs.certificateIdentity,
      certificateIdentityRegexp: inputs.certificateIdentityRegexp,
      certificateOidcIssuer: inputs.certificateOidcIssuer,
      certificateOidcIssuerRegexp: inputs.certificateOidcIssuerRegexp,
      certificateGithubWorkflow: inputs.certificateGithubWorkflow,
      publicKey: inputs.publicKey,
      requireAttestations: inputs.policy ? [] : inputs.requireAttestations,
    },
    { readFile: files.read },
  )
  if (!inputs.policy) {
    if (identityPolicy) return { policy: identityPolicy, source: identityPolicy.rules[0].source }
    throw new SignetError(
      'INPUT_INVALID',
      'verify needs to know whom to trust: set certificate-identity and certificate-oidc-issuer ' +
        '(keyless signers), public-key (key-signed images), or policy (a file of rules). Signet ' +
        'never accepts a signature from just anyone.',
      { input: INPUT.policy },
    )
  }
  if (identityPolicy) {
    throw new SignetError(
      'INPUT_INVALID',
      'input policy and the certificate-identity/certificate-oidc-issuer/public-key inputs are ' +
        'two ways to say whom to trust: use one (put the signer in a policy rule)',
      { input: INPUT.policy },
    )
  }
  let text: string
  try {
    text = files.read(inputs.policy)
  } catch (err) {
    if (err instanceof SignetError) throw err
    throw new SignetError(
      'POLICY_INVALID',
      `input policy: cannot read ${inputs.policy}: ${describeError(err)}`,
      { input: INPUT.policy, cause: err },
    )
  }
  const policy = parsePolicy(text, inputs.policy, { readFile: files.read })
  // require-attestations beside a policy file: every rule needs them too.
  const extra = inputs.requireAttestations.map((type) => ({
    type,
    predicateTypes: resolvePredicateType(type, INPUT.requireAttestations),
    bannedComponents: [],
  }))
  for (const rule of policy.rules) rule.attestations.push(...extra)
  const where = files.describe === 'the workspace' ? '' : ` at ${files.describe}`
  return { policy, source: `${inputs.policy}${where}` }
}

/** The trusted-root file's text, read where the rules are read (policy-ref or the workspace). */
function readTrustedRoot(path: string, files: RuleFiles): string {
  try {
    return files.read(path)
  } catch (err) {
    if (err instanceof SignetError) throw err
    throw new SignetError(
      'INPUT_INVALID',
      `input ${INPUT.trustedRoot}: cannot read ${path}: ${describeError(err)}`,
      { input: INPUT.trustedRoot, cause: err },
    )
  }
}

/**
 * A result decided before any signature was read: a build context that is no registry image, an
 * image no policy rule covers, an image its registry could not give.
 */
function notVerified(
  named: Pick<Subject | ReplacedByContext, 'written' | 'dockerfile'> & { name?: string },
  verdict: 'failed' | 'skipped',
  reason: string,
  digest = '',
): VerifyImageResult {
  return {
    image: named.written,
    name: named.name ?? '',
    digest,
    mediaType: '',
    ...(named.dockerfile ? { dockerfile: named.dockerfile } : {}),
    verified: false,
    verdict,
    reason,
    signatures: [],
    attestations: [],
  }
}

interface Target {
  subject: Subject
  /** The policy rule the image is checked against (decided before the registry was contacted). */
  rule: Rule
  repo: Repository
  name: string
  digest: string
  mediaType: string
  parent?: string
  platform?: string
  /** The index it was reached through, whose signature may cover it (see platformVerdict). */
  index?: Target
}

type Targets = { targets: Target[] } | { failed: VerifyImageResult }

/**
 * What to verify for one subject (subjects/resolve.ts): its manifest, and the platform manifests
 * its index lists, each tied to the index whose signature may cover it. An image that could not
 * be resolved is a failed result, not an error.
 */
async function targetsOf(
  registry: Registry,
  subject: Subject,
  rule: Rule,
  recursive: boolean,
  log: Logger,
): Promise<Targets> {
  const resolution = await resolveSubject(registry, subject, { mode: 'verify', recursive, log })
  if ('reason' in resolution)
    return { failed: notVerified(subject, 'failed', resolution.reason, resolution.digest) }
  const repo = { registry: subject.registry, repository: subject.repository }
  const top: Target = {
    subject,
    rule,
    repo,
    name: subject.name,
    digest: resolution.descriptor.digest,
    mediaType: resolution.descriptor.mediaType,
  }
  const children = resolution.children.map((child): Target => ({
    ...top,
    digest: child.descriptor.digest,
    mediaType: child.descriptor.mediaType,
    parent: child.parent,
    platform: child.platform,
    index: top,
  }))
  return { targets: [top, ...children] }
}

export async function runVerify(
  inputs: VerifyInputs,
  deps: VerifyDependencies,
): Promise<VerifyOutcome> {
  const env = deps.env ?? process.env
  const log = deps.log
  const cwd = deps.cwd ?? process.cwd()
  // How long TUF and GitHub's API may each be unavailable (retry-timeout).
  const budget = new RetryBudget(inputs.retryTimeoutMs, { log: (line) => log.info(line) })

  // All input is read and checked before any registry is. The rules (policy, keys, trusted root)
  // come from the workspace, or from policy-ref where a pull request cannot change them.
  const files = ruleFiles({
    cwd,
    env,
    ref: inputs.policyRef,
    inputFor: (path) =>
      path === inputs.trustedRoot
        ? INPUT.trustedRoot
        : path === inputs.publicKey
          ? INPUT.publicKey
          : INPUT.policy,
  })
  const { policy, source } = await readPolicy(inputs, files)
  const named = await subjectsToVerify(inputs, { cwd, env })
  const subjects = named.filter((s): s is Subject => !('verdict' in s))
  const trustedRootText = inputs.trustedRoot
    ? readTrustedRoot(inputs.trustedRoot, files)
    : undefined
  // The trust roots and the verifier (sigstore-js) load while the images are being resolved: the
  // first registry requests go out before that CPU-bound loading holds the event loop, and TUF's
  // requests (without trusted-root) run beside the registry's (issue 11: start-up). Their lines
  // wait for their own group; a trusted root that does not load fails the run once the images are
  // resolved, before any signature is read.
  const rootLog = deferredLogger()
  const verifier = (async () => {
    await networkTurn()
    // Before anything is verified: DER times sigstore-js would refuse, and a faster toDER.
    const { patchSigstoreAsn1 } = await import('../sigstore/asn1-patches')
    patchSigstoreAsn1()
    const trust = await import('./trust')
    const roots =
      inputs.trustedRoot && trustedRootText !== undefined
        ? trust.parseTrustedRootFile(trustedRootText, inputs.trustedRoot)
        : await trust.loadTrustRoots({
            cwd,
            log: rootLog,
            cacheDir: deps.tuf?.cacheDir,
            mirrorURL: deps.tuf?.mirrorURL,
            timeoutMs: deps.tuf?.timeoutMs,
            retry: budget,
          })
    return { roots, image: await import('./image') }
  })()
  verifier.catch(() => undefined)
  const notes: string[] = [...files.notes()]
  // GitHub's artifact attestations (where actions/attest stores them), looked up beside the
  // registry's; the owner input is checked here, before any network.
  const github = inputs.githubAttestations
    ? createGitHubAttestationSource({
        token: inputs.githubToken ?? '',
        owner: inputs.githubAttestationsOwner,
        apiUrl: env.GITHUB_API_URL,
        log,
        api: deps.githubApi,
        budget,
      })
    : undefined
  if (!inputs.tlog)
    notes.push(
      'tlog: false — key-signed signatures are accepted without a transparency-log entry, so a ' +
        'leaked key could sign without anyone seeing it (cosign --insecure-ignore-tlog).',
    )

  // Policy before network: an image no rule covers is decided here, and its registry is never
  // contacted (a Dockerfile may name any host; only images the policy checks are looked up).
  const decided = named.map(
    (entry): { subject: Subject; rule: Rule | undefined } | { decided: VerifyImageResult } =>
      'verdict' in entry
        ? { decided: notVerified(entry, entry.verdict, entry.reason) }
        : { subject: entry, rule: ruleFor(policy, entry.name) },
  )
  const unruled = (subject: Subject): VerifyImageResult => {
    const skip = policy.unmatched === 'skip'
    const reason = skip
      ? 'no policy rule matches this image, and the policy skips unmatched images (its registry was not contacted)'
      : `expected a policy rule for ${subject.name}, got none (the policy fails unmatched images)`
    log.info(`${skip ? '➖' : '❌'} ${subject.written}: ${reason}`)
    return notVerified(subject, skip ? 'skipped' : 'failed', reason, subject.digest)
  }

  // registry-username/password are for the registries the workflow named in images/metadata and
  // signature-repository: never for a host that only a Dockerfile names (the pull request chose
  // it), nor one only a policy rule's signatureRepository names, unless the policy was read at
  // policy-ref (a pull request can rewrite the workspace's).
  const registry =
    typeof deps.registry === 'function'
      ? deps.registry([
          ...subjects.filter((s) => s.input !== INPUT.dockerfile).map((s) => s.registry),
          ...(inputs.signatureRepository ? [inputs.signatureRepository.registry] : []),
          ...(inputs.policyRef
            ? policy.rules.flatMap((r) =>
                r.signatureRepository ? [r.signatureRepository.registry] : [],
              )
            : []),
        ])
      : deps.registry

  // Where a target's signatures are: its rule's signature repository, else the input's, else
  // beside the image (cosign's COSIGN_REPOSITORY).
  const storeOf = (target: Target, rule: Rule): SignatureStore =>
    signatureStore(target, rule.signatureRepository ?? inputs.signatureRepository)

  // A target's signatures are read once the verifier has loaded (it says which attestations the
  // rule needs); a verifier that fails to load rejects every one, and the run with it below.
  const verifications = new Map<string, Promise<ImageVerification>>()
  // cosign v3 and actions/attest keep signatures as bundles, cosign v2 in .sig tags: an image is
  // read in one format first (bundles, unless the store's last image needed another), and in the
  // other only when the first does not verify it: two requests an image fewer for the usual case.
  const formatsFirst = new Map<string, readonly SignatureFormat[]>()
  const verifyTarget = (target: Target, rule: Rule): Promise<ImageVerification> => {
    const store = storeOf(target, rule)
    const key = `${target.repo.registry}/${target.repo.repository}@${target.digest}#${rule.source}#${rule.attestations.length}#${store.name}`
    let pending = verifications.get(key)
    if (!pending) {
      pending = verifier.then(async ({ roots, image }) => {
        const needed = image.requiredPredicateTypes(rule)
        const discovery = new ImageDiscovery(
          registry,
          target.repo,
          target.digest,
          (type) => needed.has(type),
          {
            github,
            attestationsRequired: needed.size > 0,
            ...(store.elsewhere ? { signatureRepository: store.repo } : {}),
          },
        )
        const verify = async (formats: readonly SignatureFormat[]): Promise<ImageVerification> => {
          let found: Discovery
          try {
            found = await discovery.read(formats)
          } catch (err) {
            return {
              verified: false,
              reason: `could not read its signatures: ${describeError(err)}`,
              signatures: [],
              attestations: [],
            }
          }
          return image.verifyImage(found, target.digest, rule, roots, {
            keysWithoutTlog: !inputs.tlog,
          })
        }
        const first = image.readsEveryFormat(rule)
          ? SIGNATURE_FORMATS
          : (formatsFirst.get(store.name) ?? ['bundle'])
        const outcome = await verify(first)
        if (outcome.verified || first.length === SIGNATURE_FORMATS.length) return outcome
        const everything = await verify(SIGNATURE_FORMATS)
        // The next image in this store reads first what decided this one (or everything).
        const decidedBy = everything.signatures.find((s) => s.verified)?.format
        formatsFirst.set(
          store.name,
          everything.verified && decidedBy ? [decidedBy] : SIGNATURE_FORMATS,
        )
        return everything
      })
      verifications.set(key, pending)
    }
    return pending
  }

  // An image's signatures are read (and checked) as soon as it is resolved, while the others are
  // still being resolved: the registry's answers overlap the verification work instead of waiting
  // for the slowest resolution. At most CONCURRENCY at once; the rest start when verified below.
  let prefetching = 0
  const prefetch = (target: Target): void => {
    if (prefetching >= CONCURRENCY) return
    prefetching++
    const done = (): void => {
      prefetching--
    }
    verifyTarget(target, target.rule).then(done, done)
  }

  const resolutions = await log.group('Resolving images', () =>
    mapLimit(decided, CONCURRENCY, async (entry): Promise<Targets> => {
      if ('decided' in entry) return { failed: entry.decided }
      if (!entry.rule) return { failed: unruled(entry.subject) }
      const resolved = await targetsOf(registry, entry.subject, entry.rule, inputs.recursive, log)
      if ('targets' in resolved) prefetch(resolved.targets[0])
      return resolved
    }),
  )

  const { roots, image } = await log.group('Trust roots', async () => {
    const loaded = await verifier
    rootLog.replayTo(log)
    for (const root of loaded.roots) {
      const r = root.requirements
      log.info(
        `${root.name}: ${r.requireTlog ? 'transparency log entry required' : 'no transparency log: RFC 3161 timestamp required'}`,
      )
    }
    return loaded
  })
  const { platformVerdict } = image

  // In the order the images were named; an image that could not be resolved keeps its place.
  const items = resolutions.flatMap((r): (Target | VerifyImageResult)[] =>
    'targets' in r ? r.targets : [r.failed],
  )
  const targetCount = items.filter((i) => 'subject' in i).length
  const results = await log.group(`Verifying ${targetCount} image(s)`, () =>
    mapLimit(items, CONCURRENCY, async (item): Promise<VerifyImageResult> => {
      if (!('subject' in item)) return item
      const target = item
      const base = {
        image: target.subject.written,
        name: target.name,
        digest: target.digest,
        mediaType: target.mediaType,
        ...(target.parent ? { parent: target.parent, platform: target.platform } : {}),
        ...(target.subject.dockerfile ? { dockerfile: target.subject.dockerfile } : {}),
      }
      const rule = target.rule
      const store = storeOf(target, rule)
      // Attestations describe the image that was built and named; a platform manifest reached
      // through its index needs a signature only (as Signet and cosign attach them): its own, or
      // the index's (platformVerdict).
      const outcome: PlatformVerification = target.index
        ? platformVerdict(
            ...(await Promise.all([
              verifyTarget(target, { ...rule, attestations: [] }),
              verifyTarget(target.index, target.index.rule),
            ])),
            rule,
          )
        : await verifyTarget(target, rule)
      const coveredBy =
        outcome.coveredBy ?? (outcome.verified ? ('own signature' as const) : undefined)
      const where = `${target.name}@${target.digest}${target.platform ? ` (${target.platform})` : ''}`
      const signer = outcome.signer?.identity ?? 'the public key'
      if (coveredBy === 'index signature')
        log.info(`✅ ${where}: covered by its index's signature (signed by ${signer})`)
      else if (outcome.verified) log.info(`✅ ${where}: signed by ${signer}`)
      else log.info(`❌ ${where}: ${outcome.reason ?? 'not verified'}`)
      return {
        ...base,
        verified: outcome.verified,
        verdict: outcome.verified ? 'verified' : 'failed',
        ...(coveredBy ? { coveredBy } : {}),
        rule: rule.name ?? rule.source,
        ...(store.elsewhere ? { signatureRepository: store.name } : {}),
        ...(outcome.reason ? { reason: outcome.reason } : {}),
        ...(outcome.signer ? { signer: outcome.signer } : {}),
        ...(outcome.rekorLogIndex !== undefined
          ? {
              rekorLogIndex: outcome.rekorLogIndex,
              rekorIntegratedTime: outcome.rekorIntegratedTime,
            }
          : {}),
        signatures: outcome.signatures,
        attestations: outcome.attestations,
        ...(outcome.unread ? { unread: outcome.unread } : {}),
      }
    }),
  )

  return {
    mode: 'verify',
    results,
    verified: results.every((r) => r.verdict !== 'failed'),
    enforce: inputs.enforce,
    policySource: source,
    trustRoots: roots.map((r) => r.name),
    notes,
  }
}
