/**
 * A Sigstore stand-in on loopback: Fulcio (v1 and v2 APIs), Rekor v1, an RFC 3161 timestamp
 * authority and a GitHub Actions OIDC token endpoint, all on one node:http server.
 *
 * The cryptography comes from @sigstore/mock (the CA, CT log, transparency log and TSA that
 * sigstore-js tests itself against). That package is written for nock and for sigstore-js only, so
 * this file adds what separate processes and real cosign (v2 and v3) need on top of it; each
 * addition says which client broke without it.
 *
 * The server runs in the caller's event loop: drive clients asynchronously (runToolAsync, async
 * child processes), since a synchronous spawn starves the server and deadlocks.
 *
 * Known gaps against production: hashedrekord signatures are not checked (Node cannot verify a
 * prehashed ECDSA signature); every inclusion proof is the mock's one-leaf tree; all leaf
 * certificates share the mock CA's serial number and carry a URI SAN, even for email identities.
 */
import {
  createHash,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  KeyObject,
  sign,
  verify,
  X509Certificate,
} from 'node:crypto'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
} from '@sigstore/mock'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { closeServer, listenOnLoopback } from './listen'

/** JWT claims; `undefined` removes a default claim. (boolean is there for `email_verified`.) */
export interface GitHubClaims {
  [claim: string]: string | number | boolean | undefined
}

export interface SigstoreStandIn {
  /** http://127.0.0.1:PORT: Fulcio, Rekor, the TSA and the OIDC endpoint share it. */
  url: string
  fulcioURL: string
  rekorURL: string
  /** Base URL, as sigstore-js's TSAWitness wants it; the endpoint is `${tsaURL}/api/v1/timestamp`. */
  tsaURL: string
  /** ACTIONS_ID_TOKEN_REQUEST_URL / _TOKEN; the URL already holds '?', so core appends '&audience='. */
  oidc: { requestURL: string; requestToken: string }
  trustedRootPath: string
  signingConfigPath: string
  /** SIGSTORE_ROOT_FILE, SIGSTORE_REKOR_PUBLIC_KEY, SIGSTORE_CT_LOG_PUBLIC_KEY_FILE for cosign v2. */
  cosignV2Env: Record<string, string>
  /** A GitHub-shaped OIDC JWT (RS256, signed by a throwaway key); `undefined` in claims removes one. */
  mintToken(claims?: GitHubClaims): string
  /** What a verifier must expect for tokens minted with the stand-in's claims. */
  identity: { subject: string; issuer: string }
  /** Requests seen, by service: 'fulcio', 'rekor', 'tsa', 'oidc' (and 'other'). */
  requests: Record<string, number>
  /** Every request as 'METHOD /path -> status', oldest first, for debugging a failing test. */
  log: string[]
  /**
   * Fails the next `count` requests matching `pathPrefix` with `status` (503 by default).
   * `pathPrefix` is a URL path prefix ('/api/v1/log/entries') or a service name ('rekor').
   */
  failNext(pathPrefix: string, count: number, status?: number): void
  /**
   * An outage: every request matching `pathPrefix` (as for failNext) fails with `status` (503 by
   * default) for the next `ms` milliseconds of wall time.
   */
  failFor(pathPrefix: string, ms: number, status?: number): void
  stop(): Promise<void>
}

export interface SigstoreStandInOptions {
  /** Where trusted_root.json and friends go; a fresh temp dir by default. */
  dir?: string
  /** Overrides of the default GitHub claims, for every token the stand-in mints. */
  claims?: GitHubClaims
}

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'
const OPERATOR = 'signet-standin'
const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json;version=0.1'
const SIGNING_CONFIG_MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json'
// The mock Fulcio takes the certificate's SAN from one named claim; we put the SAN real Fulcio
// would compute into this claim before handing the token over.
const SAN_CLAIM = 'signet_standin_san'
export const GITLAB_ISSUER = 'https://gitlab.com'
const HOUR = 3600

/** GitHub-shaped claims; time claims are added when a token is minted. */
export function defaultGitHubClaims(): GitHubClaims {
  const workflowRef = 'acme/app/.github/workflows/publish.yml@refs/heads/main'
  const sha = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678'
  return {
    iss: GITHUB_ISSUER,
    aud: 'sigstore',
    sub: 'repo:acme/app:ref:refs/heads/main',
    jti: 'signet-standin',
    actor: 'octocat',
    actor_id: '583231',
    repository: 'acme/app',
    repository_owner: 'acme',
    repository_id: '700000001',
    repository_owner_id: '700000002',
    repository_visibility: 'public',
    ref: 'refs/heads/main',
    ref_type: 'branch',
    ref_protected: 'false',
    sha,
    workflow: 'publish',
    workflow_ref: workflowRef,
    workflow_sha: sha,
    job_workflow_ref: workflowRef,
    job_workflow_sha: sha,
    event_name: 'push',
    runner_environment: 'github-hosted',
    run_id: '9000000001',
    run_number: '7',
    run_attempt: '1',
  }
}

/**
 * Layers claim overrides. job_workflow_ref/_sha follow workflow_ref/_sha unless set themselves,
 * since for a workflow that is not reusable GitHub makes them equal.
 */
function mergeClaims(base: GitHubClaims, over: GitHubClaims = {}): GitHubClaims {
  const merged: GitHubClaims = { ...base, ...over }
  if ('workflow_ref' in over && !('job_workflow_ref' in over)) {
    merged.job_workflow_ref = over.workflow_ref
  }
  if ('workflow_sha' in over && !('job_workflow_sha' in over)) {
    merged.job_workflow_sha = over.workflow_sha
  }
  for (const key of Object.keys(merged)) if (merged[key] === undefined) delete merged[key]
  return merged
}

/**
 * The SAN real Fulcio issues: GitHub workflows get their job_workflow_ref URL, GitLab CI jobs their
 * ci_config_ref_uri as an https URL (Fulcio's gitlabcom issuer type), else email/sub.
 */
function subjectFor(claims: Record<string, unknown>): string | undefined {
  if (claims.iss === GITLAB_ISSUER && typeof claims.ci_config_ref_uri === 'string') {
    return `https://${claims.ci_config_ref_uri}`
  }
  if (typeof claims.job_workflow_ref === 'string') {
    return `https://github.com/${claims.job_workflow_ref}`
  }
  if (typeof claims.email === 'string') {
    // Real Fulcio refuses email identities the issuer has not verified.
    return claims.email_verified === true ? claims.email : undefined
  }
  return typeof claims.sub === 'string' ? claims.sub : undefined
}

const b64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url')

function decodeJwt(token: string): { header: string; claims: Record<string, unknown> } {
  const parts = token.split('.')
  if (parts.length !== 3) throw new Error('not a JWT')
  const claims: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'))
  if (typeof claims !== 'object' || claims === null) throw new Error('JWT claims are not an object')
  return { header: parts[0], claims: claims as Record<string, unknown> }
}

/** The mock hands out ArrayBufferViews; Node wants Buffers. */
const bytes = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength)

/** A mock handler's response (JSON, PEM or an error message) as text. */
const responseText = (response: string | ArrayBufferView): string =>
  typeof response === 'string' ? response : bytes(response).toString('utf8')

function pem(label: string, der: ArrayBufferView): string {
  const lines =
    bytes(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? []
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`
}

/** RFC 8785 JSON canonicalization for the plain JSON Rekor entries hold (strings, ints, objects). */
function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

interface Reply {
  status: number
  body: string | Uint8Array
  contentType?: string
  headers?: Record<string, string>
}

const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body: JSON.stringify(value),
  contentType: 'application/json',
  headers,
})

/** The mock TSA's request (its nonce is a JS number, too small for the nonces clients send). */
interface TimestampRequest {
  artifactHash: Buffer
  hashAlgorithmOID: string
  nonce: number
  policyOID: string
  certReq?: boolean
}
const OID_TSA_POLICY = '1.3.6.1.4.1.57264.2'

/** DSSE pre-authentication encoding, what a DSSE signature covers. */
function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `),
    type,
    Buffer.from(` ${payload.length} `),
    payload,
  ])
}

/** A certificate or public key, PEM or DER, as Rekor entries carry verifiers. */
function publicKeyOf(material: Buffer): KeyObject {
  const text = material.toString('utf8')
  if (text.includes('CERTIFICATE')) return new X509Certificate(material).publicKey
  if (text.includes('-----BEGIN')) return createPublicKey(text)
  try {
    return new X509Certificate(material).publicKey
  } catch {
    return createPublicKey({ key: material, format: 'der', type: 'spki' })
  }
}

function verifyDsse(payloadType: string, payload: Buffer, sig: Buffer, key: Buffer): boolean {
  try {
    return verify('sha256', pae(payloadType, payload), publicKeyOf(key), sig)
  } catch {
    return false
  }
}

/**
 * Turns a proposed Rekor entry into the body real Rekor stores. The mock logs what it is given
 * verbatim, but for dsse and intoto entries Rekor keeps hashes instead of the envelope, and
 * verifiers (sigstore-js, sigstore-go) compare the bundle against those hashes: without this a
 * DSSE bundle fails verification with "DSSE payload hash mismatch". Like Rekor, it rejects
 * envelopes whose signatures do not verify.
 */
function canonicalEntry(proposed: Record<string, unknown>): {
  entry: Record<string, unknown>
  /** What Rekor's /api/v1/index/retrieve finds the entry by ('sha256:<hex>'). */
  indexKeys: string[]
} {
  const kind = proposed.kind
  const apiVersion = proposed.apiVersion
  const spec = proposed.spec as Record<string, unknown> | undefined
  if (typeof spec !== 'object' || spec === null) throw new HttpError(400, 'entry has no spec')
  if (kind === 'hashedrekord' && apiVersion === '0.0.1') {
    const data = spec.data as { hash?: { algorithm?: string; value?: string } } | undefined
    const signature = spec.signature as
      { content?: string; publicKey?: { content?: string } } | undefined
    if (!data?.hash?.value || !signature?.content || !signature.publicKey?.content) {
      throw new HttpError(400, 'hashedrekord entry lacks hash, signature or public key')
    }
    const algorithm = data.hash.algorithm ?? 'sha256'
    return {
      entry: {
        apiVersion,
        kind,
        spec: {
          data: { hash: { algorithm, value: data.hash.value } },
          signature: {
            content: signature.content,
            publicKey: { content: signature.publicKey.content },
          },
        },
      },
      indexKeys: [`${algorithm}:${data.hash.value}`],
    }
  }
  if (kind === 'dsse' && apiVersion === '0.0.1') {
    const proposedContent = spec.proposedContent as
      { envelope?: string; verifiers?: string[] } | undefined
    if (!proposedContent?.envelope || !proposedContent.verifiers?.length) {
      throw new HttpError(400, 'dsse entry lacks proposedContent')
    }
    const envelope = JSON.parse(proposedContent.envelope) as Envelope
    const payload = Buffer.from(envelope.payload, 'base64')
    const signatures = envelope.signatures.map(({ sig }) => {
      const verifier = proposedContent.verifiers?.find((v) =>
        verifyDsse(
          envelope.payloadType,
          payload,
          Buffer.from(sig, 'base64'),
          Buffer.from(v, 'base64'),
        ),
      )
      if (!verifier) throw new HttpError(400, 'all signatures must have a key that verifies it')
      return { signature: sig, verifier }
    })
    signatures.sort((a, b) => (a.signature < b.signature ? -1 : 1))
    const payloadHash = sha256hex(payload)
    const envelopeHash = sha256hex(proposedContent.envelope)
    return {
      entry: {
        apiVersion,
        kind,
        spec: {
          envelopeHash: { algorithm: 'sha256', value: envelopeHash },
          payloadHash: { algorithm: 'sha256', value: payloadHash },
          signatures,
        },
      },
      indexKeys: [
        `sha256:${payloadHash}`,
        `sha256:${envelopeHash}`,
        ...subjectDigests(envelope.payloadType, payload),
      ],
    }
  }
  if (kind === 'intoto' && apiVersion === '0.0.2') {
    const content = spec.content as
      | {
          envelope?: {
            payloadType: string
            payload: string
            signatures: { sig: string; publicKey: string; keyid?: string }[]
          }
          hash?: { algorithm: string; value: string }
        }
      | undefined
    const envelope = content?.envelope
    if (!envelope?.payload || !envelope.signatures?.length || !content?.hash) {
      throw new HttpError(400, 'intoto entry lacks envelope or hash')
    }
    // Payload and signatures are base64 twice over in intoto entries.
    const payload = Buffer.from(Buffer.from(envelope.payload, 'base64').toString(), 'base64')
    for (const s of envelope.signatures) {
      const sig = Buffer.from(Buffer.from(s.sig, 'base64').toString(), 'base64')
      if (!verifyDsse(envelope.payloadType, payload, sig, Buffer.from(s.publicKey, 'base64'))) {
        throw new HttpError(400, 'all signatures must have a key that verifies it')
      }
    }
    const payloadHash = sha256hex(payload)
    return {
      entry: {
        apiVersion,
        kind,
        spec: {
          content: {
            envelope: { payloadType: envelope.payloadType, signatures: envelope.signatures },
            hash: content.hash,
            payloadHash: { algorithm: 'sha256', value: payloadHash },
          },
        },
      },
      indexKeys: [`sha256:${payloadHash}`, ...subjectDigests(envelope.payloadType, payload)],
    }
  }
  throw new HttpError(400, `unsupported entry kind ${String(kind)} ${String(apiVersion)}`)
}

interface Envelope {
  payloadType: string
  payload: string
  signatures: { sig: string; keyid?: string }[]
}

/** Rekor also indexes in-toto statements by their subjects' digests. */
function subjectDigests(payloadType: string, payload: Buffer): string[] {
  if (payloadType !== 'application/vnd.in-toto+json') return []
  try {
    const statement = JSON.parse(payload.toString('utf8')) as {
      subject?: { digest?: Record<string, string> }[]
    }
    return (statement.subject ?? []).flatMap((s) =>
      Object.entries(s.digest ?? {}).map(([alg, value]) => `${alg}:${value}`),
    )
  } catch {
    return []
  }
}

interface LogEntry {
  body: string
  integratedTime: number
  logID: string
  logIndex: number
  verification: unknown
}

function parseJSON(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    throw new HttpError(400, 'request body is not JSON')
  }
}

const sha256hex = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

function serviceOf(path: string): string {
  if (path.startsWith('/oidc')) return 'oidc'
  if (/^\/api\/v[12]\/(signingCert|rootCert|trustBundle|configuration)/.test(path)) return 'fulcio'
  if (/^\/api\/v1\/(log|index)/.test(path)) return 'rekor'
  if (path.startsWith('/api/v1/timestamp')) return 'tsa'
  return 'other'
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

const ecKeyPair = () => generateKeyPairSync('ec', { namedCurve: 'P-256' })

export async function startSigstoreStandIn(
  options: SigstoreStandInOptions = {},
): Promise<SigstoreStandIn> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'sigstore-standin-'))
  mkdirSync(dir, { recursive: true })
  const baseClaims = mergeClaims(defaultGitHubClaims(), options.claims)

  // The server listens first: the transparency log needs its host:port for checkpoint origins.
  let route: (req: IncomingMessage, path: string, body: Buffer) => Promise<Reply> = async () =>
    json(503, { message: 'starting' })
  const requests: Record<string, number> = { fulcio: 0, rekor: 0, tsa: 0, oidc: 0 }
  const failures: { prefix: string; remaining: number; status: number; until?: number }[] = []
  const log: string[] = []

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    const service = serviceOf(path)
    requests[service] = (requests[service] ?? 0) + 1
    const send = (reply: Reply): void => {
      const body = typeof reply.body === 'string' ? Buffer.from(reply.body) : reply.body
      log.push(`${req.method ?? 'GET'} ${path} -> ${reply.status}`)
      res.writeHead(reply.status, {
        'Content-Type': reply.contentType ?? 'text/plain',
        'Content-Length': String(body.byteLength),
        ...reply.headers,
      })
      res.end(body)
    }
    // Claimed now, not after the body arrives, so concurrent requests cannot share one failure.
    const failure = failures.find(
      (f) =>
        (f.until !== undefined ? Date.now() < f.until : f.remaining > 0) &&
        (path.startsWith(f.prefix) || f.prefix === service),
    )
    if (failure && failure.until === undefined) failure.remaining -= 1
    readBody(req)
      .then((body) => {
        if (failure) {
          return json(failure.status, {
            code: failure.status,
            message: 'failure injected by the stand-in',
          })
        }
        return route(req, path, body)
      })
      .then(send, (err: unknown) => {
        const status = err instanceof HttpError ? err.status : 500
        const message = err instanceof Error ? err.message : String(err)
        send(json(status, { code: status, message }))
      })
  })
  const url = `http://127.0.0.1:${await listenOnLoopback(server)}`

  // Separate keys per service, as in production: verifiers pick keys by logId / chain.
  const ctKeys = ecKeyPair()
  const caKeys = ecKeyPair()
  const rekorKeys = ecKeyPair()
  const tsaKeys = ecKeyPair()
  // No clock: the mocks take a fixed Date, which would freeze every certificate's validity window.
  // With the real clock, leaf certificates start now, after the roots (made now too).
  const ctlog = await initializeCTLog(ctKeys)
  const ca = await initializeCA(caKeys, ctlog)
  const tlog = await initializeTLog(url, rekorKeys)
  const tsa = await initializeTSA(tsaKeys)
  // The mock writes genTime with milliseconds, and DER drops trailing zeros (".5Z"), which
  // sigstore-js's time parser refuses (it wants exactly three digits). sigstore's own TSA writes
  // whole seconds; so do we.
  ;(tsa as unknown as { getCurrentTime: () => Date }).getCurrentTime = () =>
    new Date(Math.floor(Date.now() / 1000) * 1000)
  const fulcio = fulcioHandler(ca, { subjectClaim: SAN_CLAIM }).fn
  const rekor = rekorHandler(tlog).fn
  const tsaJSON = tsaHandler(tsa).fn

  // cosign v2 (--timestamp-server-url) sends a 160-bit nonce, which an RFC 3161 reply must echo;
  // the mock TSA keeps nonces as JS numbers. Hand its TSTInfo the request's own INTEGER instead
  // (DER requests are remembered by object identity; cosign v3 sends no nonce, so none is put).
  const derNonces = new WeakMap<object, asn1js.Integer | null>()
  const tsaImpl = tsa as unknown as { tstInfo(req: TimestampRequest): pkijs.TSTInfo }
  const mockTstInfo = tsaImpl.tstInfo.bind(tsaImpl)
  tsaImpl.tstInfo = (req: TimestampRequest): pkijs.TSTInfo => {
    const info = mockTstInfo(req)
    // The mock's fixed serial DEADBEEF encodes as a negative INTEGER; RFC 3161 wants a unique,
    // positive one. The first byte is kept in 0x01–0x7f: a leading 0x00 would be a non-minimal DER
    // INTEGER, which Go's asn1 (cosign) refuses.
    const serial = randomBytes(16)
    serial[0] = (serial[0] & 0x7f) | 0x01
    info.serialNumber = new asn1js.Integer({ valueHex: serial })
    const nonce = derNonces.get(req)
    if (nonce !== undefined) info.nonce = nonce ?? undefined
    return info
  }

  const validFrom = new Date(Date.now() - 24 * HOUR * 1000).toISOString()
  const rekorLogId = createHash('sha256').update(tlog.publicKey).digest()
  const fulcioRootPEM = pem('CERTIFICATE', ca.rootCertificate)
  const rekorKeyPEM = pem('PUBLIC KEY', tlog.publicKey)
  const ctKeyPEM = pem('PUBLIC KEY', ctlog.publicKey)
  const tsaChainPEM =
    pem('CERTIFICATE', tsa.intCertificate) + pem('CERTIFICATE', tsa.rootCertificate)

  // Rekor and the CT log are listed alike: where they are, their key, their log ID.
  const transparencyLog = (publicKey: Uint8Array, logId: Buffer) => ({
    baseUrl: url,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: Buffer.from(publicKey).toString('base64'),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFor: { start: validFrom },
    },
    logId: { keyId: logId.toString('base64') },
  })
  const trustedRoot = {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: [transparencyLog(tlog.publicKey, rekorLogId)],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: {
          certificates: [{ rawBytes: bytes(ca.rootCertificate).toString('base64') }],
        },
        validFor: { start: validFrom },
      },
    ],
    ctlogs: [transparencyLog(ctlog.publicKey, bytes(ctlog.logID))],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: `${url}/api/v1/timestamp`,
        // Leaf (the mock's "intermediate", which signs timestamps) first, root last.
        certChain: {
          certificates: [tsa.intCertificate, tsa.rootCertificate].map((c) => ({
            rawBytes: bytes(c).toString('base64'),
          })),
        },
        validFor: { start: validFrom },
      },
    ],
  }
  const service = (serviceURL: string) => ({
    url: serviceURL,
    majorApiVersion: 1,
    validFor: { start: validFrom },
    operator: OPERATOR,
  })
  const signingConfig = {
    mediaType: SIGNING_CONFIG_MEDIA_TYPE,
    caUrls: [service(url)],
    oidcUrls: [],
    rekorTlogUrls: [service(url)],
    tsaUrls: [service(`${url}/api/v1/timestamp`)],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  }

  const trustedRootPath = join(dir, 'trusted_root.json')
  const signingConfigPath = join(dir, 'signing_config.json')
  writeFileSync(trustedRootPath, JSON.stringify(trustedRoot, null, 2))
  writeFileSync(signingConfigPath, JSON.stringify(signingConfig, null, 2))
  writeFileSync(join(dir, 'fulcio_root.pem'), fulcioRootPEM)
  writeFileSync(join(dir, 'rekor.pub'), rekorKeyPEM)
  writeFileSync(join(dir, 'ctlog.pub'), ctKeyPEM)
  writeFileSync(join(dir, 'tsa_chain.pem'), tsaChainPEM)
  const cosignV2Env = {
    SIGSTORE_ROOT_FILE: join(dir, 'fulcio_root.pem'),
    SIGSTORE_REKOR_PUBLIC_KEY: join(dir, 'rekor.pub'),
    SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: join(dir, 'ctlog.pub'),
  }

  // The OIDC side: GitHub signs with RS256; so do we, with a key nobody trusts (the mock Fulcio
  // does not verify tokens, but clients that parse JWS reject alg "none").
  const oidcKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  const requestToken = `standin-${createHash('sha256').update(url).digest('hex').slice(0, 24)}`
  const mintToken = (claims?: GitHubClaims): string => {
    const now = Math.floor(Date.now() / 1000)
    const payload = mergeClaims({ ...baseClaims, iat: now, nbf: now - 5, exp: now + HOUR }, claims)
    const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'signet-standin' }))
    const body = b64url(JSON.stringify(payload))
    const signature = sign('sha256', Buffer.from(`${header}.${body}`), oidcKey)
    return `${header}.${body}.${b64url(signature)}`
  }

  /** The token a Fulcio request carries: `Authorization: Bearer` or the v2 body's credentials. */
  const tokenOf = (
    req: IncomingMessage,
    body?: { credentials?: { oidcIdentityToken?: string } },
  ) => {
    const auth = req.headers.authorization
    const bearer = auth?.match(/^Bearer\s+(.+)$/i)?.[1]
    const token = bearer ?? body?.credentials?.oidcIdentityToken
    if (!token) throw new HttpError(401, 'no OIDC token: send Authorization: Bearer <token>')
    return token
  }

  /**
   * Fulcio v2 certificate issuance through the mock. The mock reads the token from the body only
   * (cosign v3 sends it only as a header) and takes the SAN from one named claim, so the token it
   * sees gets the SAN real Fulcio would issue added as a claim. It answers 201 where Fulcio's
   * gRPC gateway answers 200; cosign v3 accepts only 200.
   */
  const issue = async (token: string, request: Record<string, unknown>): Promise<string[]> => {
    let decoded: ReturnType<typeof decodeJwt>
    try {
      decoded = decodeJwt(token)
    } catch (err) {
      throw new HttpError(401, `invalid OIDC token: ${(err as Error).message}`)
    }
    const exp = decoded.claims.exp
    if (typeof exp === 'number' && exp < Date.now() / 1000) {
      throw new HttpError(401, 'OIDC token expired')
    }
    const subject = subjectFor(decoded.claims)
    if (!subject) throw new HttpError(401, 'OIDC token has no subject')
    const claims = b64url(JSON.stringify({ ...decoded.claims, [SAN_CLAIM]: subject }))
    const forMock = `${decoded.header}.${claims}.${token.split('.')[2]}`
    const result = await fulcio(
      JSON.stringify({ ...request, credentials: { oidcIdentityToken: forMock } }),
    )
    if (result.statusCode >= 300) throw new HttpError(400, responseText(result.response))
    const parsed = JSON.parse(responseText(result.response)) as {
      signedCertificateEmbeddedSct: { chain: { certificates: string[] } }
    }
    return parsed.signedCertificateEmbeddedSct.chain.certificates
  }

  const fulcioV2 = async (req: IncomingMessage, body: Buffer): Promise<Reply> => {
    const request = parseJSON(body) as Record<string, unknown>
    const chain = await issue(tokenOf(req, request), request)
    return json(200, { signedCertificateEmbeddedSct: { chain: { certificates: chain } } })
  }

  /**
   * Fulcio v1 (cosign v2): `{publicKey: {algorithm, content: base64(DER or PEM)},
   * signedEmailAddress}` or `{certificateSigningRequest: base64(PEM)}`, token in the header;
   * answers 201 with the PEM chain, leaf first.
   */
  const fulcioV1 = async (req: IncomingMessage, body: Buffer): Promise<Reply> => {
    const token = tokenOf(req)
    const v1 = parseJSON(body) as {
      publicKey?: { algorithm?: string; content?: string }
      signedEmailAddress?: string
      certificateSigningRequest?: string
    }
    let request: Record<string, unknown>
    if (v1.certificateSigningRequest) {
      request = {
        certificateSigningRequest: Buffer.from(v1.certificateSigningRequest, 'base64').toString(),
      }
    } else if (v1.publicKey?.content) {
      const raw = Buffer.from(v1.publicKey.content, 'base64')
      const keyPEM = raw.toString('utf8').includes('-----BEGIN')
        ? raw.toString()
        : pem('PUBLIC KEY', raw)
      request = {
        publicKeyRequest: {
          publicKey: { algorithm: v1.publicKey.algorithm ?? 'ECDSA', content: keyPEM },
          proofOfPossession: v1.signedEmailAddress ?? '',
        },
      }
    } else {
      throw new HttpError(400, 'request has neither publicKey nor certificateSigningRequest')
    }
    const chain = await issue(token, request)
    return {
      status: 201,
      body: chain.map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join(''),
      contentType: 'application/pem-certificate-chain',
    }
  }

  // Rekor's log, keyed by entry UUID (the RFC 6962 leaf hash of the canonical body, as in Rekor),
  // with the index /api/v1/index/retrieve searches.
  const entries = new Map<string, LogEntry>()
  const index = new Map<string, Set<string>>()
  const entryLocation = (uuid: string) => `/api/v1/log/entries/${uuid}`
  const leafHash = (body: Buffer) =>
    createHash('sha256')
      .update(Buffer.from([0]))
      .update(body)
      .digest('hex')

  const parseEntry = (proposed: unknown) => {
    if (typeof proposed !== 'object' || proposed === null) {
      throw new HttpError(400, 'entry is not a JSON object')
    }
    const canonical = canonicalEntry(proposed as Record<string, unknown>)
    return { ...canonical, uuid: leafHash(Buffer.from(canonicalJSON(canonical.entry))) }
  }

  /**
   * Rekor v1 entry creation. cosign v3 reads the new entry's UUID from ETag (and crashes without
   * it); Location names it too. A second identical entry gets Rekor's 409 with the existing
   * entry's Location, which sigstore-js's fetchOnConflict follows.
   */
  const rekorCreate = async (body: Buffer): Promise<Reply> => {
    const { entry, indexKeys, uuid } = parseEntry(parseJSON(body))
    if (entries.has(uuid)) {
      return json(
        409,
        {
          code: 409,
          message: `An equivalent entry already exists in the transparency log with UUID ${uuid}`,
        },
        { Location: entryLocation(uuid) },
      )
    }
    const result = await rekor(JSON.stringify(entry))
    if (result.statusCode >= 300) throw new HttpError(400, responseText(result.response))
    const logged = JSON.parse(responseText(result.response)) as Record<string, LogEntry>
    const value = Object.values(logged)[0]
    entries.set(uuid, value)
    for (const key of indexKeys) {
      const k = key.toLowerCase()
      index.set(k, (index.get(k) ?? new Set()).add(uuid))
    }
    return json(201, { [uuid]: value }, { ETag: uuid, Location: entryLocation(uuid) })
  }

  /** `POST /api/v1/log/entries/retrieve` (cosign v2 verifies this way without a bundle). */
  const rekorSearchEntries = (body: Buffer): Reply => {
    const query = parseJSON(body) as {
      entries?: unknown[]
      entryUUIDs?: string[]
      logIndexes?: number[]
    }
    const uuids = [
      ...(query.entries ?? []).map((e) => parseEntry(e).uuid),
      ...(query.entryUUIDs ?? []).map((u) => u.slice(-64)),
      ...(query.logIndexes ?? []).flatMap((i) =>
        [...entries].filter(([, e]) => e.logIndex === i).map(([u]) => u),
      ),
    ]
    const found = uuids.flatMap((u) => {
      const entry = entries.get(u)
      return entry ? [{ [u]: entry }] : []
    })
    return json(200, found)
  }

  /** `POST /api/v1/index/retrieve`: entries by artifact or payload hash ({hash: 'sha256:…'}). */
  const rekorSearchIndex = (body: Buffer): Reply => {
    const query = parseJSON(body) as { hash?: string }
    if (!query.hash) throw new HttpError(400, 'the stand-in searches the index by hash only')
    const hash = query.hash.includes(':') ? query.hash : `sha256:${query.hash}`
    return json(200, [...(index.get(hash.toLowerCase()) ?? [])])
  }

  /**
   * Log info (no client here asks for it). The checkpoint is signed by the log key, but its root
   * hash is only a digest of the entry UUIDs, not a Merkle root: each entry carries the mock's own
   * one-leaf inclusion proof, which is what verifiers check.
   */
  const rekorLogInfo = (): Reply => {
    const treeSize = entries.size
    const rootHash = createHash('sha256')
      .update(canonicalJSON([...entries.keys()]))
      .digest()
    const treeID = '1'
    const host = new URL(url).host
    const note = `${host} - ${treeID}\n${treeSize}\n${rootHash.toString('base64')}\n`
    const signature = sign('sha256', Buffer.from(note), rekorKeys.privateKey)
    const sigLine = `\u2014 ${host} ${Buffer.concat([rekorLogId.subarray(0, 4), signature]).toString('base64')}\n`
    return json(200, {
      rootHash: rootHash.toString('hex'),
      treeSize,
      signedTreeHead: `${note}\n${sigLine}`,
      treeID,
      inactiveShards: [],
    })
  }

  /**
   * RFC 3161 timestamps. sigstore-js posts JSON, which the mock handles; cosign v3 posts a DER
   * TimeStampReq (application/timestamp-query), parsed here into the mock's request.
   */
  const timestamp = async (req: IncomingMessage, body: Buffer): Promise<Reply> => {
    const type = req.headers['content-type'] ?? ''
    if (type.includes('json') || body.subarray(0, 1).toString() === '{') {
      const result = await tsaJSON(body.toString('utf8'))
      if (result.statusCode >= 300) throw new HttpError(400, responseText(result.response))
      return { status: 201, body: result.response as Uint8Array, contentType: result.contentType }
    }
    let tsq: pkijs.TimeStampReq
    try {
      tsq = pkijs.TimeStampReq.fromBER(new Uint8Array(body))
    } catch (err) {
      throw new HttpError(400, `malformed TimeStampReq: ${(err as Error).message}`)
    }
    const request: TimestampRequest = {
      artifactHash: Buffer.from(tsq.messageImprint.hashedMessage.valueBlock.valueHexView),
      hashAlgorithmOID: tsq.messageImprint.hashAlgorithm.algorithmId,
      nonce: 0,
      policyOID: tsq.reqPolicy ?? OID_TSA_POLICY,
      certReq: tsq.certReq ?? false,
    }
    derNonces.set(request, tsq.nonce ?? null)
    const token = await tsa.timestamp(request)
    return { status: 201, body: token as Uint8Array, contentType: 'application/timestamp-reply' }
  }

  /** GitHub's token endpoint, as @actions/core's getIDToken calls it. */
  const oidcToken = (req: IncomingMessage): Reply => {
    if (req.headers.authorization !== `Bearer ${requestToken}`) {
      return json(401, { message: 'Bad credentials' })
    }
    const query = new URL(req.url ?? '/', url).searchParams
    const audience =
      query.get('audience') ?? `https://github.com/${String(baseClaims.repository_owner)}`
    return json(200, { count: 1, value: mintToken({ aud: audience }) })
  }

  route = async (req, path, body) => {
    const method = req.method ?? 'GET'
    const rekorEntry = path.match(/^\/api\/v1\/log\/entries\/([0-9a-f]{64,80})$/)
    switch (true) {
      case method === 'POST' && path === '/api/v2/signingCert':
        return fulcioV2(req, body)
      case method === 'POST' && path === '/api/v1/signingCert':
        return fulcioV1(req, body)
      case method === 'GET' && path === '/api/v1/rootCert':
        return {
          status: 200,
          body: fulcioRootPEM,
          contentType: 'application/pem-certificate-chain',
        }
      case method === 'GET' && path === '/api/v2/trustBundle':
        return json(200, { chains: [{ certificates: [fulcioRootPEM] }] })
      case method === 'POST' && path === '/api/v1/log/entries':
        return rekorCreate(body)
      case method === 'POST' && path === '/api/v1/log/entries/retrieve':
        return rekorSearchEntries(body)
      case method === 'POST' && path === '/api/v1/index/retrieve':
        return rekorSearchIndex(body)
      case method === 'GET' && path === '/api/v1/log/entries': {
        const logIndex = Number(new URL(req.url ?? '/', url).searchParams.get('logIndex'))
        const found = [...entries].find(([, e]) => e.logIndex === logIndex)
        if (!found) return json(404, { code: 404, message: 'entry not found' })
        return json(200, { [found[0]]: found[1] }, { ETag: found[0] })
      }
      case method === 'GET' && rekorEntry !== null: {
        const uuid = rekorEntry[1].slice(-64)
        const entry = entries.get(uuid)
        if (!entry) return json(404, { code: 404, message: 'entry not found' })
        return json(200, { [uuid]: entry }, { ETag: uuid })
      }
      case method === 'GET' && path === '/api/v1/log':
        return rekorLogInfo()
      case method === 'GET' && path === '/api/v1/log/publicKey':
        return { status: 200, body: rekorKeyPEM, contentType: 'application/x-pem-file' }
      case method === 'POST' && path === '/api/v1/timestamp':
        return timestamp(req, body)
      case method === 'GET' && path === '/api/v1/timestamp/certchain':
        return { status: 200, body: tsaChainPEM, contentType: 'application/pem-certificate-chain' }
      case method === 'GET' && path === '/oidc/token':
        return oidcToken(req)
      default:
        return json(404, { code: 404, message: `no route for ${method} ${path}` })
    }
  }

  return {
    url,
    fulcioURL: url,
    rekorURL: url,
    tsaURL: url,
    oidc: { requestURL: `${url}/oidc/token?api-version=2.0`, requestToken },
    trustedRootPath,
    signingConfigPath,
    cosignV2Env,
    mintToken,
    identity: { subject: subjectFor(baseClaims) ?? '', issuer: String(baseClaims.iss) },
    requests,
    log,
    failNext(pathPrefix: string, count: number, status = 503): void {
      failures.push({ prefix: pathPrefix, remaining: count, status })
    },
    failFor(pathPrefix: string, ms: number, status = 503): void {
      failures.push({ prefix: pathPrefix, remaining: 0, status, until: Date.now() + ms })
    },
    stop: () => closeServer(server),
  }
}
