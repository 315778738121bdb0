/** What a run produced, in the shape of the `results` output. */

export interface SignatureRecord {
  format: 'legacy' | 'bundle'
  /** Where it was written: `repo:sha256-….sig` or `repo@sha256:…` (a referrer). */
  reference: string
  /** Set when the registry has no referrers API and the fallback index tag was updated. */
  fallbackTag?: string
  rekorLogIndex?: number
  rekorIntegratedTime?: number
}

export interface AttestationRecord {
  predicateType: string
  format: 'legacy' | 'bundle'
  /** `repo:sha256-….att`, or `repo@sha256:…` (a referrer). */
  reference: string
  fallbackTag?: string
  rekorLogIndex?: number
  rekorIntegratedTime?: number
  /** Where GitHub's attestations API stored the bundle (github-attestations: true). */
  githubAttestation?: string
}

export interface ImageResult {
  image: string
  digest: string
  mediaType: string
  /** For a platform manifest reached through `recursive`, its index and platform. */
  parent?: string
  platform?: string
  signed: boolean
  signatures: SignatureRecord[]
  attestations: AttestationRecord[]
  error?: string
}

/** The log seam: index.ts binds it to @actions/core, tests and the CLI to something else. */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
  /**
   * Hides a secret Signet obtained itself (the workflow OIDC token) from the log from here on:
   * the runner's `::add-mask::`. Optional: loggers that print nowhere public need not.
   */
  mask?(secret: string): void
}

export const silentLogger: Logger = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  group: async (_name, fn) => fn(),
}
