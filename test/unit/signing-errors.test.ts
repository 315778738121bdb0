/**
 * Issue 10.5: a signing failure names the input at fault from sigstore-js's error code and the
 * service's HTTP status, not from words in the message. First @sigstore/sign's errors as it throws
 * them (InternalError with an HTTPError cause); then the real sigstore-js clients against a
 * loopback server that answers with a chosen status.
 */
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import { InternalError } from '@sigstore/sign'
import { SignetError } from '../../src/errors'
import { KeySigner } from '../../src/sigstore/key-signer'
import { KeylessSigner } from '../../src/sigstore/keyless-signer'
import { signingKeyFromPrivateKey, type SigningKey } from '../../src/sigstore/keys'
import { httpErrorClass, type HTTPError } from '../../src/sigstore/internals'
import { signingFailure } from '../../src/sigstore/signing-errors'
import { SigningSession } from '../../src/sigstore/signing-session'
import { asyncErrorOf } from '../infra/expect'
import { closeServer, listenOnLoopback } from '../infra/listen'

type Code = InternalError['code']
const HTTPErrorClass = httpErrorClass()

/** An error as @sigstore/sign throws it: its `internalError(err, code, message)`. */
function sigstoreError(code: Code, cause: unknown): InternalError {
  const message = 'error from sigstore-js'
  return new InternalError({
    code,
    message: cause instanceof HTTPErrorClass ? `${message} - ${cause.message}` : message,
    cause,
  })
}
const answered = (status: number, message = 'the service says no'): HTTPError =>
  new HTTPErrorClass({ status, message })
/** What node:http rejects with when nothing answers (sigstore-js-fetch.ts passes it on). */
const noAnswer = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.2:9'), {
    code: 'ECONNREFUSED',
  })

const KEYLESS = { keyless: true }
const BY_KEY = { keyless: false }

describe('signingFailure: the input at fault, from the code and the status (issue 10.5)', () => {
  it.each<[string, Code, unknown, { keyless: boolean }, string, RegExp]>([
    [
      'Fulcio refusing the token',
      'CA_CREATE_SIGNING_CERTIFICATE_ERROR',
      answered(401, 'invalid identity token'),
      KEYLESS,
      'fulcio-url',
      /^Fulcio \(fulcio-url\) did not issue a signing certificate: it refused the workflow's OIDC token \(HTTP 401: invalid identity token\).*id-token: write/,
    ],
    [
      'Fulcio at a wrong path',
      'CA_CREATE_SIGNING_CERTIFICATE_ERROR',
      answered(404),
      KEYLESS,
      'fulcio-url',
      /no such endpoint \(HTTP 404.*check fulcio-url is the service's base URL/,
    ],
    [
      'Fulcio down',
      'CA_CREATE_SIGNING_CERTIFICATE_ERROR',
      answered(503),
      KEYLESS,
      'fulcio-url',
      /unavailable \(HTTP 503.*after retries/,
    ],
    [
      'Fulcio not answering',
      'CA_CREATE_SIGNING_CERTIFICATE_ERROR',
      noAnswer(),
      KEYLESS,
      'fulcio-url',
      /^Fulcio \(fulcio-url\) .*no usable answer \(.*ECONNREFUSED.*\): check fulcio-url/,
    ],
    [
      'Rekor refusing a keyless entry',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(400),
      KEYLESS,
      'rekor-url',
      /^Rekor \(rekor-url\) did not record the signature: it refused the request \(HTTP 400/,
    ],
    [
      'Rekor refusing the entry of a key',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(400, 'invalid public key'),
      BY_KEY,
      'key',
      /it refused the entry signed with the key \(HTTP 400: invalid public key\): check rekor-url accepts the algorithm of key/,
    ],
    [
      'Rekor refusing the entry of a key (422)',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(422),
      BY_KEY,
      'key',
      /signed with the key \(HTTP 422/,
    ],
    [
      'Rekor down, signing by key',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(502),
      BY_KEY,
      'rekor-url',
      /unavailable \(HTTP 502/,
    ],
    [
      'Rekor rate-limiting',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(429),
      KEYLESS,
      'rekor-url',
      /unavailable \(HTTP 429/,
    ],
    [
      'Rekor refusing an entry as too large (issue 12.6), by key as keyless',
      'TLOG_CREATE_ENTRY_ERROR',
      answered(413, 'Request Entity Too Large'),
      BY_KEY,
      'rekor-url',
      /refused the entry as too large \(HTTP 413: Request Entity Too Large\): attest a smaller SBOM or predicate, raise the instance's max_request_body_size, or attest without the log \(tlog: false with tsa-url\)/,
    ],
    [
      'Rekor answering with no entry',
      'TLOG_CREATE_ENTRY_ERROR',
      new Error('invalid tlog entry'),
      KEYLESS,
      'rekor-url',
      /no usable answer \(invalid tlog entry\)/,
    ],
    [
      'Rekor not handing back the entry it already has',
      'TLOG_FETCH_ENTRY_ERROR',
      answered(404),
      BY_KEY,
      'rekor-url',
      /^Rekor \(rekor-url\) already had the signature but did not hand its entry back/,
    ],
    [
      'the TSA at a wrong path',
      'TSA_CREATE_TIMESTAMP_ERROR',
      answered(404),
      BY_KEY,
      'tsa-url',
      /^The timestamp authority \(tsa-url\) did not timestamp the signature: no such endpoint/,
    ],
    [
      'the TSA refusing the request',
      'TSA_CREATE_TIMESTAMP_ERROR',
      answered(400),
      BY_KEY,
      'tsa-url',
      /it refused the request \(HTTP 400.*check tsa-url/,
    ],
    [
      'the TSA not answering',
      'TSA_CREATE_TIMESTAMP_ERROR',
      noAnswer(),
      KEYLESS,
      'tsa-url',
      /no usable answer/,
    ],
    [
      'no OIDC token for sigstore-js',
      'IDENTITY_TOKEN_READ_ERROR',
      new Error('no token'),
      KEYLESS,
      'key',
      /permissions: id-token: write.*or sign with `key`/,
    ],
  ])('%s', (_name, code, cause, context, input, message) => {
    const err = signingFailure(sigstoreError(code, cause), context)
    expect(err).toBeInstanceOf(SignetError)
    expect(err.input).toBe(input)
    expect(err.message).toMatch(message)
    expect(err.cause).toBeInstanceOf(InternalError)
  })

  it('names the service by its code, whatever the message says', () => {
    // The old guess read "rekor" in a message as Rekor's fault.
    const err = signingFailure(
      new InternalError({
        code: 'TSA_CREATE_TIMESTAMP_ERROR',
        message: 'rekor tlog said no',
        cause: answered(404),
      }),
      BY_KEY,
    )
    expect(err.input).toBe('tsa-url')
  })

  it('keeps a SignetError as it is', () => {
    const original = new SignetError('OIDC_UNAVAILABLE', 'no token', { input: 'key' })
    expect(signingFailure(original, KEYLESS)).toBe(original)
  })

  it('names no input for an error that is no service answer', () => {
    const err = signingFailure(new TypeError('x is undefined'), BY_KEY)
    expect(err.code).toBe('SIGSTORE_ERROR')
    expect(err.input).toBeUndefined()
    expect(err.message).toBe('signing failed: x is undefined')
  })

  it('an unknown code (a sigstore-js the pin did not expect) names no input', () => {
    const err = signingFailure(
      new InternalError({ code: 'NEW_ERROR' as Code, message: 'new', cause: answered(400) }),
      KEYLESS,
    )
    expect(err.input).toBeUndefined()
    expect(err.message).toMatch(/^signing failed: new/)
  })
})

/** A loopback service answering every request with `status` and a JSON message. */
async function startService(status: number): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      const body = JSON.stringify({ code: status, message: `test service says ${status}` })
      res.writeHead(status, { 'Content-Type': 'application/json' })
      res.end(body)
    })
  })
  const port = await listenOnLoopback(server)
  return { url: `http://127.0.0.1:${port}`, stop: () => closeServer(server) }
}

function p256Key(): SigningKey {
  return signingKeyFromPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey)
}

/** A JWT-shaped token with a subject (Fulcio's proof of possession signs it); never verified. */
const TOKEN = [
  Buffer.from('{"alg":"none"}').toString('base64url'),
  Buffer.from('{"sub":"repo:acme/app:ref:refs/heads/main","iss":"https://issuer.test"}').toString(
    'base64url',
  ),
  'sig',
].join('.')

const UNUSED = 'http://127.0.0.2:9'

describe('the real sigstore-js clients, failing, name the input at fault (issue 10.5)', () => {
  it.each<[number, RegExp]>([
    [401, /refused the workflow's OIDC token \(HTTP 401: test service says 401\)/],
    [404, /no such endpoint \(HTTP 404/],
  ])('Fulcio answering %i: fulcio-url', async (status, message) => {
    const fulcio = await startService(status)
    try {
      const signer = new KeylessSigner({ getToken: async () => TOKEN }, fulcio.url)
      const err = await asyncErrorOf(signer.certificateChain())
      expect(err.input).toBe('fulcio-url')
      expect(err.message).toMatch(message)
    } finally {
      await fulcio.stop()
    }
  })

  it.each<[number, string, RegExp]>([
    [400, 'key', /Rekor \(rekor-url\) did not record the signature: it refused the entry signed/],
    [404, 'rekor-url', /Rekor \(rekor-url\) did not record the signature: no such endpoint/],
  ])('Rekor answering %i to a key-signed entry: %s', async (status, input, message) => {
    const rekor = await startService(status)
    try {
      const session = new SigningSession({
        fulcioURL: UNUSED,
        rekorURL: rekor.url,
        tlog: true,
        key: p256Key(),
      })
      const err = await asyncErrorOf(session.signPayload(Buffer.from('{"critical":{}}')))
      expect(err.input).toBe(input)
      expect(err.message).toMatch(message)
    } finally {
      await rekor.stop()
    }
  })

  it('the TSA answering 404: tsa-url', async () => {
    const tsa = await startService(404)
    try {
      const session = new SigningSession({
        fulcioURL: UNUSED,
        rekorURL: UNUSED,
        tsaURL: `${tsa.url}/api/v1/timestamp`,
        tlog: false,
        key: p256Key(),
      })
      const err = await asyncErrorOf(session.signStatement(Buffer.from('{"_type":"x"}')))
      expect(err.input).toBe('tsa-url')
      expect(err.message).toMatch(/^The timestamp authority \(tsa-url\) .*no such endpoint/)
    } finally {
      await tsa.stop()
    }
  })

  it('a key that cannot sign: key, not a service', async () => {
    const key: SigningKey = {
      ...p256Key(),
      sign: () => {
        throw new Error('key operation failed')
      },
    }
    const err = await asyncErrorOf(new KeySigner(key).sign(Buffer.from('payload')))
    expect(err.code).toBe('KEY_INVALID')
    expect(err.input).toBe('key')
  })
})
