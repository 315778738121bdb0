/** Verify mode's job summary, outputs and annotations, as plain data. Pure. */
import type { VerifyImageResult, VerifyOutcome } from '../verify/run'
import { escapeMarkdown } from './summary'

function short(digest: string): string {
  return digest ? digest.replace(/^sha256:(.{12}).*$/, 'sha256:$1…') : '—'
}

function strip(url: string | undefined, prefix: string): string | undefined {
  return url?.startsWith(prefix) ? url.slice(prefix.length) : url
}

function verdictCell(r: VerifyImageResult): string {
  if (r.verdict === 'verified') return '✅ verified'
  if (r.verdict === 'skipped') return `➖ skipped: ${escapeMarkdown(r.reason ?? '')}`
  return `❌ ${escapeMarkdown(r.reason ?? 'not verified')}`
}

function foundCell(r: VerifyImageResult): string {
  const parts: string[] = []
  const sigs = r.signatures
  if (sigs.length > 0) {
    const formats = [...new Set(sigs.map((s) => (s.format === 'legacy' ? '`.sig`' : 'bundle')))]
    parts.push(`${sigs.length} signature(s) (${formats.join(', ')})`)
  }
  for (const a of r.attestations) {
    const where = a.format === 'legacy' ? '`.att`' : 'bundle'
    const mark = a.checked === false ? '➖' : a.verified ? '✅' : '❌'
    parts.push(`${mark} \`${a.predicateType.replace(/`/g, '')}\` (${where})`)
  }
  return parts.length > 0 ? parts.join('<br>') : '—'
}

function signerCell(r: VerifyImageResult): string {
  const s = r.signer ?? r.signatures.find((x) => x.signer)?.signer
  if (!s) return '—'
  if (s.publicKey) return 'public key'
  const lines = [escapeMarkdown(s.identity ?? '')]
  if (s.issuer) lines.push(`issuer ${escapeMarkdown(s.issuer)}`)
  return lines.join('<br>')
}

function sourceCell(r: VerifyImageResult): string {
  const s = r.signer ?? r.signatures.find((x) => x.signer)?.signer
  if (!s?.repository && !s?.workflow) return '—'
  const lines: string[] = []
  if (s.repository) lines.push(escapeMarkdown(strip(s.repository, 'https://github.com/') ?? ''))
  if (s.workflow) lines.push(escapeMarkdown(strip(s.workflow, 'https://github.com/') ?? ''))
  if (s.trigger) lines.push(`on ${escapeMarkdown(s.trigger)}`)
  if (s.commit) lines.push(`\`${s.commit.slice(0, 12)}\``)
  return lines.join('<br>')
}

function rekorCell(r: VerifyImageResult): string {
  if (r.rekorLogIndex === undefined) return '—'
  const when =
    r.rekorIntegratedTime !== undefined
      ? ` (${new Date(r.rekorIntegratedTime * 1000).toISOString().replace('.000Z', 'Z')})`
      : ''
  return `${r.rekorLogIndex}${when}`
}

function imageCell(r: VerifyImageResult): string {
  const where = r.dockerfile
    ? `<br>${escapeMarkdown(`${r.dockerfile.file}:${r.dockerfile.line}`)}`
    : ''
  const platform = r.platform ? ` (${escapeMarkdown(r.platform)})` : ''
  return `${escapeMarkdown(r.image)}${platform}${where}`
}

export function verifySummary(outcome: VerifyOutcome): string {
  const counted = outcome.results.filter((r) => r.verdict !== 'skipped')
  const ok = counted.filter((r) => r.verified).length
  const mark = outcome.verified ? '✅' : outcome.enforce ? '❌' : '⚠️'
  const lines = [
    `## Signet: ${mark} ${ok} of ${counted.length} image(s) verified${outcome.enforce ? '' : ' (audit mode: not enforced)'}`,
    '',
    '| image | digest | verdict | found | signer | source and workflow | Rekor entry |',
    '|---|---|---|---|---|---|---|',
  ]
  for (const r of outcome.results) {
    lines.push(
      `| ${imageCell(r)} | \`${short(r.digest)}\` | ${verdictCell(r)} | ${foundCell(r)} | ${signerCell(r)} | ${sourceCell(r)} | ${rekorCell(r)} |`,
    )
  }
  lines.push('')
  lines.push(
    `Policy: ${escapeMarkdown(outcome.policySource)}. Trust roots: ${escapeMarkdown(outcome.trustRoots.join(', '))}.`,
  )
  for (const note of outcome.notes) {
    lines.push('')
    lines.push(`> [!WARNING]\n> ${escapeMarkdown(note)}`)
  }
  return lines.join('\n') + '\n'
}

export function verifyOutputs(outcome: VerifyOutcome): Record<string, string> {
  return { results: JSON.stringify(outcome.results), verified: String(outcome.verified) }
}

export interface Annotation {
  message: string
  file?: string
  line?: number
}

/** One annotation per failed image: on its FROM line when it came from a Dockerfile. */
export function verifyAnnotations(outcome: VerifyOutcome): Annotation[] {
  return outcome.results
    .filter((r) => r.verdict === 'failed')
    .map((r) => {
      const which = r.platform
        ? ` (its ${r.platform} manifest ${r.digest})`
        : r.digest && !r.image.includes(r.digest)
          ? ` (${r.digest})`
          : ''
      return {
        message: `${r.image}${which} is not verified: ${r.reason ?? 'no reason given'}`,
        ...(r.dockerfile ? { file: r.dockerfile.file, line: r.dockerfile.line } : {}),
      }
    })
}
