/**
 * What a policy is, once parsed: the rules, each naming its images and the signers and attestations
 * they need. The policy file (policy-file.ts) and the identity inputs (from-inputs.ts) both produce
 * these; the verifier (src/verify/image.ts) only reads them.
 */
import type { KeyObject } from 'node:crypto'
import type { ImageReference } from '../registry/reference'

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
 * or the index's; `own-signature`, its own signature only (see policy-file.ts, Platforms).
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
  /**
   * Where its images' signatures and attestations are stored, when not beside each image
   * (`signatureRepository:`, cosign's COSIGN_REPOSITORY); overrides the signature-repository input.
   */
  signatureRepository?: ImageReference
  /** Where the rule is written (`policy.yml:12`), or the inputs it was made from. */
  source: string
}

export interface Policy {
  rules: Rule[]
  unmatched: 'fail' | 'skip'
}
