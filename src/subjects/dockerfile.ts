/**
 * The base images a Dockerfile builds on, read the way BuildKit's Dockerfile frontend reads them.
 * Pure: no file system, no registry; tags are resolved to digests later.
 *
 * What it follows from BuildKit:
 * - parser directives at the top (`# escape=\`` changes the escape character), comments (`#`
 *   first on a line), blank lines, line continuations (the escape character last on a line;
 *   comment and blank lines inside a continued instruction are dropped), case-insensitive
 *   instructions, and heredoc bodies of RUN/COPY/ADD (also under ONBUILD), which are skipped;
 * - only ARGs before the first FROM (global ARGs) substitute into FROM; build args override their
 *   defaults, and a build arg for an ARG the Dockerfile never declares is ignored, as in BuildKit;
 * - `$NAME`, `${NAME}`, `${NAME-w}`, `${NAME:-w}`, `${NAME+w}`, `${NAME:+w}`, `${NAME?w}`,
 *   `${NAME:?w}`, quotes and the escape character, as BuildKit's shell lexer treats them;
 * - `FROM [--platform=<p>] <image> [AS <name>]`; `scratch` and earlier stages (names compared
 *   case-insensitively) are not images; a digest written in the Dockerfile is kept.
 *
 * Where it is stricter than BuildKit (which expands an unset ARG to ""): an ARG with no value, or a
 * name no global ARG declares, used in a FROM image is an error, since the image it names cannot be
 * known. BuildKit's automatic platform ARGs (BUILDPLATFORM, TARGETPLATFORM, TARGETARCH, …) are set
 * per build, so they are not known here either: in `--platform` they leave `platform` undefined
 * (the base image's platform is decided by the build, not the Dockerfile); in the image itself they
 * are an error. Either way a build arg of that name supplies the value.
 */
import { SignetError, type SignetErrorCode } from '../errors'
import { INPUT } from '../inputs'
import { parseImageReference, type ImageReference } from '../registry/reference'

export interface BaseImage {
  /** The reference as written after substitution, e.g. 'node:20-alpine' or 'ghcr.io/acme/base@sha256:…'. */
  reference: string
  /** `reference` parsed with parseImageReference(reference, 'dockerfile'). */
  image: ImageReference
  /**
   * The --platform value if given, after ARG substitution, e.g. 'linux/arm64'. Undefined when there
   * is none, when it is empty, or when it uses an automatic platform ARG (e.g. $BUILDPLATFORM) that
   * no build arg supplies.
   */
  platform?: string
  /** 1-based line number of the FROM instruction (its first line if continued). */
  line: number
  file: string
  /** The stage name (AS x), lowercased as BuildKit stores it, if any. */
  stage?: string
}

/** ARGs BuildKit defines from the build's platforms; global scope sees them without a declaration. */
const AUTOMATIC_ARGS = new Set([
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETARCH',
  'TARGETVARIANT',
])

const DIRECTIVE_RE = /^\s*#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$/
const DIRECTIVES = new Set(['syntax', 'escape', 'check'])
const HEREDOC_RE = /^(\d*)<<(-?)([^<]*)$/
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add'])
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/
const SCRATCH = 'scratch'

function fail(
  file: string,
  line: number,
  why: string,
  code: SignetErrorCode = 'DOCKERFILE_INVALID',
  cause?: unknown,
): SignetError {
  return new SignetError(code, `input ${INPUT.dockerfile}: ${file}:${line}: ${why}`, {
    input: INPUT.dockerfile,
    cause,
    file,
    line,
  })
}

/** One instruction after continuation lines are joined; heredoc bodies are already skipped. */
interface Instruction {
  keyword: string
  args: string
  line: number
}

/** Why a word could not be expanded (the FROM decides what that means for it). */
class Unresolved extends Error {
  constructor(
    readonly arg: string,
    readonly why: 'unset' | 'undeclared' | 'automatic' | 'required' | 'syntax',
    readonly detail = '',
  ) {
    super(`${why} ${arg} ${detail}`)
  }
}

type ArgState =
  | { kind: 'value'; value: string }
  | { kind: 'unset' }
  /** A default that used something unknown: using the ARG fails the same way. */
  | { kind: 'unresolved'; cause: Unresolved }

type Lookup = (name: string) => { set: true; value: string } | { set: false; why: Unresolved }

/**
 * Splits on unquoted whitespace, keeping quotes and escapes as written (the lexer removes them).
 */
function splitWords(s: string, escape: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i)
    if (quote === '' && /\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      continue
    }
    inWord = true
    word += c
    if (c === escape && quote !== "'" && i + 1 < s.length) {
      word += s.charAt(++i)
    } else if (quote === '' && (c === '"' || c === "'")) {
      quote = c
    } else if (c === quote) {
      quote = ''
    }
  }
  if (inWord) words.push(word)
  return words
}

/** BuildKit's shell-word expansion for one word: quotes, the escape character, `$` substitutions. */
class Lexer {
  private pos = 0
  /** >0 while reading a `${X:-word}` word whose value is not used: no lookups may fail there. */
  private dry = 0

  constructor(
    private readonly s: string,
    private readonly escape: string,
    private readonly lookup: Lookup,
  ) {}

  static expand(s: string, escape: string, lookup: Lookup): string {
    return new Lexer(s, escape, lookup).word(false)
  }

  private word(inBraces: boolean): string {
    let out = ''
    while (this.pos < this.s.length) {
      const c = this.s.charAt(this.pos)
      if (inBraces && c === '}') return out
      this.pos++
      if (c === this.escape) {
        if (this.pos < this.s.length) out += this.s.charAt(this.pos++)
      } else if (c === "'") {
        const end = this.s.indexOf("'", this.pos)
        if (end < 0) throw new Unresolved('', 'syntax', `unmatched ' in "${this.s}"`)
        out += this.s.slice(this.pos, end)
        this.pos = end + 1
      } else if (c === '"') {
        out += this.doubleQuoted()
      } else if (c === '$') {
        out += this.dollar()
      } else {
        out += c
      }
    }
    if (inBraces) throw new Unresolved('', 'syntax', `missing "}" in "${this.s}"`)
    return out
  }

  private doubleQuoted(): string {
    let out = ''
    while (this.pos < this.s.length) {
      const c = this.s.charAt(this.pos++)
      if (c === '"') return out
      if (c === '$') {
        out += this.dollar()
      } else if (c === this.escape && this.pos < this.s.length) {
        const next = this.s.charAt(this.pos)
        if (next === '"' || next === '$' || next === this.escape) {
          out += next
          this.pos++
        } else {
          out += c
        }
      } else {
        out += c
      }
    }
    throw new Unresolved('', 'syntax', `unmatched " in "${this.s}"`)
  }

  private name(): string {
    const m = /^[A-Za-z0-9_]+/.exec(this.s.slice(this.pos))
    const name = m?.[0] ?? ''
    this.pos += name.length
    return name
  }

  private get(name: string): { set: true; value: string } | { set: false; why: Unresolved } {
    return this.dry > 0 ? { set: true, value: '' } : this.lookup(name)
  }

  private dollar(): string {
    if (this.s.charAt(this.pos) !== '{') {
      const name = this.name()
      if (name === '') return '$'
      const v = this.get(name)
      if (!v.set) throw v.why
      return v.value
    }
    this.pos++
    const name = this.name()
    if (name === '') throw new Unresolved('', 'syntax', `bad substitution in "${this.s}"`)
    if (this.s.charAt(this.pos) === '}') {
      this.pos++
      const v = this.get(name)
      if (!v.set) throw v.why
      return v.value
    }
    const colon = this.s.charAt(this.pos) === ':'
    if (colon) this.pos++
    if (this.pos >= this.s.length) {
      throw new Unresolved('', 'syntax', `missing "}" in "${this.s}"`)
    }
    const op = this.s.charAt(this.pos++)
    if (op !== '-' && op !== '+' && op !== '?') {
      throw new Unresolved(
        name,
        'syntax',
        `\${${name}${colon ? ':' : ''}${op}…} is not a substitution Signet reads; use $${name}, \${${name}:-default} or \${${name}:+alternative}`,
      )
    }
    const v = this.get(name)
    if (!v.set && v.why.why !== 'unset' && v.why.why !== 'undeclared') throw v.why
    const present = v.set && (!colon || v.value !== '')
    const useWord = op === '+' ? present : !present
    if (!useWord) this.dry++
    let word: string
    try {
      word = this.word(true)
    } finally {
      if (!useWord) this.dry--
    }
    this.pos++ // the '}'
    if (op === '+') return present ? word : ''
    if (present) return v.set ? v.value : ''
    if (op === '-') return word
    throw new Unresolved(name, 'required', word)
  }
}

/** Joins continuation lines, drops comments, blank lines and heredoc bodies. */
function instructions(text: string, file: string): { escape: string; list: Instruction[] } {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split('\n')
    .map((l) => l.replace(/[\r\n]+$/, ''))

  let escape = '\\'
  const seen = new Set<string>()
  for (let i = 0; i < lines.length; i++) {
    const m = DIRECTIVE_RE.exec(lines[i] ?? '')
    const name = m?.[1]?.toLowerCase() ?? ''
    if (!m || !DIRECTIVES.has(name)) break
    if (seen.has(name)) throw fail(file, i + 1, `only one "${name}" parser directive may be given`)
    seen.add(name)
    if (name === 'escape') {
      const value = m[2] ?? ''
      if (value !== '\\' && value !== '`') {
        throw fail(file, i + 1, `invalid escape character "${value}": use \\ or \``)
      }
      escape = value
    }
  }

  const e = escape === '\\' ? '\\\\' : '`'
  const continuation = new RegExp(`(^|[^${e}])${e}[ \\t]*$`)
  const isComment = (l: string): boolean => l.trimStart().startsWith('#')

  const list: Instruction[] = []
  let n = 0
  while (n < lines.length) {
    const first = (lines[n] ?? '').trimStart()
    const line = ++n
    if (first === '' || isComment(first)) continue
    let more = continuation.test(first)
    let body = first.replace(continuation, '$1')
    while (more && n < lines.length) {
      const next = lines[n++] ?? ''
      if (isComment(next) || next.trim() === '') continue
      more = continuation.test(next)
      body += next.replace(continuation, '$1')
    }
    const m = /^(\S+)\s*([\s\S]*)$/.exec(body.trim())
    if (!m) continue
    const keyword = (m[1] ?? '').toLowerCase()
    const args = m[2] ?? ''
    list.push({ keyword, args, line })

    // Heredoc bodies: skip them so their text is never read as instructions.
    const inner = keyword === 'onbuild' ? (/^(\S+)/.exec(args)?.[1] ?? '').toLowerCase() : keyword
    const innerArgs = keyword === 'onbuild' ? args.replace(/^\S+\s*/, '') : args
    if (!HEREDOC_INSTRUCTIONS.has(inner) || !body.includes('<<') || isJsonForm(innerArgs)) continue
    for (const word of splitWords(body, '\\')) {
      const h = HEREDOC_RE.exec(word)
      const rest = h?.[3] ?? ''
      if (!h || rest === '') continue
      const terminator = rest.replace(/\\(.)/g, '$1').replace(/["']/g, '')
      const chomp = h[2] === '-'
      let terminated = false
      while (n < lines.length) {
        const candidate = lines[n++] ?? ''
        if ((chomp ? candidate.replace(/^\t+/, '') : candidate) === terminator) {
          terminated = true
          break
        }
      }
      if (!terminated)
        throw fail(file, line, `heredoc <<${rest} has no closing "${terminator}" line`)
    }
  }
  return { escape, list }
}

function isJsonForm(args: string): boolean {
  if (!args.trimStart().startsWith('[')) return false
  try {
    const value: unknown = JSON.parse(args)
    return Array.isArray(value) && value.every((v) => typeof v === 'string')
  } catch {
    return false
  }
}

function unresolvedMessage(u: Unresolved, what: string): string {
  switch (u.why) {
    case 'unset':
      return `ARG ${u.arg} is used in ${what} but has no value: give it a default (ARG ${u.arg}=…) before the first FROM or pass it as a build arg`
    case 'undeclared':
      return `${u.arg} is used in ${what} but no ARG before the first FROM declares it: add ARG ${u.arg}=<default> before the first FROM, or declare it and pass it as a build arg`
    case 'automatic':
      return `${what} uses ${u.arg}, which BuildKit sets from the build's platform, so the image is only known at build time: pass ${u.arg} as a build arg`
    case 'required':
      return `ARG ${u.arg} is required by ${what}${u.detail !== '' ? ` (${u.detail})` : ''}: give it a default or pass it as a build arg`
    case 'syntax':
      return `${what}: ${u.detail}`
  }
}

/**
 * The base images of `text` (a Dockerfile read from `file`, which only names it in messages), in
 * order. `buildArgs` are the build's --build-arg values. Errors are SignetErrors naming input
 * `dockerfile` with `file:line`: DOCKERFILE_INVALID for the Dockerfile itself, and the code of
 * parseImageReference (IMAGE_REFERENCE_INVALID, DIGEST_INVALID) for a reference it refuses.
 */
export function parseDockerfile(
  text: string,
  file: string,
  buildArgs: Record<string, string> = {},
): BaseImage[] {
  const { escape, list } = instructions(text, file)
  const override = (name: string): string | undefined =>
    Object.prototype.hasOwnProperty.call(buildArgs, name) ? buildArgs[name] : undefined

  const globals = new Map<string, ArgState>()
  const lookup: Lookup = (name) => {
    const state = globals.get(name)
    if (state?.kind === 'value') return { set: true, value: state.value }
    if (state?.kind === 'unresolved') return { set: false, why: state.cause }
    if (state?.kind === 'unset') return { set: false, why: new Unresolved(name, 'unset') }
    if (AUTOMATIC_ARGS.has(name)) {
      const value = override(name)
      if (value !== undefined) return { set: true, value }
      throw new Unresolved(name, 'automatic')
    }
    return { set: false, why: new Unresolved(name, 'undeclared') }
  }
  const expand = (s: string): string => Lexer.expand(s, escape, lookup)

  const images: BaseImage[] = []
  const stages: string[] = []
  let sawFrom = false

  for (const { keyword, args, line } of list) {
    if (keyword === 'arg' && !sawFrom) {
      for (const word of splitWords(args, escape)) {
        const eq = word.indexOf('=')
        const name = eq >= 0 ? word.slice(0, eq) : word
        const value = override(name)
        if (value !== undefined) {
          globals.set(name, { kind: 'value', value })
        } else if (eq >= 0) {
          try {
            globals.set(name, { kind: 'value', value: expand(word.slice(eq + 1)) })
          } catch (err) {
            if (!(err instanceof Unresolved)) throw err
            if (err.why === 'syntax') throw fail(file, line, unresolvedMessage(err, `ARG ${name}`))
            globals.set(name, { kind: 'unresolved', cause: err })
          }
        } else if (!globals.has(name) && !AUTOMATIC_ARGS.has(name)) {
          globals.set(name, { kind: 'unset' })
        }
      }
      continue
    }
    if (keyword !== 'from') continue
    sawFrom = true

    const words = splitWords(args, escape)
    let platformWritten: string | undefined
    while (words[0]?.startsWith('--')) {
      const flag = words.shift() ?? ''
      if (flag === '--') break
      const eq = flag.indexOf('=')
      const flagName = eq >= 0 ? flag.slice(2, eq) : flag.slice(2)
      if (flagName !== 'platform') {
        throw fail(file, line, `FROM has an unknown flag "${flag}" (only --platform=<os>/<arch>)`)
      }
      if (eq < 0) throw fail(file, line, 'FROM --platform needs a value: --platform=<os>/<arch>')
      if (platformWritten !== undefined) throw fail(file, line, 'FROM has --platform twice')
      platformWritten = flag.slice(eq + 1)
    }
    const [imageWord, as, stageWord] = words
    if (imageWord === undefined) throw fail(file, line, 'FROM names no image')
    if (!(words.length === 1 || (words.length === 3 && as?.toLowerCase() === 'as'))) {
      throw fail(
        file,
        line,
        `FROM takes an image and optionally "AS <stage name>"; found "${words.join(' ')}"`,
      )
    }

    const resolve = (word: string, what: string): string => {
      try {
        return expand(word)
      } catch (err) {
        if (!(err instanceof Unresolved)) throw err
        throw fail(file, line, unresolvedMessage(err, what))
      }
    }

    let stage: string | undefined
    if (stageWord !== undefined) {
      stage = resolve(stageWord, 'the FROM stage name').toLowerCase()
      if (!STAGE_NAME_RE.test(stage)) {
        throw fail(
          file,
          line,
          `"${stage}" is not a valid stage name (a letter, then letters, digits, '-', '_' or '.')`,
        )
      }
      if (stages.includes(stage)) throw fail(file, line, `stage name "${stage}" is used twice`)
    }

    let platform: string | undefined
    if (platformWritten !== undefined) {
      try {
        platform = expand(platformWritten)
      } catch (err) {
        if (!(err instanceof Unresolved)) throw err
        if (err.why !== 'automatic')
          throw fail(file, line, unresolvedMessage(err, 'FROM --platform'))
        platform = undefined
      }
      if (platform === '') platform = undefined
    }

    const reference = resolve(imageWord, 'the FROM image').trim()
    const isStage = stages.includes(reference.toLowerCase())
    if (stage !== undefined) stages.push(stage)
    if (reference === '') {
      throw fail(file, line, `FROM names no image ("${imageWord}" is empty after ARG substitution)`)
    }
    if (reference === SCRATCH || isStage) continue

    let image: ImageReference
    try {
      image = parseImageReference(reference, INPUT.dockerfile)
    } catch (err) {
      if (!(err instanceof SignetError)) throw err
      const prefix = `${INPUT.dockerfile}: `
      const why = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
      throw fail(file, line, why, err.code, err)
    }
    images.push({
      reference,
      image,
      ...(platform !== undefined ? { platform } : {}),
      line,
      file,
      ...(stage !== undefined ? { stage } : {}),
    })
  }

  if (!sawFrom) throw fail(file, 1, 'the Dockerfile has no FROM instruction')
  return images
}
