import { spawnSync } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildSync } from 'esbuild'
import { oneLine } from '../../src/report/summary'
import { GitHubOidcProvider } from '../../src/sigstore/oidc'
import type { VerifyImageResult, VerifyOutcome } from '../../src/report/types'

const ROOT = join(__dirname, '..', '..')
const MARK = '@@signet-test-call-end@@'

type Call = ['info' | 'warning' | 'mask', string] | ['verify', VerifyOutcome]

/**
 * What each call to the runner logger writes to stdout, through the real @actions/core (ESM-only,
 * so bundled and run in a child as the action runs), split into lines as the runner reads them.
 */
function runnerStdout(calls: Call[]): string[][] {
  const bundle = buildSync({
    stdin: {
      contents: `
        import { actionsLogger, reportOutcome } from './src/action/report'
        const calls = JSON.parse(require('node:fs').readFileSync(0, 'utf8'))
        ;(async () => {
          for (const [kind, arg] of calls) {
            if (kind === 'verify') await reportOutcome(arg, { summary: false })
            else actionsLogger[kind](arg)
            process.stdout.write('\\n${MARK}\\n')
          }
          process.exitCode = 0
        })()`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  })
  const dir = mkdtempSync(join(tmpdir(), 'signet-logger-'))
  const script = join(dir, 'logger.cjs')
  writeFileSync(script, bundle.outputFiles[0].text)
  const run = spawnSync(process.execPath, [script], {
    input: JSON.stringify(calls),
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
  })
  rmSync(dir, { recursive: true, force: true })
  if (run.status !== 0) throw new Error(`the logger child failed: ${run.error ?? run.stderr}`)
  return run.stdout
    .split(`\n${MARK}\n`)
    .slice(0, calls.length)
    .map((out) => out.split(/\r\n|\r|\n/).filter((l) => l !== ''))
}

describe('log lines (actionsLogger.info writes each through oneLine)', () => {
  it('keep quoted text on one line, so it cannot start a workflow command', () => {
    expect(oneLine('❌ image: got evil\n::add-mask::secret\r\n::error::no')).toBe(
      '❌ image: got evil ::add-mask::secret ::error::no',
    )
    expect(oneLine('plain')).toBe('plain')
  })
})

/**
 * A stdout line as the runner reads it (actions/runner ActionCommand): `::name k=v,…::data` at the
 * start after leading white space, or else the legacy `##[name k=v;…]data` anywhere in the line.
 */
interface RunnerCommand {
  command: string
  properties: Record<string, string>
  data: string
}

const unescapeData = (s: string): string =>
  s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
const unescapeProperty = (s: string): string =>
  unescapeData(s.replace(/%3A/g, ':').replace(/%2C/g, ','))

function runnerCommand(line: string): RunnerCommand | undefined {
  const trimmed = line.trimStart()
  if (trimmed.startsWith('::')) {
    const end = trimmed.indexOf('::', 2)
    if (end < 0) return undefined
    const info = trimmed.slice(2, end)
    const space = info.indexOf(' ')
    const properties: Record<string, string> = {}
    if (space >= 0) {
      for (const pair of info.slice(space + 1).split(',')) {
        const eq = pair.indexOf('=')
        if (eq > 0) properties[pair.slice(0, eq)] = unescapeProperty(pair.slice(eq + 1))
      }
    }
    const command = space < 0 ? info : info.slice(0, space)
    return { command, properties, data: unescapeData(trimmed.slice(end + 2)) }
  }
  const legacy = /##\[([^\] ;]+)[^\]]*\](.*)$/.exec(line)
  return legacy ? { command: `legacy ${legacy[1]}`, properties: {}, data: legacy[2] } : undefined
}

/** What a registry, a signer or a pull request's Dockerfile can put in a message or a file name. */
const HOSTILE = [
  'evil\n::add-mask::secret',
  'evil\r::error file=x.yml,line=1::forged',
  '  ::warning::leading space',
  '::stop-commands::tok',
  'mid ##[error]legacy form ##[stop-commands]tok',
  'evil\u2028::error::line separator\u0085::error::nel',
  'color \u001b[8mhidden\u001b[0m and a bell \u0007',
  '%0A::error::percent-encoded',
]

describe('workflow commands from text others control', () => {
  it('issue 8.5: a log line cannot start a workflow command, in the current or the legacy form', () => {
    for (const lines of runnerStdout(HOSTILE.map((text) => ['info', text]))) {
      expect(lines).toHaveLength(1)
      expect(runnerCommand(lines[0])).toBeUndefined()
      expect(lines[0]).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/)
    }
  })

  it('issue 8.5: warnings stay one command each, with no properties of their own', () => {
    for (const lines of runnerStdout(HOSTILE.map((text) => ['warning', text]))) {
      expect(lines.map(runnerCommand)).toEqual([
        { command: 'warning', properties: {}, data: expect.not.stringMatching(/[\r\n]/) },
      ])
    }
  })

  it('issue 8.5: an annotation on a hostile file, for a hostile image and reason, is one command with only file and line', () => {
    const results: VerifyImageResult[] = HOSTILE.map((text, i) => ({
      image: `ghcr.io/acme/app:${i} ${text}`,
      name: 'ghcr.io/acme/app',
      digest: `sha256:${'a'.repeat(64)}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      dockerfile: { file: `Dockerfile,line=9,title=x:y ${text}`, line: 3, use: 'FROM' },
      verified: false,
      verdict: 'failed',
      reason: `expected a signature, got ${text}`,
      signatures: [],
      attestations: [],
    }))
    const outcome = (enforce: boolean): VerifyOutcome => ({
      mode: 'verify',
      results,
      verified: false,
      enforce,
      policySource: 'inputs',
      trustRoots: [],
      notes: [],
    })
    const runs = runnerStdout([
      ['verify', outcome(true)],
      ['verify', outcome(false)],
    ])
    runs.forEach((lines, run) => {
      const enforce = run === 0
      const commands = lines.map(runnerCommand)
      // Every line is a command Signet meant: outputs, then one annotation per image.
      expect(commands.map((c) => c?.command)).toEqual([
        'set-output',
        'set-output',
        ...results.map(() => (enforce ? 'error' : 'warning')),
      ])
      commands.slice(2).forEach((c, i) => {
        expect(c?.properties).toEqual({ file: results[i].dockerfile?.file, line: '3' })
        expect(c?.data).not.toMatch(/[\r\n]/)
        expect(c?.data).toContain(`ghcr.io/acme/app:${i} `)
      })
    })
  })
})

describe('the workflow OIDC token', () => {
  let server: Server
  let url: string
  const token = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(
    '{"sub":"repo:acme/app:ref:refs/heads/main"}',
  ).toString('base64url')}.c2lnbmF0dXJl`

  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ count: 1, value: token }))
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token?api-version=2.0`
  })
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('issue 8.12: is handed to the mask before getToken returns it, as core.getIDToken does', async () => {
    const events: string[] = []
    const provider = new GitHubOidcProvider(
      { ACTIONS_ID_TOKEN_REQUEST_URL: url, ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token' },
      { mask: (secret) => events.push(`mask ${secret}`) },
    )
    const got = await provider.getToken()
    events.push(`returned ${got}`)
    // Asked once per run, masked once.
    await provider.getToken()
    expect(events).toEqual([`mask ${token}`, `returned ${token}`])
  })

  it('issue 8.12: the runner logger masks it with ::add-mask::', () => {
    expect(runnerStdout([['mask', token]])).toEqual([[`::add-mask::${token}`]])
  })
})
