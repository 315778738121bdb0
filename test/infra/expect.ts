/** Assertions the test files share. */
import { SignetError } from '../../src/errors'
import type { ActionRun } from './action-runner'

/** The SignetError `fn` throws; fails the test if it throws nothing or something else. */
export function errorOf(fn: () => unknown): SignetError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(SignetError)
    return err as SignetError
  }
  throw new Error('expected an error')
}

/** The SignetError `promise` rejects with. */
export async function asyncErrorOf(promise: Promise<unknown>): Promise<SignetError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(SignetError)
    return err as SignetError
  }
  throw new Error('expected an error')
}

/** A failed step as users must see it: exit 1, one ::error:: naming the input, no stack trace. */
export function expectOneError(run: ActionRun, input: string, message: RegExp): void {
  expect(run.exitCode).toBe(1)
  expect(run.errors).toHaveLength(1)
  expect(run.errors[0]).toMatch(message)
  expect(run.errors[0]).toContain(input)
  expect(run.visibleLog).not.toMatch(/\n\s+at .+:\d+:\d+/)
}
