/**
 * The stand-in is only useful if the real clients accept it: cosign v3 and v2 sign and verify
 * against it, and so does sigstore-js (the library Signet signs with).
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { bundleFromJSON, bundleToJSON } from '@sigstore/bundle'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toSignedEntity, toTrustMaterial, Verifier } from '@sigstore/verify'
import { startSigstoreStandIn, type SigstoreStandIn } from './sigstore-standin'
import { runToolAsync } from './tools'

const IDENTITY = 'https://github.com/acme/app/.github/workflows/publish.yml@refs/heads/main'
const ISSUER = 'https://token.actions.githubusercontent.com'
const PREDICATE_TYPE = 'https://signet.test/predicate/v1'
const REPO_ROOT = join(__dirname, '..', '..')

let standIn: SigstoreStandIn
let work: string
let blob: string
let tokenFile: string
/** cosign gets a private HOME so that nothing it caches leaks between runs. */
let env: NodeJS.ProcessEnv

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'standin-test-'))
  standIn = await startSigstoreStandIn({ dir: join(work, 'trust') })
  blob = join(work, 'blob.txt')
  writeFileSync(blob, 'hello from signet\n')
  // cosign v3 takes a long --identity-token for a path, so it always gets a file.
  tokenFile = join(work, 'token.jwt')
  writeFileSync(tokenFile, standIn.mintToken())
  env = { HOME: join(work, 'home'), TUF_ROOT: join(work, 'home', 'tuf') }
})

afterAll(async () => {
  await standIn?.stop()
  rmSync(work, { recursive: true, force: true })
})

/** Runs a command expected to fail and returns its error text. */
async function failure(run: () => Promise<unknown>): Promise<string> {
  try {
    await run()
  } catch (err) {
    return (err as Error).message
  }
  throw new Error('expected the command to fail')
}

/**
 * cosign v3 verifies a blob's bundle against the stand-in's trusted root, expecting `identity`
 * from the stand-in's issuer; `flags` add to that. Resolves to cosign's output.
 */
function cosign3Verify(
  command: 'verify-blob' | 'verify-blob-attestation',
  bundlePath: string,
  { identity = IDENTITY, flags = [] as string[] } = {},
): Promise<string> {
  return runToolAsync(
    'cosign3',
    [
      command,
      '--bundle',
      bundlePath,
      '--trusted-root',
      standIn.trustedRootPath,
      '--certificate-identity',
      identity,
      '--certificate-oidc-issuer',
      ISSUER,
      ...flags,
      blob,
    ],
    { env },
  )
}

function decodeJwt(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<
    string,
    unknown
  >
}

describe('published trust material', () => {
  it('writes a trusted root and signing config that parse as Sigstore documents', async () => {
    const root = JSON.parse(readFileSync(standIn.trustedRootPath, 'utf8')) as {
      mediaType: string
      tlogs: { logId: { keyId: string }; publicKey: { rawBytes: string } }[]
    }
    expect(root.mediaType).toBe('application/vnd.dev.sigstore.trustedroot+json;version=0.1')
    const rekorKey = Buffer.from(root.tlogs[0].publicKey.rawBytes, 'base64')
    expect(root.tlogs[0].logId.keyId).toBe(createHash('sha256').update(rekorKey).digest('base64'))
    // protobuf-specs accepts it, which is what sigstore-js and sigstore-go both start from.
    const parsed = TrustedRoot.fromJSON(root)
    expect(parsed.certificateAuthorities).toHaveLength(1)
    expect(parsed.timestampAuthorities[0].certChain?.certificates).toHaveLength(2)

    const config = JSON.parse(readFileSync(standIn.signingConfigPath, 'utf8')) as {
      mediaType: string
      tsaUrls: { url: string }[]
    }
    expect(config.mediaType).toBe('application/vnd.dev.sigstore.signingconfig.v0.2+json')
    expect(config.tsaUrls[0].url).toBe(`${standIn.tsaURL}/api/v1/timestamp`)
    expect(standIn.identity).toEqual({ subject: IDENTITY, issuer: ISSUER })
  })
})

describe('cosign v3', () => {
  const bundle = () => join(work, 'cosign3.sigstore.json')

  beforeAll(async () => {
    await runToolAsync(
      'cosign3',
      [
        'sign-blob',
        '--yes',
        '--bundle',
        bundle(),
        '--identity-token',
        tokenFile,
        '--trusted-root',
        standIn.trustedRootPath,
        '--signing-config',
        standIn.signingConfigPath,
        blob,
      ],
      { env },
    )
  })

  it('signs with a Fulcio certificate, a Rekor entry and a TSA timestamp', async () => {
    const json = JSON.parse(readFileSync(bundle(), 'utf8')) as {
      verificationMaterial: {
        tlogEntries: { inclusionProof?: { checkpoint?: unknown } }[]
        timestampVerificationData?: { rfc3161Timestamps: unknown[] }
      }
    }
    expect(json.verificationMaterial.tlogEntries).toHaveLength(1)
    expect(json.verificationMaterial.tlogEntries[0].inclusionProof?.checkpoint).toBeDefined()
    expect(json.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1)
  })

  it('verifies the GitHub identity, including the claims Fulcio copies into extensions', async () => {
    const out = await cosign3Verify('verify-blob', bundle(), {
      flags: [
        '--certificate-github-workflow-repository',
        'acme/app',
        '--certificate-github-workflow-ref',
        'refs/heads/main',
        '--certificate-github-workflow-trigger',
        'push',
      ],
    })
    expect(out).toBe('')
  })

  it('rejects another identity', async () => {
    const message = await failure(() =>
      cosign3Verify('verify-blob', bundle(), {
        identity: 'https://github.com/acme/other/.github/workflows/publish.yml@refs/heads/main',
      }),
    )
    expect(message).toMatch(/expected SAN value/)
  })
})

describe('cosign v2', () => {
  it('signs keylessly with the Fulcio v1 API and verifies the bundle', async () => {
    const v2env = { ...env, ...standIn.cosignV2Env }
    const out = (name: string) => join(work, name)
    const before = standIn.log.length
    await runToolAsync(
      'cosign2',
      [
        'sign-blob',
        '--yes',
        '--fulcio-url',
        standIn.fulcioURL,
        '--rekor-url',
        standIn.rekorURL,
        '--identity-token',
        standIn.mintToken(),
        '--output-signature',
        out('cosign2.sig'),
        '--output-certificate',
        out('cosign2.crt'),
        '--bundle',
        out('cosign2.bundle'),
        blob,
      ],
      { env: v2env },
    )
    expect(standIn.log.slice(before)).toEqual([
      'POST /api/v1/signingCert -> 201',
      'POST /api/v1/log/entries -> 201',
    ])
    const identity = ['--certificate-identity', IDENTITY, '--certificate-oidc-issuer', ISSUER]
    await runToolAsync(
      'cosign2',
      ['verify-blob', '--bundle', out('cosign2.bundle'), ...identity, blob],
      {
        env: v2env,
      },
    )
    // Without the bundle cosign v2 finds the entry in Rekor by searching for it.
    await runToolAsync(
      'cosign2',
      [
        'verify-blob',
        '--rekor-url',
        standIn.rekorURL,
        '--signature',
        out('cosign2.sig'),
        '--certificate',
        out('cosign2.crt'),
        ...identity,
        blob,
      ],
      { env: v2env },
    )
  })
})

/**
 * sigstore-js signing runs in a child Node: @sigstore/sign loads make-fetch-happen, whose proxy
 * agents are ESM-only, which Jest's CommonJS runtime cannot require (Node 24 itself can). The
 * action runs it outside Jest too. The child prints a JSON result.
 */
const SIGSTORE_JS_CLIENT = `
const { DSSEBundleBuilder, MessageSignatureBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } =
  require('@sigstore/sign')
const { bundleToJSON } = require('@sigstore/bundle')
const { createHash } = require('node:crypto')
const { readFileSync } = require('node:fs')
const job = JSON.parse(process.env.SIGSTORE_JS_JOB)
const signer = new FulcioSigner({
  fulcioBaseURL: job.url,
  identityProvider: { getToken: async () => job.token },
})
const retry = job.retry
async function main() {
  const data = readFileSync(job.data)
  if (job.mode === 'duplicate') {
    const { signature, key } = await signer.sign(data)
    const digest = createHash('sha256').update(data).digest()
    const content = {
      $case: 'messageSignature',
      messageSignature: { messageDigest: { algorithm: 1, digest }, signature },
    }
    const witness = new RekorWitness({ rekorBaseURL: job.url })
    const first = await witness.testify(content, key.certificate)
    const second = await witness.testify(content, key.certificate)
    const proposed = {
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: digest.toString('hex') } },
        signature: {
          content: signature.toString('base64'),
          publicKey: { content: Buffer.from(key.certificate).toString('base64') },
        },
      },
    }
    return { first: first.tlogEntries[0].logIndex, second: second.tlogEntries[0].logIndex, proposed }
  }
  const witnesses = [
    new RekorWitness({ rekorBaseURL: job.url, retry }),
    new TSAWitness({ tsaBaseURL: job.url, retry }),
  ]
  const Builder = job.mode === 'dsse' ? DSSEBundleBuilder : MessageSignatureBundleBuilder
  const bundle = await new Builder({ signer, witnesses }).create({ data, type: job.type })
  return { bundle: bundleToJSON(bundle) }
}
main().then(
  (result) => process.stdout.write(JSON.stringify(result)),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
`

interface SigstoreJsJob {
  mode: 'dsse' | 'message' | 'duplicate'
  data: string
  type?: string
  token?: string
  retry?: { retries: number; minTimeout: number; maxTimeout: number }
}

interface SigstoreJsResult {
  bundle?: ReturnType<typeof bundleToJSON>
  first?: string
  second?: string
  proposed?: unknown
}

/** Asynchronous, like every client here: the stand-in serves from this very event loop. */
function sigstoreJs(job: SigstoreJsJob): Promise<SigstoreJsResult> {
  const full = { url: standIn.url, token: standIn.mintToken(), ...job }
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['-e', SIGSTORE_JS_CLIENT],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, SIGSTORE_JS_JOB: JSON.stringify(full) },
        timeout: 60_000,
      },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`sigstore-js client failed: ${stderr}${err.message}`))
        else resolve(JSON.parse(stdout) as SigstoreJsResult)
      },
    )
  })
}

describe('sigstore-js', () => {
  const verifier = () => {
    const root = TrustedRoot.fromJSON(JSON.parse(readFileSync(standIn.trustedRootPath, 'utf8')))
    // Every piece of evidence is required: a timestamp from both the log and the TSA.
    return new Verifier(toTrustMaterial(root), {
      tlogThreshold: 1,
      ctlogThreshold: 1,
      tsaThreshold: 1,
      timestampThreshold: 2,
    })
  }
  const policy = { subjectAlternativeName: IDENTITY, extensions: { issuer: ISSUER } }

  it('makes a DSSE bundle that sigstore-js and cosign v3 both verify', async () => {
    const digest = createHash('sha256').update(readFileSync(blob)).digest('hex')
    const statement = {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'blob.txt', digest: { sha256: digest } }],
      predicateType: PREDICATE_TYPE,
      predicate: { built: 'by signet' },
    }
    const statementPath = join(work, 'statement.json')
    writeFileSync(statementPath, JSON.stringify(statement))
    const { bundle } = await sigstoreJs({
      mode: 'dsse',
      data: statementPath,
      type: 'application/vnd.in-toto+json',
    })
    if (!bundle) throw new Error('no bundle')
    const signed = verifier().verify(toSignedEntity(bundleFromJSON(bundle)), policy)
    expect(signed.identity?.subjectAlternativeName).toBe(IDENTITY)
    // Rekor stored the hashes real Rekor stores for a dsse entry, which is what made that pass.
    const body = JSON.parse(
      Buffer.from(
        bundle.verificationMaterial.tlogEntries[0].canonicalizedBody,
        'base64',
      ).toString(),
    ) as { kind: string; spec: { payloadHash: { value: string } } }
    expect(body.kind).toBe('dsse')
    expect(body.spec.payloadHash.value).toBe(
      createHash('sha256').update(readFileSync(statementPath)).digest('hex'),
    )

    const path = join(work, 'sigstore-js.dsse.json')
    writeFileSync(path, JSON.stringify(bundle))
    await cosign3Verify('verify-blob-attestation', path, { flags: ['--type', PREDICATE_TYPE] })
  })

  it('makes a message-signature bundle that sigstore-js and cosign v3 both verify', async () => {
    const { bundle } = await sigstoreJs({ mode: 'message', data: blob })
    if (!bundle) throw new Error('no bundle')
    verifier().verify(toSignedEntity(bundleFromJSON(bundle), readFileSync(blob)), policy)
    const path = join(work, 'sigstore-js.msg.json')
    writeFileSync(path, JSON.stringify(bundle))
    await cosign3Verify('verify-blob', path)
  })

  it('gets an email SAN for a token without job_workflow_ref', async () => {
    const issuer = 'https://accounts.example.com'
    const token = standIn.mintToken({
      iss: issuer,
      sub: '1234567890',
      email: 'dev@example.com',
      email_verified: true,
      job_workflow_ref: undefined,
    })
    const { bundle } = await sigstoreJs({ mode: 'message', data: blob, token })
    if (!bundle) throw new Error('no bundle')
    const signed = verifier().verify(toSignedEntity(bundleFromJSON(bundle), readFileSync(blob)), {
      subjectAlternativeName: 'dev@example.com',
      extensions: { issuer },
    })
    expect(signed.identity?.extensions?.issuer).toBe(issuer)
  })

  it('retries past an injected Rekor outage', async () => {
    standIn.failNext('rekor', 1)
    const before = standIn.log.length
    const { bundle } = await sigstoreJs({
      mode: 'message',
      data: blob,
      retry: { retries: 2, minTimeout: 10, maxTimeout: 20 },
    })
    expect(bundle?.verificationMaterial.tlogEntries).toHaveLength(1)
    expect(standIn.log.slice(before).filter((l) => l.includes('/api/v1/log/entries'))).toEqual([
      'POST /api/v1/log/entries -> 503',
      'POST /api/v1/log/entries -> 201',
    ])
  })
})

describe('Rekor', () => {
  it('answers a duplicate entry with 409 and its location; sigstore-js fetches it', async () => {
    const before = standIn.log.length
    const { first, second, proposed } = await sigstoreJs({ mode: 'duplicate', data: blob })
    expect(first).toBeDefined()
    expect(second).toBe(first)
    expect(standIn.log.slice(before).filter((l) => l.includes('/api/v1/log/'))).toEqual([
      'POST /api/v1/log/entries -> 201',
      'POST /api/v1/log/entries -> 409',
      expect.stringMatching(/^GET \/api\/v1\/log\/entries\/[0-9a-f]{64} -> 200$/),
    ])

    // Injected failures come first, then the raw 409, worded as real Rekor words it.
    standIn.failNext('/api/v1/log/entries', 2)
    const post = () =>
      fetch(`${standIn.rekorURL}/api/v1/log/entries`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(proposed),
      })
    expect((await post()).status).toBe(503)
    expect((await post()).status).toBe(503)
    const res = await post()
    expect(res.status).toBe(409)
    const body = (await res.json()) as { code: number; message: string }
    const uuid = body.message.match(/with UUID ([0-9a-f]{64})$/)?.[1]
    expect(uuid).toBeDefined()
    expect(res.headers.get('location')).toBe(`/api/v1/log/entries/${uuid}`)
    const entry = await fetch(`${standIn.rekorURL}/api/v1/log/entries/${uuid}`)
    expect(Object.keys((await entry.json()) as object)).toEqual([uuid])
  })

  it('fails injected requests by service name, with a chosen status, then recovers', async () => {
    const before = standIn.requests.tsa
    standIn.failNext('tsa', 1, 500)
    const tsa = () =>
      fetch(`${standIn.tsaURL}/api/v1/timestamp`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          artifactHash: createHash('sha256').update('x').digest('base64'),
          hashAlgorithm: 'sha256',
        }),
      })
    expect((await tsa()).status).toBe(500)
    const ok = await tsa()
    expect(ok.status).toBe(201)
    expect(ok.headers.get('content-type')).toBe('application/timestamp-reply')
    expect(standIn.requests.tsa).toBe(before + 2)
  })
})

describe('OIDC token endpoint', () => {
  it('hands the action a GitHub-shaped token for the requested audience', async () => {
    const res = await fetch(`${standIn.oidc.requestURL}&audience=sigstore`, {
      headers: { Authorization: `Bearer ${standIn.oidc.requestToken}` },
    })
    expect(res.status).toBe(200)
    const { value } = (await res.json()) as { value: string }
    const claims = decodeJwt(value)
    expect(claims).toMatchObject({
      iss: ISSUER,
      aud: 'sigstore',
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
      job_workflow_ref: 'acme/app/.github/workflows/publish.yml@refs/heads/main',
      event_name: 'push',
      runner_environment: 'github-hosted',
    })
    expect(claims.sha).toMatch(/^[0-9a-f]{40}$/)
    expect(Number(claims.exp) - Number(claims.iat)).toBe(3600)
  })

  it('refuses a wrong or missing bearer token', async () => {
    const wrong = await fetch(`${standIn.oidc.requestURL}&audience=sigstore`, {
      headers: { Authorization: 'Bearer nope' },
    })
    expect(wrong.status).toBe(401)
    const missing = await fetch(`${standIn.oidc.requestURL}&audience=sigstore`)
    expect(missing.status).toBe(401)
  })

  it('makes Fulcio refuse a request without a token', async () => {
    const res = await fetch(`${standIn.fulcioURL}/api/v2/signingCert`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ publicKeyRequest: {} }),
    })
    expect(res.status).toBe(401)
  })
})
