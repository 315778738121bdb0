/**
 * The project's own in-memory OCI registry, on node:http over loopback. It exists because Debian's
 * docker-registry (distribution 2.8) predates the referrers API: this one serves it (distribution
 * spec 1.1), and can also misbehave on purpose (503s, latency, redirects to a storage host, auth
 * schemes, a token realm on another host, answers of a hostile registry) so the client's retry,
 * auth and redirect handling can be tested against real HTTP. Each server records what it receives
 * (with the Authorization header and, for POSTs to a token realm, the body).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { closeServer, listenOnLoopback } from './listen'

export interface OciRegistryOptions {
  /** Serve the referrers API (default true); false answers 404 like distribution 2.8. */
  referrers?: boolean
  /** Require HTTP Basic auth on every /v2 request. */
  basicAuth?: { username: string; password: string }
  /**
   * Require bearer tokens from a token realm on this server (`/token`). Anonymous token requests
   * get a token with no access; wrong credentials get 401 from the realm. An OAuth2 refresh grant
   * with `refresh_token` = password is accepted too (Docker's identity tokens).
   */
  bearerAuth?: { username: string; password: string }
  /** Every Nth request (counting from 1) answers `failStatus` without doing anything. */
  failEvery?: number
  /** Default 503. */
  failStatus?: number
  /** Sent as Retry-After on the injected failures. */
  retryAfter?: string
  /** Delay before each answer. */
  latencyMs?: number
  /**
   * Redirect blob GETs (307) to a second server on another port, as registries do to object
   * storage; that server records what it receives in `storageRequests`.
   */
  redirectBlobs?: boolean
  /** Page size of referrers answers (Link rel="next" beyond it). Default: everything at once. */
  referrersPageSize?: number
  /**
   * Refuse a manifest whose blobs or child manifests are not there (default true, as
   * distribution does). false takes published manifests whose content was not kept.
   */
  requireContent?: boolean
  /**
   * Where bearerAuth's token realm is: 'self' (default: /token on this server), 'other-host' (a
   * second server on another port, i.e. another host, which records what it receives in
   * `realmRequests`), or 'redirect' (this server's /token answers 307 to the second server's).
   */
  tokenRealm?: 'self' | 'other-host' | 'redirect'
  /** With bearerAuth: anonymous token requests are granted pull (a public registry). */
  anonymousPull?: boolean
  /**
   * A hostile registry: called first for every request this server receives (not the realm
   * server); an answer it returns is sent as is, undefined lets the registry answer.
   */
  intercept?: (request: { method: string; url: URL }) => CannedAnswer | undefined
}

export interface CannedAnswer {
  status: number
  headers?: Record<string, string>
  body?: string | Buffer
}

export interface RecordedRequest {
  method: string
  url: string
  authorization?: string
  /** The body of a POST to a token realm (where a refresh token travels). */
  body?: string
}

export interface OciRegistry {
  /** 127.0.0.1:port */
  host: string
  /** Requests answered so far (token requests included). */
  readonly requests: number
  /** Every request, in order. */
  readonly log: RecordedRequest[]
  /** Requests that reached the blob storage server (with redirectBlobs). */
  readonly storageRequests: RecordedRequest[]
  /** The storage server's host, with redirectBlobs. */
  storageHost?: string
  /** Requests that reached the token realm server (tokenRealm 'other-host' or 'redirect'). */
  readonly realmRequests: RecordedRequest[]
  /** The token realm server's host, with tokenRealm 'other-host' or 'redirect'. */
  realmHost?: string
  stop(): Promise<void>
}

interface StoredManifest {
  bytes: Buffer
  mediaType: string
}

interface Repo {
  blobs: Map<string, Buffer>
  manifests: Map<string, StoredManifest>
  tags: Map<string, string>
}

interface Upload {
  repo: string
  chunks: Buffer[]
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const MAX_MANIFEST = 4 * 1024 * 1024
const DIGEST_RE = /^sha256:[a-f0-9]{64}$/
const TAG_RE = /^[\w][\w.-]{0,127}$/
const NAME =
  '((?:[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)'
const ROUTES = {
  base: /^\/v2\/?$/,
  uploads: new RegExp(`^/v2/${NAME}/blobs/uploads/?([^/]*)$`),
  blob: new RegExp(`^/v2/${NAME}/blobs/([^/]+)$`),
  manifest: new RegExp(`^/v2/${NAME}/manifests/([^/]+)$`),
  referrers: new RegExp(`^/v2/${NAME}/referrers/([^/]+)$`),
  tags: new RegExp(`^/v2/${NAME}/tags/list$`),
}

const sha256 = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    req.on('data', (c: Buffer) => {
      total += c.length
      if (total > limit) {
        reject(new Error('body too large'))
        req.destroy()
        return
      }
      chunks.push(c)
    })
    req.on('end', () => resolve(Buffer.concat(chunks)))
    req.on('error', reject)
  })
}

function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ errors: [{ code, message, detail: null }] })
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...headers,
  })
  res.end(body)
}

function unquote(etag: string): string {
  return etag
    .trim()
    .replace(/^W\//, '')
    .replace(/^"(.*)"$/, '$1')
}

export async function startOciRegistry(options: OciRegistryOptions = {}): Promise<OciRegistry> {
  const referrersEnabled = options.referrers ?? true
  const repos = new Map<string, Repo>()
  const uploads = new Map<string, Upload>()
  /** token → repository → granted actions */
  const tokens = new Map<string, Map<string, Set<string>>>()
  const log: RecordedRequest[] = []
  const storageRequests: RecordedRequest[] = []
  const realmRequests: RecordedRequest[] = []
  let requests = 0
  let host = ''
  let storageHost: string | undefined
  let realmHost: string | undefined

  const repoOf = (name: string, create: boolean): Repo | undefined => {
    let r = repos.get(name)
    if (!r && create) {
      r = { blobs: new Map(), manifests: new Map(), tags: new Map() }
      repos.set(name, r)
    }
    return r
  }

  const basicMatches = (
    header: string | undefined,
    creds: { username: string; password: string },
  ): boolean | undefined => {
    if (!header?.startsWith('Basic ')) return undefined
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    return decoded === `${creds.username}:${creds.password}`
  }

  // --- the token realm (bearerAuth) ---------------------------------------------------------------
  const serveToken = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    received?: RecordedRequest,
  ): Promise<void> => {
    const creds = options.bearerAuth!
    // One scope parameter each, as clients send them (several in one, space-separated, too).
    let scope = url.searchParams.getAll('scope').join(' ')
    let authenticated = false
    if (req.method === 'POST') {
      const body = (await readBody(req)).toString('utf8')
      if (received) received.body = body
      const form = new URLSearchParams(body)
      scope = form.get('scope') ?? scope
      const grant = form.get('grant_type')
      const ok =
        (grant === 'refresh_token' && form.get('refresh_token') === creds.password) ||
        (grant === 'password' &&
          form.get('username') === creds.username &&
          form.get('password') === creds.password)
      if (!ok) return sendError(res, 401, 'UNAUTHORIZED', 'invalid refresh token or password')
      authenticated = true
    } else {
      const match = basicMatches(req.headers.authorization, creds)
      if (match === false) {
        return sendError(
          res,
          401,
          'UNAUTHORIZED',
          'authentication required: incorrect username or password',
        )
      }
      authenticated = match === true
    }
    const grants = new Map<string, Set<string>>()
    // scope: repository:<name>:<actions>, possibly several separated by spaces.
    for (const s of scope.split(' ').filter(Boolean)) {
      const m = /^repository:(.+):([a-z,*]+)$/.exec(s)
      if (!m) continue
      // Anonymous callers get a token, but one that grants nothing (a private registry), or only
      // pull (anonymousPull: a public one).
      const anonymous = options.anonymousPull ? ['pull'] : []
      grants.set(m[1], new Set(authenticated ? m[2].split(',') : anonymous))
    }
    const token = randomBytes(16).toString('hex')
    tokens.set(token, grants)
    const body = JSON.stringify({ token, access_token: token, expires_in: 300 })
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  }

  /** True when the request may go on; otherwise it has been answered 401. */
  const authorize = (
    req: IncomingMessage,
    res: ServerResponse,
    name: string | undefined,
  ): boolean => {
    if (options.basicAuth) {
      if (basicMatches(req.headers.authorization, options.basicAuth) === true) return true
      sendError(res, 401, 'UNAUTHORIZED', 'authentication required', {
        'www-authenticate': 'Basic realm="signet-test-registry"',
      })
      return false
    }
    if (options.bearerAuth) {
      const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push'
      const header = req.headers.authorization
      const grants = header?.startsWith('Bearer ') ? tokens.get(header.slice(7)) : undefined
      // A cross-repository mount needs pull on the repository it mounts from, as distribution's
      // token auth requires.
      const url = new URL(req.url ?? '/', 'http://registry')
      const from =
        req.method === 'POST' && url.searchParams.has('mount') ? url.searchParams.get('from') : null
      const mountAllowed = !from || grants?.get(from)?.has('pull')
      if (grants && (name === undefined || grants.get(name)?.has(action)) && mountAllowed)
        return true
      const scope = name
        ? `,scope="repository:${name}:${action === 'pull' ? 'pull' : 'pull,push'}${from ? ` repository:${from}:pull` : ''}"`
        : ''
      const realm = options.tokenRealm === 'other-host' ? `${realmHost}/token` : `${host}/token`
      sendError(res, 401, 'UNAUTHORIZED', 'authentication required', {
        'www-authenticate': `Bearer realm="http://${realm}",service="signet-test"${scope}`,
      })
      return false
    }
    return true
  }

  // --- /v2 -----------------------------------------------------------------------------------------
  const serveBlob = (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    digest: string,
  ): void => {
    const blob = repoOf(name, false)?.blobs.get(digest)
    if (req.method === 'DELETE') {
      repoOf(name, false)?.blobs.delete(digest)
      res.writeHead(blob ? 202 : 404).end()
      return
    }
    if (!blob) return sendError(res, 404, 'BLOB_UNKNOWN', `blob unknown to registry: ${digest}`)
    if (req.method === 'GET' && options.redirectBlobs && storageHost) {
      res.writeHead(307, {
        location: `http://${storageHost}/storage/${name}/${digest}?signature=pre-signed`,
        'content-length': 0,
      })
      res.end()
      return
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': blob.length,
      'docker-content-digest': digest,
    })
    res.end(req.method === 'HEAD' ? undefined : blob)
  }

  const serveUploads = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    name: string,
    id: string,
  ): Promise<void> => {
    const finish = (bytes: Buffer, digest: string | null): void => {
      if (!digest || !DIGEST_RE.test(digest)) {
        return sendError(
          res,
          400,
          'DIGEST_INVALID',
          'provided digest did not match uploaded content',
        )
      }
      if (sha256(bytes) !== digest) {
        return sendError(
          res,
          400,
          'DIGEST_INVALID',
          'provided digest did not match uploaded content',
        )
      }
      repoOf(name, true)!.blobs.set(digest, bytes)
      res.writeHead(201, {
        location: `/v2/${name}/blobs/${digest}`,
        'docker-content-digest': digest,
        'content-length': 0,
      })
      res.end()
    }
    if (req.method === 'POST' && id === '') {
      const body = await readBody(req)
      const digest = url.searchParams.get('digest')
      if (digest !== null) return finish(body, digest) // monolithic POST
      const mount = url.searchParams.get('mount')
      const from = url.searchParams.get('from')
      const mounted = mount && from ? repoOf(from, false)?.blobs.get(mount) : undefined
      if (mount && mounted) {
        repoOf(name, true)!.blobs.set(mount, mounted)
        res.writeHead(201, {
          location: `/v2/${name}/blobs/${mount}`,
          'docker-content-digest': mount,
        })
        res.end()
        return
      }
      const uuid = randomUUID()
      uploads.set(uuid, { repo: name, chunks: [] })
      // A query in Location exercises clients that must append `&digest=` to it.
      res.writeHead(202, {
        location: `/v2/${name}/blobs/uploads/${uuid}?_state=${randomBytes(6).toString('hex')}`,
        'docker-upload-uuid': uuid,
        range: '0-0',
        'content-length': 0,
      })
      res.end()
      return
    }
    const upload = uploads.get(id)
    if (!upload || upload.repo !== name) {
      return sendError(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry')
    }
    const body = await readBody(req)
    if (req.method === 'PATCH') {
      upload.chunks.push(body)
      const size = upload.chunks.reduce((n, c) => n + c.length, 0)
      res.writeHead(202, {
        location: `/v2/${name}/blobs/uploads/${id}?_state=${randomBytes(6).toString('hex')}`,
        range: `0-${Math.max(0, size - 1)}`,
        'content-length': 0,
      })
      res.end()
      return
    }
    if (req.method === 'PUT') {
      uploads.delete(id)
      return finish(Buffer.concat([...upload.chunks, body]), url.searchParams.get('digest'))
    }
    if (req.method === 'DELETE') {
      uploads.delete(id)
      res.writeHead(204).end()
      return
    }
    sendError(res, 405, 'UNSUPPORTED', `${req.method} not allowed on an upload`)
  }

  const manifestHeaders = (
    stored: StoredManifest,
    digest: string,
  ): Record<string, string | number> => ({
    'content-type': stored.mediaType,
    'content-length': stored.bytes.length,
    'docker-content-digest': digest,
    etag: `"${digest}"`,
  })

  const serveManifest = async (
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    reference: string,
  ): Promise<void> => {
    const isDigestRef = reference.startsWith('sha256:')
    if (isDigestRef ? !DIGEST_RE.test(reference) : !TAG_RE.test(reference)) {
      return sendError(
        res,
        400,
        isDigestRef ? 'DIGEST_INVALID' : 'TAG_INVALID',
        `invalid reference ${reference}`,
      )
    }
    if (req.method === 'GET' || req.method === 'HEAD') {
      const repo = repoOf(name, false)
      const digest = isDigestRef ? reference : repo?.tags.get(reference)
      const stored = digest ? repo?.manifests.get(digest) : undefined
      if (!digest || !stored)
        return sendError(res, 404, 'MANIFEST_UNKNOWN', `manifest unknown: ${reference}`)
      res.writeHead(200, manifestHeaders(stored, digest))
      res.end(req.method === 'HEAD' ? undefined : stored.bytes)
      return
    }
    if (req.method === 'DELETE') {
      const repo = repoOf(name, false)
      if (!repo) return sendError(res, 404, 'NAME_UNKNOWN', `repository unknown: ${name}`)
      if (isDigestRef) {
        if (!repo.manifests.delete(reference))
          return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')
        for (const [tag, d] of repo.tags) if (d === reference) repo.tags.delete(tag)
      } else if (!repo.tags.delete(reference)) {
        return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown')
      }
      res.writeHead(202).end()
      return
    }
    if (req.method !== 'PUT') return sendError(res, 405, 'UNSUPPORTED', `${req.method} not allowed`)

    const bytes = await readBody(req, MAX_MANIFEST + 1)
    if (bytes.length > MAX_MANIFEST)
      return sendError(res, 413, 'MANIFEST_INVALID', 'manifest too large')
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim()
    const digest = sha256(bytes)
    if (isDigestRef && digest !== reference) {
      return sendError(
        res,
        400,
        'DIGEST_INVALID',
        `the manifest's digest is ${digest}, not ${reference}`,
      )
    }
    let parsed: {
      mediaType?: string
      config?: { digest?: string }
      layers?: { digest?: string }[]
      manifests?: { digest?: string }[]
      subject?: { digest?: string }
    }
    try {
      parsed = JSON.parse(bytes.toString('utf8')) as typeof parsed
    } catch {
      return sendError(res, 400, 'MANIFEST_INVALID', 'manifest is not JSON')
    }
    if (!mediaType) return sendError(res, 400, 'MANIFEST_INVALID', 'Content-Type is required')
    if (parsed.mediaType !== undefined && parsed.mediaType !== mediaType) {
      return sendError(
        res,
        400,
        'MANIFEST_INVALID',
        `mediaType ${parsed.mediaType} does not match Content-Type ${mediaType}`,
      )
    }
    const repo = repoOf(name, true)!
    // Like distribution: everything an image manifest references must already be uploaded, and an
    // index's children must be pushed first. The subject need not exist (spec).
    const requireContent = options.requireContent ?? true
    const missingBlob = [parsed.config, ...(parsed.layers ?? [])]
      .filter((d): d is { digest?: string } => d !== undefined)
      .find((d) => !d.digest || !repo.blobs.has(d.digest))
    if (requireContent && missingBlob) {
      return sendError(
        res,
        400,
        'MANIFEST_BLOB_UNKNOWN',
        `blob unknown to registry: ${missingBlob.digest}`,
      )
    }
    const missingChild = (parsed.manifests ?? []).find(
      (d) => !d.digest || !repo.manifests.has(d.digest),
    )
    if (requireContent && missingChild) {
      return sendError(res, 400, 'MANIFEST_UNKNOWN', `manifest unknown: ${missingChild.digest}`)
    }
    if (!isDigestRef) {
      const ifMatch = req.headers['if-match']
      if (ifMatch !== undefined) {
        const current = repo.tags.get(reference)
        const wanted = ifMatch.split(',').map(unquote)
        if (
          !(wanted.includes('*')
            ? current !== undefined
            : current !== undefined && wanted.includes(current))
        ) {
          return sendError(res, 412, 'PRECONDITION_FAILED', `${reference} is not at ${ifMatch}`)
        }
      }
    }
    repo.manifests.set(digest, { bytes, mediaType })
    if (!isDigestRef) repo.tags.set(reference, digest)
    const headers: Record<string, string | number> = {
      location: `/v2/${name}/manifests/${digest}`,
      'docker-content-digest': digest,
      'content-length': 0,
    }
    if (referrersEnabled && parsed.subject?.digest) headers['oci-subject'] = parsed.subject.digest
    res.writeHead(201, headers)
    res.end()
  }

  const serveReferrers = (res: ServerResponse, url: URL, name: string, digest: string): void => {
    if (!referrersEnabled) {
      // What distribution 2.8's router answers for a path it does not know.
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('404 page not found\n')
      return
    }
    if (!DIGEST_RE.test(digest))
      return sendError(res, 400, 'DIGEST_INVALID', `invalid digest ${digest}`)
    const artifactType = url.searchParams.get('artifactType')
    const all: Record<string, unknown>[] = []
    for (const [d, stored] of repoOf(name, false)?.manifests ?? []) {
      let m: {
        artifactType?: string
        config?: { mediaType?: string }
        subject?: { digest?: string }
        annotations?: Record<string, string>
      }
      try {
        m = JSON.parse(stored.bytes.toString('utf8')) as typeof m
      } catch {
        continue
      }
      if (m.subject?.digest !== digest) continue
      const type = m.artifactType ?? m.config?.mediaType
      if (artifactType && type !== artifactType) continue
      all.push({
        mediaType: stored.mediaType,
        digest: d,
        size: stored.bytes.length,
        ...(type ? { artifactType: type } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })
    }
    all.sort((a, b) => String(a.digest).localeCompare(String(b.digest)))
    const pageSize = options.referrersPageSize ?? Infinity
    const start = Number(url.searchParams.get('page') ?? 0)
    const page = all.slice(start * pageSize, (start + 1) * pageSize)
    const headers: Record<string, string | number> = { 'content-type': OCI_INDEX }
    if (artifactType) headers['oci-filters-applied'] = 'artifactType'
    if ((start + 1) * pageSize < all.length) {
      const next = new URLSearchParams(url.searchParams)
      next.set('page', String(start + 1))
      headers.link = `</v2/${name}/referrers/${digest}?${next.toString()}>; rel="next"`
    }
    const body = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: page })
    headers['content-length'] = Buffer.byteLength(body)
    res.writeHead(200, headers)
    res.end(body)
  }

  const serveTags = (res: ServerResponse, name: string): void => {
    const repo = repoOf(name, false)
    if (!repo)
      return sendError(res, 404, 'NAME_UNKNOWN', `repository name not known to registry: ${name}`)
    const body = JSON.stringify({ name, tags: [...repo.tags.keys()].sort() })
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  }

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    requests++
    log.push({
      method: req.method ?? '',
      url: req.url ?? '',
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    })
    if (options.latencyMs) await new Promise((r) => setTimeout(r, options.latencyMs))
    if (options.failEvery && requests % options.failEvery === 0) {
      req.resume()
      return sendError(res, options.failStatus ?? 503, 'UNAVAILABLE', 'injected failure', {
        ...(options.retryAfter !== undefined ? { 'retry-after': options.retryAfter } : {}),
      })
    }
    const url = new URL(req.url ?? '/', `http://${host}`)
    const canned = options.intercept?.({ method: req.method ?? '', url })
    if (canned) {
      req.resume()
      const body = canned.body ?? ''
      res.writeHead(canned.status, {
        'content-length': Buffer.byteLength(body),
        ...canned.headers,
      })
      res.end(req.method === 'HEAD' ? undefined : body)
      return
    }
    const path = url.pathname
    if (path === '/token' && options.bearerAuth && options.tokenRealm === 'redirect') {
      req.resume()
      res.writeHead(307, {
        location: `http://${realmHost}/token${url.search}`,
        'content-length': 0,
      })
      res.end()
      return
    }
    if (path === '/token' && options.bearerAuth) return serveToken(req, res, url)

    let m: RegExpExecArray | null
    if (ROUTES.base.test(path)) {
      if (!authorize(req, res, undefined)) return
      res.writeHead(200, {
        'content-type': 'application/json',
        'docker-distribution-api-version': 'registry/2.0',
      })
      res.end('{}')
      return
    }
    if ((m = ROUTES.uploads.exec(path))) {
      if (!authorize(req, res, m[1])) return
      return serveUploads(req, res, url, m[1], m[2])
    }
    if ((m = ROUTES.blob.exec(path))) {
      if (!authorize(req, res, m[1])) return
      return serveBlob(req, res, m[1], m[2])
    }
    if ((m = ROUTES.manifest.exec(path))) {
      if (!authorize(req, res, m[1])) return
      return serveManifest(req, res, m[1], m[2])
    }
    if ((m = ROUTES.referrers.exec(path)) && req.method === 'GET') {
      if (!authorize(req, res, m[1])) return
      return serveReferrers(res, url, m[1], m[2])
    }
    if ((m = ROUTES.tags.exec(path)) && req.method === 'GET') {
      if (!authorize(req, res, m[1])) return
      return serveTags(res, m[1])
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
    res.end('404 page not found\n')
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: Error) => {
      if (!res.headersSent) sendError(res, 500, 'UNKNOWN', err.message)
      else res.destroy()
    })
  })
  host = `127.0.0.1:${await listenOnLoopback(server)}`

  let storage: Server | undefined
  if (options.redirectBlobs) {
    // Another port is another host (URL.host includes the port), as S3 would be.
    storage = createServer((req, res) => {
      storageRequests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      })
      const m = /^\/storage\/(.+)\/(sha256:[a-f0-9]{64})$/.exec(
        new URL(req.url ?? '/', 'http://x').pathname,
      )
      const blob = m ? repoOf(m[1], false)?.blobs.get(m[2]) : undefined
      if (!blob) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': blob.length,
      })
      res.end(req.method === 'HEAD' ? undefined : blob)
    })
    storageHost = `127.0.0.1:${await listenOnLoopback(storage)}`
  }

  let realmServer: Server | undefined
  if (options.tokenRealm === 'other-host' || options.tokenRealm === 'redirect') {
    // The token service of this registry, on another host (as Docker Hub's is on auth.docker.io).
    realmServer = createServer((req, res) => {
      const received: RecordedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
      }
      realmRequests.push(received)
      const url = new URL(req.url ?? '/', `http://${realmHost}`)
      const answer =
        url.pathname === '/token' && options.bearerAuth
          ? serveToken(req, res, url, received)
          : Promise.resolve(sendError(res, 404, 'NOT_FOUND', 'not found'))
      answer.catch(() => res.destroy())
    })
    realmHost = `127.0.0.1:${await listenOnLoopback(realmServer)}`
  }

  return {
    host,
    get requests() {
      return requests
    },
    log,
    storageRequests,
    ...(storageHost ? { storageHost } : {}),
    realmRequests,
    ...(realmHost ? { realmHost } : {}),
    async stop() {
      await closeServer(server)
      if (storage) await closeServer(storage)
      if (realmServer) await closeServer(realmServer)
    },
  }
}
