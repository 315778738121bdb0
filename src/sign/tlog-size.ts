/**
 * Large attestations fail early and clearly (issue 12.6): an attestation is recorded in Rekor as
 * a `dsse` entry holding the whole DSSE envelope (the statement, base64-encoded), so a large SBOM
 * makes a large request, and Rekor's front door refuses it. Without this check the refusal comes
 * after other images' signatures were written, as an opaque error: the public instance answers an
 * oversized entry by closing the connection or with a 502, which clients retry until they give up
 * (sigstore/rekor#2808, #2915).
 *
 * The limit. rekor-server has `--max_request_body_size` (bytes, 0 = unlimited, the default since
 * it was added in sigstore/rekor#1334; cmd/rekor-server/app/root.go). Its `--max_attestation_size`
 * (100 KiB, what the README calls the public instance's "attestation size limit") only decides
 * whether the attestation is kept in attestation storage: a larger entry is still recorded
 * (pkg/types/dsse/v0.0.1/entry.go, AttestationKeyValue, "Skipping attestation storage"). The
 * value the public-good instance enforces is not published (sigstore/rekor#2808: "the limit for
 * the public instance [is] undocumented"); what is reported is SBOM attestations of "a couple
 * MiB" (ublue-os/bluefin#4272) and of about 3.5 MB (Sage-Bionetworks/sage-monorepo#3982) refused
 * by rekor.sigstore.dev since early 2026, and 46 MB "rejected by the load balancer"
 * (sigstore/rekor#2915). Signet's bar for the public instance is therefore 2 MiB of request body,
 * below every refusal reported; PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES is the one place to change it
 * when the instance publishes its figure.
 *
 * Only for the public-good Rekor: another instance has its operator's limit (unlimited by
 * default), which Signet cannot know and must not guess lower than it is; its refusal (an HTTP
 * 413) is explained where signing failures are (src/sigstore/signing-errors.ts). With `tlog:
 * false` nothing goes to Rekor and there is no limit to check.
 *
 * Pure: sizes in, a SignetError out.
 */
import { SignetError } from '../errors'
import { INPUT } from '../inputs'
import { serializeAttestationStatement } from '../formats/statement'
import { IN_TOTO_PAYLOAD_TYPE } from '../formats/statement'
import { appliesTo, type PlannedAttestation } from './attestation-plan'

/** The request body Signet sends the public-good Rekor at most (see the module header). */
export const PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES = 2 * 1024 * 1024

/** A Fulcio leaf certificate's PEM, at most (Fulcio's run about 1 to 3 KB with GitHub's claims). */
const CERTIFICATE_PEM_ALLOWANCE = 4096
/** A signature, at most: an RSA-4096 signature is 512 bytes; ECDSA P-256 DER at most 72. */
const SIGNATURE_ALLOWANCE = 512
/** A digest as long as any: `sha256:` and 64 hex digits. */
const ANY_DIGEST = `sha256:${'0'.repeat(64)}`

const base64Length = (bytes: number): number => 4 * Math.ceil(bytes / 3)

/**
 * The bytes of the JSON body sigstore-js's RekorWitness POSTs for a `dsse` 0.0.1 entry
 * (toProposedDSSEEntry): the envelope serialised to a string inside the entry, and the verifier
 * (certificate or key PEM) base64-encoded. Counted without building the megabytes: the payload is
 * base64, which JSON needs no escapes for, so it is measured as a one-character stand-in and
 * its real length added.
 */
export function dsseEntryRequestBytes(statementBytes: number, verifierPemBytes: number): number {
  const envelope = JSON.stringify({
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    payload: 'P',
    signatures: [{ sig: 'S'.repeat(base64Length(SIGNATURE_ALLOWANCE)), keyid: '' }],
  })
  const body = JSON.stringify({
    apiVersion: '0.0.1',
    kind: 'dsse',
    spec: {
      proposedContent: {
        envelope,
        verifiers: ['V'.repeat(base64Length(verifierPemBytes))],
      },
    },
  })
  return Buffer.byteLength(body) - 1 + base64Length(statementBytes)
}

/** The statement's bytes for the longest image name it is attested to. */
function statementBytes(attestation: PlannedAttestation, names: string[]): number {
  const longest = names.reduce((a, b) => (Buffer.byteLength(b) > Buffer.byteLength(a) ? b : a), '')
  const around = serializeAttestationStatement(
    longest,
    ANY_DIGEST,
    attestation.predicateType,
    '0',
  ).length
  return around - 1 + Buffer.byteLength(attestation.predicateJson)
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export interface TlogSizeContext {
  /** The run records in Rekor. */
  tlog: boolean
  /** rekor-url is the public-good instance. */
  publicGoodRekor: boolean
  rekorURL: string
  /** Signing by key: its PEM (else keyless: a certificate of at most CERTIFICATE_PEM_ALLOWANCE). */
  publicKeyPem?: string
  /** The image names (`registry/repository`) being signed, with their digests when given. */
  images: { name: string; digest?: string }[]
}

/**
 * Throws a SignetError naming the attestation's input when its Rekor entry would be over the
 * public-good instance's limit; nothing has been written when it is called.
 */
export function checkTlogEntrySizes(
  attestations: PlannedAttestation[],
  context: TlogSizeContext,
): void {
  if (!context.tlog || !context.publicGoodRekor) return
  const verifier = context.publicKeyPem
    ? Buffer.byteLength(context.publicKeyPem)
    : CERTIFICATE_PEM_ALLOWANCE
  for (const attestation of attestations) {
    const names = context.images
      .filter((i) => appliesTo(attestation, i.name, i.digest ?? attestation.only?.digest ?? ''))
      .map((i) => i.name)
    if (names.length === 0) continue
    const bytes = dsseEntryRequestBytes(statementBytes(attestation, names), verifier)
    if (bytes <= PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES) continue
    throw new SignetError(
      'INPUT_INVALID',
      `input ${attestation.input}: the ${attestation.label} makes a transparency-log entry of ` +
        `${mib(bytes)} (${bytes} bytes: the predicate, base64-encoded in its DSSE envelope), ` +
        `over the ${mib(PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES)} Signet sends the public-good Rekor ` +
        `(${context.rekorURL}), which refuses larger entries. Nothing was written. Attest without ` +
        `the log (${INPUT.tlog}: false, with ${INPUT.tsaURL} set to a timestamp authority), attest a smaller ${attestation.input === INPUT.sbom ? 'SBOM' : 'predicate'}, ` +
        `or record in a Rekor of your own with a higher limit (${INPUT.rekorURL}, with ` +
        `${INPUT.trustedRoot}).`,
      { input: attestation.input },
    )
  }
}
