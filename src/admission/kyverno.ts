/**
 * A Kyverno ClusterPolicy (kyverno.io/v1) with one `verifyImages` entry per Signet rule, as
 * Kyverno's CRD (test/fixtures/crds/kyverno) describes it:
 *
 * - `imageReferences` cover the rule's images (image-patterns.ts), and `skipImageReferences` the
 *   earlier rules' images, so that, as in Signet, the first rule that matches an image decides;
 * - `attestors` is one set with `count: 1` whose entries are the rule's signers (any one
 *   verifies): `keyless` with `subject`/`subjectRegExp` and `issuer`/`issuerRegExp` (regexps
 *   anchored as Signet matches them), or `keys.publicKeys` (PEM);
 * - `type: Cosign` reads the `.sig`/`.att` tags (signature-format legacy or both), `type:
 *   SigstoreBundle` the bundle referrers (bundle);
 * - each required attestation is an `attestations` entry of its predicate type, signed by the same
 *   signers, with, for `bannedComponents`, a condition over the SBOM's component and package
 *   names (lower-cased, as Signet compares them: src/verify/sbom-components.ts);
 * - `validationFailureAction` (and each entry's `failureAction`, which Kyverno 1.13 reads first)
 *   is Audit or Enforce; in Enforce mode Kyverno also pins the admitted image to the verified
 *   digest (`mutateDigest`, `verifyDigest`), which it refuses in Audit mode.
 *
 * Kyverno matches image references with go-wildcard, where `.` too matches any one character (a
 * note says so when that can send an image to an earlier rule than Signet would).
 *
 * Kyverno substitutes `{{ … }}` in a rule's strings: any such text in an identity, key, pattern or
 * name is refused, since a signer must not be able to write a JMESPath expression into the policy.
 */
import { checkSpec, dnsLabel, matcherFields, stringsIn, toYaml, unsupported } from './common'
import { kyvernoImageReferences } from './image-patterns'
import type {
  AdmissionAttestation,
  AdmissionOptions,
  AdmissionRule,
  AdmissionSigner,
  AdmissionSpec,
  GeneratedPolicy,
} from './types'

const PUBLIC_REKOR = 'https://rekor.sigstore.dev'

/**
 * How deep the banned-package condition looks into CycloneDX's nested `components`. JMESPath has
 * no recursive descent; Signet looks at every depth, so an SBOM nesting deeper is refused by a
 * second condition rather than passed unchecked.
 */
export const BANNED_COMPONENT_DEPTH = 6

function refuseVariables(spec: AdmissionSpec, name: string | undefined): void {
  for (const [path, value] of stringsIn({ spec, name })) {
    if (value.includes('{{')) {
      throw unsupported(
        `${path} contains "{{", which Kyverno reads as a variable to substitute; ` +
          'a Kyverno policy cannot hold it as text',
      )
    }
  }
}

function attestorEntry(signer: AdmissionSigner, transparencyLog: boolean): Record<string, unknown> {
  if (signer.kind === 'keyless') {
    return {
      keyless: {
        ...matcherFields(signer.identity, 'subject', 'subjectRegExp', 'identity'),
        ...matcherFields(signer.issuer, 'issuer', 'issuerRegExp', 'issuer'),
        rekor: { url: PUBLIC_REKOR },
      },
    }
  }
  return {
    keys: {
      publicKeys: signer.publicKeyPem.trim(),
      // A key signature written without a Rekor entry has no SCT or log entry to check.
      ...(transparencyLog
        ? { rekor: { url: PUBLIC_REKOR } }
        : { rekor: { ignoreTlog: true }, ctlog: { ignoreSCT: true } }),
    },
  }
}

function attestors(rule: AdmissionRule, transparencyLog: boolean): Record<string, unknown>[] {
  return [{ count: 1, entries: rule.signers.map((s) => attestorEntry(s, transparencyLog)) }]
}

/**
 * A JMESPath expression, run on the SBOM predicate, listing every component name down to `depth`
 * (and `group/name` for those with a group) and every SPDX package name, lower-cased: the names
 * sbomComponentNames lists.
 */
export function componentNamesExpression(depth = BANNED_COMPONENT_DEPTH): string {
  const lists = Array.from({ length: depth }, (_, i) => componentsAt(i + 1)).flatMap((level) => [
    `${level}.name`,
    // Pipes end the projection, so the filter sees the list; as in Signet, only string names
    // and non-empty string groups count.
    `map(&join('/', [group, name]), (${level} || \`[]\`) | [?type(group) == 'string' && group != '' && type(name) == 'string'])`,
  ])
  lists.push('packages[].name')
  return `[${lists.join(', ')}][] | [?type(@) == 'string'] | map(&to_lower(@), @)`
}

/** The CycloneDX components at nesting `level` (1: the SBOM's own `components`). */
function componentsAt(level: number): string {
  return Array.from({ length: level }, () => 'components[]').join('.')
}

function bannedConditions(attestation: AdmissionAttestation): Record<string, unknown>[] {
  if (attestation.bannedComponents.length === 0) return []
  for (const name of attestation.bannedComponents) {
    // Kyverno's In operators read `*` and `?` in values as wildcards; Signet compares literally.
    if (/[*?]/.test(name)) {
      throw unsupported(
        `banned component "${name}": Kyverno reads * and ? in a condition's values as wildcards`,
      )
    }
  }
  const tooDeep = `length(${componentsAt(BANNED_COMPONENT_DEPTH + 1)} || \`[]\`)`
  return [
    {
      all: [
        {
          key: `{{ ${componentNamesExpression()} }}`,
          operator: 'AllNotIn',
          value: [...new Set(attestation.bannedComponents.map((n) => n.toLowerCase()))],
          message: 'the SBOM lists a banned component',
        },
        {
          key: `{{ ${tooDeep} }}`,
          operator: 'Equals',
          value: 0,
          message: `the SBOM nests components deeper than ${BANNED_COMPONENT_DEPTH} levels, which this policy cannot check`,
        },
      ],
    },
  ]
}

function attestationEntry(
  attestation: AdmissionAttestation,
  rule: AdmissionRule,
  transparencyLog: boolean,
): Record<string, unknown> {
  const conditions = bannedConditions(attestation)
  return {
    type: attestation.predicateTypes[0],
    attestors: attestors(rule, transparencyLog),
    ...(conditions.length > 0 ? { conditions } : {}),
  }
}

function ruleNotes(rule: AdmissionRule, where: string, broader: boolean): string[] {
  const notes: string[] = []
  if (broader) {
    notes.push(
      `${where}: Kyverno's * also matches "/", so the image references cover more ` +
        "repositories than the rule does; those need this rule's signers too",
    )
  }
  for (const a of rule.attestations) {
    if (a.predicateTypes.length > 1) {
      notes.push(
        `${where}: requires an attestation of type ${a.predicateTypes[0]}; Signet also accepts ` +
          `${a.predicateTypes.slice(1).join(', ')}, which Kyverno cannot offer as alternatives`,
      )
    }
    if (a.bannedComponents.length > 0) {
      notes.push(
        `${where}: an SBOM nesting components deeper than ${BANNED_COMPONENT_DEPTH} levels is ` +
          'refused (Kyverno cannot look deeper; Signet checks every level)',
      )
    }
  }
  return notes
}

/**
 * The Kyverno ClusterPolicy for `spec` in `options.mode`. Throws ADMISSION_UNSUPPORTED when the
 * policy could not say what Signet requires.
 */
export function kyvernoPolicy(spec: AdmissionSpec, options: AdmissionOptions): GeneratedPolicy {
  checkSpec(spec)
  refuseVariables(spec, options.name)
  const enforce = options.mode === 'enforce'
  const action = enforce ? 'Enforce' : 'Audit'
  const notes: string[] = []
  const earlier: string[] = []
  const rules = spec.rules.map((rule, i) => {
    const where = rule.name ? `rule ${i + 1} (${rule.name})` : `rule ${i + 1}`
    const translated = rule.images.map(kyvernoImageReferences)
    const references = [...new Set(translated.flatMap((t) => t.patterns))]
    notes.push(
      ...ruleNotes(
        rule,
        where,
        translated.some((t) => t.broader),
      ),
    )
    // First match decides, as in Signet: later rules skip what an earlier one covers exactly. A
    // broader translation is not skipped by later rules, which then apply too (stricter).
    const skip = earlier.filter((r) => !references.includes(r))
    for (const t of translated) if (!t.broader) earlier.push(...t.patterns)
    return {
      name: dnsLabel(`rule-${i + 1}-${rule.name ?? 'images'}`, `rule-${i + 1}`),
      match: { any: [{ resources: { kinds: ['Pod'] } }] },
      verifyImages: [
        {
          imageReferences: references,
          ...(skip.length > 0 ? { skipImageReferences: skip } : {}),
          type: spec.signatureFormat === 'bundle' ? 'SigstoreBundle' : 'Cosign',
          ...((rule.signatureRepository ?? spec.signatureRepository)
            ? { repository: rule.signatureRepository ?? spec.signatureRepository }
            : {}),
          failureAction: action,
          mutateDigest: enforce,
          verifyDigest: enforce,
          required: true,
          attestors: attestors(rule, spec.transparencyLog),
          ...(rule.attestations.length > 0
            ? {
                attestations: rule.attestations.map((a) =>
                  attestationEntry(a, rule, spec.transparencyLog),
                ),
              }
            : {}),
        },
      ],
    }
  })
  if (
    spec.rules.length > 1 &&
    spec.rules.slice(0, -1).some((r) => r.images.some((i) => i.includes('.')))
  ) {
    // go-wildcard, which Kyverno matches imageReferences with, reads `.` as any one character.
    notes.push(
      'Kyverno reads "." in an image reference as any one character: an image whose name ' +
        "differs from a rule's only there (registryXexample.com for registry.example.com) is " +
        'judged by that rule, not by a later one',
    )
  }
  const policy = {
    apiVersion: 'kyverno.io/v1',
    kind: 'ClusterPolicy',
    metadata: {
      name: dnsLabel(options.name ?? 'signet-verify-images', 'signet-verify-images'),
      annotations: {
        'policies.kyverno.io/title': 'Verify image signatures (generated by Signet)',
      },
    },
    spec: {
      validationFailureAction: action,
      background: false,
      webhookTimeoutSeconds: 30,
      rules,
    },
  }
  return { yaml: toYaml(policy), mode: options.mode, notes }
}
