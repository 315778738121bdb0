/**
 * An admission description from what a sign run wrote: the repositories of the images it signed
 * (platform manifests reached through an index are covered by the index's rule), the signer (the
 * certificate's identity and issuer, exactly, or the signing key's public key), the format written
 * and the attestations' predicate types. Images that got different attestations get one rule each
 * set, so that no image is asked for an attestation it was not given.
 */
import type { SignOutcome } from '../report/types'
import { parseImageReference } from '../registry/reference'
import { isSignetError } from '../errors'
import { unsupported } from './common'
import { kyvernoPolicy } from './kyverno'
import { clusterImagePolicy } from './policy-controller'
import type {
  AdmissionMode,
  AdmissionRule,
  AdmissionSigner,
  AdmissionSpec,
  GeneratedPolicy,
} from './types'

/** What a sign run wrote, in the terms a policy needs (a CLI can build it without a SignOutcome). */
export interface SignedImages {
  /** Each signed image with the predicate types of the attestations written to it. */
  images: { name: string; predicateTypes: string[] }[]
  /** Keyless: the certificate's SAN and OIDC issuer. */
  identity?: { subject: string; issuer?: string }
  /** By key: the public key (PEM). */
  publicKeyPem?: string
  signatureFormat: AdmissionSpec['signatureFormat']
  transparencyLog: boolean
  /** The `signature-repository` signatures were written to, when not beside the images. */
  signatureRepository?: string
}

/** The SignedImages of a sign run's outcome: its signed images that are not platform children. */
export function signedImagesOf(outcome: SignOutcome): SignedImages {
  return {
    images: outcome.results
      .filter((r) => r.signed && r.parent === undefined)
      .map((r) => ({
        name: r.image,
        predicateTypes: [...new Set(r.attestations.map((a) => a.predicateType))],
      })),
    identity: outcome.keyless ? outcome.identity : undefined,
    publicKeyPem: outcome.keyless ? undefined : outcome.publicKeyPem,
    signatureFormat: outcome.signatureFormat,
    transparencyLog: outcome.tlog,
    signatureRepository: outcome.signatureRepository,
  }
}

function signerOf(signed: SignedImages): AdmissionSigner {
  if (signed.identity) {
    if (!signed.identity.issuer) {
      throw unsupported('the signing certificate names no OIDC issuer to require')
    }
    return {
      kind: 'keyless',
      identity: { exact: signed.identity.subject },
      issuer: { exact: signed.identity.issuer },
    }
  }
  if (signed.publicKeyPem) return { kind: 'key', publicKeyPem: signed.publicKeyPem }
  throw unsupported('the run names neither a certificate identity nor a public key')
}

export function admissionFromSigned(signed: SignedImages): AdmissionSpec {
  if (signed.images.length === 0) throw unsupported('no image was signed')
  const signer = signerOf(signed)
  // A policy names repositories, not tags: a repository signed twice (two tags) with different
  // attestations requires only those every one of its images got.
  const byRepository = new Map<string, string[]>()
  for (const image of signed.images) {
    // The repository as Signet's patterns name it (index.docker.io/library/x for Docker Hub).
    const repository = parseImageReference(image.name).policyName
    const types = [...new Set(image.predicateTypes)].sort()
    const known = byRepository.get(repository)
    byRepository.set(repository, known ? known.filter((t) => types.includes(t)) : types)
  }
  const byTypes = new Map<string, AdmissionRule>()
  for (const [repository, types] of byRepository) {
    const key = JSON.stringify(types)
    const rule = byTypes.get(key) ?? {
      images: [],
      signers: [signer],
      attestations: types.map((t) => ({ predicateTypes: [t], bannedComponents: [] })),
    }
    byTypes.set(key, rule)
    rule.images.push(repository)
  }
  return {
    rules: [...byTypes.values()],
    signatureFormat: signed.signatureFormat,
    transparencyLog: signed.transparencyLog,
    ...(signed.signatureRepository ? { signatureRepository: signed.signatureRepository } : {}),
  }
}

/** The admission policies a sign run offers (the job summary, the outputs), or why not. */
export interface SignRunPolicies {
  kyverno?: GeneratedPolicy
  clusterImagePolicy?: GeneratedPolicy
  /** Why a policy was not generated (each an ADMISSION_UNSUPPORTED message), for the log. */
  problems: string[]
}

/**
 * Both policies for what a sign run wrote, each generated on its own: one the run's identity or
 * images cannot be written into (a Kyverno `{{`, say) does not cost the other. None for a run
 * that did not sign every image: a policy for part of a failed run would mislead.
 */
export function policiesForSignRun(outcome: SignOutcome, mode: AdmissionMode): SignRunPolicies {
  const out: SignRunPolicies = { problems: [] }
  if (!outcome.signed) return out
  const attempt = (make: (spec: AdmissionSpec) => GeneratedPolicy): GeneratedPolicy | undefined => {
    try {
      return make(admissionFromSigned(signedImagesOf(outcome)))
    } catch (err) {
      if (!isSignetError(err)) throw err
      if (!out.problems.includes(err.message)) out.problems.push(err.message)
      return undefined
    }
  }
  out.kyverno = attempt((spec) => kyvernoPolicy(spec, { mode }))
  out.clusterImagePolicy = attempt((spec) => clusterImagePolicy(spec, { mode }))
  if (outcome.customInstance) {
    // The policies name the public-good Rekor; another instance needs its trust root there.
    const note =
      'signed against other Sigstore services than the public-good instance: give the ' +
      "admission controller that instance's trust root (Kyverno: the attestor's roots, rekor " +
      'and ctlog keys; policy-controller: a TrustRoot and trustRootRef), or it refuses the images'
    out.kyverno?.notes.push(note)
    out.clusterImagePolicy?.notes.push(note)
  }
  return out
}
