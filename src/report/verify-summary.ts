/**
 * Verify mode's job summary, outputs and annotations, as plain data. Pure.
 *
 * The summary is a table of one row per image that reads without sideways scrolling at GitHub's
 * summary width (about 120 monospace characters of content per row): long values (full digests,
 * identities, reasons, Rekor entries) are shortened or left out there, and given whole in a
 * collapsed `<details>` section per named image below it.
 */
import type { VerifyImageResult, VerifyOutcome } from './types'
import type { SignerReport } from '../verify/image'
import { codeText, markdownLink, markdownText, numberText, oneLine, shortDigest } from './summary'

/** The widest a table line of text that others control may be, before it is shortened. */
const CELL_WIDTH = 32
/** Image names and Dockerfile paths: the row's name, so a little more room. */
const NAME_WIDTH = 40
/** A reason in the table: what fits on one line; the details give it whole. */
const REASON_WIDTH = 40

const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/**
 * The names loadTrustRoots gives the public-good root (through TUF, or the copy Signet embeds).
 * Only its Rekor indexes are entries of the public log that search.sigstore.dev shows; a root
 * from a trusted-root file is named by its host, and may be another instance's log.
 */
const PUBLIC_GOOD_ROOTS = new Set(['Sigstore public good', 'Sigstore public good (embedded)'])

/** Well-known predicate types, by what a reader calls them; others are shown as they are. */
const PREDICATE_LABELS: Record<string, string> = {
  'https://slsa.dev/provenance/v1': 'SLSA provenance v1',
  'https://slsa.dev/provenance/v0.2': 'SLSA provenance v0.2',
  'https://cyclonedx.org/bom': 'CycloneDX SBOM',
  'https://spdx.dev/Document': 'SPDX SBOM',
  'https://spdx.dev/Document/v2.2': 'SPDX SBOM v2.2',
  'https://spdx.dev/Document/v2.3': 'SPDX SBOM v2.3',
  'https://cosign.sigstore.dev/attestation/vuln/v1': 'vulnerability scan',
  'https://openvex.dev/ns': 'OpenVEX',
  'https://in-toto.io/Link/v1': 'in-toto link',
  'https://cosign.sigstore.dev/attestation/v1': 'cosign custom',
}

/**
 * At most `max` characters (code points), the middle replaced by `…` when longer: for names and
 * references, whose start (the registry, the repository) and end (the tag, the file) both tell.
 */
export function middleEllipsis(text: string, max: number): string {
  const chars = [...text]
  if (chars.length <= max) return text
  const head = Math.ceil((max - 1) / 2)
  const tail = max - 1 - head
  return `${chars.slice(0, head).join('')}…${tail > 0 ? chars.slice(-tail).join('') : ''}`
}

/**
 * The start of a reason, on one line: its first clause (Signet's reasons read `expected X, got Y:
 * details`) when that fits, else as many words as fit; `…` says the details have the rest.
 */
export function reasonLine(reason: string, max = REASON_WIDTH): string {
  // Line breaks and runs of spaces read as one space in HTML anyway.
  const flat = reason.replace(/\s+/g, ' ').trim()
  const chars = [...flat]
  if (chars.length <= max) return flat
  const clause = /^(.{10,}?)[:;] /u.exec(flat)?.[1]
  if (clause && [...clause].length < max) return `${clause}…`
  const cut = chars.slice(0, max - 1).join('')
  const space = cut.lastIndexOf(' ')
  return `${space >= max / 2 ? cut.slice(0, space) : cut}…`
}

/** The image as named, without a digest (the digest column has it): `name`, `name:tag`. */
function imageName(r: VerifyImageResult): string {
  return r.image.replace(/@[A-Za-z0-9_+.-]+:[0-9A-Fa-f]{32,}$/, '') || r.name || r.image
}

function digestCell(digest: string): string {
  return digest ? codeText(shortDigest(digest)) : '—'
}

function platformText(r: VerifyImageResult): string {
  if (r.platform) return r.platform
  if (!r.mediaType) return ''
  return /index|manifest\.list/.test(r.mediaType) ? 'index' : 'image'
}

function verdictLines(r: VerifyImageResult): string[] {
  if (r.verdict === 'verified')
    return ['✅ verified', ...(r.coveredBy ? [`(${markdownText(r.coveredBy)})`] : [])]
  const head = r.verdict === 'skipped' ? '➖ skipped' : '❌ not verified'
  const reason = r.reason ? reasonLine(r.reason) : ''
  return reason ? [head, markdownText(reason)] : [head]
}

function predicateLabel(predicateType: string): string {
  const known = PREDICATE_LABELS[predicateType]
  return known ? markdownText(known) : codeText(middleEllipsis(predicateType, CELL_WIDTH - 2))
}

function findingMark(f: { verified: boolean; checked?: false }): string {
  return f.checked === false ? '➖' : f.verified ? '✅' : '❌'
}

function signatureFormats(r: VerifyImageResult): string {
  const formats = [
    ...new Set(r.signatures.map((s) => (s.format === 'legacy' ? '`.sig`' : 'bundle'))),
  ]
  const count = r.signatures.length
  return `${count} signature${count === 1 ? '' : 's'} (${formats.join(', ')})`
}

function foundCell(r: VerifyImageResult): string {
  const lines: string[] = []
  if (r.signatures.length > 0) lines.push(signatureFormats(r))
  // The type may be read from an unverified annotation: text, whatever it says.
  for (const a of r.attestations) lines.push(`${findingMark(a)} ${predicateLabel(a.predicateType)}`)
  return lines.length > 0 ? lines.join('<br>') : '—'
}

/** Who signed: the image's signer, or the signer of a signature that did not count. */
function signerOf(r: VerifyImageResult, top?: VerifyImageResult): SignerReport | undefined {
  return (
    r.signer ??
    r.signatures.find((x) => x.signer)?.signer ??
    // A platform manifest its index covers was signed by whoever signed the index.
    (r.coveredBy === 'index signature' ? top?.signer : undefined)
  )
}

/**
 * A GitHub workflow identity (`https://github.com/owner/repo/.github/workflows/file.yml@ref`) as
 * its repository, its file and its ref on lines of their own; any other identity shortened. The
 * issuer is named when it is not GitHub Actions'. The details give identity and issuer whole.
 */
function signerCell(s: SignerReport | undefined): string {
  if (!s) return '—'
  if (s.publicKey) return 'public key'
  const identity = s.identity ?? ''
  const workflow = /^https:\/\/github\.com\/([^/]+\/[^/]+)\/(?:[^@]*\/)?([^/@]+)@(.+)$/u.exec(
    identity,
  )
  const lines = workflow
    ? [workflow[1], workflow[2], `@${workflow[3]}`]
    : [identity || '(no identity)']
  if (s.issuer && s.issuer !== GITHUB_ACTIONS_ISSUER)
    lines.push(`via ${s.issuer.replace(/^https:\/\//, '')}`)
  return lines.map((line) => markdownText(middleEllipsis(line, CELL_WIDTH))).join('<br>')
}

function imageCell(r: VerifyImageResult): string {
  const d = r.dockerfile
  const where = d
    ? `<br>${markdownText(`${middleEllipsis(d.file, NAME_WIDTH)}:${d.line} ${d.use}`)}` +
      (d.context
        ? `<br>${markdownText(`build context ${middleEllipsis(d.context, NAME_WIDTH)}`)}`
        : '')
    : ''
  return `${markdownText(middleEllipsis(imageName(r), NAME_WIDTH))}${where}`
}

function tableRow(r: VerifyImageResult, top: VerifyImageResult | undefined): string {
  const platform = platformText(r)
  const cells = [
    imageCell(r),
    digestCell(r.digest),
    platform ? markdownText(middleEllipsis(platform, CELL_WIDTH)) : '—',
    verdictLines(r).join('<br>'),
    signerCell(signerOf(r, top)),
    foundCell(r),
  ]
  return `| ${cells.join(' | ')} |`
}

/** A Rekor time as ISO 8601; anything no Date can hold is shown as it is, not thrown. */
function isoTime(seconds: unknown): string {
  const date = new Date(typeof seconds === 'number' ? seconds * 1000 : NaN)
  return Number.isNaN(date.getTime())
    ? numberText(seconds)
    : date.toISOString().replace('.000Z', 'Z')
}

/** A Rekor entry: a link to its search page for the public-good log, else its index as text. */
function rekorText(r: VerifyImageResult, publicGood: boolean): string {
  const index: unknown = r.rekorLogIndex
  const linkable =
    publicGood && typeof index === 'number' && Number.isSafeInteger(index) && index >= 0
  const shown = linkable
    ? markdownLink(String(index), `https://search.sigstore.dev/?logIndex=${index}`)
    : numberText(index)
  const when = r.rekorIntegratedTime !== undefined ? ` (${isoTime(r.rekorIntegratedTime)})` : ''
  return `${shown}${when}`
}

function verdictText(r: VerifyImageResult): string {
  if (r.verdict === 'verified')
    return `✅ verified${r.coveredBy ? ` (${markdownText(r.coveredBy)})` : ''}`
  return r.verdict === 'skipped' ? '➖ skipped' : '❌ not verified'
}

function findingText(f: VerifyImageResult['signatures'][number]): string {
  if (f.verified) return '✅ verified'
  return `${findingMark(f)} ${markdownText(f.reason ?? (f.checked === false ? 'not checked' : 'not verified'))}`
}

const sameSigner = (a: SignerReport | undefined, b: SignerReport | undefined): boolean =>
  JSON.stringify(a) === JSON.stringify(b)

/** One image's details, as list items: everything the table shortened or left out. */
function detailItems(
  r: VerifyImageResult,
  top: VerifyImageResult | undefined,
  publicGood: boolean,
): string[] {
  const label = r.parent ? platformText(r) || 'platform' : platformText(r) || 'image'
  const digest = r.digest ? codeText(r.digest) : '(no digest)'
  const items: string[] = []
  if (!top) items.push(`image: ${codeText(r.image)}`)
  if (r.reason) items.push(`reason: ${markdownText(r.reason)}`)
  const s = signerOf(r, top)
  // A platform manifest signed as its index was: said once, on the index.
  const repeated =
    top !== undefined &&
    sameSigner(s, signerOf(top)) &&
    (r.rekorLogIndex === undefined || r.rekorLogIndex === top.rekorLogIndex)
  if (s && !repeated) {
    if (s.publicKey) items.push('signer: a public key')
    if (s.identity !== undefined) items.push(`identity: ${codeText(s.identity)}`)
    if (s.issuer !== undefined) items.push(`issuer: ${codeText(s.issuer)}`)
    if (s.repository !== undefined) items.push(`source repository: ${markdownText(s.repository)}`)
    if (s.workflow !== undefined && s.workflow !== s.identity)
      items.push(`workflow: ${markdownText(s.workflow)}`)
    if (s.trigger !== undefined) items.push(`trigger: ${markdownText(s.trigger)}`)
    if (s.commit !== undefined) items.push(`commit: ${codeText(s.commit)}`)
  }
  if (r.rekorLogIndex !== undefined && !repeated)
    items.push(`Rekor entry: ${rekorText(r, publicGood)}`)
  if (r.signatureRepository && r.signatureRepository !== top?.signatureRepository)
    items.push(`signatures looked for in: ${codeText(r.signatureRepository)}`)
  for (const f of r.signatures)
    items.push(
      `signature (${f.format === 'legacy' ? '`.sig`' : 'bundle'}) ${codeText(f.reference)}: ${findingText(f)}`,
    )
  for (const a of r.attestations)
    items.push(
      `attestation ${codeText(a.predicateType)} (${a.format === 'legacy' ? '`.att`' : 'bundle'}): ${findingText(a)}`,
    )
  if (r.unread) items.push(markdownText(r.unread))
  if (r.rule && r.rule !== top?.rule) items.push(`policy rule: ${markdownText(r.rule)}`)
  return [
    `- ${markdownText(label)} ${digest}: ${verdictText(r)}`,
    ...items.map((item) => `  - ${item}`),
  ]
}

/** The images as named, each with the platform manifests reached through it. */
function groupsOf(results: VerifyImageResult[]): VerifyImageResult[][] {
  const groups: VerifyImageResult[][] = []
  for (const r of results) {
    const group = r.parent
      ? groups.findLast(([top]) => top.digest === r.parent && top.name === r.name)
      : undefined
    if (group) group.push(r)
    else groups.push([r])
  }
  return groups
}

function detailsSection(group: VerifyImageResult[], publicGood: boolean): string {
  const [top] = group
  const d = top.dockerfile
  const where = d ? ` (${d.file}:${d.line} ${d.use})` : ''
  const items = group.flatMap((r, i) => detailItems(r, i === 0 ? undefined : top, publicGood))
  // An HTML block ends at the blank line; the list between is markdown. Nothing markdownText
  // writes can end the block early (a line break is `&#10;`, `<` is `&#60;`).
  return [
    `<details><summary>${markdownText(imageName(top) + where)}</summary>`,
    '',
    ...items,
    '',
    '</details>',
  ].join('\n')
}

export function verifySummary(outcome: VerifyOutcome): string {
  const counted = outcome.results.filter((r) => r.verdict !== 'skipped')
  const ok = counted.filter((r) => r.verified).length
  const mark = outcome.verified ? '✅' : outcome.enforce ? '❌' : '⚠️'
  const groups = groupsOf(outcome.results)
  // The result does not say which root verified it: link only when every root is public good.
  const publicGood =
    outcome.trustRoots.length > 0 && outcome.trustRoots.every((n) => PUBLIC_GOOD_ROOTS.has(n))
  const lines = [
    `## Signet: ${mark} ${ok} of ${counted.length} image(s) verified${outcome.enforce ? '' : ' (audit mode: not enforced)'}`,
    '',
    '| image | digest | platform | verdict | signer | found |',
    '|---|---|---|---|---|---|',
  ]
  for (const group of groups) {
    const [top] = group
    group.forEach((r, i) => lines.push(tableRow(r, i === 0 ? undefined : top)))
  }
  lines.push('')
  lines.push(
    `Policy: ${markdownText(outcome.policySource)}. Trust roots: ${markdownText(outcome.trustRoots.join(', '))}.`,
  )
  for (const note of outcome.notes) {
    lines.push('')
    lines.push(`> [!WARNING]\n> ${markdownText(note)}`)
  }
  for (const group of groups) {
    lines.push('')
    lines.push(detailsSection(group, publicGood))
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
