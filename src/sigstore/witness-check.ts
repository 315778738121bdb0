/**
 * Sign mode's check of what the Sigstore services hand back, against a trusted root, before
 * anything is written: the Fulcio certificate chain and its SCT, the Rekor entry (its SET or
 * inclusion proof) and the RFC 3161 timestamp. A service that is not the one the root trusts (a
 * wrong URL, a compromised or stale instance) is caught here, instead of by every verifier later.
 *
 * Each bundle is verified with @sigstore/verify's Verifier, with cosign's thresholds: a log entry
 * unless `tlog: false`, an SCT when the root has CT logs, a trusted signing time when keyless. One
 * Fulcio certificate signs the whole run, so its chain and SCT are verified with the first bundle
 * it signs; later bundles are verified with the certificate's key, valid for its lifetime, which
 * leaves their own parts (timestamps, log entry, signature) to check and nothing identical twice.
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import type { Bundle } from '@sigstore/bundle'
import type { X509Certificate } from '@sigstore/core'
import { toSignedEntity, Verifier, type SignedEntity, type TrustMaterial } from '@sigstore/verify'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import type { RetryBudget } from '../retry'
import type { Logger } from '../report/types'
import { checkTlogNamesSigner } from '../verify/common'
import { patchSigstoreAsn1 } from './asn1-patches'
import { loadTrustRoots, type TrustRoot } from '../verify/trust'

export interface WitnessCheckOptions {
  /** Signing with a Fulcio certificate (else with a key). */
  keyless: boolean
  /** Rekor entries were asked for: one must verify. */
  tlog: boolean
  /** Signing by key: the key's PEM (the only key trusted for the signature itself). */
  publicKeyPem?: string
  /** For messages: "trusted-root roots/prod.json", "the Sigstore public-good root". */
  rootName: string
}

/** What the first bundle of a certificate established, reused for the bundles after it. */
type CertificateVerdict =
  | { ok: true; roots: TrustRoot[]; key: KeyObject; certificate: X509Certificate }
  | { ok: false; reason: string }

export class WitnessCheck {
  private readonly certificates = new Map<string, CertificateVerdict>()
  private readonly signingKey?: KeyObject
  /** For the debug line at the end of a run. */
  readonly stats = { signatures: 0, certificates: 0 }

  constructor(
    readonly roots: TrustRoot[],
    private readonly options: WitnessCheckOptions,
  ) {
    // Before the first bundle is verified: a TSA stamping milliseconds writes DER times
    // sigstore-js would refuse about one time in nine (failing a good signing run), and the chain
    // check re-encodes certificates through the slow toDER (see asn1-patches.ts).
    patchSigstoreAsn1()
    if (options.publicKeyPem) this.signingKey = createPublicKey(options.publicKeyPem)
  }

  /**
   * Throws a SignetError naming trusted-root when `bundle` does not verify against the root.
   * `artifact` is the signed payload of a message-signature bundle (a DSSE bundle carries its own).
   */
  verify(bundle: Bundle, artifact?: Buffer): void {
    this.stats.signatures++
    const material = bundle.verificationMaterial.content
    let reason: string | undefined
    try {
      reason =
        material.$case === 'publicKey'
          ? this.verifyByKey(bundle, artifact)
          : this.verifyKeyless(
              bundle,
              artifact,
              Buffer.from(
                material.$case === 'certificate'
                  ? material.certificate.rawBytes
                  : material.x509CertificateChain.certificates[0].rawBytes,
              ),
            )
    } catch (err) {
      // What a service answered could not even be read (a timestamp that does not parse…).
      reason = `an answer could not be read: ${describeError(err)}`
    }
    if (reason !== undefined) throw this.mismatch(reason)
  }

  /** Debug: how much was checked. */
  summary(): string {
    return (
      `${this.stats.signatures} signature(s) checked against ${this.options.rootName}; ` +
      `${this.stats.certificates} certificate(s) chain and SCT checked`
    )
  }

  private verifyByKey(bundle: Bundle, artifact: Buffer | undefined): string | undefined {
    const key = this.signingKey
    if (!key) return 'a key-signed bundle, but no signing key was given'
    const keyMaterial = (trust: TrustMaterial): TrustMaterial => ({
      ...trust,
      publicKey: () => ({ publicKey: key, validFor: () => true }),
    })
    return this.anyRoot(this.roots, (root) =>
      this.verifyEntity(toSignedEntity(bundle, artifact), keyMaterial(root.material), root, key),
    )
  }

  private verifyKeyless(
    bundle: Bundle,
    artifact: Buffer | undefined,
    certDer: Buffer,
  ): string | undefined {
    const id = certDer.toString('base64')
    const known = this.certificates.get(id)
    if (known && !known.ok) return known.reason
    if (known?.ok) {
      // The chain and SCT were verified with an earlier bundle: this one's signature must be
      // the certificate's key, at a time (SET or timestamp) inside the certificate's lifetime.
      const { key, certificate } = known
      const entity = toSignedEntity(asKeySigned(bundle), artifact)
      return this.anyRoot(known.roots, (root) =>
        this.verifyEntity(
          entity,
          {
            ...root.material,
            publicKey: () => ({ publicKey: key, validFor: (d) => certificate.validForDate(d) }),
          },
          root,
          key,
          certDer,
        ),
      )
    }
    this.stats.certificates++
    const entity = toSignedEntity(bundle, artifact)
    const passed: TrustRoot[] = []
    const reasons: string[] = []
    let key: KeyObject | undefined
    for (const root of this.roots) {
      const reason = this.verifyEntity(entity, root.material, root, undefined, certDer, (k) => {
        key = k
      })
      if (reason === undefined) passed.push(root)
      else reasons.push(reason)
    }
    if (passed.length === 0 || !key || entity.key.$case !== 'certificate') {
      const reason = joinReasons(this.roots, reasons)
      this.certificates.set(id, { ok: false, reason })
      return reason
    }
    this.certificates.set(id, { ok: true, roots: passed, key, certificate: entity.key.certificate })
    return undefined
  }

  /** One root's verdict on one entity: undefined when it verifies, else the reason. */
  private verifyEntity(
    entity: SignedEntity,
    material: TrustMaterial,
    root: TrustRoot,
    key: KeyObject | undefined,
    certDer?: Buffer,
    onSigner?: (key: KeyObject) => void,
  ): string | undefined {
    const verifier = new Verifier(material, {
      tlogThreshold: this.options.tlog ? 1 : 0,
      ctlogThreshold: this.options.keyless && root.requirements.requireSct ? 1 : 0,
      timestampThreshold: this.options.keyless ? 1 : 0,
    })
    let signerKey: KeyObject
    try {
      signerKey = verifier.verify(entity).key
    } catch (err) {
      return explain(err)
    }
    try {
      // sigstore-js does not check that the log entry names the signer; cosign does.
      checkTlogNamesSigner(entity.tlogEntries, { certDer, key: key ?? signerKey })
    } catch (err) {
      return `the Rekor entry (rekor-url) failed: ${describeError(err)}`
    }
    onSigner?.(signerKey)
    return undefined
  }

  private anyRoot(
    roots: TrustRoot[],
    verify: (root: TrustRoot) => string | undefined,
  ): string | undefined {
    const reasons: string[] = []
    for (const root of roots) {
      const reason = verify(root)
      if (reason === undefined) return undefined
      reasons.push(reason)
    }
    return joinReasons(roots, reasons)
  }

  private mismatch(reason: string): SignetError {
    return new SignetError(
      'SIGSTORE_ERROR',
      `what the Sigstore services handed back does not verify against ${this.options.rootName}: ` +
        `${reason}. Nothing was written. Check that fulcio-url, rekor-url and tsa-url are the ` +
        `services input ${INPUT.trustedRoot} trusts, or give the trusted_root.json of the ` +
        'services you sign with.',
      { input: INPUT.trustedRoot },
    )
  }
}

/** The bundle with its certificate replaced by a key hint (the key is supplied by the material). */
function asKeySigned(bundle: Bundle): Bundle {
  return {
    ...bundle,
    verificationMaterial: {
      ...bundle.verificationMaterial,
      content: { $case: 'publicKey', publicKey: { hint: '' } },
    },
  }
}

function joinReasons(roots: TrustRoot[], reasons: string[]): string {
  if (reasons.length <= 1) return reasons[0] ?? 'no root to check against'
  return reasons.map((r, i) => `${roots[i]?.name ?? `root ${i + 1}`}: ${r}`).join('; ')
}

/** @sigstore/verify's error, said as which service's answer failed. */
function explain(err: unknown): string {
  const code = (err as { code?: unknown }).code
  const message = describeError(err)
  if (typeof code !== 'string') return message
  if (code.startsWith('TLOG')) return `the Rekor entry (rekor-url) failed: ${message}`
  if (code === 'CERTIFICATE_ERROR') return `the Fulcio certificate (fulcio-url) failed: ${message}`
  if (code === 'TIMESTAMP_ERROR') return `the timestamp failed: ${message}`
  if (code === 'PUBLIC_KEY_ERROR') return `the signing time is outside the certificate: ${message}`
  return message
}

export interface SigningTrustOptions {
  /** The trusted-root input (a path relative to cwd). */
  trustedRoot?: string
  /** Every service the run uses is Sigstore's public-good one. */
  publicGood: boolean
  /** Something comes back from a service: a certificate, a log entry or a timestamp. */
  witnessed: boolean
  cwd: string
  log: Logger
  /** For tests: where TUF looks and caches. */
  tuf?: { mirrorURL?: string; cacheDir?: string; timeoutMs?: number }
  /** The run's retry budget, for the TUF mirror. */
  retry?: RetryBudget
}

/**
 * The roots sign mode checks against, or undefined when there is nothing to check against: the
 * trusted-root input; else, when every service is the public-good one, the root verify mode would
 * use (TUF, or the embedded root when the mirror cannot be reached). Other services without a
 * trusted-root have no root Signet could know: a debug line says so.
 */
export async function signingTrustRoots(
  options: SigningTrustOptions,
): Promise<{ roots: TrustRoot[]; name: string } | undefined> {
  const { log } = options
  if (options.trustedRoot) {
    const roots = await loadTrustRoots({ file: options.trustedRoot, cwd: options.cwd, log })
    return { roots, name: `${INPUT.trustedRoot} ${options.trustedRoot}` }
  }
  if (!options.witnessed) return undefined
  if (!options.publicGood) {
    log.debug(
      `${INPUT.trustedRoot}: not set, and the services are not Sigstore's public-good ones: ` +
        'there is no root to check what they hand back against (set trusted-root to their ' +
        'trusted_root.json to have it checked before anything is written)',
    )
    return undefined
  }
  const roots = await loadTrustRoots({
    cwd: options.cwd,
    log,
    cacheDir: options.tuf?.cacheDir,
    mirrorURL: options.tuf?.mirrorURL,
    timeoutMs: options.tuf?.timeoutMs,
    retry: options.retry,
  })
  return { roots, name: roots[0]?.name ?? 'the Sigstore public-good root' }
}
