/**
 * Image references, parsed the way Docker and go-containerregistry (hence cosign) parse them, so a
 * name means the same repository to Signet as to every tool that later verifies it.
 */
import { SignetError } from '../errors'
import type { Repository } from './types'

export interface ImageReference extends Repository {
  /**
   * The host (with port) the registry API is served on, as BuildKit would contact it:
   * registry-1.docker.io for Docker Hub; `:443` (https's default) dropped; any other port kept.
   */
  registry: string
  /** The registry as written, after normalisation: docker.io for Docker Hub. */
  domain: string
  /** The repository path inside the registry, e.g. library/alpine or acme/app. */
  repository: string
  tag?: string
  digest?: string
  /** registry/repository as go-containerregistry renders it (index.docker.io/library/x for Hub). */
  name: string
  /**
   * The name policy rules are matched against: `name` with every default port dropped, so that
   * neither `host:443/x` nor `host:80/x` can leave a rule written for `host/x`. `:80` stays in
   * `registry` and `name` (BuildKit speaks https to `host:80` unless the host is insecure, so it is
   * another address to contact, and a signature names the image where it was pulled from).
   */
  policyName: string
  /** name[:tag][@digest] */
  toString(): string
}

/** Docker Hub's names: what users write, what ggcr prints, and where the API actually lives. */
const DOCKER_HUB_DOMAIN = 'docker.io'
const DOCKER_HUB_NAME = 'index.docker.io'
const DOCKER_HUB_API = 'registry-1.docker.io'
/**
 * Every host that serves Docker Hub. Docker and distribution/reference rewrite docker.io and
 * index.docker.io, ggcr docker.io; containerd contacts registry-1.docker.io for docker.io; and
 * registry.hub.docker.com answers the same API. A name on any of them is a Hub image.
 */
const DOCKER_HUB_HOSTS = new Set([
  DOCKER_HUB_DOMAIN,
  DOCKER_HUB_NAME,
  DOCKER_HUB_API,
  'registry.hub.docker.com',
])
const HTTPS_DEFAULT_PORT = 443
const HTTP_DEFAULT_PORT = 80
const MAX_PORT = 65535

/** `host` and `port` of host[:port] (IPv6 in brackets); port undefined when absent. */
function splitHostPort(hostPort: string): { host: string; port?: number } {
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostPort)
  if (!m) return { host: hostPort }
  return m[2] === undefined ? { host: m[1] } : { host: m[1], port: Number(m[2]) }
}

/**
 * A registry host as Signet compares and contacts it: lowercase, the port in plain decimal
 * (`:0443` is port 443 to Go's dialer, as to ours), and `:443` dropped, since https (the scheme
 * every registry not listed in plain-http is reached over) contacts port 443 anyway.
 */
export function canonicalRegistryHost(hostPort: string): string {
  const { host, port } = splitHostPort(hostPort.trim().toLowerCase())
  if (port === undefined || port === HTTPS_DEFAULT_PORT) return host
  return `${host}:${port}`
}

/** True for every spelling of Docker Hub (docker.io, index.docker.io, …; default ports allowed). */
export function isDockerHubHost(hostPort: string): boolean {
  const { host, port } = splitHostPort(canonicalRegistryHost(hostPort))
  return DOCKER_HUB_HOSTS.has(host) && (port === undefined || port === HTTP_DEFAULT_PORT)
}

/**
 * The registry part of ImageReference.policyName for a host: index.docker.io for Docker Hub, else
 * the canonical host without a default port. Policy patterns must be normalised with it too.
 */
export function policyRegistryName(hostPort: string): string {
  if (isDockerHubHost(hostPort)) return DOCKER_HUB_NAME
  const { host, port } = splitHostPort(canonicalRegistryHost(hostPort))
  return port === undefined || port === HTTP_DEFAULT_PORT ? host : `${host}:${port}`
}

// The grammar of distribution/reference (the one Docker, containerd and ggcr share).
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]{1,5})?$`,
)
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const TAG_RE = /^[\w][\w.-]{0,127}$/
const DIGEST_RES: Record<string, RegExp> = {
  sha256: /^sha256:[a-f0-9]{64}$/,
  sha512: /^sha512:[a-f0-9]{128}$/,
}
/** Docker's limit on the whole name (domain/path, without tag or digest). */
const MAX_NAME_LENGTH = 255

const FORM_HINT =
  'write [registry/]repository[:tag][@sha256:<64 hex>], e.g. ghcr.io/acme/app@sha256:… or ghcr.io/acme/app:v1'

/** True for `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`. */
export function isDigest(s: string): boolean {
  const algorithm = s.slice(0, s.indexOf(':'))
  return DIGEST_RES[algorithm]?.test(s) ?? false
}

/**
 * Returns `s` when it is a digest Signet can use; otherwise a DIGEST_INVALID error naming `input`.
 * `context` is the text the digest came from, when that is more than the digest itself.
 */
export function validateDigest(s: string, input: string, context?: string): string {
  if (isDigest(s)) return s
  const where = context !== undefined && context !== s ? ` in "${context}"` : ''
  const algorithm = s.includes(':') ? s.slice(0, s.indexOf(':')) : ''
  const why =
    algorithm === 'sha256' || algorithm === 'sha512'
      ? `expected ${algorithm}: followed by ${algorithm === 'sha256' ? 64 : 128} lowercase hex characters`
      : 'expected sha256: followed by 64 lowercase hex characters (or sha512: and 128)'
  throw new SignetError('DIGEST_INVALID', `${input}: invalid digest "${s}"${where}: ${why}`, {
    input,
  })
}

function invalid(input: string, text: string, why: string): SignetError {
  return new SignetError(
    'IMAGE_REFERENCE_INVALID',
    `${input}: "${text}" is not a valid image reference: ${why}; ${FORM_HINT}`,
    { input },
  )
}

/**
 * Parses `registry/repository[:tag][@digest]`. No registry part means Docker Hub; single-component
 * Hub names get `library/`. A first component is a registry when it contains '.' or ':', is
 * `localhost`, or has uppercase letters (exactly Docker's rule, so `myhost/app` is on Docker Hub).
 * One image has one name: the host is lowercased, `:443` dropped, and every Hub alias (with a
 * default port or none) is Docker Hub, so `ghcr.io:443/a/b` is `ghcr.io/a/b` and
 * `docker.io:443/alpine` is `index.docker.io/library/alpine`; see `policyName` for `:80`.
 */
export function parseImageReference(text: string, input = 'images'): ImageReference {
  const raw = text.trim()
  if (raw === '') throw invalid(input, text, 'it is empty')
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw invalid(input, raw, 'drop the URL scheme (registries are named by host only)')
  }
  if (/\s/.test(raw)) throw invalid(input, raw, 'it contains whitespace')

  let rest = raw
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = validateDigest(rest.slice(at + 1), input, raw)
    rest = rest.slice(0, at)
  }

  let tag: string | undefined
  const colon = rest.lastIndexOf(':')
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG_RE.test(tag)) {
      throw invalid(
        input,
        raw,
        `tag "${tag}" must be 1-128 letters, digits, '_', '.' or '-' and not start with '.' or '-'`,
      )
    }
  }
  if (rest === '') throw invalid(input, raw, 'the repository name is missing')

  let domain = DOCKER_HUB_DOMAIN
  let path = rest
  const slash = rest.indexOf('/')
  if (slash >= 0) {
    const first = rest.slice(0, slash)
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      const port = splitHostPort(first).port
      if (!DOMAIN_RE.test(first) || (port !== undefined && port > MAX_PORT))
        throw invalid(input, raw, `"${first}" is not a valid registry host`)
      domain = canonicalRegistryHost(first)
      path = rest.slice(slash + 1)
    }
  }
  const hub = isDockerHubHost(domain)
  if (hub) {
    domain = DOCKER_HUB_DOMAIN
    if (!path.includes('/')) path = `library/${path}`
  }

  if (path !== path.toLowerCase()) {
    throw invalid(input, raw, `repository names must be lowercase ("${path.toLowerCase()}")`)
  }
  for (const component of path.split('/')) {
    if (!PATH_COMPONENT_RE.test(component)) {
      throw invalid(
        input,
        raw,
        component === ''
          ? 'the repository path has an empty component'
          : `"${component}" is not a valid repository path component (lowercase letters and digits, separated by '.', '_', '__' or '-')`,
      )
    }
  }
  if (`${domain}/${path}`.length > MAX_NAME_LENGTH) {
    throw invalid(input, raw, `the name is longer than ${MAX_NAME_LENGTH} characters`)
  }

  const name = `${hub ? DOCKER_HUB_NAME : domain}/${path}`
  return {
    registry: hub ? DOCKER_HUB_API : domain,
    domain,
    repository: path,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    name,
    policyName: `${policyRegistryName(domain)}/${path}`,
    toString: () =>
      `${name}${tag !== undefined ? `:${tag}` : ''}${digest !== undefined ? `@${digest}` : ''}`,
  }
}
