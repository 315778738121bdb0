/**
 * Whether a run's step passes, decided from its outcome alone. Pure: the front door (the action,
 * a CLI) turns the verdict into an exit status, in one place for both modes.
 */
import { isSignetError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import type { Outcome, SignOutcome } from './types'

export type StepVerdict =
  | { passed: true }
  /**
   * `error`: the one message that fails the step (sign mode). Without it, the failure has been
   * told already, image by image, in the annotations (verify mode).
   */
  | { passed: false; error?: SignetError }

export function stepVerdict(outcome: Outcome): StepVerdict {
  if (outcome.mode === 'verify') {
    // Audit mode (enforce: false) reports failed images as warnings and passes.
    return !outcome.verified && outcome.enforce ? { passed: false } : { passed: true }
  }
  const error = signFailure(outcome)
  return error ? { passed: false, error } : { passed: true }
}

/** Sign mode's verdict as one error, naming the input at fault where one is. */
export function signFailure(outcome: SignOutcome): SignetError | undefined {
  const failed = outcome.results.filter((r) => !r.signed)
  if (failed.length === 0) return undefined
  const cause = outcome.errors[0]
  return new SignetError(
    isSignetError(cause) ? cause.code : 'SIGSTORE_ERROR',
    `${failed.length} of ${outcome.results.length} image(s) not signed; ` +
      `${failed[0].image}@${failed[0].digest}: ${failed[0].error}`,
    { input: isSignetError(cause) && cause.input ? cause.input : INPUT.images, cause },
  )
}
