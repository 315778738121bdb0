/** Verify mode's job summary, outputs and annotations, as plain data. Pure. */
import type { VerifyImageResult, VerifyOutcome } from '../verify/run'
import { codeText, markdownText, numberText, oneLine } from './summary'

function digestCell(digest: string): string {
  return digest ? codeText(digest.replace(/^sha256:(.{12}).*$/, 'sha256:$1…')) : '—'
}

function strip(url: string | undefined, prefix: string): string | undefined {
  return url?.startsWith(prefix) ? url.slice(prefix.length) : url
}

function verdictCell(r: VerifyImageResult): string {
  if (r.verdict === 'verified') return '✅ verified'
  if (r.verdict === 'skipped') return `➖ skipped: ${markdownText(r.reason ?? '')}`
  return `❌ ${markdownText(r.reason ?? 'not verified')}`
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
    // The type may be read from an unverified annotation: text, whatever it says.
    parts.push(`${mark} ${codeText(a.predicateType)} (${where})`)
  }
  return parts.length > 0 ? parts.join('<br>') : '—'
}

function signerCell(r: VerifyImageResult): string {
  const s = r.signer ?? r.signatures.find((x) => x.signer)?.signer
  if (!s) return '—'
  if (s.publicKey) return 'public key'
  const lines = [markdownText(s.identity ?? '')]
  if (s.issuer) lines.push(`issuer ${markdownText(s.issuer)}`)
  return lines.join('<br>')
}

function sourceCell(r: VerifyImageResult): string {
  const s = r.signer ?? r.signatures.find((x) => x.signer)?.signer
  if (!s?.repository && !s?.workflow) return '—'
  const lines: string[] = []
  if (s.repository) lines.push(markdownText(strip(s.repository, 'https://github.com/') ?? ''))
  if (s.workflow) lines.push(markdownText(strip(s.workflow, 'https://github.com/') ?? ''))
  if (s.trigger) lines.push(`on ${markdownText(s.trigger)}`)
  if (s.commit) lines.push(codeText(s.commit.slice(0, 12)))
  return lines.join('<br>')
}

/** A Rekor time as ISO 8601; anything no Date can hold is shown as it is, not thrown. */
function isoTime(seconds: unknown): string {
  const date = new Date(typeof seconds === 'number' ? seconds * 1000 : NaN)
  return Number.isNaN(date.getTime())
    ? numberText(seconds)
    : date.toISOString().replace('.000Z', 'Z')
}

function rekorCell(r: VerifyImageResult): string {
  if (r.rekorLogIndex === undefined) return '—'
  const when = r.rekorIntegratedTime !== undefined ? ` (${isoTime(r.rekorIntegratedTime)})` : ''
  return `${numberText(r.rekorLogIndex)}${when}`
}

function imageCell(r: VerifyImageResult): string {
  const d = r.dockerfile
  const where = d
    ? `<br>${markdownText(`${d.file}:${d.line} ${d.use}`)}` +
      (d.context ? `<br>${markdownText(`build context ${d.context}`)}` : '')
    : ''
  const platform = r.platform ? ` (${markdownText(r.platform)})` : ''
  return `${markdownText(r.image)}${platform}${where}`
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
      `| ${imageCell(r)} | ${digestCell(r.digest)} | ${verdictCell(r)} | ${foundCell(r)} | ${signerCell(r)} | ${sourceCell(r)} | ${rekorCell(r)} |`,
    )
  }
  lines.push('')
  lines.push(
    `Policy: ${markdownText(outcome.policySource)}. Trust roots: ${markdownText(outcome.trustRoots.join(', '))}.`,
  )
  for (const note of outcome.notes) {
    lines.push('')
    lines.push(`> [!WARNING]\n> ${markdownText(note)}`)
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

/**
 * One annotation per failed image: on its FROM line when it came from a Dockerfile. The message
 * is one line (oneLine): it quotes images and reasons that registries and signers wrote.
 */
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
        message: oneLine(
          `${r.dockerfile ? `${r.dockerfile.use} ` : ''}${r.image}${which} is not verified: ${r.reason ?? 'no reason given'}`,
        ),
        ...(r.dockerfile ? { file: r.dockerfile.file, line: r.dockerfile.line } : {}),
      }
    })
}
