/**
 * Attestations a rule requires, by predicate type: a predicate type URI or one of the short names
 * below. `spdx` accepts the unversioned type cosign/syft write and the versioned ones GitHub writes
 * (`…/Document/v2.3`); a URI written out is matched exactly. `slsaprovenance` accepts SLSA v1
 * (what Signet and GitHub write) and v0.2 (what cosign's `--type slsaprovenance` and
 * slsa-github-generator write); a policy that needs one of them says `slsaprovenance1` or
 * `slsaprovenance02`. `bannedComponents` (package names an SBOM must not contain) is allowed only on
 * SBOM types (isSbomType).
 */
import { SignetError } from '../errors'

const SPDX = 'https://spdx.dev/Document'
const CYCLONEDX = 'https://cyclonedx.org/bom'

const PREDICATE_TYPES: Record<string, string[]> = {
  cyclonedx: [CYCLONEDX],
  cyclonedxxml: [CYCLONEDX],
  spdx: [SPDX, `${SPDX}/v2.2`, `${SPDX}/v2.3`],
  spdxjson: [SPDX, `${SPDX}/v2.2`, `${SPDX}/v2.3`],
  // What Signet and GitHub write (v1) and what cosign's `--type slsaprovenance` means (v0.2).
  slsaprovenance: ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2'],
  slsaprovenance1: ['https://slsa.dev/provenance/v1'],
  slsaprovenance02: ['https://slsa.dev/provenance/v0.2'],
  vuln: ['https://cosign.sigstore.dev/attestation/vuln/v1'],
  openvex: ['https://openvex.dev/ns'],
  link: ['https://in-toto.io/Link/v1'],
  custom: ['https://cosign.sigstore.dev/attestation/v1'],
}

const URI = /^[a-z][a-z0-9+.-]*:[^\s]+$/i

/**
 * The predicate types a required attestation accepts: a short name (case-insensitive: cyclonedx,
 * spdx, spdxjson, slsaprovenance, slsaprovenance1, slsaprovenance02, vuln, openvex, link, custom)
 * maps to its URI(s); a URI is taken as is. Anything else is an INPUT_INVALID error naming `input`.
 */
export function resolvePredicateType(nameOrUri: string, input = 'require-attestations'): string[] {
  const value = nameOrUri.trim()
  const known = PREDICATE_TYPES[value.toLowerCase()]
  if (known) return [...known]
  if (URI.test(value)) return [value]
  throw new SignetError(
    'INPUT_INVALID',
    `${input}: unknown predicate type "${value}": use a predicate type URI ` +
      `(e.g. https://slsa.dev/provenance/v1) or one of ${Object.keys(PREDICATE_TYPES).join(', ')}`,
    { input },
  )
}

export function isSbomType(predicateType: string): boolean {
  return (
    predicateType === CYCLONEDX ||
    predicateType.startsWith(`${CYCLONEDX}/`) ||
    predicateType === SPDX ||
    predicateType.startsWith(`${SPDX}/`)
  )
}
