/**
 * The trust roots a verify run checks signatures against, and how strictly each is checked.
 *
 * - Default: Sigstore's public-good root through TUF (`@sigstore/tuf`), cached under RUNNER_TEMP.
 *   When the TUF mirror cannot be reached (no connection, DNS, a timeout, a 5xx), the root embedded
 *   in Signet (the seed @sigstore/tuf ships) is used, with a warning: it is signed and current as of
 *   that release, but misses any key rotated since. When the mirror answers with metadata that does
 *   not verify (a bad signature, expired, a rollback, a length or hash mismatch, garbage), the run
 *   fails instead: falling back then would let whoever serves the metadata choose an older root.
 * - `trusted-root`: a trusted_root.json, or several as JSON lines (what `gh attestation
 *   trusted-root` prints: the public-good root and GitHub's own instance). Every signature is tried
 *   against every root.
 * - A root with no transparency log (GitHub's instance, which serves private repositories) cannot
 *   give a signature a Rekor entry: its signatures need an RFC 3161 timestamp instead, and with no
 *   CT log there is no SCT to require.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import type { Logger } from '../report/types'
import { displayURL, withRetry, type RetryBudget } from '../retry'
import { tufSeeds } from '../sigstore/internals'
import type { BundleVerifyOptions } from './bundle'

export const PUBLIC_GOOD_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev'

export interface TrustRoot {
  /** For messages: the Fulcio or Rekor host it trusts, or the file. */
  name: string
  material: TrustMaterial
  /** What a signature under this root must carry. */
  requirements: Required<BundleVerifyOptions>
}

export interface TrustRootOptions {
  /** The `trusted-root` input: a path (relative to `cwd`). Undefined: public good via TUF. */
  file?: string
  cwd: string
  log: Logger
  /** Where the TUF cache lives. Default RUNNER_TEMP (or the OS temp dir). */
  cacheDir?: string
  mirrorURL?: string
  /**
   * For tests: the TUF root.json a mirror other than the public-good one starts from. Default: the
   * public-good root.json embedded in @sigstore/tuf (a mirror is a copy of that repository).
   */
  tufRootPath?: string
  /** Per TUF request. */
  timeoutMs?: number
  /**
   * The run's retry budget (`retry-timeout`), of which the mirror gets at most TUF_MAX_RETRY_MS;
   * without one, tuf-js retries each request once.
   */
  retry?: RetryBudget
}

/**
 * The longest a run waits for the TUF mirror: unlike the other services it has a fallback (the
 * embedded root, with a warning), and a runner that cannot reach it at all (a firewall) should
 * not wait the whole retry-timeout on every run before using it.
 */
export const TUF_MAX_RETRY_MS = 60_000

function invalid(message: string, cause?: unknown): SignetError {
  return new SignetError('INPUT_INVALID', `input ${INPUT.trustedRoot}: ${message}`, {
    input: INPUT.trustedRoot,
    cause,
  })
}

function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined
  try {
    return new URL(url).host
  } catch {
    return url
  }
}

/** A trusted_root.json document, parsed and checked. */
export function trustRootFrom(json: unknown, name?: string): TrustRoot {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object')
  return trustRootOf(TrustedRoot.fromJSON(json), name)
}

/** A root, with the requirements its instance can meet. */
function trustRootOf(root: TrustedRoot, name?: string): TrustRoot {
  if (!root.mediaType.startsWith('application/vnd.dev.sigstore.trustedroot'))
    throw new Error(`mediaType is ${JSON.stringify(root.mediaType)}, not a Sigstore trusted root`)
  if (root.certificateAuthorities.length === 0 && root.tlogs.length === 0)
    throw new Error('it trusts no certificate authority and no transparency log')
  const hasTlog = root.tlogs.length > 0
  return {
    name:
      name ??
      hostOf(root.certificateAuthorities[0]?.uri) ??
      hostOf(root.tlogs[0]?.baseUrl) ??
      'trusted root',
    material: toTrustMaterial(root),
    requirements: {
      requireTlog: hasTlog,
      requireTimestamp: !hasTlog,
      requireSct: root.ctlogs.length > 0,
    },
  }
}

/** The roots in a trusted-root file: one JSON document, or one per line. */
export function parseTrustedRootFile(text: string, file: string): TrustRoot[] {
  let documents: unknown[]
  try {
    documents = [JSON.parse(text)]
  } catch {
    const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
    documents = []
    for (const [i, line] of lines.entries()) {
      try {
        documents.push(JSON.parse(line))
      } catch {
        throw invalid(`${file} is not JSON (nor JSON lines: line ${i + 1} is not JSON)`)
      }
    }
  }
  if (documents.length === 0) throw invalid(`${file} is empty`)
  return documents.map((doc, i) => {
    try {
      return trustRootFrom(doc)
    } catch (err) {
      const where = documents.length > 1 ? ` (line ${i + 1})` : ''
      throw invalid(`${file}${where} is not a Sigstore trusted root: ${describeError(err)}`, err)
    }
  })
}

/** The public-good trusted_root.json embedded in @sigstore/tuf (its TUF seed). */
export function embeddedPublicGoodRoot(): TrustRoot {
  const encoded = tufSeeds()[PUBLIC_GOOD_TUF_MIRROR]?.targets['trusted_root.json']
  if (!encoded) throw new Error('@sigstore/tuf has no embedded public-good trusted root')
  return trustRootFrom(
    JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')),
    'Sigstore public good (embedded)',
  )
}

/** System error codes of a connection that could not be made or was lost (Node and undici). */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

/**
 * fetch's network failures written out as text, which tuf-js does in two places: a failed snapshot
 * or targets download becomes a RuntimeError `Unable to load snapshot metadata error ${error}`, and
 * an error that is not an `instanceof Error` in tuf-js's realm becomes `new Error(String(error))`.
 * Only fetch's own failures are recognised in text; an HTTP status is not (the text has none).
 */
const NETWORK_ERROR_TEXT =
  /^(?:Unable to load (?:snapshot metadata|targets) error )?(?:TypeError: fetch failed|TimeoutError: |AbortError: )/

/**
 * Whether a TUF failure means the mirror could not be reached, as opposed to metadata that did not
 * verify. Follows the cause chain (@sigstore/tuf's TUFError wraps tuf-js's errors, which wrap
 * fetch's). Anything not recognised as a network failure counts as a verification failure: the
 * caller fails closed on it.
 */
export function isMirrorUnreachable(err: unknown): boolean {
  let current: unknown = err
  for (let depth = 0; isErrorLike(current) && depth < 8; depth++) {
    if (current.name === 'TimeoutError' || current.name === 'AbortError') return true
    if (current.name === 'TypeError' && current.message === 'fetch failed') return true
    // tuf-js's DownloadHTTPError: a status the mirror answered with.
    const status = (current as { statusCode?: unknown }).statusCode
    if (typeof status === 'number') return status >= 500 || status === 408 || status === 429
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true
    if (NETWORK_ERROR_TEXT.test(current.message)) return true
    current = current.cause
  }
  return false
}

/**
 * An Error by its shape: fetch's errors come from Node's own realm, which `instanceof Error` does
 * not recognise where the code runs in another (a test's VM context).
 */
function isErrorLike(value: unknown): value is Error & { cause?: unknown } {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { message?: unknown }).message === 'string' &&
    typeof (value as { name?: unknown }).name === 'string'
  )
}

/** Every message of an error's cause chain, for a reason that says what failed to verify. */
function errorChain(err: unknown): string {
  const messages: string[] = []
  let current: unknown = err
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth++) {
    const message = isErrorLike(current) ? current.message : describeError(current)
    if (message && !messages.includes(message)) messages.push(message)
    current = isErrorLike(current) ? current.cause : undefined
  }
  return messages.join(': ')
}

/** What the mirror answered, for a retry's log line: its status when it sent one (tuf-js keeps it). */
function mirrorAnswer(err: unknown): string {
  let current: unknown = err
  for (let depth = 0; isErrorLike(current) && depth < 8; depth++) {
    const status = (current as { statusCode?: unknown }).statusCode
    if (typeof status === 'number') return `HTTP ${status}`
    current = current.cause
  }
  return errorChain(err)
}

/**
 * The initial TUF root a mirror other than the public-good one is trusted from: the test's, or the
 * public-good root.json, written where @sigstore/tuf reads it (it seeds only mirrors it knows).
 */
async function initialTufRoot(
  options: TrustRootOptions,
  mirrorURL: string,
  cachePath: string,
): Promise<string | undefined> {
  if (options.tufRootPath) return options.tufRootPath
  if (mirrorURL === PUBLIC_GOOD_TUF_MIRROR) return undefined
  const encoded = tufSeeds()[PUBLIC_GOOD_TUF_MIRROR]?.['root.json']
  if (!encoded) return undefined
  const path = join(cachePath, 'public-good-root.json')
  await mkdir(cachePath, { recursive: true })
  await writeFile(path, Buffer.from(encoded, 'base64'))
  return path
}

export async function loadTrustRoots(options: TrustRootOptions): Promise<TrustRoot[]> {
  if (options.file) {
    const path = resolve(options.cwd, options.file)
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      throw invalid(`cannot read ${options.file}: ${describeError(err)}`, err)
    }
    return parseTrustedRootFile(text, options.file)
  }
  const cachePath = join(options.cacheDir ?? (process.env.RUNNER_TEMP || tmpdir()), 'signet-tuf')
  const mirrorURL = options.mirrorURL ?? PUBLIC_GOOD_TUF_MIRROR
  let root: TrustedRoot
  try {
    // Loaded here, not imported: a run given trusted-root never loads the TUF client (tuf-js and
    // its HTTP stack), which cost every verify run's start-up (issue 11).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { getTrustedRoot } = require('@sigstore/tuf') as typeof import('@sigstore/tuf')
    const rootPath = await initialTufRoot(options, mirrorURL, cachePath)
    // Its retries are logged with the rest of what loading the root says (a deferred log).
    const budget = options.retry?.capped(TUF_MAX_RETRY_MS, (line) => options.log.info(line))
    root = await withRetry(
      () =>
        getTrustedRoot({
          cachePath,
          mirrorURL,
          rootPath,
          retry: budget ? 0 : 1,
          timeout: options.timeoutMs ?? 10_000,
        }),
      {
        budget,
        retries: 0,
        service: `the TUF mirror ${displayURL(mirrorURL)}`,
        classify: (outcome) =>
          'error' in outcome
            ? { retry: isMirrorUnreachable(outcome.error), reason: mirrorAnswer(outcome.error) }
            : { retry: false },
      },
    )
  } catch (err) {
    if (!isMirrorUnreachable(err)) throw tufVerificationFailed(mirrorURL, cachePath, err)
    options.log.warning(
      `could not update the Sigstore trusted root through TUF: the mirror ${mirrorURL} cannot be ` +
        `reached (${describeError(err)}); using the ` +
        'public-good root embedded in Signet, which lacks any key rotated since this release. ' +
        'Set trusted-root to a current trusted_root.json to choose the root yourself.',
    )
    return [embeddedPublicGoodRoot()]
  }
  try {
    return [trustRootOf(root, 'Sigstore public good')]
  } catch (err) {
    // Signed content that is not a trusted root: as untrustworthy as a bad signature.
    throw tufVerificationFailed(mirrorURL, cachePath, err)
  }
}

function tufVerificationFailed(mirrorURL: string, cachePath: string, cause: unknown): SignetError {
  return new SignetError(
    'SIGSTORE_ERROR',
    `input ${INPUT.trustedRoot}: the Sigstore trusted root from the TUF mirror ${mirrorURL} did ` +
      `not verify (${errorChain(cause)}). The mirror answered, so Signet does not fall back to the ` +
      'root it embeds (metadata that is tampered with, expired or rolled back must not choose an ' +
      `older root). Set trusted-root to a trusted_root.json you have checked, or, if the TUF cache ` +
      `at ${cachePath} is damaged, delete it and run again.`,
    { input: INPUT.trustedRoot, cause },
  )
}
