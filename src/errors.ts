/**
 * One error type for every layer. `code` says what went wrong in terms a test can assert on;
 * `input` names the action input at fault (when there is one) so the entry point can print one
 * `::error::` that tells the user which input to fix.
 */
export type SignetErrorCode =
  | 'INPUT_INVALID'
  | 'IMAGE_REFERENCE_INVALID'
  | 'DIGEST_INVALID'
  | 'IMAGE_NOT_FOUND'
  | 'NO_IMAGES'
  | 'METADATA_INVALID'
  | 'KEY_INVALID'
  | 'KEY_PASSWORD_WRONG'
  | 'OIDC_UNAVAILABLE'
  | 'REGISTRY_AUTH'
  | 'REGISTRY_ERROR'
  | 'REGISTRY_LIMIT'
  | 'SIGSTORE_ERROR'
  | 'FORMAT_INVALID'
  | 'CONCURRENT_WRITE'
  /** The registry refused to overwrite a tag Signet appends to: it keeps tags immutable. */
  | 'TAG_IMMUTABLE'
  /** An SBOM file that is not CycloneDX/SPDX JSON, of an unsupported version, or too large. */
  | 'SBOM_INVALID'
  /** Provenance asked for outside GitHub Actions, or from a token without the claims it needs. */
  | 'PROVENANCE_UNAVAILABLE'
  /** A Dockerfile whose FROM lines cannot be read: bad syntax, or an ARG with no value. */
  | 'DOCKERFILE_INVALID'
  /** A `policy` file that is not valid YAML, has an unknown key, or a rule that cannot be enforced. */
  | 'POLICY_INVALID'
  /** An admission policy (Kyverno, policy-controller) cannot say what Signet's verdict requires. */
  | 'ADMISSION_UNSUPPORTED'

export class SignetError extends Error {
  readonly code: SignetErrorCode
  readonly input?: string
  override readonly cause?: unknown
  /** The file and line at fault (a Dockerfile, a policy), for an annotation on that line. */
  readonly file?: string
  readonly line?: number

  constructor(
    code: SignetErrorCode,
    message: string,
    options: { input?: string; cause?: unknown; file?: string; line?: number } = {},
  ) {
    super(message)
    this.name = 'SignetError'
    this.code = code
    this.input = options.input
    this.cause = options.cause
    this.file = options.file
    this.line = options.line
  }
}

export function isSignetError(err: unknown): err is SignetError {
  return err instanceof SignetError
}

/** An error's message, with its cause's when that adds something (Node says "fetch failed"). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause
    return cause instanceof Error && cause.message !== err.message
      ? `${err.message}: ${cause.message}`
      : err.message
  }
  return String(err)
}
