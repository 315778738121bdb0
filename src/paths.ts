/** Path inputs that may be globs (`sbom`, `dockerfile`), resolved against the workspace. */
import { glob, stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { SignetError } from './errors'

/** Characters that make a pattern a glob for fs.glob (minimatch syntax). */
const GLOB_MAGIC = /[*?[\]{}]/

/** How messages name the input and the files it is about. */
export interface PathInput {
  input: string
  /** e.g. 'SBOM file', 'Dockerfile' */
  noun: string
  /** Suggested for a directory: `<dir>/<exampleGlob>`. */
  exampleGlob: string
  /** Appended to "not found" messages, e.g. ' (was the SBOM generated in an earlier step?)'. */
  hint?: string
}

/**
 * The files a path or glob (`*`, `**`, `?`, `{a,b}`) names, relative to `cwd` as the pattern was
 * written (absolute for an absolute pattern), sorted. An existing file is returned as is even if
 * its name has glob characters; a directory, a missing file, or a pattern matching no file is an
 * error naming the input.
 */
export async function expandPaths(
  pattern: string,
  cwd: string,
  what: PathInput,
): Promise<string[]> {
  const trimmed = pattern.trim()
  const hint = what.hint ?? ''
  const fail = (message: string): SignetError =>
    new SignetError('INPUT_INVALID', `input ${what.input}: ${message}`, { input: what.input })
  const literal = await stat(resolve(cwd, trimmed)).catch(() => undefined)
  if (literal?.isFile()) return [trimmed]
  if (literal?.isDirectory()) {
    throw fail(
      `${trimmed} is a directory; name the ${what.noun}, or a glob such as ${trimmed.replace(/\/+$/, '')}/${what.exampleGlob}`,
    )
  }
  if (!GLOB_MAGIC.test(trimmed))
    throw fail(`${what.noun} ${trimmed} does not exist (in ${cwd}); check the path${hint}`)

  const matches: string[] = []
  for await (const match of glob(trimmed, { cwd })) {
    // A glob such as `dir/*` also matches directories; only files count.
    const info = await stat(resolve(cwd, match)).catch(() => undefined)
    if (info?.isFile()) matches.push(match)
  }
  if (matches.length === 0)
    throw fail(`"${trimmed}" matches no file (in ${cwd}); check the pattern${hint}`)
  // Code-unit order, not locale order: the same files in the same order on every runner.
  return matches.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
}
