/**
 * sigstore policy-controller ClusterImagePolicies (policy.sigstore.dev/v1beta1), one per Signet
 * rule, as policy-controller's CRD (test/fixtures/crds/policy-controller) describes them: `images`
 * are the rule's patterns as globs (image-patterns.ts), and each signer is one authority (an
 * image passes a ClusterImagePolicy when ANY authority does, as a Signet rule's signers): keyless
 * `identities` (`subject`/`subjectRegExp`, `issuer`/`issuerRegExp`, regexps anchored as Signet
 * matches them) or `key.data` (PEM), each requiring the rule's attestations by predicate type.
 * `mode` is `warn` (audit) or `enforce`.
 *
 * What it cannot say is refused (ADMISSION_UNSUPPORTED): a banned-package rule (policy-controller
 * would need a CUE or Rego policy, which Signet does not write). Where it checks more than Signet,
 * a note says so: every ClusterImagePolicy whose images match applies (Signet's first matching
 * rule decides), it reads only the `.sig`/`.att` tags (the CRD has no bundle format), and it
 * requires a Rekor entry of key signatures too.
 */
import { checkSpec, dnsLabel, matcherFields, toYaml, unsupported } from './common'
import { policyControllerGlobs } from './image-patterns'
import type {
  AdmissionOptions,
  AdmissionRule,
  AdmissionSigner,
  AdmissionSpec,
  GeneratedPolicy,
} from './types'

function authority(
  signer: AdmissionSigner,
  index: number,
  rule: AdmissionRule,
  signatureRepository: string | undefined,
): unknown {
  const attestations = rule.attestations.map((a, i) => ({
    name: `attestation-${i + 1}`,
    predicateType: a.predicateTypes[0],
  }))
  const verifier =
    signer.kind === 'keyless'
      ? {
          keyless: {
            identities: [
              {
                ...matcherFields(signer.issuer, 'issuer', 'issuerRegExp', 'issuer'),
                ...matcherFields(signer.identity, 'subject', 'subjectRegExp', 'identity'),
              },
            ],
          },
        }
      : { key: { data: signer.publicKeyPem.trim(), hashAlgorithm: 'sha256' } }
  return {
    name: `signer-${index + 1}`,
    ...verifier,
    ...(signatureRepository ? { source: [{ oci: signatureRepository }] } : {}),
    ...(attestations.length > 0 ? { attestations } : {}),
  }
}

/**
 * The ClusterImagePolicies for `spec` in `options.mode` (warn for audit), as one multi-document
 * YAML text. Throws ADMISSION_UNSUPPORTED when a policy could not say what Signet requires.
 */
export function clusterImagePolicy(
  spec: AdmissionSpec,
  options: AdmissionOptions,
): GeneratedPolicy {
  checkSpec(spec)
  const notes: string[] = []
  const base = dnsLabel(options.name ?? 'signet-verify-images', 'signet-verify-images')
  if (spec.signatureFormat === 'bundle') {
    notes.push(
      'policy-controller reads the .sig/.att tags only (its CRD has no bundle format): images ' +
        'signed with signature-format bundle are refused; sign with legacy or both',
    )
  }
  if (!spec.transparencyLog) {
    notes.push(
      'policy-controller requires a Rekor entry: key signatures written with tlog: false are refused',
    )
  }
  if (spec.rules.length > 1) {
    notes.push(
      'every ClusterImagePolicy whose globs match an image applies to it (in Signet the first ' +
        "matching rule decides): an image matched by several rules needs each rule's signers",
    )
  }
  const documents = spec.rules.map((rule, i) => {
    const where = rule.name ? `rule ${i + 1} (${rule.name})` : `rule ${i + 1}`
    if (rule.attestations.some((a) => a.bannedComponents.length > 0)) {
      throw unsupported(
        `${where}: bannedComponents has no policy-controller equivalent without a CUE or Rego ` +
          'policy, which Signet does not generate; use the Kyverno policy for this rule',
      )
    }
    for (const a of rule.attestations) {
      if (a.predicateTypes.length > 1) {
        notes.push(
          `${where}: requires an attestation of type ${a.predicateTypes[0]}; Signet also accepts ` +
            `${a.predicateTypes.slice(1).join(', ')}`,
        )
      }
    }
    const translated = rule.images.map(policyControllerGlobs)
    if (translated.some((t) => t.broader)) {
      notes.push(
        `${where}: the globs also match repositories whose names continue the rule's (a glob ` +
          'cannot hold "@", so "*" after the name stands for the tag or digest)',
      )
    }
    const name = spec.rules.length === 1 ? base : `${base.slice(0, 56).replace(/-+$/, '')}-${i + 1}`
    return toYaml({
      apiVersion: 'policy.sigstore.dev/v1beta1',
      kind: 'ClusterImagePolicy',
      metadata: { name },
      spec: {
        mode: options.mode === 'enforce' ? 'enforce' : 'warn',
        images: [...new Set(translated.flatMap((t) => t.patterns))].map((glob) => ({ glob })),
        authorities: rule.signers.map((s, j) =>
          authority(s, j, rule, rule.signatureRepository ?? spec.signatureRepository),
        ),
      },
    })
  })
  return { yaml: documents.join('---\n'), mode: options.mode, notes }
}
