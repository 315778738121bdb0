/**
 * The one module that reaches below sigstore-js's public API. Everything else in Signet imports
 * sigstore-js's package indexes, or these names from here; ESLint refuses `@sigstore/<pkg>/dist/…`
 * and `@sigstore/<pkg>/….json` anywhere else.
 *
 * Nothing here is covered by semver: a minor release may move, rename or change any of it. That is
 * why the four packages it reaches (@sigstore/sign, @sigstore/verify, @sigstore/core and
 * @sigstore/tuf) are pinned to exact versions in package.json. Before raising a pin, check each
 * name below still exists and still does what its comment says, then run the asn1-patches, keys,
 * witness-check and verify-* unit tests and the interop tests.
 *
 * What only sign mode (or TUF) needs is required when first asked for, not imported: importing
 * this module (asn1-patches.ts does, in every verify run) must not load @sigstore/sign and its
 * HTTP stack, nor @sigstore/tuf (issue 11: start-up). The bundle keeps those packages in a file
 * of their own (scripts/bundle.mjs), read by the first run that needs them.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- lazy loads, see above */
import type { CAClient } from '@sigstore/sign/dist/signer/fulcio/ca'
import type { HTTPError } from '@sigstore/sign/dist/external/error'

// Fulcio's client, with sigstore-js's retries and timeout. The package exports only FulcioSigner,
// which asks Fulcio for a new certificate on every signature; KeylessSigner asks once per run.
export type { CAClient }
export function fulcioCAClient(): typeof CAClient {
  return (require('@sigstore/sign/dist/signer/fulcio/ca') as { CAClient: typeof CAClient }).CAClient
}

// The failed request to Fulcio, Rekor or the TSA, which @sigstore/sign's InternalError (exported)
// carries as its `cause` (not exported): its status says whether the service, its URL or what was
// sent is at fault (signing-errors.ts).
export type { HTTPError }
export function httpErrorClass(): typeof HTTPError {
  return (require('@sigstore/sign/dist/external/error') as { HTTPError: typeof HTTPError })
    .HTTPError
}
export function isHTTPError(err: unknown): err is HTTPError {
  return err instanceof httpErrorClass()
}

// The SET check @sigstore/verify makes for every log entry, on its own. The Verifier refuses a
// cosign `intoto` 0.0.1 Rekor entry outright, so att-layer.ts checks that body itself and the SET
// with this, the very check the Verifier would make.
export { verifyTLogSET } from '@sigstore/verify/dist/tlog/set'

// DER length octets exactly as ASN1Obj.toDER writes them, for the faster toDER of
// asn1-patches.ts: the package exports ASN1Obj but not its encoder.
export { encodeLength } from '@sigstore/core/dist/asn1/length'

// The SCT check @sigstore/verify makes for every certificate it verifies, as the module object
// itself (key/index.js calls `verifySCTs` through it at each call), so asn1-patches.ts can put its
// per-run verdict cache in front of it. An `import * as` would give esbuild's copy of the bindings.
import sctModule = require('@sigstore/verify/dist/key/sct')
export const sctChecks: { verifySCTs: typeof sctModule.verifySCTs } = sctModule

// The certificate path builder @sigstore/verify uses for Fulcio chains and RFC 3161 timestamp
// chains alike (key/index.js and timestamp/tsa.js construct it), so asn1-patches.ts can keep each
// path it built (a pure function of the certificates' bytes) and check only the time again.
export { CertificateChainVerifier } from '@sigstore/verify/dist/key/certificate'

// @sigstore/core's key parser, as the module object (its package index re-exports it through
// getters that read this object at each call), so asn1-patches.ts can answer a key it has parsed
// before: the TSA's signing key was parsed again for every timestamp verified.
import coreCryptoModule = require('@sigstore/core/dist/crypto')
export const keyParsing: { createPublicKey: typeof coreCryptoModule.createPublicKey } =
  coreCryptoModule

/** Per TUF mirror URL: its root.json and initial targets, each base64. */
export type TufSeeds = Record<string, { 'root.json': string; targets: Record<string, string> }>

/**
 * The TUF seeds @sigstore/tuf ships: each mirror's initial root.json and targets (the public-good
 * trusted_root.json among them). The package reads them internally but exports no accessor; esbuild
 * embeds the JSON in dist/, so the embedded root is there without a network.
 */
export function tufSeeds(): TufSeeds {
  return require('@sigstore/tuf/seeds.json') as TufSeeds
}
