/**
 * Trust roots for verify mode (src/verify/trust.ts): which roots a `trusted-root` file yields and
 * what each root requires of a signature, the errors a bad file gives, and the fallback to the
 * embedded public-good root when TUF cannot be reached.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { SignetError } from '../../src/errors'
import {
  embeddedPublicGoodRoot,
  isMirrorUnreachable,
  loadTrustRoots,
  parseTrustedRootFile,
  trustRootFrom,
  TUF_MAX_RETRY_MS,
} from '../../src/verify/trust'
import { RetryBudget } from '../../src/retry'
import { asyncErrorOf, errorOf } from '../infra/expect'
import { recordingLogger, type RecordingLogger } from '../infra/recording-logger'

const FIXTURES = resolve(__dirname, '../fixtures/real-world')
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

// -------------------------------------------------------------------------------------------------
// A TUF mirror on loopback: a repository of our own (one ed25519 key for every role) whose target
// trusted_root.json is the public-good root, and whose answers a test can replace, as a mirror
// (or someone between the runner and it) could.

/** OLPC canonical JSON, which TUF signs: sorted keys, only `\` and `"` escaped. */
function canonical(value: unknown): string {
  if (typeof value === 'string') return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value && typeof value === 'object') {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${canonical(k)}:${canonical(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

interface Reply {
  status: number
  body: string
}

interface TufMirror {
  url: string
  /** The root.json the client starts from (version 1). */
  rootPath: string
  /** Signed metadata of a role, as the repository's own key signs it. */
  signed(role: 'timestamp' | 'snapshot' | 'targets', fields?: Record<string, unknown>): string
  /** What the mirror answers for a path (`/timestamp.json`); unset paths answer 404. */
  serve: Map<string, Reply | (() => Reply | undefined)>
  /** Requests seen, as paths. */
  requests: string[]
  stop(): Promise<void>
}

const FAR_FUTURE = '2099-01-01T00:00:00Z'

async function startTufMirror(directory: string, name = 'mirror'): Promise<TufMirror> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  const publicHex = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32).toString('hex')
  const keyid = createHash('sha256').update(publicHex).digest('hex')
  const signWith = (key: KeyObject, signed: Record<string, unknown>): string =>
    JSON.stringify({
      signed,
      signatures: [{ keyid, sig: sign(null, Buffer.from(canonical(signed)), key).toString('hex') }],
    })
  const common = (type: string, version = 1) => ({
    _type: type,
    spec_version: '1.0.31',
    version,
    expires: FAR_FUTURE,
  })
  const role = { keyids: [keyid], threshold: 1 }
  const root = {
    ...common('root'),
    keys: { [keyid]: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: publicHex } } },
    roles: { root: role, timestamp: role, snapshot: role, targets: role },
    consistent_snapshot: false,
  }
  const rootPath = join(directory, `${name}-root.json`)
  await writeFile(rootPath, signWith(privateKey, root))

  const target = Buffer.from(PUBLIC_GOOD_TEXT)
  const defaults: Record<string, () => Record<string, unknown>> = {
    targets: () => ({
      ...common('targets'),
      targets: {
        'trusted_root.json': {
          length: target.length,
          hashes: { sha256: createHash('sha256').update(target).digest('hex') },
        },
      },
    }),
    snapshot: () => ({ ...common('snapshot'), meta: { 'targets.json': { version: 1 } } }),
    timestamp: () => ({ ...common('timestamp'), meta: { 'snapshot.json': { version: 1 } } }),
  }
  const signed: TufMirror['signed'] = (name, fields = {}) =>
    signWith(privateKey, { ...defaults[name](), ...fields })

  const ok = (body: string): Reply => ({ status: 200, body })
  const serve: TufMirror['serve'] = new Map<string, Reply | (() => Reply | undefined)>([
    ['/timestamp.json', ok(signed('timestamp'))],
    ['/snapshot.json', ok(signed('snapshot'))],
    ['/targets.json', ok(signed('targets'))],
    ['/targets/trusted_root.json', ok(PUBLIC_GOOD_TEXT)],
  ])
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://mirror').pathname
    requests.push(path)
    const entry = serve.get(path)
    const reply = (typeof entry === 'function' ? entry() : entry) ?? { status: 404, body: '' }
    if (reply.status === 0) return // never answers
    res.writeHead(reply.status, { 'Content-Length': Buffer.byteLength(reply.body) })
    res.end(reply.body)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rootPath,
    signed,
    serve,
    requests,
    stop: () =>
      new Promise((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

describe('issue 8.7: the embedded root is a network fallback only', () => {
  let mirror: TufMirror
  beforeEach(async () => {
    mirror = await startTufMirror(dir)
  })
  afterEach(async () => {
    await mirror.stop()
  })

  const load = (log: RecordingLogger = recordingLogger(), timeoutMs = 5000) =>
    loadTrustRoots({
      cwd: dir,
      log,
      cacheDir: join(dir, 'cache'),
      mirrorURL: mirror.url,
      tufRootPath: mirror.rootPath,
      timeoutMs,
    })

  /** Fails closed: an error naming trusted-root and what to do, and no fallback. */
  async function expectRefused(message: RegExp): Promise<void> {
    const log = recordingLogger()
    const err = await asyncErrorOf(load(log))
    expect(err.input).toBe('trusted-root')
    expect(err.message).toContain('trusted-root')
    expect(err.message).toMatch(/did not verify/)
    expect(err.message).toMatch(/set trusted-root to/i)
    expect(err.message).toMatch(message)
    expect(log.warnings).toEqual([])
  }

  /** Falls back: the embedded root, with one warning that says why. */
  async function expectFallback(timeoutMs?: number): Promise<void> {
    const log = recordingLogger()
    const roots = await load(log, timeoutMs)
    expect(roots.map((r) => r.name)).toEqual(['Sigstore public good (embedded)'])
    expect(log.warnings).toHaveLength(1)
    expect(log.warnings[0]).toMatch(/cannot be reached/)
    expect(log.warnings[0]).toMatch(/embedded/)
  }

  it('the test mirror is sound: its trusted root is taken through TUF, without a warning', async () => {
    const log = recordingLogger()
    const roots = await load(log)
    expect(roots.map((r) => r.name)).toEqual(['Sigstore public good'])
    expect(roots[0].material.tlogs.length).toBeGreaterThan(0)
    expect(log.warnings).toEqual([])
    expect(mirror.requests).toContain('/targets/trusted_root.json')
  })

  it('issue 8.7: timestamp metadata altered after signing is refused, not replaced by the embedded root', async () => {
    const forged = JSON.parse(mirror.signed('timestamp')) as { signed: { version: number } }
    forged.signed.version = 7
    mirror.serve.set('/timestamp.json', { status: 200, body: JSON.stringify(forged) })
    await expectRefused(/timestamp was signed by 0\/1 keys/)
  })

  it('issue 8.7: expired timestamp metadata is refused', async () => {
    mirror.serve.set('/timestamp.json', {
      status: 200,
      body: mirror.signed('timestamp', { expires: '2001-01-01T00:00:00Z' }),
    })
    await expectRefused(/expired/i)
  })

  it('issue 8.7: expired targets metadata is refused', async () => {
    mirror.serve.set('/targets.json', {
      status: 200,
      body: mirror.signed('targets', { expires: '2001-01-01T00:00:00Z' }),
    })
    await expectRefused(/expired/i)
  })

  it('issue 8.7: a rollback to an older timestamp is refused', async () => {
    mirror.serve.set('/timestamp.json', {
      status: 200,
      body: mirror.signed('timestamp', { version: 5 }),
    })
    expect((await load()).map((r) => r.name)).toEqual(['Sigstore public good'])
    mirror.serve.set('/timestamp.json', { status: 200, body: mirror.signed('timestamp') })
    await expectRefused(/version/i)
  })

  it('issue 8.7: a trusted root other than the one the targets metadata names is refused', async () => {
    mirror.serve.set('/targets/trusted_root.json', { status: 200, body: GITHUB_TEXT })
    await expectRefused(/length|hash/i)
  })

  it('issue 8.7: a mirror serving garbage is refused', async () => {
    mirror.serve.set('/timestamp.json', { status: 200, body: '<html>hello</html>' })
    await expectRefused(/JSON/)
  })

  it('issue 8.7: a root rotation signed by nobody the client trusts is refused', async () => {
    const other = await startTufMirror(dir, 'other')
    try {
      const rotated = readFileSync(other.rootPath, 'utf8').replace('"version":1', '"version":2')
      mirror.serve.set('/2.root.json', { status: 200, body: rotated })
      await expectRefused(/root was signed by 0\/1 keys/)
    } finally {
      await other.stop()
    }
  })

  it('issue 8.7: a mirror that answers 503 falls back to the embedded root, with a warning', async () => {
    for (const path of ['/2.root.json', '/timestamp.json'])
      mirror.serve.set(path, { status: 503, body: 'down for maintenance' })
    await expectFallback()
  })

  it('issue 8.7: a mirror that never answers falls back once the request times out', async () => {
    mirror.serve.set('/2.root.json', { status: 0, body: '' })
    await expectFallback(300)
  })

  it('issue 8.7: a mirror that refuses connections falls back to the embedded root', async () => {
    const url = mirror.url
    await mirror.stop()
    const log = recordingLogger()
    const roots = await loadTrustRoots({
      cwd: dir,
      log,
      cacheDir: join(dir, 'cache'),
      mirrorURL: url,
      tufRootPath: mirror.rootPath,
      timeoutMs: 2000,
    })
    expect(roots.map((r) => r.name)).toEqual(['Sigstore public good (embedded)'])
    expect(log.warnings).toHaveLength(1)
    mirror = await startTufMirror(dir) // for afterEach
  })
})

describe("retry-timeout: the TUF mirror on the run's budget", () => {
  let mirror: TufMirror
  beforeEach(async () => {
    mirror = await startTufMirror(dir)
  })
  afterEach(async () => {
    await mirror.stop()
  })

  const load = (log: RecordingLogger, retry: RetryBudget) =>
    loadTrustRoots({
      cwd: dir,
      log,
      cacheDir: join(dir, 'cache-retry'),
      mirrorURL: mirror.url,
      tufRootPath: mirror.rootPath,
      timeoutMs: 5000,
      retry,
    })

  it('a mirror down for a while is waited for, each retry logged, and its root taken once back', async () => {
    const timestamp = mirror.serve.get('/timestamp.json')!
    mirror.serve.set('/timestamp.json', { status: 503, body: 'down for maintenance' })
    const budgetLines: string[] = []
    let waits = 0
    const budget = new RetryBudget(10 * 60_000, {
      sleep: async () => {
        if (++waits === 2) mirror.serve.set('/timestamp.json', timestamp)
      },
      log: (line) => budgetLines.push(line),
    })
    const log = recordingLogger()
    const roots = await load(log, budget)
    expect(roots.map((r) => r.name)).toEqual(['Sigstore public good'])
    expect(log.warnings).toEqual([])
    // Logged with the rest of what loading the root says (the run's is a deferred log).
    expect(budgetLines).toEqual([])
    const lines = log.infos.filter((l) => l.startsWith('the TUF mirror'))
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(`^the TUF mirror ${mirror.url}: .*503.*; retry 1 in \\d+ (ms|s), 5\\d s left`),
    )
  })

  it('waits at most TUF_MAX_RETRY_MS of retry-timeout, then falls back to the embedded root', async () => {
    mirror.serve.set('/timestamp.json', { status: 503, body: 'down for maintenance' })
    let now = Date.now()
    const slept: number[] = []
    const budget = new RetryBudget(10 * 60_000, {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms)
        now += ms
      },
    })
    const log = recordingLogger()
    const roots = await load(log, budget)
    expect(roots.map((r) => r.name)).toEqual(['Sigstore public good (embedded)'])
    expect(log.warnings).toHaveLength(1)
    expect(slept.reduce((a, b) => a + b, 0)).toBe(TUF_MAX_RETRY_MS)
  })

  it('a mirror that answers with something that does not verify is not retried', async () => {
    mirror.serve.set('/timestamp.json', { status: 200, body: 'garbage' })
    const sleep = jest.fn(async () => undefined)
    const err = await asyncErrorOf(load(recordingLogger(), new RetryBudget(60_000, { sleep })))
    expect(err.input).toBe('trusted-root')
    expect(sleep).not.toHaveBeenCalled()
  })
})

describe('isMirrorUnreachable', () => {
  /** As @sigstore/tuf wraps tuf-js's errors. */
  const tufError = (cause: unknown): Error =>
    Object.assign(new Error('error refreshing TUF metadata', { cause }), { name: 'TUFError' })
  const withCode = (message: string, code: string): Error =>
    Object.assign(new Error(message), { code })
  const httpStatus = (statusCode: number): Error =>
    Object.assign(new Error('Failed to download'), { statusCode })

  it.each<[string, unknown, boolean]>([
    [
      'connection refused',
      tufError(
        new TypeError('fetch failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }),
      ),
      true,
    ],
    ['a DNS failure', tufError(withCode('getaddrinfo ENOTFOUND x', 'ENOTFOUND')), true],
    [
      'a timeout',
      tufError(new DOMException('The operation was aborted due to timeout', 'TimeoutError')),
      true,
    ],
    ['a 503', tufError(httpStatus(503)), true],
    ['a 429', tufError(httpStatus(429)), true],
    [
      'a network failure in the snapshot download (tuf-js keeps it as text)',
      tufError(new Error('Unable to load snapshot metadata error TypeError: fetch failed')),
      true,
    ],
    ['a 404 for timestamp.json', tufError(httpStatus(404)), false],
    ['a 403 (a proxy that blocks the mirror)', tufError(httpStatus(403)), false],
    [
      'an HTTP error in the snapshot download (its status is lost)',
      tufError(new Error('Unable to load snapshot metadata error Error: Failed to download')),
      false,
    ],
    ['a bad signature', tufError(new Error('timestamp was signed by 0/1 keys')), false],
    ['expired metadata', tufError(new Error('timestamp.json is expired')), false],
    ['a length mismatch', tufError(new Error('Max length reached')), false],
    ['an unwritable cache', withCode('EACCES: permission denied', 'EACCES'), false],
    ['not an error', 'fetch failed', false],
  ])('%s', (_what, err, unreachable) => {
    expect(isMirrorUnreachable(err)).toBe(unreachable)
  })
})
