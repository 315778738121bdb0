/**
 * The outcome as a terminal shows it: one row per image, plain text, colour only when asked for.
 * Pure. Everything a registry, a Dockerfile or a signer chose reaches the terminal as text only:
 * control characters (escape sequences that could recolour, move the cursor or retitle the window,
 * carriage returns that could overwrite a verdict) are replaced before anything is laid out.
 */
import type { SignOutcome, VerifyOutcome } from '../report/types'
import { shortDigest } from '../report/summary'

/** C0 and C1 controls, DEL, line/paragraph separators and bidirectional overrides. */
const CONTROL_RE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Text someone else chose, made safe for one terminal cell: controls become `?`. */
export function terminalText(text: string): string {
  return text.replace(CONTROL_RE, '?')
}

export interface RenderOptions {
  /** ANSI colours (a TTY without NO_COLOR). */
  color: boolean
  /** Cells longer than this are cut in the middle. Default 100. */
  maxCell?: number
}

type Tone = 'good' | 'bad' | 'muted'
const TONES: Record<Tone, string> = { good: '\u001b[32m', bad: '\u001b[31m', muted: '\u001b[2m' }
const RESET = '\u001b[0m'

interface Cell {
  text: string
  tone?: Tone
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text
  const half = Math.floor((max - 1) / 2)
  return `${text.slice(0, half)}…${text.slice(text.length - (max - 1 - half))}`
}

/** Lays rows out in columns; colour codes go around the padded text so they never shift a column. */
function table(header: string[], rows: Cell[][], options: RenderOptions): string {
  const max = options.maxCell ?? 100
  const clean = rows.map((row) => row.map((c) => ({ ...c, text: cut(terminalText(c.text), max) })))
  const widths = header.map((h, i) =>
    Math.max(h.length, ...clean.map((r) => r[i]?.text.length ?? 0)),
  )
  const paint = (cell: Cell, width: number, last: boolean): string => {
    const text = last ? cell.text : cell.text.padEnd(width)
    return options.color && cell.tone ? `${TONES[cell.tone]}${text}${RESET}` : text
  }
  const line = (cells: Cell[]): string =>
    cells
      .map((c, i) => paint(c, widths[i], i === cells.length - 1))
      .join('  ')
      .trimEnd()
  return [line(header.map((text) => ({ text }))), ...clean.map(line)].join('\n')
}

/** `name@sha256:0123456789ab…`: the name without the tag or digest it was written with. */
function imageCell(image: string, digest: string, platform?: string): string {
  const at = image.indexOf('@')
  const name = at >= 0 ? image.slice(0, at) : image
  return `${name}@${shortDigest(digest)}${platform ? ` (${platform})` : ''}`
}

export function renderSignOutcome(outcome: SignOutcome, options: RenderOptions): string {
  const rows = outcome.results.map((r): Cell[] => {
    const written = [
      ...new Set(r.signatures.map((s) => (s.format === 'legacy' ? '.sig' : 'bundle'))),
      ...(r.attestations.length > 0 ? [`${r.attestations.length} attestation record(s)`] : []),
    ]
    const logIndexes = [
      ...new Set(
        [...r.signatures, ...r.attestations]
          .map((s) => s.rekorLogIndex)
          .filter((i) => i !== undefined),
      ),
    ]
    return [
      { text: imageCell(r.image, r.digest, r.platform) },
      r.signed ? { text: 'signed', tone: 'good' } : { text: 'NOT SIGNED', tone: 'bad' },
      { text: r.signed ? written.join(', ') || '—' : (r.error ?? 'not signed') },
      { text: logIndexes.length > 0 ? logIndexes.join(', ') : '—', tone: 'muted' },
    ]
  })
  const lines = [table(['IMAGE', 'RESULT', 'WRITTEN', 'REKOR'], rows, options), '']
  const signer = outcome.keyless
    ? `${outcome.identity?.subject ?? 'unknown'} (issuer ${outcome.identity?.issuer ?? 'unknown'})`
    : 'the key'
  const count = outcome.results.filter((r) => r.signed).length
  lines.push(`${count} of ${outcome.results.length} signed, by ${terminalText(signer)}`)
  if (outcome.identityNote) lines.push(`note: ${terminalText(outcome.identityNote)}`)
  lines.push(`verify with: ${terminalText(outcome.verifyCommand)}`)
  return `${lines.join('\n')}\n`
}

export function renderVerifyOutcome(outcome: VerifyOutcome, options: RenderOptions): string {
  const rows = outcome.results.map((r): Cell[] => {
    const verdict: Cell =
      r.verdict === 'verified'
        ? { text: 'verified', tone: 'good' }
        : r.verdict === 'skipped'
          ? { text: 'skipped', tone: 'muted' }
          : { text: 'FAILED', tone: 'bad' }
    const signer = r.signer?.publicKey
      ? 'a trusted key'
      : r.signer?.identity
        ? `${r.signer.identity}${r.signer.issuer ? ` (${r.signer.issuer})` : ''}`
        : '—'
    const where = r.dockerfile ? ` [${r.dockerfile.file}:${r.dockerfile.line}]` : ''
    return [
      { text: `${imageCell(r.name, r.digest, r.platform)}${where}` },
      verdict,
      { text: r.verdict === 'verified' ? signer : (r.reason ?? '—') },
    ]
  })
  const lines = [table(['IMAGE', 'VERDICT', 'SIGNER / REASON'], rows, options), '']
  const failed = outcome.results.filter((r) => r.verdict === 'failed').length
  const verified = outcome.results.filter((r) => r.verdict === 'verified').length
  lines.push(
    `${verified} verified, ${failed} failed` +
      (outcome.enforce ? '' : ' (audit mode: failures do not fail the command)'),
  )
  for (const note of outcome.notes) lines.push(`note: ${terminalText(note)}`)
  return `${lines.join('\n')}\n`
}
