/**
 * The verdict on one image digest, from what discovery found and what its policy rule requires.
 * Pure: no network (discovery has read everything already).
 *
 * An image is verified when at least one signature (a legacy `.sig` layer, or a bundle whose
 * statement is cosign's signature predicate) verifies for the digest against a signer the rule
 * allows, under one of the trust roots; and every attestation the rule requires has a verified
 * attestation of that type, from an allowed signer, about this digest (and, for an SBOM rule with
 * banned components, none of them in it). Every signature and attestation found is reported with
 * its own verdict, so a reader sees what was there and why it did not count.
 */
import { describeMatcher, extensionMismatch, matchesString } from '../policy/policy'
import type { AttestationRequirement, Rule, SignerRequirement } from '../policy/policy'
import { FULCIO_OID_PREFIX } from '../sigstore/certificate'
import { verifyImageBundle, type BundleVerdict } from './bundle'
import type { Expectation } from './common'
import {
  claimedAttestationType,
  COSIGN_SIGN_PREDICATE,
  type Discovery,
  type FoundBundle,
  type SignatureFormat,
} from '../storage/discover'
import { verifyLegacySignature } from './sig-layer'
import { verifyLegacyAttestation } from './att-layer'
import type { TrustRoot } from './trust'
import { bannedComponentsIn } from './sbom-components'

/** Who signed, as the report shows it. GitHub fields come from the Fulcio extensions. */
export interface SignerReport {
  identity?: string
  issuer?: string
  /** Signed with a key (no certificate). */
  publicKey?: boolean
  /** `https://github.com/owner/repo` */
  repository?: string
  /** The workflow that ran (its ref), which for a reusable workflow differs from the identity. */
  workflow?: string
  ref?: string
  trigger?: string
  commit?: string
  runnerEnvironment?: string
}

export interface SignatureFinding {
  format: 'legacy' | 'bundle'
  reference: string
  verified: boolean
  /** false: found but not checked (another signature decided, or no rule needs it). */
  checked?: false
  reason?: string
  signer?: SignerReport
  rekorLogIndex?: number
  rekorIntegratedTime?: number
}

export interface AttestationFinding extends SignatureFinding {
  predicateType: string
}

export interface ImageVerification {
  verified: boolean
  reason?: string
  signer?: SignerReport
  rekorLogIndex?: number
  rekorIntegratedTime?: number
  signatures: SignatureFinding[]
  attestations: AttestationFinding[]
  /**
   * Places not read, and why: a signature of one format verified the image and its rule needed
   * nothing more, so the other format's signatures (if any) are not listed.
   */
  unread?: string
}

/**
 * What verified an image: its own signature, or, for a platform manifest reached through its
 * index, the index's.
 */
export type CoveredBy = 'own signature' | 'index signature'

export interface PlatformVerification extends ImageVerification {
  /** Set when verified. */
  coveredBy?: CoveredBy
}

export interface VerifyOptions {
  /** Accept key-signed signatures without a transparency-log entry (`tlog: false`). */
  keysWithoutTlog: boolean
}

interface Verdict {
  ok: boolean
  reason?: string
  signer?: BundleVerdict['signer']
  rekor?: BundleVerdict['rekor']
  statement?: unknown
  predicateType?: string
}

type Attempt = (expectation: Expectation, root: TrustRoot) => Verdict
/** A verdict, and whether the signer it was checked against is a key. */
type Checked = Verdict & { keyed: boolean }

/** Something found that claims to sign or attest the image, and how to check it. */
interface Candidate {
  format: SignatureFinding['format']
  reference: string
  /** The predicate type it claims (attestations), before verification. */
  claimed?: string
  verify: () => Checked
}

function ext(extensions: Record<string, string> | undefined, n: number): string | undefined {
  return extensions?.[`${FULCIO_OID_PREFIX}${n}`]
}

export function signerReport(signer: Verdict['signer'], keyed: boolean): SignerReport {
  if (keyed) return { publicKey: true }
  const e = signer?.extensions
  const legacyRepo = ext(e, 5)
  const report: SignerReport = {
    identity: signer?.san,
    issuer: signer?.issuer ?? ext(e, 1),
    repository: ext(e, 12) ?? (legacyRepo ? `https://github.com/${legacyRepo}` : undefined),
    workflow: ext(e, 18),
    ref: ext(e, 14) ?? ext(e, 6),
    trigger: ext(e, 20) ?? ext(e, 2),
    commit: ext(e, 13) ?? ext(e, 3),
    runnerEnvironment: ext(e, 11),
  }
  return Object.fromEntries(Object.entries(report).filter(([, v]) => v !== undefined))
}

function expectationOf(signer: SignerRequirement): Expectation {
  if (signer.kind === 'key') return { kind: 'key', publicKey: signer.publicKey }
  const identity = describeMatcher('identity', signer.identity)
  const issuer = describeMatcher('issuer', signer.issuer)
  return {
    kind: 'keyless',
    identity: (san) => matchesString(signer.identity, san),
    issuer: (iss) => matchesString(signer.issuer, iss),
    describe: `${identity} and ${issuer}`,
    describeIdentity: identity,
    describeIssuer: issuer,
    ...(signer.extensions?.length
      ? { extensions: (found: Record<string, string>) => extensionMismatch(signer, found) }
      : {}),
  }
}

/**
 * Tries every allowed signer under every root; the first success wins. On failure the reason is
 * the most telling one: from an attempt whose signature was cryptographically sound (it reached
 * the identity or digest checks) when there is one, since "expected identity X, got Y" says more
 * than "untrusted certificate" under a root the signature was never meant for.
 */
function firstSuccess(attempt: Attempt, signers: SignerRequirement[], roots: TrustRoot[]): Checked {
  let best: Checked | undefined
  for (const signer of signers) {
    const expectation = expectationOf(signer)
    for (const root of roots) {
      const verdict = { ...attempt(expectation, root), keyed: signer.kind === 'key' }
      if (verdict.ok) return verdict
      if (!best || (!best.signer && verdict.signer)) best = verdict
    }
  }
  return best ?? { ok: false, reason: 'the rule allows no signer', keyed: false }
}

function finding(
  format: SignatureFinding['format'],
  reference: string,
  verdict: Checked,
): SignatureFinding {
  const out: SignatureFinding = { format, reference, verified: verdict.ok }
  if (!verdict.ok) out.reason = verdict.reason ?? 'not verified'
  if (verdict.signer) out.signer = signerReport(verdict.signer, verdict.keyed)
  if (verdict.rekor) {
    out.rekorLogIndex = verdict.rekor.logIndex
    out.rekorIntegratedTime = verdict.rekor.integratedTime
  }
  return out
}

function requirementMet(
  requirement: AttestationRequirement,
  attestations: (AttestationFinding & { statement?: unknown })[],
): string | undefined {
  const ofType = attestations.filter((a) => requirement.predicateTypes.includes(a.predicateType))
  const verified = ofType.filter((a) => a.verified)
  const wanted = requirement.type
  if (verified.length === 0) {
    if (ofType.length === 0) return `expected a ${wanted} attestation, got none`
    return `expected a verified ${wanted} attestation, got ${ofType.length} that did not verify: ${ofType[0]?.reason ?? ''}`
  }
  if (requirement.bannedComponents.length > 0) {
    for (const a of verified) {
      const banned = bannedComponentsIn(a.statement, requirement.bannedComponents)
      if (banned.length > 0)
        return `expected no banned components in the ${wanted} SBOM, got ${banned.join(', ')}`
    }
  }
  return undefined
}

/**
 * What a signature must carry to verify under `root`. A key signature is bound to no root: the
 * `tlog` input alone decides whether it needs a Rekor entry, so a root without a log (GitHub's
 * instance) cannot waive one (under such a root a key signature then cannot verify, its entry
 * having no log to be checked against). Everything else is the root's own bar: a root without a
 * log wants an RFC 3161 timestamp, one with a CT log an SCT.
 */
export function signatureRequirements(
  root: TrustRoot,
  expectation: Expectation,
  options: VerifyOptions,
): TrustRoot['requirements'] {
  if (expectation.kind === 'keyless') return root.requirements
  return { ...root.requirements, requireTlog: !options.keysWithoutTlog }
}

/**
 * Whether every format's signatures must be read even once one format's verified the image: a
 * rule that bans SBOM components must see every verified SBOM, in whatever format.
 */
export function readsEveryFormat(rule: Rule): boolean {
  return rule.attestations.some((a) => a.bannedComponents.length > 0)
}

/** What a reader of the report is told of formats whose places were not read. */
const UNREAD: Record<SignatureFormat, string> = {
  legacy: "cosign's .sig and .att tags",
  bundle: 'the referrers (signature bundles)',
}

/** Every attestation type the rule will check (discovery reads only these). */
export function requiredPredicateTypes(rule: Rule): Set<string> {
  return new Set(rule.attestations.flatMap((r) => r.predicateTypes))
}

export function verifyImage(
  found: Discovery,
  digest: string,
  rule: Rule,
  roots: TrustRoot[],
  options: VerifyOptions,
): ImageVerification {
  const requirementsFor = (root: TrustRoot, expectation: Expectation): TrustRoot['requirements'] =>
    signatureRequirements(root, expectation, options)

  const check = (attempt: Attempt): Checked => firstSuccess(attempt, rule.signers, roots)
  const verifyBundle = (bundle: FoundBundle) => (): Checked =>
    check((expectation, root) =>
      verifyImageBundle(
        bundle.json,
        digest,
        root.material,
        expectation,
        requirementsFor(root, expectation),
      ),
    )
  const isSignature = (b: FoundBundle): boolean => b.predicateType === COSIGN_SIGN_PREDICATE

  // Signatures in the order cosign v3 prefers them: bundles, then `.sig` layers.
  const signatureCandidates: Candidate[] = [
    ...found.bundles.filter(isSignature).map((b) => ({
      format: 'bundle' as const,
      reference: b.reference,
      verify: verifyBundle(b),
    })),
    ...found.signatures.map((sig) => ({
      format: 'legacy' as const,
      reference: sig.reference,
      verify: () =>
        check((expectation, root) =>
          verifyLegacySignature(sig.signature, digest, root.material, expectation, {
            // cosign wants the certificate's SCT on a .sig whatever the root; so did Signet always.
            ...requirementsFor(root, expectation),
            requireSct: true,
          }),
        ),
    })),
  ]
  const attestationCandidates: Candidate[] = [
    ...found.bundles
      .filter((b) => !isSignature(b))
      .map((b) => ({
        format: 'bundle' as const,
        reference: b.reference,
        claimed: b.predicateType,
        verify: verifyBundle(b),
      })),
    ...found.attestations.map((att) => ({
      format: 'legacy' as const,
      reference: att.reference,
      claimed: claimedAttestationType(att),
      verify: () =>
        check((expectation, root) =>
          verifyLegacyAttestation(
            // Discovery reads every envelope a rule needs; an unread one fails as malformed.
            { envelope: att.envelope ?? Buffer.alloc(0), annotations: att.annotations },
            digest,
            root.material,
            expectation,
            requirementsFor(root, expectation),
          ),
        ),
    })),
  ]

  const signatures: SignatureFinding[] = []
  const attestations: (AttestationFinding & { statement?: unknown })[] = []
  const unchecked = (why: string): { verified: false; checked: false; reason: string } => ({
    verified: false,
    checked: false,
    reason: `not checked: ${why}`,
  })
  const attested = (c: Candidate, verdict: Checked, claimed: string): void => {
    attestations.push({
      ...finding(c.format, c.reference, verdict),
      predicateType: verdict.predicateType ?? claimed,
      statement: verdict.statement,
    })
  }

  // One verified signature decides; the others are listed as found but not checked, which keeps
  // a run over many images signed in both formats from doing every check twice.
  for (const c of signatureCandidates) {
    if (signatures.some((s) => s.verified)) {
      signatures.push({
        format: c.format,
        reference: c.reference,
        ...unchecked('another signature already verified this image'),
      })
      continue
    }
    const verdict = c.verify()
    // The claim came from an unverified payload or an annotation; a verified statement decides.
    if (verdict.predicateType && verdict.predicateType !== COSIGN_SIGN_PREDICATE)
      attested(c, verdict, verdict.predicateType)
    else signatures.push(finding(c.format, c.reference, verdict))
  }

  // Attestations of a type the rule requires are all checked (any may carry a banned component);
  // the others are listed as found.
  const required = requiredPredicateTypes(rule)
  for (const c of attestationCandidates) {
    const claimed = c.claimed ?? '(unknown)'
    if (required.has(claimed)) attested(c, c.verify(), claimed)
    else
      attestations.push({
        format: c.format,
        reference: c.reference,
        predicateType: claimed,
        ...unchecked('the rule requires no attestation of this type'),
      })
  }

  const report = (extra: Partial<ImageVerification>): ImageVerification => ({
    verified: false,
    signatures,
    attestations: attestations.map(({ statement: _statement, ...a }) => a),
    ...extra,
  })

  const good = signatures.find((s) => s.verified)
  if (!good) {
    if (signatures.length === 0) {
      const notes = found.notes.length > 0 ? ` (${found.notes.join('; ')})` : ''
      // cosign's COSIGN_REPOSITORY moves every signature elsewhere: say where Signet looked.
      const where = found.signatureRepository
        ? ` in the signature repository ${found.signatureRepository}`
        : ''
      const hint = found.signatureRepository
        ? ''
        : "; if they are stored in another repository (cosign's COSIGN_REPOSITORY), name it " +
          "with signature-repository or the rule's signatureRepository"
      return report({
        reason:
          'expected a signature, got none: no .sig tag and no signature bundle among the ' +
          `referrers${where}${notes}${hint}`,
      })
    }
    // The most telling failure: one whose signature was sound but not what the rule wants.
    const telling = signatures.find((s) => s.signer) ?? signatures[0]
    const prefix =
      signatures.length > 1
        ? `none of ${signatures.length} signatures verified; ${telling?.reference ?? ''}: `
        : ''
    return report({ reason: `${prefix}${telling?.reason ?? 'not verified'}` })
  }
  const identityOf = {
    signer: good.signer,
    rekorLogIndex: good.rekorLogIndex,
    rekorIntegratedTime: good.rekorIntegratedTime,
  }
  for (const requirement of rule.attestations) {
    const missing = requirementMet(requirement, attestations)
    if (missing) return report({ ...identityOf, reason: missing })
  }
  const unread = found.unread?.map((f) => UNREAD[f]).join(' and ')
  return report({
    ...identityOf,
    verified: true,
    ...(unread
      ? {
          unread: `${unread} not read: this image verified without them, and its rule needs nothing more`,
        }
      : {}),
  })
}

/**
 * The verdict on a platform manifest reached through an image index (listed under it, or chosen by
 * `FROM --platform`), from its own verification (`own`, signatures only: attestations describe
 * the named image) and the index's (`index`). Its own verified signature decides. Otherwise, when
 * the rule's `platforms` is `index-signature`, a verified signature on the index covers it: the
 * index binds each platform manifest by its digest, and the index was read by the digest its
 * signature signs, so what it lists is what its signer listed. The signer reported is then the
 * index's; the platform's own signatures stay listed with their own verdicts. Pure.
 */
export function platformVerdict(
  own: ImageVerification,
  index: ImageVerification,
  rule: Pick<Rule, 'platforms' | 'source'>,
): PlatformVerification {
  if (own.verified) return { ...own, coveredBy: 'own signature' }
  const indexSignature = index.signatures.find((s) => s.verified)
  const ownReason = own.reason ?? 'not verified'
  if (rule.platforms === 'own-signature') {
    return {
      ...own,
      reason:
        `${ownReason}; its rule (${rule.source}) has platforms: own-signature: the index's ` +
        'signature does not cover a platform manifest',
    }
  }
  if (!indexSignature) {
    return {
      ...own,
      reason: `${ownReason}; nor does the index's signature cover it (it did not verify)`,
    }
  }
  return {
    signatures: own.signatures,
    attestations: own.attestations,
    verified: true,
    coveredBy: 'index signature',
    ...(indexSignature.signer ? { signer: indexSignature.signer } : {}),
    ...(indexSignature.rekorLogIndex !== undefined
      ? {
          rekorLogIndex: indexSignature.rekorLogIndex,
          rekorIntegratedTime: indexSignature.rekorIntegratedTime,
        }
      : {}),
  }
}
