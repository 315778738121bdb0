/**
 * A stand-in for GitHub's artifact attestations API on loopback: `POST /repos/{owner}/{repo}/
 * attestations` stores a bundle and answers 201 `{"id": n}`, and `GET /repos/{owner}/{repo}/
 * attestations/{subject_digest}` lists what was stored for a subject (what `gh attestation verify`
 * reads). It checks requests the way GitHub does where a client could get it wrong: the route, the
 * Authorization header, a JSON body, and a `bundle` object with a Sigstore bundle media type.
 *
 * Failures GitHub can answer with (403 for a token without `attestations: write`, the 404 for
 * user-owned private repositories, 5xx) are queued with respondWith(), so tests need no network.
 *
 * Known gaps: no signature or identity checks on the bundle (GitHub checks that the certificate
 * was issued to a workflow of this repository); ids are a counter; no pagination.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http'
import { AddressInfo } from 'node:net'

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

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname
    const authorization = req.headers.authorization
    const record: RequestRecord = {
      method: req.method ?? '',
      path,
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

    const route =
      path.startsWith(`${prefix}/`) &&
      /^\/repos\/([^/]+)\/([^/]+)\/attestations(?:\/([^/]+))?$/.exec(path.slice(prefix.length))
    // GitHub answers 404 for unknown routes and for methods a route does not have.
    const notFound = (): void => send(404, { message: 'Not Found', documentation_url: DOCS })
    if (!route) return notFound()
    const [, owner, repo, digest] = route
    const repository = `${owner}/${repo}`

    // Checked before the route's method, as GitHub does: anonymous callers learn nothing more.
    const auth = /^(token|bearer)\s+(\S+)$/i.exec(authorization ?? '')
    if (!authorization) {
      return send(401, { message: 'Requires authentication', documentation_url: DOCS })
    }
    if (!auth || (options.tokens && !options.tokens.includes(auth[2]))) {
      return send(401, { message: 'Bad credentials', documentation_url: DOCS })
    }

    if (req.method === 'GET' && digest) {
      const found = attestations.filter(
        (a) => a.repository === repository && a.subjectDigests.includes(decodeURIComponent(digest)),
      )
      if (found.length === 0) return notFound()
      return send(200, {
        attestations: found.map((a) => ({ bundle: a.bundle, repository_id: 1, id: a.id })),
      })
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
    const id = nextId++
    attestations.push({
      repository,
      bundle,
      authorization,
      id,
      path,
      subjectDigests: subjectDigests(bundle as Record<string, unknown>),
    })
    send(201, { id })
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ message: String(err) }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    attestations,
    requests,
    respondWith,
    stop: () =>
      new Promise<void>((resolve) => {
        // Keep-alive sockets from undici's pool would otherwise hold close() open.
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
