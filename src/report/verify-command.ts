/** The cosign command that checks what sign mode wrote, as the `verify-command` output. Pure. */
import type { SignOutcome } from './types'

/** Characters no POSIX shell (nor bash, nor zsh) treats specially inside a word. */
const SHELL_PLAIN = /^[A-Za-z0-9_@%+:,./-][A-Za-z0-9_@%+=:,./-]*$/
const CONTROL = /[\u0000-\u001f\u007f]/

/**
 * One shell word that stands for exactly `value`. Plain values stay as they are, so the usual
 * command reads as before; anything else is single-quoted, POSIX-style, a `'` written as `'\''`.
 * A value holding a line break or another control character is written `$'…'` with escapes
 * instead (POSIX.1-2024, bash, zsh, ksh), so the command stays on one line: it is logged, and a
 * raw line break in it could end a log line or a summary code block.
 */
export function shellQuote(value: string): string {
  if (SHELL_PLAIN.test(value)) return value
  if (!CONTROL.test(value)) return `'${value.replace(/'/g, `'\\''`)}'`
  const escaped = [...value]
    .map((c) => {
      if (c === '\\' || c === "'") return `\\${c}`
      if (c === '\n') return '\\n'
      if (c === '\r') return '\\r'
      if (c === '\t') return '\\t'
      // Always two hex digits: `\x1b` then a literal `5` is not read as `\x1b5`.
      if (CONTROL.test(c)) return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
      return c
    })
    .join('')
  return `$'${escaped}'`
}

/** `--name=value` with the value quoted for the shell (the flag names are Signet's own). */
function flag(name: string, value: string): string {
  return `--${name}=${shellQuote(value)}`
}

/**
 * The command a user pastes to check the first image signed. Every value that came from outside
 * (image names, identities, the issuer) is quoted, so that pasting it into bash runs cosign with
 * exactly those arguments and nothing else.
 */
export function buildVerifyCommand(
  outcome: Pick<
    SignOutcome,
    | 'keyless'
    | 'identity'
    | 'results'
    | 'signatureFormat'
    | 'customInstance'
    | 'trustedRoot'
    | 'tlog'
    | 'timestamped'
    | 'signatureRepository'
  >,
): string {
  const first = outcome.results.find((r) => !r.parent) ?? outcome.results[0]
  const image = first ? `${first.image}@${first.digest}` : '<image>@<digest>'
  // cosign looks for signatures where COSIGN_REPOSITORY says, as Signet stored them.
  const parts = outcome.signatureRepository
    ? [`COSIGN_REPOSITORY=${shellQuote(outcome.signatureRepository)}`, 'cosign', 'verify']
    : ['cosign', 'verify']
  if (outcome.keyless) {
    parts.push(flag('certificate-identity', outcome.identity?.subject ?? '<identity>'))
    parts.push(flag('certificate-oidc-issuer', outcome.identity?.issuer ?? '<issuer>'))
  } else {
    parts.push(flag('key', 'cosign.pub'))
  }
  // The root the services were checked against is the one to verify with; with other services
  // and none given, the user must fetch theirs (a placeholder says so).
  if (outcome.trustedRoot) parts.push(flag('trusted-root', outcome.trustedRoot))
  else if (outcome.customInstance) parts.push(flag('trusted-root', 'trusted_root.json'))
  if (!outcome.tlog) {
    // Nothing in Rekor: cosign must be told not to look, and to trust the timestamp instead.
    if (outcome.timestamped) parts.push('--use-signed-timestamps')
    parts.push('--insecure-ignore-tlog=true')
  }
  // cosign 2 reads only .sig; cosign 3 only reads .sig when told not to look for bundles.
  if (outcome.signatureFormat === 'legacy') parts.push('--new-bundle-format=false')
  parts.push(shellQuote(image))
  return parts.join(' ')
}
