/**
 * SigningSession and KeylessSigner: by key (offline), and keyless against the Sigstore stand-in
 * (@sigstore/mock's Fulcio, Rekor and TSA on a loopback server in this process). One certificate
 * serves every signature of a run; failures name the service at fault; nothing leaves the session
 * that its check refused.
 */
import { createPublicKey, generateKeyPairSync, verify, X509Certificate } from 'node:crypto'
import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { BUNDLE_V03_MEDIA_TYPE, type Bundle } from '@sigstore/bundle'
import { SignetError } from '../../src/errors'
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/formats/statement'
import { CERTIFICATE_MARGIN_MS, KeylessSigner } from '../../src/sigstore/keyless-signer'
import { loadSigningKey } from '../../src/sigstore/keys'
import { RetryBudget } from '../../src/retry'
import { SigningSession, type BundleCheck } from '../../src/sigstore/signing-session'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

/** `retry-timeout: 0`: every request is made once. */
const NO_RETRY = { budget: new RetryBudget(0) }

let standIn: SigstoreStandIn
beforeAll(async () => {
  standIn = await startSigstoreStandIn()
})
afterAll(async () => {
  await standIn?.stop()
  if (standIn) rmSync(dirname(standIn.trustedRootPath), { recursive: true, force: true })
})

/** Counts what each test asks of the stand-in, from zero. */
let before: Record<string, number>
beforeEach(() => {
  before = { ...standIn.requests }
})
const asked = (service: string) => (standIn.requests[service] ?? 0) - (before[service] ?? 0)

function identity() {
  return { getToken: jest.fn(async () => standIn.mintToken()) }
}

const statement = (n: number) =>
  Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [
        { name: 'registry.test/acme/app', digest: { sha256: `${n}`.repeat(64).slice(0, 64) } },
      ],
      predicateType: 'https://sigstore.dev/cosign/sign/v1',
      predicate: {},
    }),
  )

/** DSSE's pre-authentication encoding, what a DSSE signature covers. */
const pae = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body])

const leafOf = (bundle: Bundle): Buffer => {
  const content = bundle.verificationMaterial.content
  if (content.$case !== 'certificate') throw new Error(`no leaf certificate: ${content.$case}`)
  return content.certificate.rawBytes
}

describe('SigningSession by key (no services)', () => {
  const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString()
  const key = loadSigningKey(pem, undefined)
  const publicKey = createPublicKey(key.publicKeyPem)
  const session = new SigningSession({
    fulcioURL: 'http://127.0.0.1:9/unused',
    rekorURL: 'http://127.0.0.1:9/unused',
    tlog: false,
    key,
  })

  test('a payload: a v0.3 message-signature bundle with the key hint, and the raw signature', async () => {
    const payload = Buffer.from('{"critical":{}}')
    const signed = await session.signPayload(payload)
    expect(session.keyless).toBe(false)
    expect(await session.certificateChain()).toBeUndefined()
    expect(signed.bundle.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE)
    expect(signed.bundle.verificationMaterial.content).toEqual({
      $case: 'publicKey',
      publicKey: { hint: key.hint },
    })
    expect(signed.bundle.verificationMaterial.tlogEntries).toEqual([])
    if (signed.bundle.content.$case !== 'messageSignature')
      throw new Error('not a message signature')
    expect(signed.legacy.signature).toEqual(signed.bundle.content.messageSignature.signature)
    expect(verify('sha256', payload, publicKey, signed.legacy.signature)).toBe(true)
    expect(signed.legacy.certificatePem).toBeUndefined()
    expect(signed.legacy.tlogEntry).toBeUndefined()
  })

  test('a statement: a DSSE envelope with no keyid, its bytes kept for the .att layer', async () => {
    const signed = await session.signStatement(statement(1))
    if (signed.bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE envelope')
    const envelope = signed.bundle.content.dsseEnvelope
    expect(envelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE)
    expect(envelope.payload).toEqual(statement(1))
    expect(envelope.signatures.map((s) => s.keyid)).toEqual([''])
    expect(
      verify(
        'sha256',
        pae(IN_TOTO_PAYLOAD_TYPE, statement(1)),
        publicKey,
        envelope.signatures[0].sig,
      ),
    ).toBe(true)
    const json = JSON.parse(signed.envelopeJson.toString('utf8')) as {
      payload: string
      signatures: { sig: string }[]
    }
    expect(Buffer.from(json.payload, 'base64')).toEqual(statement(1))
    expect(Buffer.from(json.signatures[0].sig, 'base64')).toEqual(envelope.signatures[0].sig)
  })

  test('keyless with no identity provider is a programming error, said at once', () => {
    expect(
      () =>
        new SigningSession({
          fulcioURL: standIn.fulcioURL,
          rekorURL: standIn.rekorURL,
          tlog: true,
        }),
    ).toThrow('keyless signing needs an identity provider')
  })
})

describe('SigningSession keyless (stand-in Fulcio and Rekor)', () => {
  test('one token and one certificate for every signature of the session', async () => {
    const provider = identity()
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: provider,
    })
    const [chain, ...signed] = await Promise.all([
      session.certificateChain(),
      session.signPayload(Buffer.from('payload 1')),
      session.signPayload(Buffer.from('payload 2')),
      session.signStatement(statement(1)),
      session.signStatement(statement(2)),
      session.signPayload(Buffer.from('payload 3')),
    ])
    expect(provider.getToken).toHaveBeenCalledTimes(1)
    expect(asked('fulcio')).toBe(1)
    expect(asked('rekor')).toBe(5)

    const leaf = new X509Certificate(chain![0])
    expect(leaf.subjectAltName).toContain(standIn.identity.subject)
    for (const s of signed) {
      expect(s.bundle.mediaType).toBe(BUNDLE_V03_MEDIA_TYPE)
      // The leaf alone (v0.3): the chain is in the trusted root.
      expect(leafOf(s.bundle)).toEqual(leaf.raw)
      expect(s.bundle.verificationMaterial.tlogEntries).toHaveLength(1)
      expect(s.legacy.certificatePem).toBe(chain![0])
      expect(s.legacy.chainPem).toBe(chain!.slice(1).join(''))
      expect(s.legacy.tlogEntry).toBe(s.bundle.verificationMaterial.tlogEntries[0])
    }
    // Each signature verifies with the certificate's key.
    const first = signed[0].bundle
    if (first.content.$case !== 'messageSignature') throw new Error('not a message signature')
    expect(
      verify(
        'sha256',
        Buffer.from('payload 1'),
        leaf.publicKey,
        first.content.messageSignature.signature,
      ),
    ).toBe(true)
  })

  test('with a timestamp authority and no log: the timestamp is in the bundle and the .sig material', async () => {
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tsaURL: standIn.tsaURL,
      tlog: false,
      identity: identity(),
    })
    const signed = await session.signPayload(Buffer.from('payload'))
    expect(asked('rekor')).toBe(0)
    expect(asked('tsa')).toBe(1)
    const stamps = signed.bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps
    expect(stamps).toHaveLength(1)
    expect(signed.legacy.rfc3161Timestamp).toEqual(stamps![0].signedTimestamp)
    expect(signed.bundle.verificationMaterial.tlogEntries).toEqual([])
  })

  test('Fulcio refusing: a SIGSTORE_ERROR naming fulcio-url', async () => {
    standIn.failNext('fulcio', 1, 400)
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
    })
    const error = await session.signPayload(Buffer.from('payload')).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SignetError)
    expect(error).toMatchObject({
      code: 'SIGSTORE_ERROR',
      input: 'fulcio-url',
      message: expect.stringMatching(/^Fulcio.* did not issue a signing certificate/),
    })
    expect(asked('rekor')).toBe(0)
  })

  test('Rekor refusing: a SIGSTORE_ERROR naming rekor-url', async () => {
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
    })
    await session.certificateChain()
    standIn.failNext('rekor', 1, 400)
    await expect(session.signStatement(statement(1))).rejects.toMatchObject({
      code: 'SIGSTORE_ERROR',
      input: 'rekor-url',
      message: expect.stringMatching(/rekor|tlog/i),
    })
  })

  test('the check sees every bundle, with the payload, before it is handed out', async () => {
    const seen: [Bundle, Buffer | undefined][] = []
    const check: BundleCheck = {
      verify: (bundle, artifact) => {
        seen.push([bundle, artifact])
      },
    }
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
      check: Promise.resolve(check),
    })
    const payload = await session.signPayload(Buffer.from('payload'))
    const attested = await session.signStatement(statement(1))
    expect(seen).toEqual([
      [payload.bundle, Buffer.from('payload')],
      [attested.bundle, undefined],
    ])
  })

  test('a bundle the check refuses is not handed out', async () => {
    const refusal = new SignetError('SIGSTORE_ERROR', 'the log entry does not verify', {
      input: 'trusted-root',
    })
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
      check: Promise.resolve({
        verify: () => {
          throw refusal
        },
      }),
    })
    await expect(session.signPayload(Buffer.from('payload'))).rejects.toBe(refusal)
    await expect(session.signStatement(statement(1))).rejects.toBe(refusal)
  })
})

describe("SigningSession through an outage (the run's budget, a fake clock)", () => {
  test('Rekor down longer than the certificate has left: signed again with a renewed certificate', async () => {
    let now = Date.now()
    const lines: string[] = []
    // Each wait passes four minutes: the third try comes 8 minutes after the certificate.
    const budget = new RetryBudget(30 * 60_000, {
      now: () => now,
      sleep: async () => {
        now += 4 * 60_000
      },
      log: (line) => lines.push(line),
    })
    const provider = identity()
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: provider,
      budget,
    })
    const first = (await session.certificateChain())!
    standIn.failNext('rekor', 2, 503)
    const signed = await session.signPayload(Buffer.from('payload'))
    expect(asked('rekor')).toBe(3)
    expect(asked('fulcio')).toBe(2)
    expect(provider.getToken).toHaveBeenCalledTimes(2)
    // The signature, its bundle and the .sig material all carry the renewed certificate.
    const renewed = signed.legacy.certificatePem!
    expect(renewed).not.toBe(first[0])
    expect(leafOf(signed.bundle)).toEqual(new X509Certificate(renewed).raw)
    expect(lines).toHaveLength(2)
    expect(lines[0]).toMatch(
      new RegExp(
        `^Rekor \\(${standIn.rekorURL}\\): HTTP 503 .*; retry 1 in .*left of retry-timeout$`,
      ),
    )
  })

  test('a signature keeps the certificate it was made with, though another renewed it meanwhile', async () => {
    let now = Date.now()
    let renewal: Promise<string[] | undefined> | undefined
    const session: SigningSession = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
      budget: new RetryBudget(0),
      now: () => now,
      // Between Rekor's answer and the .sig material: time passes and the certificate is renewed.
      check: Promise.resolve({
        verify: () => {
          if (renewal) return
          now += 9 * 60_000
          renewal = session.certificateChain()
        },
      }),
    })
    const first = (await session.certificateChain())!
    const signed = await session.signPayload(Buffer.from('payload'))
    const renewed = (await renewal)!
    expect(renewed[0]).not.toBe(first[0])
    expect(leafOf(signed.bundle)).toEqual(new X509Certificate(first[0]).raw)
    expect(signed.legacy.certificatePem).toBe(first[0])
    expect(signed.legacy.chainPem).toBe(first.slice(1).join(''))
  })

  test('Rekor down longer than retry-timeout: a SIGSTORE_ERROR naming rekor-url and retry-timeout', async () => {
    let now = Date.now()
    const budget = new RetryBudget(10_000, {
      now: () => now,
      sleep: async (ms) => {
        now += ms
      },
      random: () => 1,
    })
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
      budget,
    })
    await session.certificateChain()
    // Waits of 2 s, 4 s and the 4 s left: four tries in the 10 s.
    standIn.failNext('rekor', 4, 503)
    await expect(session.signPayload(Buffer.from('payload'))).rejects.toMatchObject({
      code: 'SIGSTORE_ERROR',
      input: 'rekor-url',
      message: expect.stringMatching(
        /^Rekor \(rekor-url\) did not record the signature: it is unavailable \(HTTP 503.*\), still unavailable after retrying for 10 s \(retry-timeout\)/,
      ),
    })
    expect(asked('rekor')).toBe(4)
  })

  test('Rekor refusing (400) is not retried, whatever the budget', async () => {
    const session = new SigningSession({
      fulcioURL: standIn.fulcioURL,
      rekorURL: standIn.rekorURL,
      tlog: true,
      identity: identity(),
      budget: new RetryBudget(60_000, { sleep: async () => undefined }),
    })
    await session.certificateChain()
    standIn.failNext('rekor', 1, 400)
    await expect(session.signPayload(Buffer.from('payload'))).rejects.toMatchObject({
      input: 'rekor-url',
    })
    expect(asked('rekor')).toBe(1)
  })
})

describe('KeylessSigner', () => {
  afterEach(() => jest.restoreAllMocks())

  test('the certificate is asked for again only when it is about to expire', async () => {
    const provider = identity()
    let now = Date.now()
    const signer = new KeylessSigner(provider, standIn.fulcioURL, { ...NO_RETRY, now: () => now })
    const first = await signer.certificateChain()
    expect((await signer.certificateChain()).certificates).toBe(first.certificates)
    await signer.sign(Buffer.from('x'))
    expect(asked('fulcio')).toBe(1)

    // Just outside the margin: the same certificate.
    now = first.notAfter.getTime() - CERTIFICATE_MARGIN_MS - 1000
    expect((await signer.certificateChain()).certificates).toBe(first.certificates)
    // Inside the margin (too little left to finish a signature): a new certificate.
    now = first.notAfter.getTime() - CERTIFICATE_MARGIN_MS + 1000
    const renewed = await signer.certificateChain()
    expect(asked('fulcio')).toBe(2)
    expect(provider.getToken).toHaveBeenCalledTimes(2)
    expect(renewed.certificates[0]).not.toBe(first.certificates[0])
  })

  test('a failed request is not remembered: the next signature asks again', async () => {
    const signer = new KeylessSigner(identity(), standIn.fulcioURL, NO_RETRY)
    standIn.failNext('fulcio', 1, 503)
    await expect(signer.sign(Buffer.from('x'))).rejects.toMatchObject({
      code: 'SIGSTORE_ERROR',
      input: 'fulcio-url',
    })
    const signature = await signer.sign(Buffer.from('x'))
    expect(signature.key.$case).toBe('x509Certificate')
    expect(asked('fulcio')).toBe(2)
  })

  test('an identity provider that fails fails the signature with its own error', async () => {
    const refusal = new SignetError('OIDC_UNAVAILABLE', 'no token', { input: 'key' })
    const signer = new KeylessSigner(
      { getToken: async () => Promise.reject(refusal) },
      standIn.fulcioURL,
      NO_RETRY,
    )
    await expect(signer.sign(Buffer.from('x'))).rejects.toBe(refusal)
    expect(asked('fulcio')).toBe(0)
  })
})
