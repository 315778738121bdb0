/**
 * A sigstore-js `Signer` backed by a key the user supplied (cosign.key), so the same
 * DSSEBundleBuilder / MessageSignatureBundleBuilder + RekorWitness pipeline as keyless signing
 * produces key-signed bundles: no certificate, `verificationMaterial.publicKey.hint` instead.
 */
import type { BundleWithDsseEnvelope } from '@sigstore/bundle'
import type { Artifact, DSSEBundleBuilder, Signature, Signer } from '@sigstore/sign'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import type { SigningKey } from './keys'
import { sigstoreSign } from './sign-stack'

export class KeySigner implements Signer {
  constructor(readonly key: SigningKey) {}

  async sign(data: Buffer): Promise<Signature> {
    let signature: Buffer
    try {
      signature = this.key.sign(data)
    } catch (err) {
      // The key loaded but cannot sign: the key is at fault, not a service.
      throw new SignetError('KEY_INVALID', `${INPUT.key}: signing failed: ${describeError(err)}`, {
        input: INPUT.key,
        cause: err,
      })
    }
    return {
      signature,
      // The witness sends this PEM to Rekor; the bundle keeps only the hint, which is what cosign
      // 3 writes, so verifiers look the key up by hint or take it out of band.
      key: { $case: 'publicKey', publicKey: this.key.publicKeyPem, hint: this.key.hint },
    }
  }
}

let keyBuilder: typeof DSSEBundleBuilder | undefined

/**
 * DSSEBundleBuilder for key signing. sigstore-js copies the key hint into the envelope signature's
 * `keyid`; cosign 3 (sigstore-go's DSSE verifier) then finds no signature whose keyid matches its
 * verifier and fails with "accepted signatures do not match threshold, Found: 0". cosign itself
 * writes no keyid, so we clear it - in `package`, i.e. before any witness sees the envelope, so a
 * Rekor entry covers exactly the envelope that ends up in the bundle.
 */
export function keyDSSEBundleBuilder(): typeof DSSEBundleBuilder {
  // Defined on first use: its base class comes with the signing stack (sign-stack.ts).
  keyBuilder ??= class KeyDSSEBundleBuilder extends sigstoreSign().DSSEBundleBuilder {
    protected override async package(
      artifact: Artifact,
      signature: Signature,
    ): Promise<BundleWithDsseEnvelope> {
      const bundle = await super.package(artifact, signature)
      for (const sig of bundle.content.dsseEnvelope.signatures) sig.keyid = ''
      return bundle
    }
  }
  return keyBuilder
}
