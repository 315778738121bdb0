/**
 * The verify-mode policy: which signers (and which attestations) each image needs. Pure: it parses
 * and answers questions; fetching and verifying signatures is the verifier's job, and it reads no
 * files (public keys named by path come through the reader the caller passes).
 *
 * This is the public entry; each concern has its own module:
 * - policy-file.ts: the `policy` file's format, parsed strictly (parsePolicy, PolicyError)
 * - from-inputs.ts: the policy the `certificate-*`, `public-key` and `require-attestations` inputs
 *   describe (policyFromInputs)
 * - image-patterns.ts: which images a rule covers (globToRegExp, ruleFor)
 * - identities.ts: keyless identities and whole-value regexps (matchesIdentity, matchesString)
 * - certificate-extensions.ts: the GitHub claims Fulcio records, pinned per signer
 *   (extensionMismatch)
 * - predicate-types.ts: required attestations by predicate type (resolvePredicateType)
 * - public-keys.ts: key signers, read through the caller's reader
 * - types.ts: what a parsed policy is (Policy, Rule, SignerRequirement, ...)
 */
export type {
  AttestationRequirement,
  ExtensionRequirement,
  KeylessSigner,
  KeySigner,
  PlatformCoverage,
  Policy,
  Rule,
  SignerRequirement,
  StringMatcher,
} from './types'
export { PLATFORM_COVERAGES } from './types'
export type { PolicyFileReader, PolicyReadOptions } from './public-keys'
export { parsePolicy, PolicyError } from './policy-file'
export { policyFromInputs, type PolicyInputs } from './from-inputs'
export { globToRegExp, ruleFor } from './image-patterns'
export { describeMatcher, matchesIdentity, matchesString } from './identities'
export { extensionMismatch } from './certificate-extensions'
export { resolvePredicateType } from './predicate-types'
