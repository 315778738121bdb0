/**
 * A stand-in for GitHub's artifact attestations API on loopback: `POST /repos/{owner}/{repo}/
 * attestations` stores a bundle and answers 201 `{"id": n}`, and the three listings of what is
 * stored for a subject digest (what `gh attestation verify` reads) answer as GitHub does:
 * `GET /orgs/{org}/attestations/{subject_digest}`, `GET /users/{username}/attestations/
 * {subject_digest}` and `GET /repos/{owner}/{repo}/attestations/{subject_digest}` give
 * `{"attestations": [{"bundle": …, "repository_id": …, "id": …}]}`, `per_page` at a time (default
 * 30, at most 100) with a `Link: <…&after=cursor>; rel="next"` header, and 404 when there are none.
 * It checks requests the way GitHub does where a client could get it wrong: the route, the
 * Authorization header, a JSON body, and a `bundle` object with a Sigstore bundle media type.
 *
 * Failures GitHub can answer with (403 for a token without `attestations: write`, the 404 for
 * user-owned private repositories, 5xx) are queued with respondWith(), so tests need no network.
 * add() stores a bundle directly (under any subject digest), as another workflow would have.
 *
 * Known gaps: no signature or identity checks on the bundle (GitHub checks that the certificate
 * was issued to a workflow of this repository); ids are a counter; an account is an organisation
 * unless listed in `users`; answers carry the bundle inline, never only a `bundle_url`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { createServer, IncomingMessage, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { SerializedBundle } from '@sigstore/bundle'
import { build } from 'esbuild'
import {
  buildContextFromClaims,
  buildProvenancePredicate,
  SLSA_PROVENANCE_V1,
} from '../../src/formats/provenance'
import {
  buildAttestationStatement,
  buildSignatureStatement,
  serializeStatement,
} from '../../src/formats/statement'
import { decodeJwtClaims } from '../../src/sigstore/oidc'
import { closeServer, listenOnLoopback } from './listen'
import type { GitHubClaims, SigstoreStandIn } from './sigstore-standin'

export interface StoredRecord {
  repository: string
  bundle: unknown
  /** The header as sent (`token …` or `Bearer …`), so a test can check which token was used. */
  authorization?: string
  id: number
  /** The request path, e.g. `/api/v3/repos/o/r/attestations` behind a GHES-style prefix. */
  path: string
  /** `sha256:…` digests of the in-toto statement's subjects (empty if the payload is not one). */
  subjectDigests: string[]
}

export interface RequestRecord {
  method: string
  path: string
  /** The query string, without `?` (`per_page=100&after=…`). */
  query: string
  status: number
  authorization?: string
  userAgent?: string
  apiVersion?: string
}

export interface CannedResponse {
  status: number
  body: object
  /** How many requests get this answer. Default 1. */
  count?: number
  headers?: Record<string, string>
}

export interface GitHubApiStandInOptions {
  /** Answers for the first requests, before any validation (as respondWith() queues them). */
  failNext?: CannedResponse[]
  /** GHES serves the API under /api/v3; `url` then includes the prefix. */
  pathPrefix?: string
  /** When set, only these tokens authenticate; others get 401 Bad credentials. */
  tokens?: string[]
  /** Accounts that are users: `/orgs/{name}/…` answers 404 for them, `/users/{name}/…` only for them. */
  users?: string[]
  /** Largest page served (GitHub's is 100), to make small listings page. */
  maxPerPage?: number
  /** Where next-page links point (default: this server), to test a link to another host. */
  linkBase?: string
}

export interface GitHubApiStandIn {
  /** Use as GITHUB_API_URL (includes pathPrefix). */
  url: string
  /** Successfully stored attestations, in order. */
  attestations: StoredRecord[]
  /** Every request, answered or refused. */
  requests: RequestRecord[]
  /** Queues an answer for the next `count` requests (default 1), e.g. 403 or 500. */
  respondWith(status: number, body: object, count?: number, headers?: Record<string, string>): void
  /**
   * Stores a bundle in `repository` (`owner/repo`) as a workflow there would have; listed under
   * `subjectDigests` (default: the subjects of its statement). Returns its record.
   */
  add(repository: string, bundle: unknown, subjectDigests?: string[]): StoredRecord
  stop(): Promise<void>
}

const DOCS = 'https://docs.github.com/rest/repos/attestations'
const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle'
// GitHub refuses request bodies over 25 MB or so; a bundle is a few KB.
const MAX_BODY = 25 * 1024 * 1024

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
    })
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

/** The subjects' sha256 digests, read from a DSSE envelope's in-toto statement. */
function subjectDigests(bundle: Record<string, unknown>): string[] {
  const envelope = bundle.dsseEnvelope as { payload?: unknown } | undefined
  if (typeof envelope?.payload !== 'string') return []
  try {
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as {
      subject?: { digest?: Record<string, string> }[]
    }
    return (statement.subject ?? [])
      .map((s) => s.digest?.sha256)
      .filter((d): d is string => typeof d === 'string')
      .map((d) => `sha256:${d}`)
  } catch {
    return []
  }
}

/** A stable number per repository, as GitHub's `repository_id`. */
function repositoryId(repository: string): number {
  let n = 7
  for (const c of repository.toLowerCase()) n = (n * 31 + c.charCodeAt(0)) % 1_000_000_007
  return n
}

export async function startGitHubApiStandIn(
  options: GitHubApiStandInOptions = {},
): Promise<GitHubApiStandIn> {
  const prefix = (options.pathPrefix ?? '').replace(/\/+$/, '')
  const attestations: StoredRecord[] = []
  const requests: RequestRecord[] = []
  const queue: (CannedResponse & { count: number })[] = []
  let nextId = 1

  const respondWith = (
    status: number,
    body: object,
    count = 1,
    headers?: Record<string, string>,
  ): void => {
    queue.push({ status, body, count, headers })
  }
  for (const canned of options.failNext ?? []) {
    respondWith(canned.status, canned.body, canned.count, canned.headers)
  }
  const users = new Set((options.users ?? []).map((u) => u.toLowerCase()))
  const add = (repository: string, bundle: unknown, digests?: string[]): StoredRecord => {
    const record: StoredRecord = {
      repository,
      bundle,
      id: nextId++,
      path: '',
      subjectDigests: digests ?? subjectDigests(bundle as Record<string, unknown>),
    }
    attestations.push(record)
    return record
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestUrl = new URL(req.url ?? '/', 'http://stand-in')
    const path = requestUrl.pathname
    const authorization = req.headers.authorization
    const record: RequestRecord = {
      method: req.method ?? '',
      path,
      query: requestUrl.search.replace(/^\?/, ''),
      status: 0,
      authorization,
      userAgent: req.headers['user-agent'],
      apiVersion: req.headers['x-github-api-version'] as string | undefined,
    }
    requests.push(record)
    const send = (status: number, body: object, headers: Record<string, string> = {}): void => {
      record.status = status
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers })
      res.end(JSON.stringify(body))
    }
    const body = await readBody(req)

    const canned = queue[0]
    if (canned) {
      if (--canned.count <= 0) queue.shift()
      return send(canned.status, canned.body, canned.headers)
    }

    const local = path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : ''
    const route = /^\/repos\/([^/]+)\/([^/]+)\/attestations(?:\/([^/]+))?$/.exec(local)
    const account = /^\/(orgs|users)\/([^/]+)\/attestations\/([^/]+)$/.exec(local)
    // GitHub answers 404 for unknown routes and for methods a route does not have.
    const notFound = (): void => send(404, { message: 'Not Found', documentation_url: DOCS })
    if (!route && !account) return notFound()

    /** One page of `records` about `digest`, as GitHub pages it (a cursor in `after`). */
    const list = (records: StoredRecord[], digest: string): void => {
      const found = records.filter((a) => a.subjectDigests.includes(digest))
      if (found.length === 0) return notFound()
      const asked = Number(requestUrl.searchParams.get('per_page') ?? 30)
      const perPage = Math.min(Math.max(1, asked || 30), 100, options.maxPerPage ?? 100)
      const after = requestUrl.searchParams.get('after')
      const start = after ? Number(Buffer.from(after, 'base64url').toString('utf8')) || 0 : 0
      const page = found.slice(start, start + perPage)
      const headers: Record<string, string> = {}
      if (start + perPage < found.length) {
        const next = new URL(`${options.linkBase ?? `http://${req.headers.host}`}${path}`)
        next.searchParams.set('per_page', String(perPage))
        next.searchParams.set('after', Buffer.from(String(start + perPage)).toString('base64url'))
        headers.link = `<${next.href}>; rel="next"`
      }
      send(
        200,
        {
          attestations: page.map((a) => ({
            bundle: a.bundle,
            repository_id: repositoryId(a.repository),
            id: a.id,
          })),
        },
        headers,
      )
    }

    // Checked before the route's method, as GitHub does: anonymous callers learn nothing more.
    const auth = /^(token|bearer)\s+(\S+)$/i.exec(authorization ?? '')
    if (!authorization) {
      return send(401, { message: 'Requires authentication', documentation_url: DOCS })
    }
    if (!auth || (options.tokens && !options.tokens.includes(auth[2]))) {
      return send(401, { message: 'Bad credentials', documentation_url: DOCS })
    }

    if (account) {
      const [, kind, name, digest] = account
      if (req.method !== 'GET' || (kind === 'users') !== users.has(name.toLowerCase())) {
        return notFound()
      }
      const owner = name.toLowerCase()
      return list(
        attestations.filter((a) => a.repository.split('/')[0].toLowerCase() === owner),
        decodeURIComponent(digest),
      )
    }
    if (!route) return notFound()
    const [, owner, repo, digest] = route
    const repository = `${owner}/${repo}`
    if (req.method === 'GET' && digest) {
      return list(
        attestations.filter((a) => a.repository.toLowerCase() === repository.toLowerCase()),
        decodeURIComponent(digest),
      )
    }
    if (req.method !== 'POST' || digest) return notFound()

    const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
    if (contentType !== 'application/json') {
      return send(415, {
        message: `Unsupported 'Content-Type': "${contentType}"`,
        documentation_url: DOCS,
      })
    }
    if (!body) return send(413, { message: 'Payload too large' })
    let json: unknown
    try {
      json = JSON.parse(body.toString('utf8'))
    } catch {
      return send(400, { message: 'Problems parsing JSON', documentation_url: DOCS })
    }
    const bundle = (json as { bundle?: unknown } | null)?.bundle
    if (typeof bundle !== 'object' || bundle === null || Array.isArray(bundle)) {
      return send(422, {
        message: 'Invalid request.\n\n"bundle" wasn\'t supplied.',
        documentation_url: DOCS,
      })
    }
    const mediaType = (bundle as { mediaType?: unknown }).mediaType
    if (typeof mediaType !== 'string' || !mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)) {
      return send(422, {
        message: `Invalid request.\n\nbundle.mediaType ${JSON.stringify(mediaType)} is not a Sigstore bundle media type.`,
        documentation_url: DOCS,
      })
    }
    const stored = add(repository, bundle)
    stored.authorization = authorization
    stored.path = path
    send(201, { id: stored.id })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: String(err) }))
    })
  })
  const port = await listenOnLoopback(server)

  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    attestations,
    requests,
    respondWith,
    add,
    stop: () => closeServer(server),
  }
}

const ROOT = resolve(__dirname, '..', '..')
const NODE = join(ROOT, 'node_modules', '.bin', 'node')

/**
 * Signing runs in a child Node, as in sigstore-standin.test.ts: @sigstore/sign loads proxy agents
 * that are ESM-only, which Jest's CommonJS runtime cannot require. The child is Signet's own
 * SigningSession (what sign mode signs with), bundled once per test process.
 */
const SIGNER_SOURCE = `
import { bundleToJSON } from '@sigstore/bundle'
import { SigningSession } from './src/sigstore/signing-session'
const job = JSON.parse(process.env.SIGNET_SIGN_JOB ?? '{}')
const session = new SigningSession({
  fulcioURL: job.fulcioURL,
  rekorURL: job.rekorURL,
  tsaURL: job.tsaURL,
  tlog: job.tlog,
  identity: { getToken: async () => job.token },
})
Promise.all(job.statements.map((s: string) => session.signStatement(Buffer.from(s, 'base64'))))
  .then((signed) => process.stdout.write(JSON.stringify(signed.map((s) => bundleToJSON(s.bundle)))))
  .catch((err) => { console.error(err); process.exit(1) })
`
let signer: Promise<string> | undefined

function signerScript(): Promise<string> {
  signer ??= (async () => {
    const outfile = join(mkdtempSync(join(tmpdir(), 'signet-github-signer-')), 'sign.cjs')
    await build({
      stdin: { contents: SIGNER_SOURCE, resolveDir: ROOT, loader: 'ts', sourcefile: 'sign.ts' },
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      outfile,
      logLevel: 'warning',
    })
    return outfile
  })()
  return signer
}

/** How a workflow's Sigstore instance witnesses a signature. */
export interface Witnessing {
  /**
   * 'public-good' (default): a Rekor entry, as for a public repository. 'github': an RFC 3161
   * timestamp and no transparency log, as GitHub's own instance does for private repositories.
   */
  instance?: 'public-good' | 'github'
}

/** Each statement signed keyless as a DSSE v0.3 bundle, by one certificate for `token`. */
export async function signStatements(
  sigstore: SigstoreStandIn,
  token: string,
  statements: Buffer[],
  witnessing: Witnessing = {},
): Promise<SerializedBundle[]> {
  const script = await signerScript()
  const github = witnessing.instance === 'github'
  const job = {
    fulcioURL: sigstore.fulcioURL,
    rekorURL: sigstore.rekorURL,
    tlog: !github,
    ...(github ? { tsaURL: sigstore.tsaURL } : {}),
    token,
    statements: statements.map((s) => s.toString('base64')),
  }
  // Asynchronous: the stand-in answers from this process's event loop.
  const stdout = await new Promise<string>((done, fail) => {
    execFile(
      NODE,
      [script],
      { env: { ...process.env, SIGNET_SIGN_JOB: JSON.stringify(job) }, maxBuffer: 64 << 20 },
      (err, out, errOut) => (err ? fail(new Error(`${err.message}\n${errOut}`)) : done(out)),
    )
  })
  return JSON.parse(stdout) as SerializedBundle[]
}

/**
 * A bundle as actions/attest-build-provenance writes it (and Signet's sign mode with
 * `provenance: true`): a v0.3 bundle of a DSSE envelope over an in-toto v1 statement whose subject
 * is `name` at `digest`, of SLSA provenance v1 built from the workflow's token, signed keyless
 * through the stand-in's Fulcio and Rekor. `claims` change the signing workflow (its identity).
 */
export async function actionsAttestBundle(
  sigstore: SigstoreStandIn,
  subject: { name: string; digest: string },
  options: {
    claims?: GitHubClaims
    predicateType?: string
    predicate?: unknown
  } & Witnessing = {},
): Promise<SerializedBundle> {
  const token = sigstore.mintToken(options.claims)
  const predicate =
    options.predicate ?? buildProvenancePredicate(buildContextFromClaims(decodeJwtClaims(token)))
  const statement = buildAttestationStatement(
    subject.name,
    subject.digest,
    options.predicateType ?? SLSA_PROVENANCE_V1,
    predicate,
  )
  const [bundle] = await signStatements(sigstore, token, [serializeStatement(statement)], options)
  return bundle
}

/** A cosign v3 signature bundle of `digest` (what `cosign sign` and Signet's sign mode write). */
export async function signatureBundle(
  sigstore: SigstoreStandIn,
  digest: string,
  claims?: GitHubClaims,
): Promise<SerializedBundle> {
  const token = sigstore.mintToken(claims)
  const [bundle] = await signStatements(sigstore, token, [
    serializeStatement(buildSignatureStatement(digest)),
  ])
  return bundle
}
