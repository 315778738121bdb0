import { verifyAnnotations, verifyOutputs, verifySummary } from '../../src/report/verify-summary'
import type { VerifyImageResult, VerifyOutcome } from '../../src/verify/run'

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
  it('tables each image with its verdict, what was found, the signer, source and Rekor entry', () => {
    const md = verifySummary(outcome([verified]))
    expect(md).toContain('## Signet: ✅ 1 of 1 image(s) verified')
    const row = md.split('\n').find((l) => l.includes('sha256:aaaaaaaaaaaa…'))!
    expect(row).toContain('✅ verified')
    expect(row).toContain('2 signature(s) (bundle, `.sig`)')
    expect(row).toContain('✅ `https://cyclonedx.org/bom` (`.att`)')
    // Outside text as character references (summary-render.test.ts renders them): `:` and `@`
    // with a <wbr> after them, so that no autolink forms.
    expect(row).toContain('issuer https&#58;<wbr>//token.actions.githubusercontent.com')
    expect(row).toContain(
      'acme/app<br>acme/app/.github/workflows/release.yml&#64;<wbr>refs/tags/v1<br>on push',
    )
    expect(row).toContain('42 (2023-11-14T22:13:20Z)')
    expect(md).toContain('Policy: &#46;github/image-policy.yml. Trust roots: Sigstore public good.')
  })

  it('escapes what signatures and registries say, so it cannot break or inject markdown', () => {
    const hostile = result({
      verified: false,
      verdict: 'failed',
      reason: 'expected identity "x", got a|b <img src=x> [link](http://evil)\n| injected |',
    })
    const row = verifySummary(outcome([hostile]))
      .split('\n')
      .find((l) => l.startsWith('| ') && l.includes('❌'))!
    // Issue 8.5: character references, not backslashes (the autolink extension swallowed those).
    expect(row).toContain(
      'a&#124;b &#60;img src=x&#62; &#91;link&#93;(http&#58;<wbr>//evil)&#10;&#124; injected &#124;',
    )
    // Still one row of seven cells: no pipe was added.
    expect(row.split('|').length - 2).toBe(7)
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
})
