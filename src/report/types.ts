/**
 * What a run produced, in the shape of the `results` output: each mode's outcome, which the front
 * door (the action, a CLI) turns into outputs, a summary, annotations and an exit status. The
 * modes import these from here; nothing here knows about the runner.
 */
import type { SignatureFormat } from '../inputs'
import type { CertificateIdentity } from '../sigstore/certificate'
import type { ImageVerification } from '../verify/image'

export interface SignatureRecord {
  format: 'legacy' | 'bundle'
  /** Where it was written: `repo:sha256-….sig` or `repo@sha256:…` (a referrer). */
  reference: string
  /** Set when the registry has no referrers API and the fallback index tag was updated. */
  fallbackTag?: string
  rekorLogIndex?: number
  rekorIntegratedTime?: number
  /**
   * It was already there, from this run's signer, verified against the run's trusted root: this
   * run wrote nothing in this format (a re-run). Absent when this run wrote it.
   */
  existing?: true
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
  /** Already there (same signer, predicate type and predicate digest): nothing written. */
  existing?: true
}

export interface ImageResult {
  image: string
  digest: string
  mediaType: string
  /** For a platform manifest reached through `recursive`, its index and platform. */
  parent?: string
  platform?: string
  signed: boolean
  /**
   * Every signature and attestation asked for was already there (`existing` on each record):
   * this run wrote nothing for the image. Absent when it wrote anything.
   */
  alreadySigned?: true
  signatures: SignatureRecord[]
  attestations: AttestationRecord[]
  error?: string
}

/** What one sign run produced. */
export interface SignOutcome {
  mode: 'sign'
  results: ImageResult[]
  signed: boolean
  /** How many bundles went to the bundle-path file. */
  bundleCount: number
  keyless: boolean
  identity?: CertificateIdentity
  /** A plain-language warning for reusable workflows. */
  identityNote?: string
  publicKeyPem?: string
  verifyCommand: string
  signatureFormat: SignatureFormat
  /** Signed against other Sigstore services than the public good instance. */
  customInstance: boolean
  /** The trusted-root input: what the services answered was checked against it. */
  trustedRoot?: string
  /** Recorded in Rekor. */
  tlog: boolean
  /** Stamped by a timestamp authority. */
  timestamped: boolean
  /**
   * The signature-repository input (`registry/repository`): where every signature and attestation
   * was stored instead of each image's repository (cosign's COSIGN_REPOSITORY).
   */
  signatureRepository?: string
  /** Why images were not signed. */
  errors: unknown[]
}

/** Where a Dockerfile names an image, and how BuildKit uses it there. */
export interface DockerfileLocation {
  file: string
  line: number
  /** `FROM`, `COPY --from`, `RUN --mount from=`, `# syntax=` (or `BUILDKIT_SYNTAX`), under `ONBUILD`. */
  use: string
  /** The named build context (build-contexts) that replaced what the Dockerfile wrote. */
  context?: string
}

/** One entry of the `results` output in verify mode: the image, and its verification. */
export interface VerifyImageResult extends ImageVerification {
  /** As written in `images`, or in the Dockerfile after ARG substitution. */
  image: string
  /** `registry/repository`. */
  name: string
  digest: string
  mediaType: string
  parent?: string
  platform?: string
  dockerfile?: DockerfileLocation
  verdict: 'verified' | 'failed' | 'skipped'
  /**
   * What verified it: its own signature, or, for a platform manifest reached through its index,
   * the index's signature (the index binds each platform manifest by digest).
   */
  coveredBy?: 'own signature' | 'index signature'
  rule?: string
  /**
   * Where its signatures and attestations were looked for, when not in its own repository: the
   * signature repository (`registry/repository`) of its rule or of the signature-repository input.
   */
  signatureRepository?: string
}

/** What one verify run produced. */
export interface VerifyOutcome {
  mode: 'verify'
  results: VerifyImageResult[]
  /** Every image that was not skipped verified. */
  verified: boolean
  enforce: boolean
  /** Where the policy came from: the file, or the inputs. */
  policySource: string
  trustRoots: string[]
  /** Safety choices the reader should know about (e.g. key signatures accepted without a log). */
  notes: string[]
}

/** Either mode's outcome: `mode` says which. */
export type Outcome = SignOutcome | VerifyOutcome

/** The log seam: src/action/ binds it to @actions/core, tests and a CLI to something else. */
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
