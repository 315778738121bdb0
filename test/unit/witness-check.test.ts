/**
 * Sign mode's trusted root (issue 9.3): which root a run checks the services' answers against,
 * when there is none, and what a check of a bundle says. The keyless and Rekor checks against the
 * Sigstore stand-in are in test/action/sign-action.test.ts and test/interop/sign.test.ts.
 */
import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, sign } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleFromJSON } from '@sigstore/bundle'
import { buildVerifyCommand } from '../../src/report/verify-command'
import { PUBLIC_GOOD, usesOnlyPublicGood } from '../../src/sigstore/services'
import { tufSeeds } from '../../src/sigstore/internals'
import { signingTrustRoots, WitnessCheck } from '../../src/sigstore/witness-check'
import { embeddedPublicGoodRoot } from '../../src/verify/trust'
import { asyncErrorOf, errorOf } from '../infra/expect'
import { recordingLogger } from '../infra/recording-logger'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signet-witness-check-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A mirror that counts requests and answers each with `body` (garbage by default). */
async function startMirror(body = '<html>not TUF</html>') {
  let requests = 0
  const server: Server = createServer((_req, res) => {
    requests++
    res.writeHead(200, { 'Content-Length': Buffer.byteLength(body) })
    res.end(body)
  })
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections()
        server.close(() => done())
      }),
  }
}

/** The public-good trusted_root.json @sigstore/tuf ships, as a user would commit it. */
function publicGoodRootText(): string {
  const encoded = tufSeeds()['https://tuf-repo-cdn.sigstore.dev'].targets['trusted_root.json']
  return Buffer.from(encoded, 'base64').toString('utf8')
}

describe('usesOnlyPublicGood', () => {
  const base = {
    keyless: true,
    fulcioURL: PUBLIC_GOOD.fulcioURL,
    rekorURL: PUBLIC_GOOD.rekorURL,
    tlog: true,
  }
  it.each<[string, Parameters<typeof usesOnlyPublicGood>[0], boolean]>([
    ["Sigstore's defaults", base, true],
    [
      'the public-good TSA by its endpoint',
      { ...base, tsaURL: `${PUBLIC_GOOD.tsaURL}/api/v1/timestamp` },
      true,
    ],
    ['a trailing slash', { ...base, rekorURL: `${PUBLIC_GOOD.rekorURL}/` }, true],
    ['another Fulcio', { ...base, fulcioURL: 'https://fulcio.example.com' }, false],
    ['another Rekor', { ...base, rekorURL: 'https://rekor.example.com' }, false],
    [
      'issue 9.3: a TSA host that only starts like the public one',
      { ...base, tsaURL: 'https://timestamp.sigstore.dev.example.com/api/v1/timestamp' },
      false,
    ],
    [
      'another Fulcio, unused when signing by key',
      { ...base, keyless: false, fulcioURL: 'https://x.example' },
      true,
    ],
    [
      'another Rekor, unused with tlog: false',
      { ...base, tlog: false, rekorURL: 'https://x.example' },
      true,
    ],
    ['plain HTTP to the public host', { ...base, rekorURL: 'http://rekor.sigstore.dev' }, false],
  ])('%s', (_what, services, expected) => {
    expect(usesOnlyPublicGood(services)).toBe(expected)
  })
})

describe('signingTrustRoots', () => {
  const options = (over: Partial<Parameters<typeof signingTrustRoots>[0]> = {}) => ({
    publicGood: true,
    witnessed: true,
    cwd: dir,
    log: recordingLogger(),
    ...over,
  })

  it('issue 9.3: the trusted-root input is read relative to the workspace, and TUF is not asked', async () => {
    const mirror = await startMirror()
    try {
      writeFileSync(join(dir, 'root.json'), publicGoodRootText())
      const trust = await signingTrustRoots(
        options({ trustedRoot: 'root.json', tuf: { mirrorURL: mirror.url } }),
      )
      expect(trust?.name).toBe('trusted-root root.json')
      expect(trust?.roots).toHaveLength(1)
      expect(mirror.requests()).toBe(0)
    } finally {
      await mirror.stop()
    }
  })

  it('issue 9.3: a trusted-root that is not a trusted root is bad input naming trusted-root', async () => {
    writeFileSync(join(dir, 'nope.json'), '{"hello":"world"}')
    const err = await asyncErrorOf(signingTrustRoots(options({ trustedRoot: 'nope.json' })))
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.input).toBe('trusted-root')
  })

  it('issue 9.3: other services and no trusted-root: nothing to check against, said in a debug line', async () => {
    const log = recordingLogger()
    expect(await signingTrustRoots(options({ publicGood: false, log }))).toBeUndefined()
    expect(log.lines).toEqual([
      {
        level: 'debug',
        message: expect.stringMatching(/not Sigstore's public-good.*trusted-root/),
      },
    ])
  })

  it('issue 9.3: signing by key with no log and no timestamp: no service answers, TUF is not asked', async () => {
    const mirror = await startMirror()
    try {
      const log = recordingLogger()
      const trust = await signingTrustRoots(
        options({ witnessed: false, log, tuf: { mirrorURL: mirror.url } }),
      )
      expect(trust).toBeUndefined()
      expect(mirror.requests()).toBe(0)
      expect(log.lines).toEqual([])
    } finally {
      await mirror.stop()
    }
  })

  it('issue 9.3: the public-good services without trusted-root: the embedded root when the TUF mirror cannot be reached, as verify mode', async () => {
    const log = recordingLogger()
    const trust = await signingTrustRoots(
      options({
        log,
        tuf: { mirrorURL: 'http://127.0.0.1:1', cacheDir: join(dir, 'tuf-a'), timeoutMs: 2000 },
      }),
    )
    expect(trust?.name).toBe('Sigstore public good (embedded)')
    expect(log.lines.filter((l) => l.level === 'warning')).toHaveLength(1)
  })

  it('issue 9.3: the public-good services without trusted-root: a mirror whose metadata does not verify fails closed, naming trusted-root', async () => {
    const mirror = await startMirror()
    try {
      const err = await asyncErrorOf(
        signingTrustRoots(
          options({
            tuf: { mirrorURL: mirror.url, cacheDir: join(dir, 'tuf-b'), timeoutMs: 2000 },
          }),
        ),
      )
      expect(err.input).toBe('trusted-root')
      expect(err.message).toMatch(/did not verify/)
    } finally {
      await mirror.stop()
    }
  })
})

describe('WitnessCheck', () => {
  const PAYLOAD_TYPE = 'application/vnd.in-toto+json'
  /** A DSSE bundle signed by `key`, with no log entry and no timestamp (tlog: false, no TSA). */
  function keySignedBundle(privateKey: ReturnType<typeof generateKeyPairSync>['privateKey']) {
    const payload = Buffer.from('{"_type":"https://in-toto.io/Statement/v1","subject":[]}')
    const pae = Buffer.concat([
      Buffer.from(`DSSEv1 ${PAYLOAD_TYPE.length} ${PAYLOAD_TYPE} ${payload.length} `),
      payload,
    ])
    return bundleFromJSON({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] },
      dsseEnvelope: {
        payload: payload.toString('base64'),
        payloadType: PAYLOAD_TYPE,
        signatures: [{ sig: sign('sha256', pae, privateKey).toString('base64'), keyid: '' }],
      },
    })
  }
  const keys = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const pem = (k: ReturnType<typeof keys>) =>
    k.publicKey.export({ type: 'spki', format: 'pem' }).toString()

  it('issue 9.3: by key with no log entry and no timestamp, only the signature is checked', () => {
    const k = keys()
    const check = new WitnessCheck([embeddedPublicGoodRoot()], {
      keyless: false,
      tlog: false,
      publicKeyPem: pem(k),
      rootName: 'trusted-root r.json',
    })
    check.verify(keySignedBundle(k.privateKey))
    expect(check.summary()).toMatch(/^1 signature\(s\) checked against trusted-root r\.json; 0 /)
  })

  it('issue 9.3: a bundle that does not verify is one error naming trusted-root', () => {
    const k = keys()
    const check = new WitnessCheck([embeddedPublicGoodRoot()], {
      keyless: false,
      tlog: true,
      publicKeyPem: pem(k),
      rootName: 'trusted-root r.json',
    })
    // tlog: true, and the service handed back no entry.
    const err = errorOf(() => check.verify(keySignedBundle(k.privateKey)))
    expect(err.code).toBe('SIGSTORE_ERROR')
    expect(err.input).toBe('trusted-root')
    expect(err.message).toMatch(/does not verify against trusted-root r\.json: the Rekor entry/)
  })

  it('issue 9.3: a signature by another key is refused', () => {
    const check = new WitnessCheck([embeddedPublicGoodRoot()], {
      keyless: false,
      tlog: false,
      publicKeyPem: pem(keys()),
      rootName: 'trusted-root r.json',
    })
    expect(errorOf(() => check.verify(keySignedBundle(keys().privateKey))).input).toBe(
      'trusted-root',
    )
  })
})

describe('verify-command', () => {
  it("issue 9.3: carries --trusted-root with the input's path, quoted for the shell", () => {
    const fake = mkdtempSync(join(tmpdir(), 'signet-fake-cosign-'))
    writeFileSync(
      join(fake, 'cosign'),
      `#!${process.execPath}\nprocess.stdout.write(JSON.stringify(process.argv.slice(2)))\n`,
    )
    chmodSync(join(fake, 'cosign'), 0o755)
    const outcome = {
      keyless: false,
      results: [],
      signatureFormat: 'bundle' as const,
      customInstance: false,
      tlog: true,
      timestamped: false,
    }
    for (const path of ['roots/trusted_root.json', "my roots/it's $(echo injected).json"]) {
      const command = buildVerifyCommand({ ...outcome, trustedRoot: path })
      const args = JSON.parse(
        execFileSync('bash', ['-c', command], {
          env: { ...process.env, PATH: `${fake}:${process.env.PATH}` },
          encoding: 'utf8',
        }),
      ) as string[]
      expect(args).toContain(`--trusted-root=${path}`)
    }
    // Without the input: the placeholder for other services, nothing for the public good.
    expect(buildVerifyCommand({ ...outcome, customInstance: true })).toContain(
      '--trusted-root=trusted_root.json',
    )
    expect(buildVerifyCommand(outcome)).not.toContain('--trusted-root')
    rmSync(fake, { recursive: true, force: true })
  })
})
