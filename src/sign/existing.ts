/**
 * Re-runs finish the job (issue 12.2): what an image already carries from this run's signer, so
 * that signing again after a partial failure, or after a success, writes only what is missing.
 *
 * "Already there" means verified, never merely present: each candidate discovery finds
 * (src/storage/discover.ts) is checked by the verifiers verify mode uses (src/verify/*), against
 * the run's trusted root, for this run's signer: the identity and issuer of this run's Fulcio
 * certificate (keyless), or this run's key. A layer planted with the right annotations, a
 * signature by someone else, one about another digest or one a root does not vouch for is not
 * "already there", and the image is signed as if it were absent. So a registry (or whoever writes
 * to it) can make Signet write more, never less.
 *
 * Each format is judged on its own: a `.sig` layer says nothing about the bundle referrer, so with
 * `signature-format: both` an image with only the legacy signature gets only the bundle.
 *
 * Attestations: one of the same predicate type and the same predicate digest, from this signer,
 * about this digest, counts as already there. The predicate digest is Signet's own rule (cosign
 * does not dedupe attestations): `sha256:` and the hex SHA-256 of the predicate serialised as
 * canonical JSON (object keys sorted, no whitespace, as @sigstore/core's `json.canonicalize`
 * writes it, the JSON canonicalization Rekor uses for entry bodies). It is computed from the
 * predicate value, not from the bytes of a file, so a predicate that was re-indented or had its
 * keys reordered is the same predicate, while one whose content changed (a new SBOM, provenance
 * of another run attempt) is not.
 *
 * Without a root to check against (custom services and no `trusted-root` input) nothing can be
 * verified, so nothing counts as already there: the run signs everything, as before.
 */
import { createHash, createPublicKey } from 'node:crypto'
import { json } from '@sigstore/core'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toTrustMaterial } from '@sigstore/verify'
import { describeError } from '../errors'
import type { Logger } from '../report/types'
import type { ImageReference } from '../registry/reference'
import type { Registry } from '../registry/types'
import { signatureStore } from '../storage/signature-repository'
import {
  claimedAttestationType,
  COSIGN_SIGN_PREDICATE,
  discover,
  type Discovery,
} from '../storage/discover'
import type { ResolvedImage } from '../subjects/resolve'
import type { BundleVerifyOptions, BundleVerdict } from '../verify/bundle'
import { verifyImageBundle } from '../verify/bundle'
import { verifyLegacyAttestation } from '../verify/att-layer'
import type { Expectation } from '../verify/common'
import { verifyLegacySignature } from '../verify/sig-layer'
import type { TrustRoot } from '../verify/trust'
import type { PlannedAttestation } from './attestation-plan'

/** The predicate digest (see the module header): `sha256:<hex>` of the canonical JSON. */
export function predicateDigest(predicate: unknown): string {
  return `sha256:${createHash('sha256').update(json.canonicalize(predicate)).digest('hex')}`
}

/** Who this run signs as, and what an existing signature must verify against to count. */
export interface RunSigner {
  expectation: Expectation
  roots: TrustRoot[]
  /** The run records signatures in Rekor (`tlog`): an existing one must have an entry too. */
  tlog: boolean
}

/** This run's signer: the certificate's SAN and issuer, or the key. */
export function runSigner(
  signer:
    { keyless: true; subject: string; issuer?: string } | { keyless: false; publicKeyPem: string },
  roots: TrustRoot[],
  tlog: boolean,
): RunSigner {
  if (!signer.keyless) {
    return {
      expectation: { kind: 'key', publicKey: createPublicKey(signer.publicKeyPem) },
      roots,
      tlog,
    }
  }
  const { subject, issuer } = signer
  return {
    expectation: {
      kind: 'keyless',
      identity: (san) => san === subject,
      issuer: (iss) => issuer !== undefined && iss === issuer,
      describe: `identity ${subject} and issuer ${issuer ?? '(none)'}`,
    },
    roots,
    tlog,
  }
}

/**
 * The root of a run that signs by key with no log and no timestamp: it trusts nothing but the
 * key, which is all such a signature carries (verifySigner supplies the key).
 */
export function keyOnlyRoot(): TrustRoot {
  const empty = TrustedRoot.fromJSON({
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [],
    certificateAuthorities: [],
    ctlogs: [],
    timestampAuthorities: [],
  })
  return {
    name: 'the signing key',
    material: toTrustMaterial(empty),
    requirements: { requireTlog: false, requireTimestamp: false, requireSct: false },
  }
}

/** Where an existing signature or attestation is, and its Rekor entry. */
export interface Found {
  reference: string
  rekorLogIndex?: number
  rekorIntegratedTime?: number
}

export interface ExistingByFormat {
  legacy?: Found
  bundle?: Found
}

/** What an image already carries from this run's signer. */
export interface Existing {
  signature: ExistingByFormat
  /** By planned attestation (the same objects the run plans). */
  attestations: Map<PlannedAttestation, ExistingByFormat>
}

export const NOTHING_EXISTING: Existing = { signature: {}, attestations: new Map() }

/**
 * What a signature must carry to count under `root`: the root's own bar, and a Rekor entry
 * exactly when this run makes one (`tlog: false` runs accept one without).
 */
function requirementsUnder(root: TrustRoot, signer: RunSigner): Required<BundleVerifyOptions> {
  return { ...root.requirements, requireTlog: signer.tlog }
}

/** The first root under which `verify` succeeds, as a verdict; else undefined. */
function underAnyRoot<V extends { ok: boolean }>(
  signer: RunSigner,
  verify: (root: TrustRoot, requirements: Required<BundleVerifyOptions>) => V,
): V | undefined {
  for (const root of signer.roots) {
    const verdict = verify(root, requirementsUnder(root, signer))
    if (verdict.ok) return verdict
  }
  return undefined
}

function found(reference: string, rekor?: BundleVerdict['rekor']): Found {
  return {
    reference,
    ...(rekor ? { rekorLogIndex: rekor.logIndex, rekorIntegratedTime: rekor.integratedTime } : {}),
  }
}

/**
 * Pure: from what discovery read for `digest`, the signature (per format) and the planned
 * attestations (per format) that already verify for this run's signer. Each format stops at its
 * first verified candidate.
 */
export function existingFor(
  discovery: Discovery,
  digest: string,
  signer: RunSigner,
  planned: PlannedAttestation[],
): Existing {
  const existing: Existing = { signature: {}, attestations: new Map() }
  const { expectation } = signer

  for (const sig of discovery.signatures) {
    const verdict = underAnyRoot(signer, (root, requirements) =>
      verifyLegacySignature(sig.signature, digest, root.material, expectation, {
        ...requirements,
        // As verify mode checks a .sig: cosign wants the certificate's SCT whatever the root.
        requireSct: true,
      }),
    )
    if (verdict) {
      existing.signature.legacy = found(sig.reference, verdict.rekor)
      break
    }
  }

  // A planned attestation is matched by predicate type and predicate digest.
  const wanted = new Map<string, PlannedAttestation[]>()
  for (const a of planned) wanted.set(a.predicateType, [...(wanted.get(a.predicateType) ?? []), a])
  const record = (
    verdict: BundleVerdict | undefined,
    format: keyof ExistingByFormat,
    reference: string,
  ): void => {
    if (!verdict?.ok || !verdict.predicateType) return
    const statement = verdict.statement as { predicate?: unknown } | undefined
    const candidates = wanted.get(verdict.predicateType) ?? []
    if (candidates.length === 0 || statement === undefined) return
    const digestOfFound = predicateDigest(statement.predicate)
    for (const a of candidates) {
      if (a.predicateDigest !== digestOfFound) continue
      const byFormat = existing.attestations.get(a) ?? {}
      byFormat[format] ??= found(reference, verdict.rekor)
      existing.attestations.set(a, byFormat)
    }
  }

  for (const b of discovery.bundles) {
    const claimed = b.predicateType
    const isSignature = claimed === COSIGN_SIGN_PREDICATE
    if (!isSignature && (claimed === undefined || !wanted.has(claimed))) continue
    if (isSignature && existing.signature.bundle) continue
    if (b.json === undefined) continue
    const verdict = underAnyRoot(signer, (root, requirements) =>
      verifyImageBundle(b.json, digest, root.material, expectation, requirements),
    )
    if (!verdict) continue
    if (verdict.predicateType === COSIGN_SIGN_PREDICATE) {
      existing.signature.bundle ??= found(b.reference, verdict.rekor)
    } else {
      record(verdict, 'bundle', b.reference)
    }
  }

  for (const att of discovery.attestations) {
    const claimed = claimedAttestationType(att)
    if (!att.envelope || claimed === undefined || !wanted.has(claimed)) continue
    const envelope = att.envelope
    const verdict = underAnyRoot(signer, (root, requirements) =>
      verifyLegacyAttestation(
        { envelope, annotations: att.annotations },
        digest,
        root.material,
        expectation,
        // Signet writes no RFC 3161 annotation on a `.att` layer (cosign's check of one hashes the
        // whole layer): the signing time is the Rekor entry's, or, keyless without it, none.
        { ...requirements, requireTimestamp: false },
      ),
    )
    record(verdict, 'legacy', att.reference)
  }
  return existing
}

/** The discovery read a re-run check needs for one image, started early or on demand. */
export interface ExistingLookup {
  /** Starts reading what `images` carry now (while the certificate is being issued). */
  prefetch(images: ResolvedImage[]): void
  /** What `image` carries, or undefined when it could not be read (the image is signed whole). */
  read(image: ResolvedImage): Promise<Discovery | undefined>
}

/**
 * Reads through discover(), only the attestation types a run plans. A read that fails (the
 * registry is down, or over a discovery limit) is a warning: the image is then signed as if it
 * carried nothing, which at worst repeats a signature, and a registry that is down fails the
 * writes that follow with its own error.
 */
export function registryLookup(
  registry: Registry,
  plannedFor: (image: ResolvedImage) => PlannedAttestation[],
  log: Logger,
  signatureRepository?: ImageReference,
): ExistingLookup {
  const started = new Map<string, Promise<Discovery | undefined>>()
  const key = (image: ResolvedImage): string => `${image.name}@${image.digest}`
  const start = (image: ResolvedImage): Promise<Discovery | undefined> => {
    const types = new Set(plannedFor(image).map((a) => a.predicateType))
    // Where this run writes them: the signature repository, when one is given.
    const store = signatureStore(image, signatureRepository)
    const options = store.elsewhere ? { signatureRepository: store.repo } : {}
    return discover(registry, image.repo, image.digest, (type) => types.has(type), options).catch(
      (err: unknown) => {
        log.warning(
          `${image.name}@${image.digest}: could not read what it already carries, so it is ` +
            `signed again in full: ${describeError(err)}`,
        )
        return undefined
      },
    )
  }
  return {
    prefetch(images) {
      for (const image of images) {
        if (!started.has(key(image))) started.set(key(image), start(image))
      }
    },
    read(image) {
      const pending = started.get(key(image))
      // Taken once: what was read is not held after the image is done.
      started.delete(key(image))
      return pending ?? start(image)
    },
  }
}
