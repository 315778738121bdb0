/**
 * The job summaries rendered as GitHub renders them: cmark-gfm with the table and autolink
 * extensions (and strikethrough), raw HTML kept. Text that signers, registries and Dockerfiles
 * control must come out as text, each value in its own cell, with no tag Signet did not write.
 * And verify-command, pasted into bash, must run cosign with exactly the values it names.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SignOutcome } from '../../src/sign/run'
import { buildVerifyCommand } from '../../src/report/verify-command'
import type { ImageResult } from '../../src/report/types'
import { policiesForSignRun } from '../../src/admission'
import { signSummary } from '../../src/report/summary'
import { verifySummary } from '../../src/report/verify-summary'
import type { VerifyImageResult, VerifyOutcome } from '../../src/verify/run'

const DIGEST = `sha256:${'a'.repeat(64)}`
const SHORT = 'sha256:aaaaaaaaaaaa…'

/** What a signer picking a git ref name, a registry, or a pull request's Dockerfile can write. */
const HOSTILE = [
  'https://github.com/x/y/.github/workflows/w.yml@refs/heads/<img src=x onerror=alert(1)>',
  'refs/heads/a|b|c',
  '<b>bold</b> <details open><summary>x</summary> <script>alert(1)</script>',
  '`code` ``double`` ```fence',
  '[x](javascript:alert(1)) ![i](https://evil.example/i.png) <https://evil.example>',
  'first\rsecond',
  'first\nsecond\n| injected | row | ✅ verified |',
  '::error::pwned ##[error]pwned',
  'www.evil.example x@evil.example mailto:x@evil.example (www.evil.example)',
  '<b>✅ verified</b>',
  '*em* _em_ ~~del~~ \\| \\ & &lt; &#60;',
  '1. list\n- item\n# heading\n> quote\n<div>block</div>',
]

/** The real renderer. Not installed is a failure that says how to install it, never a skip. */
function render(markdown: string): string {
  const run = spawnSync(
    'cmark-gfm',
    ['--unsafe', '-e', 'table', '-e', 'autolink', '-e', 'strikethrough'],
    { input: markdown, encoding: 'utf8' },
  )
  if (run.error) {
    throw new Error(
      'cmark-gfm (the renderer these tests judge the summary with) is not installed: run ' +
        '`bash scripts/install-test-tools.sh` as root, or `apt-get install -y cmark-gfm`',
    )
  }
  if (run.status !== 0) throw new Error(`cmark-gfm failed: ${run.stderr}`)
  return run.stdout
}

/** Every tag in the HTML, by name; a `<` that starts no tag (a comment, a declaration) is an error. */
function tagNames(html: string): string[] {
  return [...html.matchAll(/<[^>]*>?/g)].map(([tag]) => {
    const m = /^<\/?([a-z][a-z0-9]*)(?:\s[^<>]*)?>$/.exec(tag)
    if (!m) throw new Error(`not a tag Signet writes: ${JSON.stringify(tag)}`)
    return m[1]
  })
}

const NAMED: Record<string, string> = { quot: '"', lt: '<', gt: '>', amp: '&' }

/** HTML text as read: each reference decoded once (`&#38;lt;` is `&lt;`, as a browser shows it). */
const decode = (text: string): string =>
  text.replace(/&(?:#x([0-9a-f]+)|#(\d+)|(quot|lt|gt|amp));/gi, (all, hex, dec, name) =>
    hex
      ? String.fromCodePoint(parseInt(hex as string, 16))
      : dec
        ? String.fromCodePoint(Number(dec))
        : (NAMED[(name as string).toLowerCase()] ?? all),
  )

/** A cell's lines (Signet separates them with `<br>`), as the reader sees them. */
function cellLines(cellHtml: string): string[] {
  return cellHtml.split('<br>').map((part) => decode(part.replace(/<\/?(code|wbr)>/g, '')))
}

function tables(html: string): { head: string[]; rows: string[][] }[] {
  return [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map(([, table]) => {
    const head = [...table.matchAll(/<th>([\s\S]*?)<\/th>/g)].map((m) => m[1])
    const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? ''
    const rows = [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row]) =>
      [...row.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => m[1]),
    )
    // Every <tr> and <td> is accounted for: a row or cell the regexps missed fails here.
    expect((body.match(/<tr\b/g) ?? []).length).toBe(rows.length)
    expect((body.match(/<td\b/g) ?? []).length).toBe(rows.flat().length)
    return { head, rows }
  })
}

function verifyResult(h: string): VerifyImageResult {
  return {
    image: h,
    name: 'ghcr.io/acme/app',
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    platform: h,
    dockerfile: { file: h, line: 3, use: 'FROM' },
    verified: false,
    verdict: 'failed',
    reason: h,
    signer: { identity: h, issuer: h, repository: h, workflow: h, trigger: h, commit: h },
    rekorLogIndex: 7,
    signatures: [{ format: 'bundle', reference: h, verified: false, reason: h }],
    // The type an unverified annotation claims: listed, not checked.
    attestations: [
      { format: 'legacy', reference: h, predicateType: h, verified: false, checked: false },
    ],
  }
}

function verifyOutcome(results: VerifyImageResult[], notes: string[] = []): VerifyOutcome {
  return {
    mode: 'verify',
    results,
    verified: false,
    enforce: true,
    policySource: HOSTILE[0],
    trustRoots: [HOSTILE[1], HOSTILE[9]],
    notes,
  }
}

const VERIFY_TAGS = new Set([
  'h2',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'br',
  'wbr',
  'code',
  'p',
  'blockquote',
  'details',
  'summary',
  'ul',
  'li',
])

/**
 * A table line that may be shortened (issue 9.6: the table fits, the details have it whole):
 * every piece around a `…` is a piece of the full text, whitespace read as HTML reads it.
 */
function isPartOf(line: string, full: string): boolean {
  const flat = (t: string): string => t.replace(/\s+/g, ' ').trim()
  return line
    .split('…')
    .every((piece) => piece === '' || flat(full).includes(flat(piece)) || full.includes(piece))
}

describe('the verify summary, rendered as GitHub renders it', () => {
  // Issue 9.6 changed the layout (six columns; long values shortened in the table, whole in a
  // collapsed details section per image): the hostile values must stay text in both.
  it('issue 8.5: hostile identities, reasons, images and predicate types stay text, each in its own cell', () => {
    const html = render(verifySummary(verifyOutcome(HOSTILE.map(verifyResult))))
    for (const tag of tagNames(html)) expect(VERIFY_TAGS).toContain(tag)
    const [table, ...others] = tables(html)
    expect(others).toEqual([])
    expect(table.head).toHaveLength(6)
    expect(table.rows).toHaveLength(HOSTILE.length)
    const details = detailsOf(html)
    expect(details).toHaveLength(HOSTILE.length)
    table.rows.forEach((cells, i) => {
      const h = HOSTILE[i]
      expect(cells).toHaveLength(6)
      const [image, digest, platform, verdict, signer, found] = cells.map(cellLines)
      expect(image).toHaveLength(2)
      expect(isPartOf(image[0], h)).toBe(true)
      expect(image[1]).toMatch(/:3 FROM$/)
      expect(isPartOf(image[1].replace(/:3 FROM$/, ''), h)).toBe(true)
      expect(digest).toEqual([SHORT])
      expect(platform).toHaveLength(1)
      expect(isPartOf(platform[0], h)).toBe(true)
      expect(verdict).toHaveLength(2)
      expect(verdict[0]).toBe('❌ not verified')
      expect(isPartOf(verdict[1], h)).toBe(true)
      expect(signer.length).toBeGreaterThanOrEqual(2)
      for (const line of signer) expect(isPartOf(line.replace(/^via /, ''), h)).toBe(true)
      expect(found).toHaveLength(2)
      expect(found[0]).toBe('1 signature (bundle)')
      expect(found[1].startsWith('➖ ')).toBe(true)
      expect(isPartOf(found[1].slice(2), h)).toBe(true)

      // The details give each value whole, each in its own list item.
      expect(details[i].summary).toBe(`${h} (${h}:3 FROM)`)
      expect(details[i].items).toEqual([
        `${h} ${DIGEST}: ❌ not verified`,
        `image: ${h}`,
        `reason: ${h}`,
        `identity: ${h}`,
        `issuer: ${h}`,
        `source repository: ${h}`,
        `trigger: ${h}`,
        `commit: ${h}`,
        'Rekor entry: 7',
        `signature (bundle) ${h}: ❌ ${h}`,
        `attestation ${h} (.att): ➖ not checked`,
      ])
    })
  })

  it('issue 8.5: an identity URL that autolinks renders as text, not as a link or an <img>', () => {
    const identity =
      'https://github.com/x/y/.github/workflows/w.yml@refs/heads/<img src=x onerror=alert(1)>'
    const html = render(verifySummary(verifyOutcome([verifyResult(identity)])))
    expect(html).not.toMatch(/<a\b/)
    expect(html).not.toMatch(/<img\b/)
    // In the table, the workflow's repository, file and ref; in the details, all of it.
    const signer = cellLines(tables(html)[0].rows[0][4])
    expect(signer.slice(0, 2)).toEqual(['x/y', 'w.yml'])
    expect(isPartOf(signer[2], identity)).toBe(true)
    expect(detailsOf(html)[0].items).toContain(`identity: ${identity}`)
  })

  it('issue 8.5: a predicate type read from an unverified annotation cannot add HTML or a fake verified row', () => {
    const predicateType = '<b>✅ verified</b>\n| ghcr.io/acme/evil | x | ✅ verified | | | | |'
    const r: VerifyImageResult = {
      ...verifyResult('ghcr.io/acme/app'),
      attestations: [
        { format: 'bundle', reference: 'r', predicateType, verified: false, checked: false },
      ],
    }
    const html = render(verifySummary(verifyOutcome([r])))
    expect(html).not.toMatch(/<b>/)
    const { rows } = tables(html)[0]
    expect(rows).toHaveLength(1)
    const found = cellLines(rows[0][5])
    expect(found).toHaveLength(2)
    expect(found[0]).toBe('1 signature (bundle)')
    expect(found[1].startsWith('➖ ')).toBe(true)
    expect(isPartOf(found[1].slice(2), predicateType)).toBe(true)
    expect(detailsOf(html)[0].items).toContain(
      `attestation ${predicateType} (bundle): ➖ not checked`,
    )
  })

  it('issue 8.5: notes, the policy source and trust roots stay text in their own paragraphs', () => {
    const html = render(verifySummary(verifyOutcome([verifyResult('a')], HOSTILE)))
    for (const tag of tagNames(html)) expect(VERIFY_TAGS).toContain(tag)
    const quotes = [...html.matchAll(/<blockquote>\n<p>([\s\S]*?)<\/p>\n<\/blockquote>/g)]
    expect(quotes.map((m) => cellLines(m[1]))).toEqual(HOSTILE.map((n) => [`[!WARNING]\n${n}`]))
    expect(html.match(/<blockquote>/g)).toHaveLength(HOSTILE.length)
    const policy = /<p>(Policy: [\s\S]*?)<\/p>/.exec(html)?.[1] ?? ''
    expect(cellLines(policy)).toEqual([
      `Policy: ${HOSTILE[0]}. Trust roots: ${HOSTILE[1]}, ${HOSTILE[9]}.`,
    ])
  })
})

function signResult(h: string, github?: string): ImageResult {
  return {
    image: h,
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    platform: h,
    signed: false,
    error: h,
    signatures: [],
    attestations: [
      { predicateType: h, format: 'bundle', reference: 'r', githubAttestation: github },
    ],
  }
}

function signOutcome(results: ImageResult[], subject: string): SignOutcome {
  const base = {
    mode: 'sign' as const,
    results,
    signed: false,
    bundleCount: 0,
    keyless: true,
    identity: {
      subject,
      issuer: subject,
      extensions: {
        sourceRepositoryURI: subject,
        buildConfigURI: subject,
        sourceRepositoryDigest: subject,
      },
      notBefore: new Date(0),
      notAfter: new Date(0),
    },
    identityNote: subject,
    signatureFormat: 'both' as const,
    customInstance: false,
    tlog: true,
    timestamped: false,
    errors: [],
  }
  return { ...base, verifyCommand: buildVerifyCommand(base) }
}

const SIGN_TAGS = new Set([...VERIFY_TAGS, 'h3', 'ul', 'li', 'pre', 'a'])

describe('the sign summary, rendered as GitHub renders it', () => {
  it('issue 8.5: hostile images, errors, predicate types and identities stay text, each in its own cell', () => {
    const stored = 'https://api.github.com/repos/acme/app/attestations/1'
    const results = [
      ...HOSTILE.map((h) => signResult(h, 'javascript:alert(1)')),
      signResult('ghcr.io/acme/app', stored),
    ]
    for (const subject of HOSTILE) {
      const outcome = signOutcome(results, subject)
      const html = render(signSummary(outcome))
      for (const tag of tagNames(html)) expect(SIGN_TAGS).toContain(tag)
      // Signet's one link, to where GitHub stored the attestation; never a javascript: one.
      expect([...html.matchAll(/<a\b[^>]*>/g)].map((m) => m[0])).toEqual([`<a href="${stored}">`])

      const [signed, attested, ...others] = tables(html)
      expect(others).toEqual([])
      expect(signed.rows).toHaveLength(results.length)
      signed.rows.forEach((cells, i) => {
        const h = results[i].image
        expect(cells).toHaveLength(7)
        const [image, digest, platform, written, rekor, signer, result] = cells.map(cellLines)
        expect([image, digest, platform, written, rekor]).toEqual([[h], [SHORT], [h], ['—'], ['—']])
        expect(signer).toEqual([subject])
        expect(result).toEqual([`❌ ${h}`])
      })
      expect(attested.rows).toHaveLength(results.length)
      attested.rows.forEach((cells, i) => {
        const h = results[i].image
        expect(cells).toHaveLength(6)
        const [image, digest, type, written, rekor, github] = cells.map(cellLines)
        expect([image, digest, type, written, rekor]).toEqual([
          [h],
          [SHORT],
          [h],
          ['bundle (referrer)'],
          ['—'],
        ])
        // A URL that is not https is shown, not linked.
        if (i < HOSTILE.length) expect(github).toEqual(['javascript:alert(1)'])
        else expect(cells[5]).toBe(`<a href="${stored}">stored</a>`)
      })

      const items = [...html.matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) => cellLines(m[1]))
      expect(items).toEqual([
        [`certificate identity: ${subject}`],
        [`certificate OIDC issuer: ${subject}`],
        [`source repository: ${subject}`],
        [`calling workflow: ${subject}`],
        [`commit: ${subject}`],
      ])
      const note = /<blockquote>\n<p>([\s\S]*?)<\/p>/.exec(html)?.[1] ?? ''
      expect(cellLines(note)).toEqual([`[!IMPORTANT]\n${subject}`])
      // The command to copy is one code block holding exactly verify-command.
      const blocks = [...html.matchAll(/<pre><code[^>]*>([\s\S]*?)<\/code><\/pre>/g)]
      expect(blocks.map((m) => decode(m[1]))).toEqual([`${outcome.verifyCommand}\n`])
    }
  })
})

describe('issue 13.3: the Kyverno policy offered in the sign summary', () => {
  it('is folded, and hostile identities and predicate types come out as the YAML text, in code', () => {
    for (const subject of HOSTILE.filter((h) => !h.includes('{{'))) {
      const results = [{ ...signResult('ghcr.io/acme/app'), signed: true, error: undefined }]
      results[0].attestations = [
        { predicateType: `https://x.example/${subject}`, format: 'bundle', reference: 'r' },
      ]
      const outcome = { ...signOutcome(results, subject), signed: true }
      const { kyverno } = policiesForSignRun(outcome, 'audit')
      if (!kyverno) throw new Error('no policy')
      kyverno.notes.push(subject)
      const html = render(signSummary(outcome, kyverno))
      for (const tag of tagNames(html)) expect([...SIGN_TAGS, 'details', 'summary']).toContain(tag)
      expect(html.match(/<details>/g)).toHaveLength(1)
      const folded = /<details><summary>([^<]*)<\/summary>([\s\S]*)<\/details>/.exec(html)
      expect(folded?.[1]).toBe('Admission policy (Kyverno ClusterPolicy) for these images')
      const code = /<pre><code class="language-yaml">([\s\S]*?)<\/code><\/pre>/.exec(
        folded?.[2] ?? '',
      )
      expect(decode(code?.[1] ?? '')).toBe(kyverno.yaml)
      // The note (hostile here) is one list item of text.
      const items = [...(folded?.[2] ?? '').matchAll(/<li>([\s\S]*?)<\/li>/g)].map((m) =>
        decode(m[1].replace(/<\/?wbr>/g, '')),
      )
      expect(items).toContain(subject)
    }
  })
})

describe('verify-command', () => {
  let dir: string
  beforeAll(() => {
    // A stand-in cosign that prints the arguments it was given.
    dir = mkdtempSync(join(tmpdir(), 'signet-fake-cosign-'))
    writeFileSync(
      join(dir, 'cosign'),
      `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)))\n`,
    )
    chmodSync(join(dir, 'cosign'), 0o755)
  })
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  const pasted = (command: string): string[] =>
    JSON.parse(
      execFileSync('bash', ['-c', command], {
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
        encoding: 'utf8',
      }),
    ) as string[]

  it.each([
    ['spaces', 'https://github.com/acme/app/.github/workflows/r.yml@refs/heads/a b'],
    ['a single quote', "https://github.com/acme/app/.github/workflows/r.yml@refs/heads/it's"],
    ['$() and backticks', 'refs/heads/$(echo injected)`id`${HOME}'],
    ['; and &&', 'refs/heads/x; echo injected && echo again | cat'],
    ['globs and ~', '~/*?[a]{b,c}'],
    ['line breaks and control characters', 'a\nb\rc\td\u001b[31me\\f\'g"'],
    ['an empty value', ''],
    ['a leading = and -', '=cmd -x'],
  ])(
    'issue 8.5: pasted into bash, it runs cosign with exactly the identity, issuer and image (%s)',
    (_label, value) => {
      const image = `ghcr.io/acme/app${value}`
      const command = buildVerifyCommand({
        keyless: true,
        identity: {
          subject: value,
          issuer: `https://issuer.example/${value}`,
          extensions: {},
          notBefore: new Date(0),
          notAfter: new Date(0),
        },
        results: [
          {
            image,
            digest: DIGEST,
            mediaType: 'm',
            signed: true,
            signatures: [],
            attestations: [],
          },
        ],
        signatureFormat: 'legacy',
        customInstance: true,
        tlog: false,
        timestamped: true,
      })
      // One line: it is logged, and the summary shows it in a code block.
      expect(command).not.toMatch(/[\r\n]/)
      expect(pasted(command)).toEqual([
        'verify',
        `--certificate-identity=${value}`,
        `--certificate-oidc-issuer=https://issuer.example/${value}`,
        '--trusted-root=trusted_root.json',
        '--use-signed-timestamps',
        '--insecure-ignore-tlog=true',
        '--new-bundle-format=false',
        `${image}@${DIGEST}`,
      ])
    },
  )

  it('keeps plain values unquoted, as before (users and tests paste it as is)', () => {
    const subject = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1'
    const command = buildVerifyCommand({
      keyless: true,
      identity: {
        subject,
        issuer: 'https://token.actions.githubusercontent.com',
        extensions: {},
        notBefore: new Date(0),
        notAfter: new Date(0),
      },
      results: [
        {
          image: 'ghcr.io/acme/app:v1',
          digest: DIGEST,
          mediaType: 'm',
          signed: true,
          signatures: [],
          attestations: [],
        },
      ],
      signatureFormat: 'both',
      customInstance: false,
      tlog: true,
      timestamped: false,
    })
    expect(command).toBe(
      `cosign verify --certificate-identity=${subject} ` +
        `--certificate-oidc-issuer=https://token.actions.githubusercontent.com ghcr.io/acme/app:v1@${DIGEST}`,
    )
  })
})

// --- issue 9.6: a verify summary that fits --------------------------------------------------

const hexOf = (seed: string): string => createHash('sha256').update(seed).digest('hex')
const INDEX_DIGEST = `sha256:${hexOf('payments-api index')}`
const AMD64_DIGEST = `sha256:${hexOf('payments-api linux/amd64')}`
const ARM64_DIGEST = `sha256:${hexOf('payments-api linux/arm64/v8')}`
const NODE_DIGEST = `sha256:${hexOf('node:22-bookworm-slim')}`
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const RELEASE_IDENTITY =
  'https://github.com/acme-corp/payments-api/.github/workflows/build-and-publish.yml@refs/tags/v2.14.0'
const NO_SIGNATURE =
  'expected a signature, got none: no .sig tag and no signature bundle among the referrers ' +
  '(the registry has no referrers API, and no fallback tag sha256-… was found)'
const REKOR_INDEX = 201_584_223

/**
 * A realistic run: an index and its two platforms, signed keyless by a GitHub workflow (cosign
 * on the index only, as build-push-action users do), and a Dockerfile base image with no signature.
 */
function realisticRun(trustRoots = ['Sigstore public good']): VerifyOutcome {
  const signer = {
    identity: RELEASE_IDENTITY,
    issuer: 'https://token.actions.githubusercontent.com',
    repository: 'https://github.com/acme-corp/payments-api',
    workflow: RELEASE_IDENTITY,
    ref: 'refs/tags/v2.14.0',
    trigger: 'push',
    commit: hexOf('commit').slice(0, 40),
    runnerEnvironment: 'github-hosted',
  }
  const name = 'ghcr.io/acme-corp/payments-api'
  const image = `${name}@${INDEX_DIGEST}`
  const rekor = { rekorLogIndex: REKOR_INDEX, rekorIntegratedTime: 1_748_000_000 }
  const covered = {
    image,
    name,
    mediaType: OCI_MANIFEST,
    parent: INDEX_DIGEST,
    verified: true,
    verdict: 'verified' as const,
    coveredBy: 'index signature' as const,
    rule: '.github/image-policy.yml:4',
    signer,
    ...rekor,
    signatures: [],
    attestations: [],
  }
  return {
    mode: 'verify',
    results: [
      {
        image,
        name,
        digest: INDEX_DIGEST,
        mediaType: OCI_INDEX,
        verified: true,
        verdict: 'verified',
        coveredBy: 'own signature',
        rule: '.github/image-policy.yml:4',
        signer,
        ...rekor,
        signatures: [
          {
            format: 'bundle',
            reference: `${name}@sha256:${hexOf('signature bundle')}`,
            verified: true,
            signer,
            ...rekor,
          },
        ],
        attestations: [
          {
            format: 'bundle',
            reference: `${name}@sha256:${hexOf('provenance bundle')}`,
            predicateType: 'https://slsa.dev/provenance/v1',
            verified: true,
          },
        ],
      },
      { ...covered, digest: AMD64_DIGEST, platform: 'linux/amd64' },
      { ...covered, digest: ARM64_DIGEST, platform: 'linux/arm64/v8' },
      {
        image: 'node:22-bookworm-slim',
        name: 'docker.io/library/node',
        digest: NODE_DIGEST,
        mediaType: OCI_INDEX,
        dockerfile: { file: 'docker/Dockerfile', line: 3, use: 'FROM' },
        verified: false,
        verdict: 'failed',
        rule: '.github/image-policy.yml:9',
        reason: NO_SIGNATURE,
        signatures: [],
        attestations: [],
      },
    ],
    verified: false,
    enforce: true,
    policySource: '.github/image-policy.yml',
    trustRoots,
    notes: [],
  }
}

/** Monospace columns: an emoji takes two, a variation selector none. */
function columns(text: string): number {
  return [...text].reduce(
    (n, c) => n + (/\p{Extended_Pictographic}/u.test(c) ? 2 : /[\uFE00-\uFE0F]/.test(c) ? 0 : 1),
    0,
  )
}

/** A row as read: each cell as wide as its widest line. */
const rowWidth = (cells: string[]): number =>
  cells.reduce((sum, cell) => sum + Math.max(...cellLines(cell).map(columns)), 0)

/** The target: about what GitHub's summary shows without scrolling, in monospace characters. */
const SUMMARY_WIDTH = 120

/** Each `<details>` block: its summary, and its list items' own text (nested lists split off). */
function detailsOf(html: string): { summary: string; items: string[] }[] {
  return [...html.matchAll(/<details><summary>([\s\S]*?)<\/summary>([\s\S]*?)<\/details>/g)].map(
    ([, summary, body]) => ({
      summary: cellLines(summary).join('\n'),
      items: [...body.matchAll(/<li>((?:(?!<\/?li>|<ul>)[\s\S])*)/g)].map((m) =>
        // A link's text, as read (the Rekor test checks where links go).
        cellLines(m[1].trim().replace(/<\/?a\b[^>]*>/g, '')).join('\n'),
      ),
    }),
  )
}

describe('issue 9.6: the verify summary of a realistic run, rendered as GitHub renders it', () => {
  it('issue 9.6: one row per image: name, short digest, platform, verdict with what covered it, signer, found', () => {
    const html = render(verifySummary(realisticRun()))
    const [table, ...others] = tables(html)
    expect(others).toEqual([])
    expect(table.head).toEqual(['image', 'digest', 'platform', 'verdict', 'signer', 'found'])
    const signer = ['acme-corp/payments-api', 'build-and-publish.yml', '@refs/tags/v2.14.0']
    const short = (d: string): string => `${d.slice(0, 19)}…`
    expect(table.rows.map((cells) => cells.map(cellLines))).toEqual([
      [
        ['ghcr.io/acme-corp/payments-api'],
        [short(INDEX_DIGEST)],
        ['index'],
        ['✅ verified', '(own signature)'],
        signer,
        ['1 signature (bundle)', '✅ SLSA provenance v1'],
      ],
      [
        ['ghcr.io/acme-corp/payments-api'],
        [short(AMD64_DIGEST)],
        ['linux/amd64'],
        ['✅ verified', '(index signature)'],
        signer,
        ['—'],
      ],
      [
        ['ghcr.io/acme-corp/payments-api'],
        [short(ARM64_DIGEST)],
        ['linux/arm64/v8'],
        ['✅ verified', '(index signature)'],
        signer,
        ['—'],
      ],
      [
        ['node:22-bookworm-slim', 'docker/Dockerfile:3 FROM'],
        [short(NODE_DIGEST)],
        ['index'],
        ['❌ not verified', 'expected a signature, got none…'],
        ['—'],
        ['—'],
      ],
    ])
  })

  it('issue 9.6: no full digest or identity in the table; each is in its image’s details, with the whole reason', () => {
    const html = render(verifySummary(realisticRun()))
    const table = /<table>[\s\S]*<\/table>/.exec(html)?.[0] ?? ''
    for (const digest of [INDEX_DIGEST, AMD64_DIGEST, ARM64_DIGEST, NODE_DIGEST])
      expect(decode(table)).not.toContain(digest)
    expect(decode(table.replace(/<wbr>/g, ''))).not.toContain(RELEASE_IDENTITY)
    const [app, node, ...others] = detailsOf(html)
    expect(others).toEqual([])
    expect(app.summary).toBe('ghcr.io/acme-corp/payments-api')
    expect(app.items).toEqual(
      expect.arrayContaining([
        `index ${INDEX_DIGEST}: ✅ verified (own signature)`,
        `image: ghcr.io/acme-corp/payments-api@${INDEX_DIGEST}`,
        `identity: ${RELEASE_IDENTITY}`,
        'issuer: https://token.actions.githubusercontent.com',
        `Rekor entry: ${REKOR_INDEX} (2025-05-23T11:33:20Z)`,
        `linux/amd64 ${AMD64_DIGEST}: ✅ verified (index signature)`,
        `linux/arm64/v8 ${ARM64_DIGEST}: ✅ verified (index signature)`,
      ]),
    )
    expect(node.summary).toBe('node:22-bookworm-slim (docker/Dockerfile:3 FROM)')
    expect(node.items).toEqual(
      expect.arrayContaining([`index ${NODE_DIGEST}: ❌ not verified`, `reason: ${NO_SIGNATURE}`]),
    )
  })

  it(`issue 9.6: its widest row is at most ${SUMMARY_WIDTH} characters of text`, () => {
    const html = render(verifySummary(realisticRun()))
    const { head, rows } = tables(html)[0]
    const widths = [head, ...rows].map(rowWidth)
    expect(Math.max(...widths)).toBeLessThanOrEqual(SUMMARY_WIDTH)
  })

  it('issue 9.6: a public-good Rekor entry links to its search page; another root’s index is text', () => {
    const link = `<a href="https://search.sigstore.dev/?logIndex=${REKOR_INDEX}">${REKOR_INDEX}</a>`
    for (const root of ['Sigstore public good', 'Sigstore public good (embedded)']) {
      const html = render(verifySummary(realisticRun([root])))
      expect([...html.matchAll(/<a\b[^>]*>[^<]*<\/a>/g)].map((m) => m[0])).toEqual([link])
    }
    for (const roots of [['sigstore.internal.example'], ['Sigstore public good', 'ghes.example']]) {
      const html = render(verifySummary(realisticRun(roots)))
      expect(html).not.toMatch(/<a\b/)
      expect(detailsOf(html)[0].items).toContain(
        `Rekor entry: ${REKOR_INDEX} (2025-05-23T11:33:20Z)`,
      )
    }
  })
})
