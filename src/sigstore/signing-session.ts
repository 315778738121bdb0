/**
 * One signing session per run: a signer (one Fulcio certificate, or a cosign key) and the
 * witnesses (Rekor v1, a timestamp authority), composed from sigstore-js's builders.
 */
import { envelopeToJSON, type Bundle } from '@sigstore/bundle'
import type { Signer, Witness } from '@sigstore/sign'
import type { LegacySignatureMaterial } from '../formats/cosign-tags'
import { BUNDLE_V03_MEDIA_TYPE } from '../formats/referrers'
import { IN_TOTO_PAYLOAD_TYPE } from '../formats/statement'
import { keyDSSEBundleBuilder, KeySigner } from './key-signer'
import { sigstoreSign } from './sign-stack'
import { withRetry, type RetryBudget } from '../retry'
import { KeylessSigner, type CertificateChain } from './keyless-signer'
import type { SigningKey } from './keys'
import type { IdentityProvider } from './oidc'
import { SIGSTORE_NO_RETRY, SIGSTORE_TIMEOUT_MS, sigstoreServiceNames } from './services'
import { classifySigningFailure, signingFailure } from './signing-errors'

export interface SigningSessionOptions {
  fulcioURL: string
  rekorURL: string
  tsaURL?: string
  /** Record signatures in Rekor. */
  tlog: boolean
  /** A cosign key; absent means keyless. */
  key?: SigningKey
  identity?: IdentityProvider
  /**
   * What every bundle is verified with before it is handed out (and so before it is written):
   * the trusted root's check of the certificate, log entry and timestamp; undefined: none.
   */
  check?: Promise<BundleCheck | undefined>
  /**
   * The run's retry budget (`retry-timeout`): how long Fulcio, Rekor and the TSA may be
   * unavailable. Without one, each signature is retried a few times within a minute.
   */
  budget?: RetryBudget
  /** The clock certificates are judged by (tests); the budget's, else Date.now. */
  now?: () => number
}

/** Verifies a bundle the services helped make; throws (a SignetError) when it does not verify. */
export interface BundleCheck {
  verify(bundle: Bundle, artifact?: Buffer): void
}

export interface SignedStatement {
  bundle: Bundle
  /** What a cosign `.att` layer records beside the envelope. */
  legacy: LegacySignatureMaterial
  /** The envelope exactly as sent to Rekor: a `.att` layer must hold these very bytes. */
  envelopeJson: Buffer
}

export interface SignedPayload {
  bundle: Bundle
  legacy: LegacySignatureMaterial
}

export class SigningSession {
  readonly keyless: boolean
  private readonly signer: Signer
  private readonly witnesses: Witness[]
  private readonly check?: Promise<BundleCheck | undefined>
  private readonly budget?: RetryBudget
  private readonly names: ReturnType<typeof sigstoreServiceNames>
  /** The first service a signature reaches: its answer ends its outage for every signature. */
  private readonly firstWitness?: string

  constructor(options: SigningSessionOptions) {
    this.keyless = !options.key
    this.check = options.check
    this.budget = options.budget
    this.names = sigstoreServiceNames(options)
    this.firstWitness = options.tlog
      ? this.names.rekor
      : options.tsaURL
        ? this.names.tsa
        : undefined
    if (options.key) {
      this.signer = new KeySigner(options.key)
    } else {
      if (!options.identity) throw new Error('keyless signing needs an identity provider')
      this.signer = new KeylessSigner(options.identity, options.fulcioURL, {
        budget: options.budget,
        retryHint: options.budget?.exhaustedHint(),
        now: options.now,
      })
    }
    this.witnesses = []
    const { RekorWitness, TSAWitness } = sigstoreSign()
    if (options.tlog) {
      this.witnesses.push(
        new RekorWitness({
          rekorBaseURL: options.rekorURL,
          // Rekor's "entry already exists" is success: fetch the existing entry and go on.
          fetchOnConflict: true,
          entryType: 'dsse',
          retry: SIGSTORE_NO_RETRY,
          timeout: SIGSTORE_TIMEOUT_MS,
        }),
      )
    }
    if (options.tsaURL) {
      this.witnesses.push(
        new TSAWitness({
          // A base URL or the endpoint's full URL (as cosign takes it): sigstore-js accepts both.
          tsaBaseURL: options.tsaURL,
          retry: SIGSTORE_NO_RETRY,
          timeout: SIGSTORE_TIMEOUT_MS,
        }),
      )
    }
  }

  /** The certificate chain (keyless), fetched once; undefined when signing by key. */
  async certificateChain(): Promise<string[] | undefined> {
    return this.signer instanceof KeylessSigner
      ? (await this.signer.certificateChain()).certificates
      : undefined
  }

  /** Signs a cosign simple-signing payload: a hashedrekord entry, as cosign's `.sig` layers have. */
  async signPayload(payload: Buffer): Promise<SignedPayload> {
    const builder = new (sigstoreSign().MessageSignatureBundleBuilder)({
      signer: this.signer,
      witnesses: this.witnesses,
    })
    const bundle = toV03(await this.run(() => builder.create({ data: payload })))
    if (bundle.content.$case !== 'messageSignature') throw new Error('unexpected bundle content')
    await this.verified(bundle, payload)
    const material = await this.legacyMaterial(bundle, bundle.content.messageSignature.signature)
    return {
      bundle,
      legacy: {
        ...material,
        rfc3161Timestamp:
          bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps[0]
            ?.signedTimestamp,
      },
    }
  }

  private async legacyMaterial(
    bundle: Bundle,
    signature: Buffer,
  ): Promise<LegacySignatureMaterial> {
    const chain = this.chainOf(bundle)
    return {
      signature,
      certificatePem: chain?.[0],
      // Intermediates then root, as cosign 2 writes it; readers drop the last one as the root.
      chainPem: chain ? chain.slice(1).join('') : undefined,
      tlogEntry: bundle.verificationMaterial.tlogEntries[0],
    }
  }

  /** Signs an in-toto statement as a DSSE envelope (a `dsse` Rekor entry), in a v0.3 bundle. */
  async signStatement(statement: Buffer): Promise<SignedStatement> {
    // By key, the envelope must carry no keyid for cosign 3 to match it (see KeyDSSEBundleBuilder).
    const Builder = this.keyless ? sigstoreSign().DSSEBundleBuilder : keyDSSEBundleBuilder()
    const builder = new Builder({ signer: this.signer, witnesses: this.witnesses })
    const bundle = await this.run(() =>
      builder.create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE }),
    )
    if (bundle.content.$case !== 'dsseEnvelope') throw new Error('unexpected bundle content')
    await this.verified(bundle)
    const envelope = bundle.content.dsseEnvelope
    return {
      bundle,
      // Serialised as sigstore-js's Rekor witness does, so the bytes match Rekor's envelope hash.
      // No RFC 3161 annotation: cosign's legacy check of a `.att` timestamp hashes the whole
      // layer, while the timestamp authority stamped the signature.
      legacy: await this.legacyMaterial(bundle, envelope.signatures[0].sig),
      envelopeJson: Buffer.from(JSON.stringify(envelopeToJSON(envelope))),
    }
  }

  /**
   * The chain whose leaf is the bundle's: the certificate that signed it, which a renewal since
   * (another image's signature) may have replaced as the signer's current one.
   */
  private chainOf(bundle: Bundle): string[] | undefined {
    if (!(this.signer instanceof KeylessSigner)) return undefined
    const material = bundle.verificationMaterial.content
    const leaf =
      material.$case === 'certificate'
        ? material.certificate.rawBytes
        : material.$case === 'x509CertificateChain'
          ? material.x509CertificateChain.certificates[0]?.rawBytes
          : undefined
    const chain: CertificateChain | undefined = leaf && this.signer.chainOf(leaf)
    if (!chain) throw new Error('the bundle is not signed with a certificate of this session')
    return chain.certificates
  }

  /** Throws unless the check (when there is one) verifies the bundle as it will be written. */
  private async verified(bundle: Bundle, artifact?: Buffer): Promise<void> {
    const check = await this.check
    check?.verify(bundle, artifact)
  }

  /**
   * Runs a sigstore-js builder, again while Rekor or the TSA is unavailable and the budget lasts:
   * each try signs anew, so a certificate that ran short during the wait is renewed first
   * (KeylessSigner.certificateChain). Its failure becomes a SignetError naming the input at fault.
   */
  private async run<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(fn, {
        budget: this.budget,
        service: this.firstWitness,
        classify: (outcome) =>
          'error' in outcome ? classifySigningFailure(outcome.error, this.names) : { retry: false },
      })
    } catch (err) {
      throw signingFailure(err, { keyless: this.keyless, retryHint: this.budget?.exhaustedHint() })
    }
  }
}

/**
 * sigstore-js writes message-signature bundles as v0.2 with a certificate chain; make them v0.3
 * with the leaf alone, like every other bundle Signet writes (the chain is in the trusted root).
 */
function toV03(bundle: Bundle): Bundle {
  const material = bundle.verificationMaterial.content
  if (material.$case !== 'x509CertificateChain') {
    return { ...bundle, mediaType: BUNDLE_V03_MEDIA_TYPE }
  }
  return {
    ...bundle,
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      ...bundle.verificationMaterial,
      content: { $case: 'certificate', certificate: material.x509CertificateChain.certificates[0] },
    },
  }
}
