import { SignetError } from '../../src/errors'
import type { ImageResult, SignOutcome, VerifyOutcome } from '../../src/report/types'
import { stepVerdict } from '../../src/report/verdict'

const DIGEST = `sha256:${'c'.repeat(64)}`

function signed(image: string, ok: boolean): ImageResult {
  return {
    image,
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    signed: ok,
    signatures: [],
    attestations: [],
    ...(ok ? {} : { error: 'expected a 201 from the registry, got 403' }),
  }
}

function signOutcome(results: ImageResult[], errors: unknown[] = []): SignOutcome {
  return {
    mode: 'sign',
    results,
    signed: results.every((r) => r.signed),
    bundleCount: 0,
    keyless: false,
    verifyCommand: 'cosign verify',
    signatureFormat: 'both',
    customInstance: false,
    tlog: true,
    timestamped: false,
    errors,
  }
}

function verifyOutcome(verified: boolean, enforce: boolean): VerifyOutcome {
  return {
    mode: 'verify',
    results: [],
    verified,
    enforce,
    policySource: 'policy.yml',
    trustRoots: [],
    notes: [],
  }
}

describe('stepVerdict: one verdict for either mode', () => {
  it('passes a sign run that signed every image', () => {
    expect(stepVerdict(signOutcome([signed('a', true), signed('b', true)]))).toEqual({
      passed: true,
    })
  })

  it('fails a sign run with one error that counts the images and names the input at fault', () => {
    const cause = new SignetError('REGISTRY_ERROR', 'denied', { input: 'registry-password' })
    const verdict = stepVerdict(signOutcome([signed('a', true), signed('b', false)], [cause]))
    expect(verdict.passed).toBe(false)
    const error = !verdict.passed ? verdict.error : undefined
    expect(error?.code).toBe('REGISTRY_ERROR')
    expect(error?.input).toBe('registry-password')
    expect(error?.message).toBe(
      `1 of 2 image(s) not signed; b@${DIGEST}: expected a 201 from the registry, got 403`,
    )
  })

  it('blames images when the cause names no input', () => {
    const verdict = stepVerdict(signOutcome([signed('a', false)], [new Error('boom')]))
    const error = !verdict.passed ? verdict.error : undefined
    expect([error?.code, error?.input]).toEqual(['SIGSTORE_ERROR', 'images'])
  })

  it('fails an enforcing verify run without a further error (its images are annotated)', () => {
    expect(stepVerdict(verifyOutcome(false, true))).toEqual({ passed: false })
  })

  it('passes a verify run in audit mode, and one that verified', () => {
    expect(stepVerdict(verifyOutcome(false, false))).toEqual({ passed: true })
    expect(stepVerdict(verifyOutcome(true, true))).toEqual({ passed: true })
  })
})
