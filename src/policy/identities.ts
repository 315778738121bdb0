/**
 * Keyless signers' identities. A keyless signer names the certificate's SAN (`identity`, exact, or
 * `identityRegexp`) and the OIDC issuer (`issuer` or `issuerRegexp`); both halves are required.
 * UNLIKE cosign, whose `--certificate-identity-regexp` is an unanchored search, every regexp here
 * (in the file and in the `certificate-*-regexp` inputs) must match the WHOLE value: it is compiled
 * as `^(?:re)$`, so `acme/app` does not match `https://github.com/evil/acme/app/...`. Regexps are
 * JavaScript syntax (for the usual RE2 subset the same), compiled alone first so an unbalanced `)`
 * cannot escape the anchors. Remember to escape dots: `github.com` also matches `githubXcom`.
 */
import type { KeylessSigner, StringMatcher } from './types'

/**
 * Compiles a user's regexp to match whole values, or returns why it cannot. The source is compiled
 * alone first: `a)|(b` would otherwise become `^(?:a)|(b)$`, whose second branch is unanchored.
 */
export function compileWholeMatch(source: string): RegExp | string {
  if (source === '') return 'the regular expression is empty'
  try {
    new RegExp(source)
    return new RegExp(`^(?:${source})$`)
  } catch (err) {
    return `invalid regular expression "${source}": ${(err as Error).message}`
  }
}

/** "identity \"X\"" or "identity matching the regular expression …", for reasons. */
export function describeMatcher(what: string, m: StringMatcher): string {
  return m.kind === 'exact'
    ? `${what} "${m.value}"`
    : `${what} matching the regular expression "${m.source}" (whole value)`
}

export function matchesString(m: StringMatcher, value: string): boolean {
  return m.kind === 'exact' ? m.value === value : m.regexp.test(value)
}

/**
 * Whether a certificate's SAN and OIDC issuer satisfy a keyless signer. Exact values compare as
 * strings; regexps must match the whole value. The reason names what was expected and found.
 */
export function matchesIdentity(
  signer: KeylessSigner,
  san: string,
  issuer: string,
): { ok: true } | { ok: false; reason: string } {
  const reasons: string[] = []
  if (!matchesString(signer.identity, san)) {
    reasons.push(`expected ${describeMatcher('identity', signer.identity)}, got "${san}"`)
  }
  if (!matchesString(signer.issuer, issuer)) {
    reasons.push(`expected ${describeMatcher('issuer', signer.issuer)}, got "${issuer}"`)
  }
  return reasons.length === 0 ? { ok: true } : { ok: false, reason: reasons.join('; ') }
}
