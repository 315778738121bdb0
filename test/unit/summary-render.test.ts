/**
 * The job summaries rendered as GitHub renders them: cmark-gfm with the table and autolink
 * extensions (and strikethrough), raw HTML kept. Text that signers, registries and Dockerfiles
 * control must come out as text, each value in its own cell, with no tag Signet did not write.
 * And verify-command, pasted into bash, must run cosign with exactly the values it names.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SignOutcome } from '../../src/main'
import { buildVerifyCommand } from '../../src/report/verify-command'
import type { ImageResult } from '../../src/report/types'
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

const decode = (text: string): string =>
  text
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')

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
])

describe('the verify summary, rendered as GitHub renders it', () => {
  it('issue 8.5: hostile identities, reasons, images and predicate types stay text, each in its own cell', () => {
    const html = render(verifySummary(verifyOutcome(HOSTILE.map(verifyResult))))
    for (const tag of tagNames(html)) expect(VERIFY_TAGS).toContain(tag)
    const [table, ...others] = tables(html)
    expect(others).toEqual([])
    expect(table.head).toHaveLength(7)
    expect(table.rows).toHaveLength(HOSTILE.length)
    table.rows.forEach((cells, i) => {
      const h = HOSTILE[i]
      expect(cells).toHaveLength(7)
      const [image, digest, verdict, found, signer, source, rekor] = cells.map(cellLines)
      expect(image).toEqual([`${h} (${h})`, `${h}:3 FROM`])
      expect(digest).toEqual([SHORT])
      expect(verdict).toEqual([`❌ ${h}`])
      expect(found).toEqual(['1 signature(s) (bundle)', `➖ ${h} (.att)`])
      expect(signer).toEqual([h, `issuer ${h}`])
      // Repository and workflow are shown without the https://github.com/ every one starts with.
      const repo = h.replace(/^https:\/\/github\.com\//, '')
      expect(source).toEqual([repo, repo, `on ${h}`, h.slice(0, 12)])
      expect(rekor).toEqual(['7'])
    })
  })

  it('issue 8.5: an identity URL that autolinks renders as text, not as a link or an <img>', () => {
    const identity =
      'https://github.com/x/y/.github/workflows/w.yml@refs/heads/<img src=x onerror=alert(1)>'
    const html = render(verifySummary(verifyOutcome([verifyResult(identity)])))
    expect(html).not.toMatch(/<a\b/)
    expect(html).not.toMatch(/<img\b/)
    expect(cellLines(tables(html)[0].rows[0][4])[0]).toBe(identity)
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
    expect(cellLines(rows[0][3])).toEqual([
      '1 signature(s) (bundle)',
      `➖ ${predicateType} (bundle)`,
    ])
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
