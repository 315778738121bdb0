/**
 * What an admission policy is generated from: the images, the signers and the attestations, in
 * the terms Signet's own verdicts use. Two sources make one (from-sign.ts: what a sign run wrote;
 * from-policy.ts: a Signet policy file) and two writers read it (kyverno.ts, policy-controller.ts).
 * Plain data only: no KeyObject, no RegExp, so a description can be built by hand in tests and by
 * a CLI.
 */

/** An exact value, or a regexp (JavaScript syntax, as Signet takes it) that must match the whole value. */
export type AdmissionMatcher = { exact: string } | { regexp: string }

export type AdmissionSigner =
  | { kind: 'keyless'; identity: AdmissionMatcher; issuer: AdmissionMatcher }
  /** A public key as SPKI PEM text. */
  | { kind: 'key'; publicKeyPem: string }

export interface AdmissionAttestation {
  /**
   * The predicate types any one of which satisfies the requirement (Signet's short names resolve
   * to several, e.g. `slsaprovenance` to SLSA v1 and v0.2). The admission policies require the
   * first: neither Kyverno nor policy-controller can say "one of these types".
   */
  predicateTypes: string[]
  /** Package names an SBOM attestation must not list (compared case-insensitively). */
  bannedComponents: string[]
}

export interface AdmissionRule {
  /** For the generated rule's name and for notes. */
  name?: string
  /**
   * Repository patterns, normalised as Signet matches them (`index.docker.io/library/node`,
   * `ghcr.io/acme/**`): no tag, no digest; `*` within one path component, `**` across `/`, `?`
   * one character.
   */
  images: string[]
  /** At least one; an image passes when ANY verifies. */
  signers: AdmissionSigner[]
  /** Every one must be present, signed by one of the signers, and meet its conditions. */
  attestations: AdmissionAttestation[]
  /** Where this rule's signatures are stored, overriding the spec's signatureRepository. */
  signatureRepository?: string
}

/**
 * What the admission controller checks. Rules are ordered as in a Signet policy: the first whose
 * images match an image applies to it.
 */
export interface AdmissionSpec {
  rules: AdmissionRule[]
  /**
   * Where the signatures are: `legacy` (the `.sig`/`.att` tags cosign v2 writes), `bundle` (the
   * Sigstore bundle referrers cosign v3 writes), or `both`.
   */
  signatureFormat: 'legacy' | 'bundle' | 'both'
  /**
   * Whether signatures carry a Rekor entry. Keyless signatures always need one (or a timestamp);
   * a key signature written with `tlog: false` must be admitted without one.
   */
  transparencyLog: boolean
  /**
   * Where signatures and attestations are stored when not beside the image (cosign's
   * COSIGN_REPOSITORY, Signet's `signature-repository`): `registry/repository`.
   */
  signatureRepository?: string
}

/** Audit: report failures and admit; enforce: reject. */
export type AdmissionMode = 'audit' | 'enforce'

export interface AdmissionOptions {
  mode: AdmissionMode
  /** metadata.name of the generated resource; lower-cased and reduced to a DNS label. */
  name?: string
}

/** A generated resource: its YAML text, and where it checks more than Signet's verdict does. */
export interface GeneratedPolicy {
  yaml: string
  mode: AdmissionMode
  /**
   * Where the admission controller reads the policy otherwise than Signet: mostly stricter (an
   * image needs more), and where Kyverno's wildcards can send an image to another rule than
   * Signet's first match, said so. What a controller cannot check at all is refused with
   * ADMISSION_UNSUPPORTED, never dropped. For the user to read; empty when none.
   */
  notes: string[]
}
