/**
 * An admission description from a parsed Signet policy (src/policy): one admission rule per
 * policy rule, in order, with the same images (normalised as Signet matches them), signers and
 * required attestations.
 *
 * Refused (ADMISSION_UNSUPPORTED), because no generated policy could check it and a weaker one
 * must not pass for the same: a keyless signer pinning Fulcio extensions (`sourceRepository`,
 * `sourceRef`, …: neither Kyverno's keyless attestor nor policy-controller's identities read
 * them), and `unmatched: fail` unless the caller accepts that the admission controller admits
 * images no rule covers (`admitUnmatched`; add a catch-all rule `images: '**'` to the policy to
 * have them checked).
 *
 * `platforms` has no counterpart and needs none: an admission controller verifies the image the
 * pod names, with that image's own signature, as Signet verifies a named image.
 */
import type { StringMatcher } from '../policy/types'
import type { Policy, Rule, SignerRequirement } from '../policy/policy'
import { normaliseImagePattern } from '../policy/image-patterns'
import { unsupported } from './common'
import type { AdmissionMatcher, AdmissionRule, AdmissionSigner, AdmissionSpec } from './types'

export interface FromPolicyOptions {
  /** Where the signatures are; Signet's verifier reads both, an admission controller one. */
  signatureFormat: AdmissionSpec['signatureFormat']
  /** Whether key signatures carry a Rekor entry (default true). */
  transparencyLog?: boolean
  /** Accept that images no rule covers are admitted (a policy with `unmatched: fail`). */
  admitUnmatched?: boolean
  /**
   * Where signatures are stored when not beside the images (the `signature-repository` input); a
   * rule's own `signatureRepository` overrides it.
   */
  signatureRepository?: string
}

function matcher(m: StringMatcher): AdmissionMatcher {
  return m.kind === 'exact' ? { exact: m.value } : { regexp: m.source }
}

function signer(s: SignerRequirement, where: string): AdmissionSigner {
  if (s.kind === 'key') {
    return {
      kind: 'key',
      publicKeyPem: s.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }
  }
  if (s.extensions && s.extensions.length > 0) {
    throw unsupported(
      `${where}: a signer pins ${s.extensions.map((e) => e.name).join(', ')}; neither Kyverno ` +
        "nor policy-controller can check a certificate's Fulcio extensions, so the generated " +
        'policy would admit what Signet refuses',
    )
  }
  return { kind: 'keyless', identity: matcher(s.identity), issuer: matcher(s.issuer) }
}

function rule(r: Rule, index: number): AdmissionRule {
  const where = `rule ${index + 1} (${r.name ?? r.source})`
  return {
    ...(r.name ? { name: r.name } : {}),
    images: r.images.map((written) => {
      const normalised = normaliseImagePattern(written)
      // The parser accepted it; this is the same call, so an error here is a bug of ours.
      if ('error' in normalised) throw unsupported(`${where}: ${normalised.error}`)
      return normalised.pattern
    }),
    signers: r.signers.map((s) => signer(s, where)),
    attestations: r.attestations.map((a) => ({
      predicateTypes: [...a.predicateTypes],
      bannedComponents: [...a.bannedComponents],
    })),
    ...(r.signatureRepository ? { signatureRepository: r.signatureRepository.name } : {}),
  }
}

export function admissionFromPolicy(policy: Policy, options: FromPolicyOptions): AdmissionSpec {
  const rules = policy.rules.map(rule)
  const catchAll = rules.some((r) => r.images.includes('**'))
  if (policy.unmatched === 'fail' && !catchAll && !options.admitUnmatched) {
    throw unsupported(
      'the policy fails images no rule covers (unmatched: fail), but an admission controller ' +
        "admits the images no rule's patterns match; add a catch-all rule (images: '**') to " +
        'the policy, or accept this difference explicitly',
    )
  }
  return {
    rules,
    signatureFormat: options.signatureFormat,
    transparencyLog: options.transparencyLog ?? true,
    ...(options.signatureRepository ? { signatureRepository: options.signatureRepository } : {}),
  }
}
