/**
 * Admission policies generated from what Signet signs or verifies: a Kyverno ClusterPolicy and
 * sigstore policy-controller ClusterImagePolicies that require what Signet's verdict requires.
 * Pure: descriptions in, YAML text out; the caller writes files.
 *
 * - types.ts: the description (AdmissionSpec) both sources make and both writers read
 * - from-sign.ts: from a sign run (admissionFromSigned, signedImagesOf)
 * - from-policy.ts: from a Signet policy file (admissionFromPolicy)
 * - kyverno.ts, policy-controller.ts: the writers (kyvernoPolicy, clusterImagePolicy)
 * - image-patterns.ts: Signet's repository patterns in each controller's syntax
 */
export type {
  AdmissionAttestation,
  AdmissionMatcher,
  AdmissionMode,
  AdmissionOptions,
  AdmissionRule,
  AdmissionSigner,
  AdmissionSpec,
  GeneratedPolicy,
} from './types'
export {
  admissionFromSigned,
  policiesForSignRun,
  signedImagesOf,
  type SignedImages,
  type SignRunPolicies,
} from './from-sign'
export { admissionFromPolicy, type FromPolicyOptions } from './from-policy'
export { kyvernoPolicy, componentNamesExpression, BANNED_COMPONENT_DEPTH } from './kyverno'
export { clusterImagePolicy } from './policy-controller'
