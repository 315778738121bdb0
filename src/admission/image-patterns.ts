/**
 * Signet's repository patterns (image-patterns.ts in src/policy: normalised names such as
 * `index.docker.io/library/node` or `ghcr.io/acme/**`) in each admission controller's syntax.
 * Neither can say exactly what a Signet glob says, so each translation covers AT LEAST the images
 * the Signet pattern covers (an image it missed would escape verification) and reports when it
 * covers more (those images then need this rule's signers too: stricter, never weaker).
 *
 * Kyverno (`imageReferences`) matches `registry/path:tag` or `registry/path@digest`, with Docker
 * Hub's registry as the pod wrote it (`docker.io`, `index.docker.io`, …) and `library/` added to
 * official images; its `*` matches any run of characters, `/` included, and `?` and `.` any one
 * (go-wildcard v2, kyverno's ext/wildcard).
 *
 * policy-controller (`glob`) matches go-containerregistry's name, `index.docker.io/library/node:tag`
 * (Signet's normal form plus the tag or digest); `*` matches within one path component, `**`
 * anything; only letters, digits and `-_:/*.` may appear.
 */
import { unsupported } from './common'

const HUB = 'index.docker.io/'
/** Every spelling of Docker Hub a pod may write (reference.ts, DOCKER_HUB_HOSTS). */
const HUB_HOSTS = [
  'docker.io',
  'index.docker.io',
  'registry-1.docker.io',
  'registry.hub.docker.com',
]
/** More `**` + `/` than this in one pattern and the expansion below is refused. */
const MAX_OPTIONAL_SEGMENTS = 4

export interface TranslatedPatterns {
  patterns: string[]
  /** The translation matches images the Signet pattern does not. */
  broader: boolean
}

/**
 * Signet's `a/** /b` (no space) also matches `a/b`; neither controller's wildcard matches an empty
 * path component, so each `** /` becomes two patterns, with and without it.
 */
function expandOptionalSegments(pattern: string): string[] {
  const parts = pattern.split('**/')
  if (parts.length - 1 > MAX_OPTIONAL_SEGMENTS) {
    throw unsupported(`image pattern "${pattern}" has too many "**/" segments to translate`)
  }
  let out = [parts[0]]
  for (const part of parts.slice(1)) {
    out = out.flatMap((prefix) => [`${prefix}**/${part}`, `${prefix}${part}`])
  }
  return out
}

/** Kyverno imageReferences covering a Signet repository pattern, tags and digests both. */
export function kyvernoImageReferences(pattern: string): TranslatedPatterns {
  const repositories = expandOptionalSegments(pattern).flatMap((p) =>
    p.startsWith(HUB) ? HUB_HOSTS.map((host) => `${host}/${p.slice(HUB.length)}`) : [p],
  )
  // A Kyverno `*` also crosses `/`, so a Signet `*` or `?` translates broader; `**` exactly.
  const broader = /[*?]/.test(pattern.replace(/\*\*/g, ''))
  const patterns = repositories
    .map((r) => r.replace(/\*\*/g, '*'))
    .flatMap((r) => [`${r}:*`, `${r}@*`])
  return { patterns: [...new Set(patterns)], broader }
}

const GLOB_CHARS = /^[a-zA-Z0-9\-_:/*.]+$/

/** policy-controller globs covering a Signet repository pattern, tags and digests both. */
export function policyControllerGlobs(pattern: string): TranslatedPatterns {
  let broader = false
  const globs = expandOptionalSegments(pattern).map((p) => {
    // `?` (one character) has no counterpart; `*` (any within the component) covers it.
    if (p.includes('?')) broader = true
    const glob = p.replace(/\?/g, '*')
    if (!GLOB_CHARS.test(glob)) {
      throw unsupported(
        `image pattern "${pattern}" has characters a policy-controller glob cannot hold ` +
          '(letters, digits and -_:/*. only)',
      )
    }
    if (glob.endsWith('**')) return glob
    // No `@` may appear in a glob: `*` after the repository takes `:tag` and `@sha256:…` alike,
    // and also any longer repository name in the same path component (`app` → `app-two`).
    broader = true
    return `${glob}*`
  })
  return { patterns: [...new Set(globs)], broader }
}
