import {
  middleEllipsis,
  reasonLine,
  verifyAnnotations,
  verifyOutputs,
  verifySummary,
} from '../../src/report/verify-summary'
import type { VerifyImageResult, VerifyOutcome } from '../../src/report/types'

const DIGEST = `sha256:${'a'.repeat(64)}`
const CHILD = `sha256:${'b'.repeat(64)}`

function result(extra: Partial<VerifyImageResult>): VerifyImageResult {
  return {
    image: `ghcr.io/acme/app@${DIGEST}`,
    name: 'ghcr.io/acme/app',
    digest: DIGEST,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    verified: true,
    verdict: 'verified',
    signatures: [],
    attestations: [],
    ...extra,
  }
}

function outcome(results: VerifyImageResult[], extra: Partial<VerifyOutcome> = {}): VerifyOutcome {
  return {
    mode: 'verify',
    results,
    verified: results.every((r) => r.verdict !== 'failed'),
    enforce: true,
    policySource: '.github/image-policy.yml',
    trustRoots: ['Sigstore public good'],
    notes: [],
    ...extra,
  }
}

const verified = result({
  signer: {
    identity: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
    issuer: 'https://token.actions.githubusercontent.com',
    repository: 'https://github.com/acme/app',
    workflow: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
    trigger: 'push',
    commit: 'a1b2c3d4e5f6a7b8',
  },
  rekorLogIndex: 42,
  rekorIntegratedTime: 1_700_000_000,
  signatures: [
    { format: 'bundle', reference: 'r1', verified: true },
    { format: 'legacy', reference: 'r2', verified: false, checked: false, reason: 'not checked' },
  ],
  attestations: [
    {
      format: 'legacy',
      reference: 'r3',
      predicateType: 'https://cyclonedx.org/bom',
      verified: true,
    },
  ],
})

describe('the verify report', () => {
  // Issue 9.6 moved the source, workflow and Rekor entry out of the table into the details.
  it('tables each image with its verdict, what was found and the signer; details give source and Rekor entry', () => {
    const md = verifySummary(outcome([verified]))
    expect(md).toContain('## Signet: ✅ 1 of 1 image(s) verified')
    expect(md).toContain('| image | digest | platform | verdict | signer | found |')
    const row = md.split('\n').find((l) => l.includes('sha256:aaaaaaaaaaaa…'))!
    expect(row).toBe(
      '| ghcr.io/acme/app | `sha256:aaaaaaaaaaaa…` | index | ✅ verified | ' +
        'acme/app<br>release.yml<br>&#64;<wbr>refs/tags/v1 | ' +
        '2 signatures (bundle, `.sig`)<br>✅ CycloneDX SBOM |',
    )
    // Outside text as character references (summary-render.test.ts renders them): `:` and `@`
    // with a <wbr> after them, so that no autolink forms.
    expect(md).toContain('  - issuer: `https://token.actions.githubusercontent.com`')
    expect(md).toContain('  - source repository: https&#58;<wbr>//github.com/acme/app')
    expect(md).toContain('  - trigger: push')
    expect(md).toContain('  - commit: `a1b2c3d4e5f6a7b8`')
    expect(md).toContain(
      '  - Rekor entry: [&#52;2](https&#58;//search.sigstore.dev/&#63;logIndex&#61;42) (2023-11-14T22:13:20Z)',
    )
    expect(md).toContain('  - attestation `https://cyclonedx.org/bom` (`.att`): ✅ verified')
    expect(md).toContain('Policy: &#46;github/image-policy.yml. Trust roots: Sigstore public good.')
  })

  it('issue 11: says in the details which places were not read, and why', () => {
    const unread =
      "cosign's .sig and .att tags not read: this image verified without them, and its rule needs nothing more"
    const md = verifySummary(outcome([{ ...verified, unread }]))
    expect(md).toContain(
      "  - cosign's .sig and .att tags not read&#58;<wbr> this image verified without them, and its rule needs nothing more",
    )
    expect(verifySummary(outcome([verified]))).not.toContain('not read')
  })

  it('escapes what signatures and registries say, so it cannot break or inject markdown', () => {
    const hostile = result({
      verified: false,
      verdict: 'failed',
      reason: 'expected identity "x", got a|b <img src=x> [link](http://evil)\n| injected |',
    })
    const md = verifySummary(outcome([hostile]))
    const row = md.split('\n').find((l) => l.startsWith('| ') && l.includes('❌'))!
    // Issue 8.5: character references, not backslashes (the autolink extension swallowed those).
    // Issue 9.6: the table shows the reason's first line; the details give it whole.
    expect(row).toContain('❌ not verified<br>expected identity "x", got a&#124;b &#60;img&#8230;')
    expect(md).toContain(
      'a&#124;b &#60;img src=x&#62; &#91;link&#93;(http&#58;<wbr>//evil)&#10;&#124; injected &#124;',
    )
    // Still one row of six cells: no pipe was added.
    expect(row.split('|').length - 2).toBe(6)
  })

  it('says audit mode, and warns about choices that weaken verification', () => {
    const md = verifySummary(
      outcome([result({ verified: false, verdict: 'failed', reason: 'r' })], {
        enforce: false,
        notes: ['tlog: false — key-signed signatures are accepted without a log'],
      }),
    )
    expect(md).toContain('## Signet: ⚠️ 0 of 1 image(s) verified (audit mode: not enforced)')
    expect(md).toContain(
      '> [!WARNING]\n> tlog&#58;<wbr> false &#8212; key-signed signatures are accepted',
    )
  })

  it('annotates each failed image, on its FROM line when it has one, and names platforms', () => {
    const annotations = verifyAnnotations(
      outcome([
        verified,
        result({
          image: 'node:20',
          digest: DIGEST,
          verified: false,
          verdict: 'failed',
          reason: 'expected a signature, got none',
          dockerfile: { file: 'Dockerfile', line: 3, use: 'FROM' },
        }),
        result({
          digest: CHILD,
          parent: DIGEST,
          platform: 'linux/arm64',
          verified: false,
          verdict: 'failed',
          reason: 'no',
        }),
        result({ verified: false, verdict: 'skipped', reason: 'unmatched' }),
      ]),
    )
    expect(annotations).toEqual([
      {
        message: `FROM node:20 (${DIGEST}) is not verified: expected a signature, got none`,
        file: 'Dockerfile',
        line: 3,
      },
      {
        message: `ghcr.io/acme/app@${DIGEST} (its linux/arm64 manifest ${CHILD}) is not verified: no`,
      },
    ])
  })

  it('sets verified and results', () => {
    const o = outcome([verified])
    expect(verifyOutputs(o)).toEqual({ verified: 'true', results: JSON.stringify([verified]) })
  })

  it('issue 9.6: a platform row says what covered it, whenever the result says', () => {
    const index = result({ coveredBy: 'own signature' })
    const platform = (coveredBy?: VerifyImageResult['coveredBy']): VerifyImageResult =>
      result({ digest: CHILD, parent: DIGEST, platform: 'linux/arm64', coveredBy })
    const rows = verifySummary(
      outcome([index, platform('index signature'), platform('own signature'), platform()]),
    )
      .split('\n')
      .filter((l) => l.startsWith('| ghcr.io'))
      .map((l) => l.split(' | ')[3])
    expect(rows).toEqual([
      '✅ verified<br>(own signature)',
      '✅ verified<br>(index signature)',
      '✅ verified<br>(own signature)',
      '✅ verified',
    ])
  })

  it('issue 9.6: Dockerfile rows show file:line, the use and the build context; skipped rows stay listed', () => {
    const md = verifySummary(
      outcome([
        result({
          image: 'base',
          name: '',
          digest: '',
          mediaType: '',
          dockerfile: { file: 'Dockerfile', line: 1, use: 'COPY --from', context: 'base=./dir' },
          verified: false,
          verdict: 'skipped',
          reason: 'replaced by build context base=./dir: nothing is pulled from a registry for it',
        }),
      ]),
    )
    expect(md).toContain('## Signet: ✅ 0 of 0 image(s) verified')
    expect(md).toContain(
      '| base<br>Dockerfile&#58;<wbr>1 COPY --from<br>build context base=./dir | — | — | ' +
        '➖ skipped<br>replaced by build context base=./dir&#8230; | — | — |',
    )
    expect(md).toContain(
      '  - reason: replaced by build context base=./dir&#58;<wbr> nothing is pulled from a registry for it',
    )
  })

  it('issue 9.6: the image column names the image as written, without its digest', () => {
    const md = verifySummary(
      outcome([
        result({ image: `ghcr.io/acme/app:v1@${DIGEST}` }),
        result({ image: 'ghcr.io/acme/app:v1' }),
      ]),
    )
    const names = md
      .split('\n')
      .filter((l) => l.startsWith('| ghcr.io'))
      .map((l) => l.split(' | ')[0])
    expect(names).toEqual(['| ghcr.io/acme/app&#58;<wbr>v1', '| ghcr.io/acme/app&#58;<wbr>v1'])
    expect(md).toContain(`  - image: \`ghcr.io/acme/app:v1@${DIGEST}\``)
  })

  it('issue 9.6: a long reason is cut at its first clause or a word, with …; a short one is whole', () => {
    expect(reasonLine('expected a signature, got none: no .sig tag and no bundle')).toBe(
      'expected a signature, got none…',
    )
    expect(reasonLine('expected a signature, got none')).toBe('expected a signature, got none')
    expect(reasonLine('a\nb')).toBe('a b')
    const long = reasonLine(
      'expected identity https://github.com/acme/app/.github/workflows/release.yml, got another',
    )
    expect([...long].length).toBeLessThanOrEqual(40)
    // No clause or word boundary in reach: cut where the line ends.
    expect(long).toBe('expected identity https://github.com/ac…')
    expect(middleEllipsis('abcdefghij', 5)).toBe('ab…ij')
    expect(middleEllipsis('abc', 5)).toBe('abc')
  })
})
