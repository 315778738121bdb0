/**
 * The trust roots a verify run checks signatures against, and how strictly each is checked.
 *
 * - Default: Sigstore's public-good root through TUF (`@sigstore/tuf`), cached under RUNNER_TEMP.
 *   When the TUF mirror cannot be reached, the root embedded in Signet (the seed @sigstore/tuf
 *   ships) is used, with a warning: it is signed and current as of that release, but misses any key
 *   rotated since.
 * - `trusted-root`: a trusted_root.json, or several as JSON lines (what `gh attestation
 *   trusted-root` prints: the public-good root and GitHub's own instance). Every signature is tried
 *   against every root.
 * - A root with no transparency log (GitHub's instance, which serves private repositories) cannot
 *   give a signature a Rekor entry: its signatures need an RFC 3161 timestamp instead, and with no
 *   CT log there is no SCT to require.
 */
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { getTrustedRoot } from '@sigstore/tuf'
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'
import type { Logger } from '../report/types'
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
  /** Per TUF request. */
  timeoutMs?: number
}

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
  // A JSON require: esbuild embeds the seed in dist/, so it is there without a network.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const seeds = require('@sigstore/tuf/seeds.json') as Record<
    string,
    { targets: Record<string, string> }
  >
  const encoded = seeds[PUBLIC_GOOD_TUF_MIRROR]?.targets['trusted_root.json']
  if (!encoded) throw new Error('@sigstore/tuf has no embedded public-good trusted root')
  return trustRootFrom(
    JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')),
    'Sigstore public good (embedded)',
  )
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
  try {
    const root = await getTrustedRoot({
      cachePath,
      mirrorURL: options.mirrorURL ?? PUBLIC_GOOD_TUF_MIRROR,
      retry: 1,
      timeout: options.timeoutMs ?? 10_000,
    })
    return [trustRootOf(root, 'Sigstore public good')]
  } catch (err) {
    options.log.warning(
      `could not update the Sigstore trusted root through TUF (${describeError(err)}); using the ` +
        'public-good root embedded in Signet, which lacks any key rotated since this release. ' +
        'Set trusted-root to a current trusted_root.json to choose the root yourself.',
    )
    return [embeddedPublicGoodRoot()]
  }
}
