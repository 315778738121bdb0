/** The job summary and the outputs, as plain data. Pure: report/actions.ts writes them. */
import { createHash, createPublicKey } from 'node:crypto'
import type { SignOutcome } from '../main'
import type { SignatureRecord } from './types'

/** Untrusted strings (image names, error messages) must not break or inject markdown. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>|#!]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ')
}

/** A log message on one line: text quoted from outside cannot start a line of its own. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ')
}

function short(digest: string): string {
  return digest.replace(/^sha256:(.{12}).*$/, 'sha256:$1…')
}

type Written = Pick<SignatureRecord, 'format' | 'fallbackTag' | 'rekorLogIndex'>

/** Where signatures or attestations went; `legacyTag` is `.sig` or `.att`. */
function writtenCell(records: Written[], legacyTag: string): string {
  if (records.length === 0) return '—'
  return records
    .map((r) =>
      r.format === 'legacy'
        ? `\`${legacyTag}\``
        : r.fallbackTag
          ? 'bundle (fallback tag)'
          : 'bundle (referrer)',
    )
    .join(', ')
}

function rekorCell(records: Written[]): string {
  const indexes = [...new Set(records.map((r) => r.rekorLogIndex).filter((i) => i !== undefined))]
  return indexes.length > 0 ? indexes.join(', ') : '—'
}

/** sha256 of the public key's DER, as `cosign public-key` users compare keys. */
export function keyFingerprint(publicKeyPem: string | undefined): string {
  if (!publicKeyPem) return 'unknown'
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' })
  return `sha256:${createHash('sha256').update(der).digest('hex').slice(0, 16)}…`
}

export function signSummary(outcome: SignOutcome): string {
  const lines: string[] = []
  const signedCount = outcome.results.filter((r) => r.signed).length
  lines.push(
    `## Signet: ${outcome.signed ? '✅' : '❌'} ${signedCount} of ${outcome.results.length} image(s) signed`,
  )
  lines.push('')
  const signer = outcome.keyless
    ? escapeMarkdown(outcome.identity?.subject ?? '')
    : `key \`${keyFingerprint(outcome.publicKeyPem)}\``
  lines.push('| image | digest | platform | written | Rekor entry | signer | result |')
  lines.push('|---|---|---|---|---|---|---|')
  for (const r of outcome.results) {
    lines.push(
      `| ${escapeMarkdown(r.image)} | \`${short(r.digest)}\` | ${escapeMarkdown(r.platform ?? (r.parent ? '' : 'index or image'))} | ${writtenCell(r.signatures, '.sig')} | ${rekorCell(r.signatures)} | ${signer} | ${r.signed ? '✅ signed' : `❌ ${escapeMarkdown(r.error ?? 'not signed')}`} |`,
    )
  }
  lines.push('')
  const attested = outcome.results.filter((r) => r.attestations.length > 0)
  if (attested.length > 0) {
    lines.push('### Attestations')
    lines.push('')
    lines.push('| image | digest | predicate type | written | Rekor entry | GitHub |')
    lines.push('|---|---|---|---|---|---|')
    for (const r of attested) {
      const byType = new Map<string, typeof r.attestations>()
      for (const a of r.attestations)
        byType.set(a.predicateType, [...(byType.get(a.predicateType) ?? []), a])
      for (const [predicateType, records] of byType) {
        const written = writtenCell(records, '.att')
        const rekor = rekorCell(records)
        const github = records.find((a) => a.githubAttestation)?.githubAttestation
        lines.push(
          `| ${escapeMarkdown(r.image)} | \`${short(r.digest)}\` | \`${predicateType.replace(/`/g, '')}\` | ${written} | ${rekor} | ${github ? `[stored](${github})` : '—'} |`,
        )
      }
    }
    lines.push('')
  }
  if (outcome.keyless && outcome.identity) {
    lines.push('### Verify against this identity')
    lines.push('')
    lines.push(`- certificate identity: \`${outcome.identity.subject}\``)
    lines.push(`- certificate OIDC issuer: \`${outcome.identity.issuer ?? ''}\``)
    const ext = outcome.identity.extensions
    if (ext.sourceRepositoryURI)
      lines.push(`- source repository: ${escapeMarkdown(ext.sourceRepositoryURI)}`)
    if (ext.buildConfigURI) lines.push(`- calling workflow: ${escapeMarkdown(ext.buildConfigURI)}`)
    if (ext.sourceRepositoryDigest) lines.push(`- commit: \`${ext.sourceRepositoryDigest}\``)
    if (outcome.identityNote) {
      lines.push('')
      lines.push(`> [!IMPORTANT]\n> ${escapeMarkdown(outcome.identityNote)}`)
    }
    lines.push('')
  }
  lines.push('```sh')
  lines.push(outcome.verifyCommand)
  lines.push('```')
  if (outcome.signatureFormat === 'both') {
    lines.push('')
    lines.push(
      'Written in both formats: cosign v3 reads the bundle referrer, cosign v2, Kyverno and ' +
        'policy-controller read the `.sig` tag.',
    )
  }
  return lines.join('\n') + '\n'
}

export function signOutputs(outcome: SignOutcome): Record<string, string> {
  const outputs: Record<string, string> = {
    results: JSON.stringify(outcome.results),
    signed: String(outcome.signed),
    'verify-command': outcome.verifyCommand,
  }
  if (outcome.identity) {
    outputs['certificate-identity'] = outcome.identity.subject
    outputs['certificate-oidc-issuer'] = outcome.identity.issuer ?? ''
  }
  return outputs
}
