/**
 * Issue 13.2: the CLI's pure halves: argv read into the action's inputs, and the outcome laid out
 * for a terminal with nothing others chose able to act on it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { parseArgs } from '../../src/cli/args'
import { runCli, type CliIo } from '../../src/cli/main'
import { renderSignOutcome, renderVerifyOutcome, terminalText } from '../../src/cli/render'
import type { SignOutcome, VerifyOutcome } from '../../src/report/types'
import { errorOf } from '../infra/expect'

const DIGEST = `sha256:${'ab'.repeat(32)}`

describe('parseArgs', () => {
  it('reads flags named as the inputs, in both spellings, lists adding up', () => {
    const args = parseArgs([
      'sign',
      '--images',
      'a',
      '--images=b,c',
      '--signature-format=bundle',
      '--provenance',
      '--no-tlog',
      '--tsa-url',
      'http://tsa',
      '--output',
      'json',
      '--identity-token=eyJ.x.y',
    ])
    expect(args.command).toBe('sign')
    expect(args.inputs).toEqual({
      images: 'a\nb,c',
      'signature-format': 'bundle',
      provenance: 'true',
      tlog: 'false',
      'tsa-url': 'http://tsa',
    })
    expect([args.output, args.identityToken]).toEqual(['json', 'eyJ.x.y'])
    expect(parseArgs(['verify', '--enforce', 'false', '--images', 'x']).inputs).toEqual({
      enforce: 'false',
      images: 'x',
    })
  })

  it.each([
    [['publish'], /unknown command "publish"/, undefined],
    [['sign', '--frobnicate=1'], /unknown flag --frobnicate/, 'frobnicate'],
    [['sign', '--images'], /flag --images needs a value/, 'images'],
    [['sign', '--key', '--images', 'x'], /flag --key needs a value/, 'key'],
    [['sign', '--key=a', '--key=b'], /flag --key is given twice/, 'key'],
    [['sign', '--mode=verify'], /--mode is the command here/, 'mode'],
    [['sign', '--summary=true'], /--summary is the action's only/, 'summary'],
    [['sign', '--output=yaml'], /--output must be table or json/, 'output'],
    [['sign', 'stray'], /unexpected argument "stray"/, undefined],
  ])('refuses %j with one clear message', (argv, message, input) => {
    const err = errorOf(() => parseArgs(argv))
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.message).toMatch(message)
    expect(err.input).toBe(input)
  })
})

function io(
  env: NodeJS.ProcessEnv = {},
  cwd = '/nonexistent',
): CliIo & { out: string; err: string } {
  const sink = {
    out: '',
    err: '',
    env,
    tty: false,
    cwd,
    stdout: (t: string) => {
      sink.out += t
    },
    stderr: (t: string) => {
      sink.err += t
    },
  }
  return sink
}

describe('runCli', () => {
  it('--help and --version answer on stdout with 0; no command is a usage error', async () => {
    const help = io()
    expect(await runCli(['--help'], help)).toBe(0)
    expect(help.out).toMatch(/^Usage: signet <sign\|verify\|policy>/)
    const none = io()
    expect(await runCli([], none)).toBe(1)
    expect(none.err).toMatch(/^Usage/)
    const version = io()
    expect(await runCli(['--version'], version)).toBe(0)
    expect(version.out).toMatch(/^signet \d+\.\d+\.\d+\n$/)
  })

  it('bad input is one error line naming the flag, exit 1, and no secret in it', async () => {
    const run = io()
    const status = await runCli(
      [
        'sign',
        '--images=x',
        '--registry-username=u',
        '--registry-password=s3cret-value',
        '--signature-format=nope',
      ],
      run,
    )
    expect(status).toBe(1)
    expect(run.err).toBe(
      'error: input signature-format must be one of legacy, bundle, both, not "nope" (--signature-format)\n',
    )
    expect(run.out + run.err).not.toContain('s3cret-value')
    const token = io({ SIGSTORE_ID_TOKEN: '' })
    expect(await runCli(['sign', '--images=localhost:1/a@' + DIGEST], token)).toBe(1)
    expect(token.err).toMatch(/^error: keyless signing needs an OIDC token/)
  })
})

const hostile = 'evil\u001b]0;owned\u0007\u001b[2J\rverified\u202eoops'

describe('terminal rendering', () => {
  it('turns every control character others chose into text', () => {
    expect(terminalText(hostile)).toBe('evil?]0;owned??[2J?verified?oops')
  })

  it('lays out a verify outcome; a hostile reason cannot reach the terminal as a command', () => {
    const outcome: VerifyOutcome = {
      mode: 'verify',
      verified: false,
      enforce: true,
      policySource: 'inputs',
      trustRoots: [],
      notes: [`note with ${hostile}`],
      results: [
        {
          image: `ghcr.io/acme/app@${DIGEST}`,
          name: 'ghcr.io/acme/app',
          digest: DIGEST,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          verdict: 'verified',
          verified: true,
          signer: {
            identity: 'https://github.com/acme/app/.github/workflows/p.yml@refs/heads/main',
          },
          signatures: [],
          attestations: [],
        },
        {
          image: `reg.example/${'x'.repeat(10)}:1`,
          name: 'reg.example/xxxxxxxxxx',
          digest: DIGEST,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          verdict: 'failed',
          verified: false,
          reason: hostile,
          dockerfile: { file: 'Dockerfile', line: 3, use: 'FROM' },
          signatures: [],
          attestations: [],
        },
      ],
    }
    const text = renderVerifyOutcome(outcome, { color: false })
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^IMAGE +VERDICT +SIGNER \/ REASON$/)
    expect(lines[1]).toMatch(
      /^ghcr\.io\/acme\/app@sha256:abababababab… +verified {2}https:\/\/github/,
    )
    expect(lines[2]).toMatch(
      /^reg\.example\/x{10}@sha256:abababababab… \[Dockerfile:3\] +FAILED {4}evil\?/,
    )
    // Columns line up: the verdicts start at one offset.
    expect(lines[1].indexOf('verified')).toBe(lines[2].indexOf('FAILED'))
    expect(text).toContain('1 verified, 1 failed')
    // Colour, when asked for, is Signet's own and only around its own words.
    const coloured = renderVerifyOutcome(outcome, { color: true })
    expect(coloured).toContain('\u001b[31mFAILED  \u001b[0m')
    expect(coloured.replace(/\u001b\[\d+m/g, '')).toBe(text)
  })

  it('lays out a sign outcome with what was written and the verify command', () => {
    const outcome: SignOutcome = {
      mode: 'sign',
      signed: false,
      bundleCount: 1,
      keyless: true,
      identity: {
        subject: 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main',
        issuer: 'https://gitlab.com',
        extensions: {},
        notBefore: new Date(0),
        notAfter: new Date(0),
      },
      verifyCommand: "cosign verify --certificate-identity='x' ghcr.io/acme/app@sha256:ab",
      signatureFormat: 'both',
      customInstance: false,
      tlog: true,
      timestamped: false,
      errors: [],
      results: [
        {
          image: 'ghcr.io/acme/app',
          digest: DIGEST,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          signed: true,
          signatures: [
            { format: 'legacy', reference: 'r', rekorLogIndex: 7 },
            { format: 'bundle', reference: 'r', rekorLogIndex: 8 },
          ],
          attestations: [
            { predicateType: 'p', format: 'bundle', reference: 'r', rekorLogIndex: 9 },
          ],
        },
        {
          image: 'ghcr.io/acme/other',
          digest: DIGEST,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          platform: 'linux/arm64',
          signed: false,
          signatures: [],
          attestations: [],
          error: `registry said ${hostile}`,
        },
      ],
    }
    const text = renderSignOutcome(outcome, { color: false })
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202e]/)
    const lines = text.split('\n')
    expect(lines[1]).toMatch(/ signed {6}\.sig, bundle, 1 attestation record\(s\) +7, 8, 9$/)
    expect(lines[2]).toMatch(/\(linux\/arm64\) +NOT SIGNED +registry said evil\?/)
    expect(text).toContain(
      '1 of 2 signed, by https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main (issuer https://gitlab.com)',
    )
    expect(text).toContain("verify with: cosign verify --certificate-identity='x'")
  })
})

/** What the tests read of a generated resource. */
interface Resource {
  kind: string
  spec: {
    validationFailureAction?: string
    mode?: string
    rules?: { verifyImages: { type: string }[] }[]
  }
}

describe('signet policy (issue 13.3 through the CLI)', () => {
  const policyText = [
    'rules:',
    '  - name: our base images',
    '    images: ghcr.io/acme/**',
    '    signers:',
    '      - identityRegexp: https://github\\.com/acme/base/\\.github/workflows/release\\.yml@refs/tags/v.*',
    '        issuer: https://token.actions.githubusercontent.com',
    '    attestations:',
    '      - type: cyclonedx',
    '        bannedComponents: [log4j-core]',
    '  - images: "**"',
    '    signers:',
    '      - identity: https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main',
    '        issuer: https://gitlab.com',
    '',
  ].join('\n')

  function cwdWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'signet-cli-policy-'))
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
    return dir
  }

  it('writes the Kyverno policy and the ClusterImagePolicies the file asks for', async () => {
    const run = io({}, cwdWith({ 'policy.yml': policyText }))
    const status = await runCli(
      ['policy', '--policy', 'policy.yml', '--admission-mode=enforce', '--signature-format=bundle'],
      run,
    )
    expect([status, run.err]).toEqual([0, expect.any(String)])
    const docs = parseAllDocuments(run.out).map((d) => d.toJS() as Resource)
    expect(docs[0].kind).toBe('ClusterPolicy')
    expect(docs[0].spec.validationFailureAction).toBe('Enforce')
    const rules = docs[0].spec.rules ?? []
    expect(rules.map((r) => r.verifyImages[0].type)).toEqual(['SigstoreBundle', 'SigstoreBundle'])
    expect(JSON.stringify(rules[1])).toContain(
      'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main',
    )
    expect(JSON.stringify(rules[0])).toContain('log4j-core')
    // policy-controller has no banned-package check: no ClusterImagePolicy, and a warning why.
    expect(docs).toHaveLength(1)
    expect(run.err).toMatch(/^warning: no ClusterImagePolicy: .*bannedComponents/m)
    const plain = io(
      {},
      cwdWith({ 'policy.yml': policyText.replace(/ +bannedComponents.*\n/, '') }),
    )
    expect(await runCli(['policy', '--policy=policy.yml'], plain)).toBe(0)
    const both = parseAllDocuments(plain.out).map((d) => d.toJS() as Resource)
    expect(both.map((d) => d.kind)).toEqual([
      'ClusterPolicy',
      'ClusterImagePolicy',
      'ClusterImagePolicy',
    ])
    expect(both[0].spec.validationFailureAction).toBe('Audit')
    expect(both.slice(1).map((d) => d.spec.mode)).toEqual(['warn', 'warn'])
  })

  it('refuses what it cannot honour, with one error line', async () => {
    const cwd = cwdWith({ 'policy.yml': policyText })
    for (const [argv, message] of [
      [['policy'], /needs --policy/],
      [['policy', '--policy=missing.yml'], /cannot read missing\.yml/],
      [['policy', '--policy=policy.yml', '--images=x'], /--images is not used by signet policy/],
      [
        ['policy', '--policy=policy.yml', '--admission-mode=loud'],
        /--admission-mode must be one of/,
      ],
    ] as [string[], RegExp][]) {
      const run = io({}, cwd)
      expect(await runCli(argv, run)).toBe(1)
      expect(run.err).toMatch(message)
      expect(run.err.trim().split('\n')).toHaveLength(1)
      expect(run.out).toBe('')
    }
  })
})
