/**
 * Trust roots for verify mode (src/verify/trust.ts): which roots a `trusted-root` file yields and
 * what each root requires of a signature, the errors a bad file gives, and the fallback to the
 * embedded public-good root when TUF cannot be reached.
 */
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SignetError } from '../../src/errors'
import type { Logger } from '../../src/report/types'
import {
  embeddedPublicGoodRoot,
  loadTrustRoots,
  parseTrustedRootFile,
  trustRootFrom,
} from '../../src/verify/trust'
import { asyncErrorOf, errorOf } from '../infra/expect'

const FIXTURES = resolve(__dirname, '../../../shared/fixtures/real-world')
const fixture = (...p: string[]): string => {
  const file = resolve(FIXTURES, ...p)
  if (!existsSync(file)) throw new Error(`fixture is absent: ${file}`)
  return readFileSync(file, 'utf8')
}

const PUBLIC_GOOD_TEXT = fixture('root-signing/targets/trusted_root.json')
const GITHUB_TEXT = fixture(
  'kyverno/pkg/image/verifiers/ivpol/cosign/testdata/github-trusted-root.json',
)
/** One line each, as `gh attestation trusted-root` prints them. */
const oneLine = (text: string): string => JSON.stringify(JSON.parse(text))

interface RecordingLogger extends Logger {
  infos: string[]
  warnings: string[]
  debugs: string[]
}

function recordingLogger(): RecordingLogger {
  const infos: string[] = []
  const warnings: string[] = []
  const debugs: string[] = []
  return {
    infos,
    warnings,
    debugs,
    info: (m) => void infos.push(m),
    warning: (m) => void warnings.push(m),
    debug: (m) => void debugs.push(m),
    group: async (_name, fn) => fn(),
  }
}

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-trust-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

function expectTrustedRootError(err: SignetError, file: string, message: RegExp): void {
  expect(err.code).toBe('INPUT_INVALID')
  expect(err.input).toBe('trusted-root')
  expect(err.message).toContain('trusted-root')
  expect(err.message).toContain(file)
  expect(err.message).toMatch(message)
}

describe('parseTrustedRootFile', () => {
  it('reads the public-good trusted_root.json as one root that requires a tlog entry and an SCT, not a timestamp', () => {
    const roots = parseTrustedRootFile(PUBLIC_GOOD_TEXT, 'trusted_root.json')
    expect(roots).toHaveLength(1)
    expect(roots[0].name).toBe('fulcio.sigstore.dev')
    expect(roots[0].requirements).toEqual({
      requireTlog: true,
      requireTimestamp: false,
      requireSct: true,
    })
    expect(roots[0].material.certificateAuthorities.length).toBeGreaterThan(0)
    expect(roots[0].material.tlogs.length).toBeGreaterThan(0)
  })

  it("reads GitHub's instance root (no tlog, no CT log) as one root that requires a timestamp instead", () => {
    const roots = parseTrustedRootFile(GITHUB_TEXT, 'github.json')
    expect(roots).toHaveLength(1)
    expect(roots[0].name).toBe('fulcio.githubapp.com')
    expect(roots[0].requirements).toEqual({
      requireTlog: false,
      requireTimestamp: true,
      requireSct: false,
    })
    expect(roots[0].material.tlogs).toHaveLength(0)
    expect(roots[0].material.timestampAuthorities.length).toBeGreaterThan(0)
  })

  it('reads JSON lines (what gh attestation trusted-root prints) as one root per line, in order', () => {
    const text = `${oneLine(PUBLIC_GOOD_TEXT)}\n${oneLine(GITHUB_TEXT)}\n`
    const roots = parseTrustedRootFile(text, 'roots.jsonl')
    expect(roots.map((r) => r.name)).toEqual(['fulcio.sigstore.dev', 'fulcio.githubapp.com'])
    expect(roots.map((r) => r.requirements.requireTlog)).toEqual([true, false])
    expect(roots.map((r) => r.requirements.requireTimestamp)).toEqual([false, true])
    expect(roots.map((r) => r.requirements.requireSct)).toEqual([true, false])
  })

  it('accepts CRLF line ends and blank lines between JSON lines', () => {
    const text = `${oneLine(GITHUB_TEXT)}\r\n\r\n${oneLine(PUBLIC_GOOD_TEXT)}\r\n`
    expect(parseTrustedRootFile(text, 'roots.jsonl').map((r) => r.name)).toEqual([
      'fulcio.githubapp.com',
      'fulcio.sigstore.dev',
    ])
  })

  it('rejects text that is neither JSON nor JSON lines, naming the file and the bad line', () => {
    const err = errorOf(() =>
      parseTrustedRootFile(`${oneLine(PUBLIC_GOOD_TEXT)}\nnot json\n`, 'roots.jsonl'),
    )
    expectTrustedRootError(err, 'roots.jsonl', /is not JSON \(nor JSON lines: line 2 is not JSON\)/)
  })

  it('rejects a JSON object that is not a trusted root, naming the file', () => {
    const err = errorOf(() => parseTrustedRootFile('{"a":1}', 'other.json'))
    expectTrustedRootError(err, 'other.json', /other\.json is not a Sigstore trusted root/)
  })

  it('rejects a JSON array, naming the file', () => {
    const err = errorOf(() => parseTrustedRootFile(`[${oneLine(PUBLIC_GOOD_TEXT)}]`, 'list.json'))
    expectTrustedRootError(
      err,
      'list.json',
      /list\.json is not a Sigstore trusted root: not a JSON object/,
    )
  })

  it('names the line of a JSON-lines file whose document is not a trusted root', () => {
    const err = errorOf(() =>
      parseTrustedRootFile(`${oneLine(PUBLIC_GOOD_TEXT)}\n{"a":1}\n`, 'roots.jsonl'),
    )
    expectTrustedRootError(
      err,
      'roots.jsonl',
      /roots\.jsonl \(line 2\) is not a Sigstore trusted root/,
    )
  })

  it('rejects an empty (or blank) file, naming it', () => {
    expectTrustedRootError(
      errorOf(() => parseTrustedRootFile('', 'empty.json')),
      'empty.json',
      /empty\.json is empty/,
    )
    expectTrustedRootError(
      errorOf(() => parseTrustedRootFile('\n  \n', 'blank.json')),
      'blank.json',
      /blank\.json is empty/,
    )
  })
})

describe('trustRootFrom', () => {
  it('rejects a trusted root that trusts nothing', () => {
    const empty = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1' }
    expect(() => trustRootFrom(empty)).toThrow(
      /trusts no certificate authority and no transparency log/,
    )
  })

  it('uses the name it is given over the host of the root', () => {
    expect(trustRootFrom(JSON.parse(GITHUB_TEXT), 'GitHub').name).toBe('GitHub')
  })
})

describe('embeddedPublicGoodRoot', () => {
  it('is the public-good root from @sigstore/tuf, with the public-good requirements', () => {
    const root = embeddedPublicGoodRoot()
    expect(root.name).toBe('Sigstore public good (embedded)')
    expect(root.requirements).toEqual({
      requireTlog: true,
      requireTimestamp: false,
      requireSct: true,
    })
    expect(root.material.certificateAuthorities.length).toBeGreaterThan(0)
  })
})

describe('loadTrustRoots', () => {
  it('reads the trusted-root file relative to cwd, without touching TUF', async () => {
    await writeFile(
      join(dir, 'roots.jsonl'),
      `${oneLine(PUBLIC_GOOD_TEXT)}\n${oneLine(GITHUB_TEXT)}\n`,
    )
    const log = recordingLogger()
    const roots = await loadTrustRoots({
      file: 'roots.jsonl',
      cwd: dir,
      log,
      cacheDir: dir,
      mirrorURL: 'http://127.0.0.1:1',
    })
    expect(roots.map((r) => r.name)).toEqual(['fulcio.sigstore.dev', 'fulcio.githubapp.com'])
    expect(log.warnings).toEqual([])
  })

  it('rejects a file that is not a trusted root with an error naming the file', async () => {
    await writeFile(join(dir, 'bad.json'), '{"a":1}')
    const err = await asyncErrorOf(
      loadTrustRoots({ file: 'bad.json', cwd: dir, log: recordingLogger() }),
    )
    expectTrustedRootError(err, 'bad.json', /not a Sigstore trusted root/)
  })

  it('rejects an empty file with an error naming the file', async () => {
    await writeFile(join(dir, 'empty.json'), '')
    const err = await asyncErrorOf(
      loadTrustRoots({ file: 'empty.json', cwd: dir, log: recordingLogger() }),
    )
    expectTrustedRootError(err, 'empty.json', /is empty/)
  })

  it('rejects a missing file with an error naming the file', async () => {
    const err = await asyncErrorOf(
      loadTrustRoots({ file: 'missing/root.json', cwd: dir, log: recordingLogger() }),
    )
    expectTrustedRootError(err, 'missing/root.json', /cannot read missing\/root\.json: .*ENOENT/)
  })

  it('falls back to the embedded public-good root, with one warning naming TUF, when the mirror is unreachable', async () => {
    const log = recordingLogger()
    const roots = await loadTrustRoots({
      cwd: dir,
      log,
      cacheDir: dir,
      mirrorURL: 'http://127.0.0.1:1',
      timeoutMs: 2000,
    })
    expect(roots).toHaveLength(1)
    expect(roots[0].name).toBe('Sigstore public good (embedded)')
    expect(roots[0].requirements).toEqual({
      requireTlog: true,
      requireTimestamp: false,
      requireSct: true,
    })
    expect(log.warnings).toHaveLength(1)
    expect(log.warnings[0]).toMatch(/TUF/)
    expect(log.warnings[0]).toMatch(/embedded/)
  })
})
