/** The job summary and the outputs, as plain data. Pure: the front door (src/action/report.ts) writes them. */
import { createHash, createPublicKey } from 'node:crypto'
import type { GeneratedPolicy } from '../admission/types'
import type { SignatureRecord, SignOutcome } from './types'

/**
 * Characters that mean nothing to GitHub's markdown (cmark-gfm with its table, autolink and
 * strikethrough extensions, raw HTML kept) wherever Signet places text: inline, in a table cell,
 * after `> `. Everything else is written as an HTML character reference.
 */
const MARKDOWN_PLAIN = /^[A-Za-z0-9 ,./()+=?%;'"-]$/u

/**
 * Text that others control (identities built from git ref names, registry messages, predicate
 * types, image names, Dockerfile text) as markdown that renders as exactly that text, inside
 * whatever inline context it is placed in: a table cell, a list item, a `<code>` element.
 *
 * Rather than escaping a list of special characters, every character outside a small plain set
 * becomes a numeric character reference (`|` is `&#124;`, `<` is `&#60;`, a line break `&#10;`):
 * references are decoded after block structure, tables and emphasis are parsed, so none of them
 * can end a cell, open a tag or start a line. Autolinks are the exception, as cmark-gfm finds
 * e-mail addresses in the decoded text: after `:` and `@`, and between `www` and its `.`, a
 * `<wbr>` (a line-break opportunity, invisible) splits the text so that no URL, address or
 * `www.` link can form. The first character is a reference unless it is a letter (text placed
 * at the start of a line, as after `> `, cannot begin a list, a heading or a setext underline),
 * and so is a trailing space (cells are trimmed).
 */
export function markdownText(text: string): string {
  const chars = [...text]
  return chars
    .map((c, i) => {
      if (c === '.' && /^www$/i.test(chars.slice(Math.max(0, i - 3), i).join(''))) {
        return '<wbr>&#46;'
      }
      const plain = i === 0 ? /^[A-Za-z]$/.test(c) : MARKDOWN_PLAIN.test(c)
      if (plain && !(c === ' ' && i === chars.length - 1)) return c
      const reference = `&#${c.codePointAt(0)};`
      return c === ':' || c === '@' ? `${reference}<wbr>` : reference
    })
    .join('')
}

/** @deprecated The old name of markdownText, kept for callers written before it. */
export const escapeMarkdown = markdownText

const CODE_SPAN_PLAIN = /^(?!\s)[^`|\u0000-\u001f\u007f-\u009f\u2028\u2029]+(?<!\s)$/u

/**
 * Outside text in monospace, and still only text. A code span (`` `text` ``) when its content is
 * literal there (no backtick to end it, no `|` to end a table cell, no line break or other control
 * character, no space at either end): CommonMark renders everything else in a code span as
 * text, and no autolink or tag forms inside one. Otherwise a `<code>` element around markdownText.
 */
export function codeText(text: string): string {
  return CODE_SPAN_PLAIN.test(text) ? `\`${text}\`` : `<code>${markdownText(text)}</code>`
}

/**
 * A link Signet makes to a URL it was given (e.g. where GitHub stored an attestation): only to
 * https URLs; any other (javascript:, data:, a relative path) is shown as text, never linked.
 */
export function markdownLink(label: string, url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return markdownText(url)
  }
  if (parsed.protocol !== 'https:') return markdownText(url)
  // References are decoded in link destinations too: no `)`, `|` or space can end it early.
  const destination = [...parsed.href]
    .map((c) => (/^[A-Za-z0-9/._~%-]$/.test(c) ? c : `&#${c.codePointAt(0)};`))
    .join('')
  return `[${markdownText(label)}](${destination})`
}

/** A fenced code block holding `text` as is: its fence is longer than any run of backticks in it. */
export function codeBlock(text: string, info = ''): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length))
  const fence = '`'.repeat(Math.max(3, longest + 1))
  return `${fence}${info}\n${text}\n${fence}`
}

const LOG_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

/**
 * A log message as one line that the runner reads as text only. Line breaks (\r and \n, and the
 * Unicode ones) become a space, so quoted text cannot start a line of its own and so a
 * `::command::`; a line that would still start with `::` gets a `\` before it; `##[` (the
 * runner's legacy command form, recognised anywhere in a line) becomes `##\[`; other control
 * characters (terminal escapes) are shown as U+FFFD.
 */
export function oneLine(text: string): string {
  return text
    .replace(/(?:\r\n|[\r\n\u0085\u2028\u2029])+/g, ' ')
    .replace(LOG_CONTROL, '\ufffd')
    .replace(/##\[/g, '##\\[')
    .replace(/^(\s*)::/, '$1\\::')
}

/** A number from a service's JSON, which could be anything at run time: digits, or text. */
export function numberText(value: unknown): string {
  return typeof value === 'number' ? String(value) : markdownText(String(value))
}

/** A digest as the summaries show it: `sha256:` and its first 12 hex digits, then `…`. */
export function shortDigest(digest: string): string {
  return digest.replace(/^sha256:(.{12}).*$/, 'sha256:$1…')
}

type Written = Pick<SignatureRecord, 'format' | 'fallbackTag' | 'rekorLogIndex' | 'existing'>

/**
 * Where signatures or attestations went; `legacyTag` is `.sig` or `.att`. One a re-run found
 * already there is marked so: this run did not write it.
 */
function writtenCell(records: Written[], legacyTag: string): string {
  if (records.length === 0) return '—'
  return records
    .map((r) => {
      const where =
        r.format === 'legacy'
          ? `\`${legacyTag}\``
          : r.fallbackTag
            ? 'bundle (fallback tag)'
            : 'bundle (referrer)'
      return r.existing ? `${where} (already there)` : where
    })
    .join(', ')
}

function rekorCell(records: Written[]): string {
  const indexes = [...new Set(records.map((r) => r.rekorLogIndex).filter((i) => i !== undefined))]
  return indexes.length > 0 ? indexes.map(numberText).join(', ') : '—'
}

/** sha256 of the public key's DER, as `cosign public-key` users compare keys. */
export function keyFingerprint(publicKeyPem: string | undefined): string {
  if (!publicKeyPem) return 'unknown'
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' })
  return `sha256:${createHash('sha256').update(der).digest('hex').slice(0, 16)}…`
}

/**
 * The Kyverno policy a sign run offers, folded (`<details>`): the notes as text, the YAML in a
 * fence it cannot close. A blank line after `<summary>` ends the HTML block, so the fence is
 * markdown and everything in it is shown as code.
 */
function admissionBlock(kyverno: GeneratedPolicy): string[] {
  const lines = [
    '<details><summary>Admission policy (Kyverno ClusterPolicy) for these images</summary>',
    '',
    'Requires this signer and these attestations when a pod runs these images. ' +
      (kyverno.mode === 'audit'
        ? 'Audit mode reports only; to refuse, set `admission-mode: enforce` (or, in the YAML, ' +
          '`validationFailureAction` and each `failureAction` to `Enforce`, and `mutateDigest` ' +
          'and `verifyDigest` to `true`).'
        : 'Enforce mode refuses a pod whose images do not verify.'),
    '',
  ]
  for (const note of kyverno.notes) lines.push(`- ${markdownText(note)}`)
  if (kyverno.notes.length > 0) lines.push('')
  lines.push(codeBlock(kyverno.yaml.trimEnd(), 'yaml'), '', '</details>')
  return lines
}

/** `kyverno`: the admission policy for what was signed (src/admission), offered folded. */
export function signSummary(outcome: SignOutcome, kyverno?: GeneratedPolicy): string {
  const lines: string[] = []
  const signedCount = outcome.results.filter((r) => r.signed).length
  const alreadyCount = outcome.results.filter((r) => r.signed && r.alreadySigned).length
  const already = alreadyCount > 0 ? ` (${alreadyCount} already signed)` : ''
  lines.push(
    `## Signet: ${outcome.signed ? '✅' : '❌'} ${signedCount} of ${outcome.results.length} image(s) signed${already}`,
  )
  lines.push('')
  if (outcome.signatureRepository) {
    lines.push(
      `Signatures and attestations are stored in ${codeText(outcome.signatureRepository)} ` +
        '(`signature-repository`; cosign reads them there with `COSIGN_REPOSITORY` set).',
    )
    lines.push('')
  }
  const signer = outcome.keyless
    ? markdownText(outcome.identity?.subject ?? '')
    : `key \`${keyFingerprint(outcome.publicKeyPem)}\``
  lines.push('| image | digest | platform | written | Rekor entry | signer | result |')
  lines.push('|---|---|---|---|---|---|---|')
  for (const r of outcome.results) {
    lines.push(
      `| ${markdownText(r.image)} | ${codeText(shortDigest(r.digest))} | ${markdownText(r.platform ?? (r.parent ? '' : 'index or image'))} | ${writtenCell(r.signatures, '.sig')} | ${rekorCell(r.signatures)} | ${signer} | ${r.signed ? (r.alreadySigned ? '✅ already signed' : '✅ signed') : `❌ ${markdownText(r.error ?? 'not signed')}`} |`,
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
          `| ${markdownText(r.image)} | ${codeText(shortDigest(r.digest))} | ${codeText(predicateType)} | ${written} | ${rekor} | ${github ? markdownLink('stored', github) : '—'} |`,
        )
      }
    }
    lines.push('')
  }
  if (outcome.keyless && outcome.identity) {
    lines.push('### Verify against this identity')
    lines.push('')
    lines.push(`- certificate identity: ${codeText(outcome.identity.subject)}`)
    lines.push(`- certificate OIDC issuer: ${codeText(outcome.identity.issuer ?? '')}`)
    const ext = outcome.identity.extensions
    if (ext.sourceRepositoryURI)
      lines.push(`- source repository: ${markdownText(ext.sourceRepositoryURI)}`)
    if (ext.buildConfigURI) lines.push(`- calling workflow: ${markdownText(ext.buildConfigURI)}`)
    if (ext.sourceRepositoryDigest) lines.push(`- commit: ${codeText(ext.sourceRepositoryDigest)}`)
    if (outcome.identityNote) {
      lines.push('')
      lines.push(`> [!IMPORTANT]\n> ${markdownText(outcome.identityNote)}`)
    }
    lines.push('')
  }
  // One line (shell-quoted, see verify-command.ts), in a fence it cannot close.
  lines.push(codeBlock(outcome.verifyCommand, 'sh'))
  if (outcome.signatureFormat === 'both') {
    lines.push('')
    lines.push(
      'Written in both formats: cosign v3 reads the bundle referrer, cosign v2, Kyverno and ' +
        'policy-controller read the `.sig` tag.',
    )
  }
  if (kyverno) lines.push('', ...admissionBlock(kyverno))
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
