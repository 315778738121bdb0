/**
 * What both writers share: refusing what an admission controller would read differently from
 * Signet (regexps RE2 does not take, Kyverno's `{{ }}` variables), whole-value regexps, names.
 */
import { Document } from 'yaml'
import { SignetError } from '../errors'
import type { AdmissionMatcher, AdmissionSpec } from './types'

export function unsupported(message: string): SignetError {
  return new SignetError('ADMISSION_UNSUPPORTED', `admission policy: ${message}`)
}

/**
 * JavaScript regexp syntax that Go's RE2 (which Kyverno and policy-controller compile identities
 * with, through cosign) rejects or reads otherwise: lookaround, backreferences, escapes that are
 * a literal letter to JavaScript without the `u` flag (as Signet compiles) but mean something to
 * Go (`\p{L}`, `\x{41}`, `\A`, `\z`, `\Q…\E`, `\C`), `\u`/`\c`, POSIX classes, and the empty
 * classes `[]` and `[^]`. One difference stays: Go's `.` also matches `\r`, `\u2028` and
 * `\u2029`, which no certificate identity or issuer URL holds.
 */
const NOT_RE2: { re: RegExp; what: string }[] = [
  { re: /\(\?<?[=!]/, what: 'lookaround ((?=, (?!, (?<=, (?<!)' },
  { re: /\\[1-9]|\\k</, what: 'a backreference' },
  {
    re: /\\[ucpPAzQECx]/,
    what: 'an escape Go reads otherwise (\\u \\c \\p \\P \\A \\z \\Q \\E \\C \\x)',
  },
  { re: /\[:/, what: 'a POSIX class ([:alpha:])' },
  { re: /\[\^?\]/, what: 'an empty class ([] or [^])' },
]

/**
 * The regexp an admission controller must be given for Signet's whole-value `source`: cosign
 * matches `--certificate-identity-regexp` unanchored, Signet the whole value, so the source is
 * wrapped in `^(?:…)$` exactly as Signet compiles it (identities.ts). A source RE2 would read
 * otherwise is refused. `what` names the field in the error.
 */
export function wholeValueRegexp(source: string, what: string): string {
  for (const { re, what: construct } of NOT_RE2) {
    if (re.test(source)) {
      throw unsupported(
        `${what} "${source}" uses ${construct}, which Go's RE2 (Kyverno, policy-controller) ` +
          'does not read as JavaScript does; rewrite it without',
      )
    }
  }
  return `^(?:${source})$`
}

/** `{ subject }` or `{ subjectRegExp }` (and the issuer's twins), as both CRDs name them. */
export function matcherFields(
  m: AdmissionMatcher,
  exactKey: string,
  regexpKey: string,
  what: string,
): Record<string, string> {
  return 'exact' in m
    ? { [exactKey]: m.exact }
    : { [regexpKey]: wholeValueRegexp(m.regexp, `${what} regexp`) }
}

/** A DNS label (metadata.name, rule names): lowercase letters, digits and `-`, at most 63. */
export function dnsLabel(text: string, fallback: string): string {
  const label = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '')
  return label === '' ? fallback : label
}

/** A description every writer can start from: rules with images and signers. */
export function checkSpec(spec: AdmissionSpec): void {
  if (spec.rules.length === 0) throw unsupported('there are no rules (no images) to admit')
  spec.rules.forEach((rule, i) => {
    const where = rule.name ? `rule "${rule.name}"` : `rule ${i + 1}`
    if (rule.images.length === 0) throw unsupported(`${where} names no images`)
    if (rule.signers.length === 0) throw unsupported(`${where} names no signers`)
    for (const a of rule.attestations) {
      if (a.predicateTypes.length === 0)
        throw unsupported(`${where} requires an attestation of no type`)
    }
  })
}

/**
 * YAML text of `value` through the yaml library's document model, never by concatenation: every
 * string is quoted as its content needs, so an identity with `: `, `#` or a line break stays one
 * string. Long strings (keys, regexps) are not folded.
 */
export function toYaml(value: unknown): string {
  return new Document(value).toString({ lineWidth: 0, minContentWidth: 0 })
}

/** Every string in a value, however deep, with its path: for the checks that look at all of them. */
export function* stringsIn(value: unknown, path = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [path, value]
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* stringsIn(v, `${path}[${i}]`)
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) yield* stringsIn(v, path ? `${path}.${k}` : k)
  }
}
