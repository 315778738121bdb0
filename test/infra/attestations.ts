/** Planned attestations, as the sign run's plan makes them, for tests that attest. */
import type { PlannedAttestation } from '../../src/sign/attestation-plan'
import { predicateDigest } from '../../src/sign/existing'

/** A planned attestation of a one-field predicate (the `predicate` input). */
export const PLANNED_PREDICATE: PlannedAttestation = {
  predicateType: 'https://example.com/a/v1',
  predicate: { a: 1 },
  predicateJson: JSON.stringify({ a: 1 }),
  predicateDigest: predicateDigest({ a: 1 }),
  input: 'predicate',
  label: 'a',
}
