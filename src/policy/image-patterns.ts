/**
 * Which images a rule covers. A pattern is matched against the image's normalised name,
 * `registry/repository` the way go-containerregistry (hence cosign) renders it, with any tag or
 * digest ignored: `node:20` is `index.docker.io/library/node`. Patterns are normalised by Docker's
 * rule too: a first component with no `.` or `:` that is not `localhost` means Docker Hub (`node` →
 * `index.docker.io/library/node`, `bitnami/*` → `index.docker.io/bitnami/*`, `docker.io/**` →
 * `index.docker.io/**`), except that a first component that is only wildcards (`*`, `**`) stands
 * for any registry (`**` matches every image, `** /app` (without the space) any repository named
 * app). Globs: `*` matches within one path component, `**` across `/` (`a/** /b` also matches
 * `a/b`), `?` one character other than `/`; everything else is literal. `ghcr.io/acme/**` matches
 * everything under ghcr.io/acme but not a repository named `ghcr.io/acme` itself. Patterns must be
 * lowercase and carry no tag or digest.
 */
import { parseImageReference, policyRegistryName } from '../registry/reference'
import type { Policy, Rule } from './types'

/**
 * A glob as an anchored RegExp: `*` matches within one path component, `**` across `/` (and
 * `**` followed by `/` also matches nothing, so `a/** /b` (no space) matches `a/b`), `?` one
 * character other than `/`; every other character is literal.
 */
export function globToRegExp(glob: string): RegExp {
  let out = ''
  for (let i = 0; i < glob.length;) {
    const c = glob[i]
    if (c === '*' && glob[i + 1] === '*') {
      if (glob[i + 2] === '/') {
        out += '(?:.*/)?'
        i += 3
      } else {
        out += '.*'
        i += 2
      }
    } else if (c === '*') {
      out += '[^/]*'
      i += 1
    } else if (c === '?') {
      out += '[^/]'
      i += 1
    } else {
      out += c.replace(/[\\^$.|+()[\]{}-]/g, '\\$&')
      i += 1
    }
  }
  return new RegExp(`^${out}$`)
}

/**
 * Brings a pattern to the form of a normalised image name (see the module comment), or returns an
 * error message.
 */
export function normaliseImagePattern(pattern: string): { pattern: string } | { error: string } {
  const p = pattern.trim()
  if (p === '') return { error: 'an image pattern is empty' }
  if (/\s/.test(p)) return { error: `image pattern "${p}" contains whitespace` }
  if (p.includes('://')) {
    return {
      error: `image pattern "${p}": drop the URL scheme (registries are named by host only)`,
    }
  }
  if (p.includes('@')) {
    return { error: `image pattern "${p}": patterns match repositories; drop the digest` }
  }
  if (p !== p.toLowerCase()) {
    return { error: `image pattern "${p}" must be lowercase ("${p.toLowerCase()}")` }
  }
  const slash = p.indexOf('/')
  const first = slash >= 0 ? p.slice(0, slash) : ''
  const firstIsRegistry =
    slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')
  const rest = firstIsRegistry ? p.slice(slash + 1) : p
  if (rest.includes(':')) {
    return { error: `image pattern "${p}": patterns match repositories; drop the tag` }
  }
  if (p === '**' || (slash >= 0 && /^\*+$/.test(first))) return { pattern: p }
  if (!firstIsRegistry) {
    return { pattern: `index.docker.io/${rest.includes('/') ? rest : `library/${rest}`}` }
  }
  // The registry as image names carry it (policyName): every Docker Hub alias is index.docker.io,
  // and a default port is dropped, so `ghcr.io:443/*` and `ghcr.io/*` are one pattern.
  const registry = /[*?]/.test(first)
    ? first.replace(/:(?:443|80)$/, '')
    : policyRegistryName(first)
  if (registry === 'index.docker.io') {
    return { pattern: `index.docker.io/${rest.includes('/') ? rest : `library/${rest}`}` }
  }
  return { pattern: `${registry}/${rest}` }
}

/**
 * The first rule whose images match `imageName` (any reference form; the tag and digest are
 * ignored), or undefined. Throws IMAGE_REFERENCE_INVALID for a name that is not a reference.
 */
export function ruleFor(policy: Policy, imageName: string): Rule | undefined {
  // policyName, not name: a default port (`ghcr.io:443`, `host:80`) cannot move an image out of
  // the rule its registry is under.
  const name = parseImageReference(imageName).policyName
  return policy.rules.find((rule) => rule.patterns.some((re) => re.test(name)))
}
