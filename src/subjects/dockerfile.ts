/**
 * Every image a BuildKit build of a Dockerfile pulls, read the way BuildKit reads the file, or a
 * refusal naming the file and line. Pure: no file system, no registry; tags are resolved later.
 *
 * A pull request author controls the Dockerfile, so the reading must be BuildKit's to the
 * character: where JavaScript and Go disagree (whitespace, case, lexing), Go's rules are ported
 * here, and what is not ported is refused. The sources followed (moby/buildkit unless noted):
 *
 * - frontend/dockerfile/parser/parser.go `Parse`: lines end at \n only and lose every trailing
 *   \r and \n (`trimNewline`); a UTF-8 BOM is dropped from the first line; the first line of an
 *   instruction is left-trimmed with `unicode.IsSpace` (so U+0085 NEL and U+00A0 are spaces, U+FEFF
 *   is not), continuation lines are not; comment and blank lines inside a continuation are
 *   dropped; heredoc bodies of RUN/COPY/ADD (also under ONBUILD, never in JSON form) are skipped
 *   up to their terminator line. A line over 64 KiB fails there, and is refused here.
 * - parser/directives.go `DirectiveParser`: `# key=value` at the top, key and `=` separated by Go
 *   regexp `\s` (ASCII [\t\n\f\r ] only); `escape`, `syntax` and `check`, each at most once.
 *   `DetectSyntax` (the frontend image) reads `# syntax=` from column 0 only, skips a `#!` first
 *   line, and falls back to `// syntax=` and a JSON `{"syntax": …}` file.
 * - parser/split_command.go: the instruction word ends at the first [\t\v\f\r ] (`reWhitespace`);
 *   `extractBuilderFlags` reads the leading `--flags` byte by byte (so a UTF-8 character holding
 *   the byte 0x85 or 0xA0 is split there; non-ASCII in flags is refused here).
 * - parser/line_parsers.go: FROM arguments split on `reWhitespace`, ARG words on
 *   `unicode.IsSpace` with quotes (`parseWords`); JSON form needs an array of strings only.
 * - shell/lex.go: the word lexer (quotes, the escape character, `$NAME`, `${NAME…}`, special
 *   parameters, `unicode.IsSpace` word splitting; text/scanner drops a BOM that starts a word).
 * - instructions/parse.go, bflag.go, commands_runmount.go: flags must be `--name=value`, known
 *   and not repeated; `RUN --mount` values are CSV (go-csvvalue), and BuildKit takes `from=` from
 *   every mount whatever its type; `from=` and `COPY --from` refuse variables.
 * - dockerfile2llb/convert.go: global ARGs (before the first FROM) substitute into FROM only;
 *   `FROM <name>` is an earlier stage only when written exactly as its lower-cased name;
 *   `COPY --from` and `RUN --mount from=` name a stage (any case), an index (COPY only) or else an
 *   image; ONBUILD triggers are parsed again, with a fresh parser, when a stage inherits them.
 * - frontend/dockerui NamedContext and docker/buildx ParseContextNames: a build context replaces
 *   the image whose familiar name (without `:latest`) is the context's, the frontend image and a
 *   whole stage of that name too; builder/build.go: the BUILDKIT_SYNTAX build arg replaces
 *   `# syntax=`.
 *
 * Where Signet is stricter than BuildKit (which expands an unset ARG to ""): an ARG with no value,
 * or a name no global ARG declares, used in a FROM image is an error, since the image it names
 * cannot be known. BuildKit's automatic platform ARGs (BUILDPLATFORM, TARGETARCH, …) are set per
 * build: in `--platform` they leave `platform` undefined, in the image they are an error, unless a
 * build arg gives them. A stage name used twice is refused (BuildKit warns).
 */
import { SignetError, type SignetErrorCode } from '../errors'
import { INPUT } from '../inputs'
import { parseImageReference, type ImageReference } from '../registry/reference'

export type DockerfileImageKind = 'from' | 'copy-from' | 'mount-from' | 'syntax'

export interface DockerfileImage {
  /** Where BuildKit meets the image: a FROM, COPY --from, RUN --mount from=, or the frontend. */
  kind: DockerfileImageKind
  /** Inside an ONBUILD trigger (run when a later stage or build inherits the stage). */
  onbuild: boolean
  /** The reference as written after substitution, or the docker-image:// ref of the build context that replaces it. */
  reference: string
  /** `reference` parsed; undefined when a build context means nothing is pulled from a registry. */
  image?: ImageReference
  /** The build context (build-contexts input) that replaced what the Dockerfile names. */
  context?: {
    /** The context's name as given in build-contexts. */
    name: string
    /** Its value, e.g. docker-image://ghcr.io/acme/base@sha256:…, ./vendor/base, oci-layout://… */
    value: string
    /** image: `reference` is pulled; none: nothing is pulled from a registry; unverifiable: an OCI layout Signet cannot check. */
    pulled: 'image' | 'none' | 'unverifiable'
    /** What the Dockerfile wrote there (after substitution). */
    replaces: string
  }
  /** The FROM --platform value after substitution; undefined when none or only known at build time. */
  platform?: string
  /** 1-based line of the instruction (its first line), or of the syntax directive. */
  line: number
  file: string
  /** The stage (AS name, lower-cased) the instruction belongs to or starts. */
  stage?: string
  /** The build arg that named the image instead of the Dockerfile (BUILDKIT_SYNTAX). */
  buildArg?: string
}

/** @deprecated Use DockerfileImage: parseDockerfile now returns every image, not only FROM. */
export type BaseImage = DockerfileImage

export interface DockerfileOptions {
  /** docker/build-push-action `build-args`: NAME → value. */
  buildArgs?: Record<string, string>
  /** docker/build-push-action `build-contexts`: name → docker-image://ref, a path, a git or https URL, oci-layout://… */
  buildContexts?: Record<string, string>
}

// ---------------------------------------------------------------------------------------------
// Go's character classes. Each split or trim below names the one BuildKit uses there.

/** Go `unicode.IsSpace`: JavaScript's `\s` without U+FEFF, plus U+0085 (NEL). */
const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/
const GO_SPACE_LEADING = new RegExp(`^${GO_SPACE.source}+`)
const GO_SPACE_TRAILING = new RegExp(`${GO_SPACE.source}+$`)
/** parser.reWhitespace: splits the instruction word, and FROM's arguments. */
const RE_WHITESPACE = /[\t\v\f\r ]+/
/** Go regexp `\s` (ASCII): used by the directive and ONBUILD regexps. */
const GO_RE_S = '[\\t\\n\\f\\r ]'
/** What extractBuilderFlags, reading bytes, takes for a space among ASCII bytes. */
const FLAG_SPACE = /^[\t\n\v\f\r ]$/

function isGoSpace(ch: string): boolean {
  return GO_SPACE.test(ch)
}
/** bytes.TrimLeftFunc(s, unicode.IsSpace) */
function goTrimLeft(s: string): string {
  return s.replace(GO_SPACE_LEADING, '')
}
/** strings.TrimSpace */
function goTrim(s: string): string {
  return goTrimLeft(s).replace(GO_SPACE_TRAILING, '')
}
/** trimNewline: bytes.TrimRight(line, "\r\n") */
function trimNewline(s: string): string {
  return s.replace(/[\r\n]+$/, '')
}
/**
 * strings.ToLower, for comparing with ASCII names (stage names, keys): Go lowers U+0130 to "i"
 * and U+212A (Kelvin) to "k"; any other non-ASCII character can never match an ASCII name.
 */
function goLower(s: string): string {
  return s.replace(/[A-Z\u0130\u212a]/g, (c) =>
    c === '\u0130' ? 'i' : c === '\u212a' ? 'k' : c.toLowerCase(),
  )
}
/** strings.EqualFold(s, "as"): simple folding, where U+017F (long s) folds to s. */
function isAs(s: string): boolean {
  return /^[aA][sS\u017f]$/.test(s)
}
/** unicode.IsLetter / unicode.IsDigit, as the lexer reads variable names. */
const IS_LETTER = /^\p{L}$/u
const IS_DIGIT = /^\p{Nd}$/u

// ---------------------------------------------------------------------------------------------

const INSTRUCTIONS = new Set([
  'add',
  'arg',
  'cmd',
  'copy',
  'entrypoint',
  'env',
  'expose',
  'from',
  'healthcheck',
  'label',
  'maintainer',
  'onbuild',
  'run',
  'shell',
  'stopsignal',
  'user',
  'volume',
  'workdir',
])
/** parseMaybeJSON / parseMaybeJSONToList: the instructions whose arguments may be a JSON array. */
const MAYBE_JSON = new Set(['run', 'cmd', 'entrypoint', 'shell', 'add', 'copy', 'volume'])
const HEREDOC_INSTRUCTIONS = new Set(['run', 'copy', 'add'])
const VALID_DIRECTIVES = new Set(['syntax', 'escape', 'check'])
const DIRECTIVE_RE = new RegExp(
  `^([a-zA-Z][a-zA-Z0-9]*)${GO_RE_S}*=${GO_RE_S}*([^\\n]+?)${GO_RE_S}*$`,
)
/** reHeredoc (Go's \d is ASCII). */
const HEREDOC_RE = /^(\d*)<<(-?)([^<]*)$/
const STAGE_NAME_RE = /^[a-z][a-z0-9-_.]*$/
const SCRATCH = 'scratch'
/** bufio.Scanner's largest line; BuildKit fails on a longer one. */
const MAX_LINE_BYTES = 64 * 1024 - 1

const FLAGS: Record<string, Record<string, 'bool' | 'string' | 'strings'>> = {
  from: { platform: 'string' },
  copy: {
    from: 'string',
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    exclude: 'strings',
    parents: 'bool',
  },
  run: { mount: 'strings', network: 'string', security: 'string', device: 'strings' },
  add: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    'keep-git-dir': 'bool',
    checksum: 'string',
    exclude: 'strings',
    unpack: 'bool',
  },
  arg: {},
  onbuild: {},
}

/** ARGs BuildKit defines from the build's platforms and target; global scope sees them undeclared. */
const AUTOMATIC_ARGS = new Set([
  'BUILDPLATFORM',
  'BUILDOS',
  'BUILDOSVERSION',
  'BUILDARCH',
  'BUILDVARIANT',
  'TARGETPLATFORM',
  'TARGETOS',
  'TARGETOSVERSION',
  'TARGETARCH',
  'TARGETVARIANT',
  'TARGETSTAGE',
])
const SYNTAX_BUILD_ARG = 'BUILDKIT_SYNTAX'

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

/** A refusal of the Dockerfile text, placed at its line by whoever catches it. */
class Refusal extends Error {}

function codePoint(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`
}

// ---------------------------------------------------------------------------------------------
// Physical lines

interface PhysicalLine {
  number: number
  /** Without its \n. */
  text: string
  /** With its \n, as a heredoc body keeps it. */
  raw: string
}

/**
 * Characters BuildKit reads in ways not modelled here, refused wherever they are: C0 controls
 * other than \t \n \v \f \r, DEL, C1 controls other than NEL, U+FFFD (text that was not UTF-8,
 * which Go reads byte by byte) and lone surrogates.
 */
const UNMODELLED_CHARACTER =
  /[\u0000-\u0008\u000e-\u001f\u007f\u0080-\u0084\u0086-\u009f\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/** The lines of `text`; `at` numbers them all (an ONBUILD trigger, read again from its line). */
function physicalLines(text: string, file: string, at?: number): PhysicalLine[] {
  const parts = text.split('\n')
  const lines: PhysicalLine[] = []
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1
    const part = parts[i] ?? ''
    if (last && part === '') break // the end of a file that ends with \n
    const bad = UNMODELLED_CHARACTER.exec(part)
    if (bad) {
      const ch = bad[0]
      throw fail(
        file,
        at ?? i + 1,
        ch === '\ufffd'
          ? 'the line holds U+FFFD: the file is not valid UTF-8 (or holds the replacement character), which BuildKit reads byte by byte; Signet refuses it'
          : `the line holds the character ${codePoint(ch)}, which Signet does not read the way BuildKit does; remove it`,
      )
    }
    const raw = last ? part : `${part}\n`
    if (Buffer.byteLength(raw, 'utf8') > MAX_LINE_BYTES) {
      throw fail(file, at ?? i + 1, 'the line is longer than 64 KiB, which BuildKit refuses')
    }
    lines.push({ number: at ?? i + 1, text: part, raw })
  }
  // parser.Parse drops a UTF-8 byte order mark from the first line only.
  const first = lines[0]
  if (first?.text.startsWith('\ufeff')) {
    lines[0] = { ...first, text: first.text.slice(1), raw: first.raw.slice(1) }
  }
  return lines
}

// ---------------------------------------------------------------------------------------------
// Directives

class RepeatedDirective extends Error {
  constructor(readonly directive: string) {
    super(directive)
  }
}

/** parser.DirectiveParser: directives until the first line that is not one. */
class DirectiveParser {
  private done = false
  private readonly seen = new Set<string>()

  constructor(private readonly prefix: string) {}

  get finished(): boolean {
    return this.done
  }

  parseLine(line: string): { name: string; value: string } | undefined {
    if (this.done) return undefined
    if (!line.startsWith(this.prefix)) {
      this.done = true
      return undefined
    }
    const m = DIRECTIVE_RE.exec(goTrimLeft(line.slice(this.prefix.length)))
    const name = m?.[1]?.toLowerCase() ?? ''
    if (!m || !VALID_DIRECTIVES.has(name)) {
      this.done = true
      return undefined
    }
    if (this.seen.has(name)) throw new RepeatedDirective(name)
    this.seen.add(name)
    return { name, value: m[2] ?? '' }
  }
}

/**
 * parser.DetectSyntax: the frontend image BuildKit forwards the build to before it parses the
 * Dockerfile. `# syntax=` from column 0 (after a `#!` line), else `// syntax=`, else a JSON file.
 */
function detectSyntax(lines: PhysicalLine[]): { value: string; line: number } | undefined {
  let body = lines
  if (body[0]?.raw.startsWith('#!')) body = body.slice(1)
  for (const prefix of ['#', '//']) {
    const parser = new DirectiveParser(prefix)
    for (const line of body) {
      if (parser.finished) break
      let directive
      try {
        // bufio.ScanLines drops one \r before the \n.
        directive = parser.parseLine(line.text.replace(/\r$/, ''))
      } catch (err) {
        if (err instanceof RepeatedDirective) break // the first one stands
        throw err
      }
      if (directive?.name === 'syntax') {
        // detectDirectiveFromParser: the image is the value up to its first space.
        return { value: directive.value.split(' ')[0] ?? '', line: line.number }
      }
    }
  }
  try {
    const json: unknown = JSON.parse(body.map((l) => l.raw).join(''))
    if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
      const syntax = (json as Record<string, unknown>).syntax
      if (typeof syntax === 'string') return { value: syntax, line: body[0]?.number ?? 1 }
    }
  } catch {
    // not JSON: no syntax
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// The shell lexer (shell/lex.go)

/** Why a word could not be expanded (the caller decides what that means for it). */
class Unresolved extends Error {
  constructor(
    readonly arg: string,
    readonly why: 'unset' | 'undeclared' | 'automatic' | 'required' | 'syntax',
    readonly detail = '',
  ) {
    super(`${why} ${arg} ${detail}`)
  }
}

/**
 * A variable as a lookup sees it. `unset`: Go would expand it to "" (Signet refuses that in a
 * plain `$NAME`, with `why`); `unknown`: its value is only known at build time, so any use fails.
 */
type Variable =
  | { kind: 'value'; value: string }
  | { kind: 'unset'; why?: Unresolved }
  | { kind: 'unknown'; why: Unresolved }
type Lookup = (name: string) => Variable

const UNSET_ENV: Lookup = () => ({ kind: 'unset' })

interface LexOptions {
  escape: string
  rawQuotes?: boolean
  rawEscapes?: boolean
  skipUnsetEnv?: boolean
  lookup: Lookup
  /** Signet's reading of a FROM: refuse substitutions it does not implement (#, %, /). */
  strict?: boolean
}

/** wordsStruct: words split on unicode.IsSpace, except inside quotes and escaped characters. */
class Words {
  private word = ''
  private inWord = false
  private readonly list: string[] = []

  addChar(ch: string): void {
    if (isGoSpace(ch)) {
      if (this.inWord && this.word.length !== 0) {
        this.list.push(this.word)
        this.word = ''
        this.inWord = false
      }
    } else {
      this.addRawChar(ch)
    }
  }
  addRawChar(ch: string): void {
    this.word += ch
    this.inWord = true
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch)
  }
  addRawString(s: string): void {
    this.word += s
    this.inWord = true
  }
  done(): string[] {
    if (this.word.length > 0) {
      this.list.push(this.word)
      this.word = ''
      this.inWord = false
    }
    return this.list
  }
}

const EOF = ''
const SPECIAL_PARAMS = new Set(['@', '*', '#', '?', '-', '$', '!', '0'])

/** shellWord: one word through BuildKit's lexer, on code points as Go reads runes. */
class ShellLexer {
  private readonly chars: string[]
  private pos = 0
  private rawEscapes: boolean
  /** >0 inside a `${X:-word}` word whose value is not used: lookups there cannot fail. */
  private dry = 0

  private constructor(
    private readonly source: string,
    private readonly o: LexOptions,
  ) {
    const chars = Array.from(source)
    // text/scanner skips a byte order mark that is the first character of its source.
    if (chars[0] === '\ufeff') chars.shift()
    this.chars = chars
    this.rawEscapes = o.rawEscapes ?? false
  }

  /** ProcessWord */
  static word(source: string, o: LexOptions): string {
    const lexer = new ShellLexer(source, o)
    return lexer.stopOn(EOF, lexer.rawEscapes).result
  }

  /** ProcessWords */
  static words(source: string, o: LexOptions): string[] {
    const lexer = new ShellLexer(source, o)
    return lexer.stopOn(EOF, lexer.rawEscapes).words
  }

  private peek(): string {
    return this.chars[this.pos] ?? EOF
  }
  private next(): string {
    const ch = this.chars[this.pos] ?? EOF
    if (ch !== EOF) this.pos++
    return ch
  }
  private syntax(detail: string): Unresolved {
    return new Unresolved('', 'syntax', `${detail} in "${this.source}"`)
  }

  /** processStopOn */
  private stopOn(stop: string, rawEscapes: boolean): { result: string; words: string[] } {
    const saved = this.rawEscapes
    this.rawEscapes = rawEscapes
    try {
      let result = ''
      const words = new Words()
      while (this.peek() !== EOF) {
        const peeked = this.peek()
        if (stop !== EOF && peeked === stop) {
          this.next()
          return { result, words: words.done() }
        }
        if (peeked === '$') {
          const value = this.dollar()
          result += value
          words.addString(value)
          continue
        }
        if (peeked === "'" || peeked === '"') {
          const value = peeked === "'" ? this.singleQuoted() : this.doubleQuoted()
          result += value
          words.addRawString(value)
          continue
        }
        let ch = this.next()
        if (ch === this.o.escape) {
          if (this.rawEscapes) {
            words.addRawChar(ch)
            result += ch
          }
          ch = this.next()
          if (ch === EOF) break
          words.addRawChar(ch)
        } else {
          words.addChar(ch)
        }
        result += ch
      }
      if (stop !== EOF) throw this.syntax(`missing "${stop}"`)
      return { result, words: words.done() }
    } finally {
      this.rawEscapes = saved
    }
  }

  private singleQuoted(): string {
    let result = ''
    const quote = this.next()
    if (this.o.rawQuotes) result += quote
    for (;;) {
      const ch = this.next()
      if (ch === EOF) throw this.syntax("unmatched '")
      if (ch === "'") {
        if (this.o.rawQuotes) result += ch
        return result
      }
      result += ch
    }
  }

  private doubleQuoted(): string {
    let result = ''
    const quote = this.next()
    if (this.o.rawQuotes) result += quote
    for (;;) {
      const peeked = this.peek()
      if (peeked === EOF) throw this.syntax('unmatched "')
      if (peeked === '"') {
        const ch = this.next()
        if (this.o.rawQuotes) result += ch
        return result
      }
      if (peeked === '$') {
        result += this.dollar()
        continue
      }
      let ch = this.next()
      if (ch === this.o.escape) {
        if (this.rawEscapes) result += ch
        const after = this.peek()
        if (after === EOF) continue // then unmatched "
        if (after === '"' || after === '$' || after === this.o.escape) ch = this.next()
      }
      result += ch
    }
  }

  /** processName: letters, digits, _; or digits only; or one special parameter. */
  private name(): string {
    let name = ''
    while (this.peek() !== EOF) {
      const ch = this.peek()
      if (name === '' && IS_DIGIT.test(ch)) {
        while (this.peek() !== EOF && IS_DIGIT.test(this.peek())) name += this.next()
        return name
      }
      if (name === '' && SPECIAL_PARAMS.has(ch)) return this.next()
      if (!IS_LETTER.test(ch) && !IS_DIGIT.test(ch) && ch !== '_') break
      name += this.next()
    }
    return name
  }

  private get(name: string): Variable {
    return this.dry > 0 ? { kind: 'value', value: '' } : this.o.lookup(name)
  }

  /** processDollar */
  private dollar(): string {
    this.next() // $
    if (this.peek() !== '{') {
      const name = this.name()
      if (name === '') return '$'
      const v = this.get(name)
      if (v.kind === 'value') return v.value
      if (this.o.skipUnsetEnv) return `$${name}`
      if (v.why) throw v.why
      return ''
    }
    this.next() // {
    const first = this.peek()
    if (first === EOF) throw this.syntax('missing "}"')
    if (first === '{' || first === '}' || first === ':') throw this.syntax('bad substitution')
    const name = this.name()
    let op = this.next()
    let ops = op
    if (op === '}') {
      const v = this.get(name)
      if (v.kind === 'value') return v.value
      if (this.o.skipUnsetEnv) return `\${${name}}`
      if (v.why) throw v.why
      return ''
    }
    if (op === EOF) throw this.syntax('missing "}"')
    if (op === '/') return this.substitution(name)
    let colon = false
    if (op === ':') {
      colon = true
      op = this.next()
      ops += op
    } else if (!'+-?#%'.includes(op)) {
      throw this.syntax(`unsupported modifier (${ops}) in substitution`)
    }
    if (this.o.strict && op !== '-' && op !== '+' && op !== '?') {
      throw new Unresolved(
        name,
        'syntax',
        `\${${name}${ops}…} is not a substitution Signet reads; use $${name}, \${${name}:-default} or \${${name}:+alternative}`,
      )
    }
    const v = this.get(name)
    if (v.kind === 'unknown') throw v.why
    const present = v.kind === 'value' && (!colon || v.value !== '')
    const used = op === '+' ? present : op === '-' || op === '?' ? !present : true
    if (!used) this.dry++
    let word: string
    try {
      word = this.stopOn('}', op === '#' || op === '%').result
    } finally {
      if (!used) this.dry--
    }
    if (this.o.skipUnsetEnv && v.kind !== 'value') return `\${${name}${ops}${word}}`
    switch (op) {
      case '-':
        return present && v.kind === 'value' ? v.value : word
      case '+':
        return present ? word : ''
      case '?':
        // In a word whose value is unused (dry) the variable was not really looked up.
        if (!present && this.dry === 0) throw new Unresolved(name, 'required', word)
        return v.kind === 'value' ? v.value : ''
      default:
        // # and % on a set variable: pattern trimming, which nothing here needs.
        throw this.syntax(`unsupported modifier (${ops}) in substitution`)
    }
  }

  /** ${NAME/pattern/replacement}: only ever met unset here (heredoc lexing), kept as written. */
  private substitution(name: string): string {
    if (this.o.strict) {
      throw new Unresolved(
        name,
        'syntax',
        `\${${name}/…} is not a substitution Signet reads; use $${name} or \${${name}:-default}`,
      )
    }
    if (this.peek() === '/') this.next()
    const pattern = this.stopOn('/', true).result
    const replacement = this.stopOn('}', true).result
    const v = this.get(name)
    if (this.o.skipUnsetEnv && v.kind !== 'value') return `\${${name}/${pattern}/${replacement}}`
    throw this.syntax('unsupported substitution')
  }
}

// ---------------------------------------------------------------------------------------------
// Lines to instructions (parser.go, split_command.go, line_parsers.go)

interface Heredoc {
  /** The word after << as written, for messages. */
  written: string
  name: string
  chomp: boolean
  /** The body lines, each with its \n. */
  content: string
}

interface Instruction {
  /** The instruction word, lower-cased. */
  keyword: string
  /** The instruction word as written. */
  word: string
  /** The leading --flags, quotes and escapes removed (extractBuilderFlags). */
  flags: string[]
  /** What follows the flags, trimmed. */
  args: string
  /** JSON (exec) form. */
  json: boolean
  /** First line. */
  line: number
  /** The whole instruction after continuation lines were joined (node.Original). */
  original: string
  heredocs: Heredoc[]
  /** ONBUILD's instruction. */
  child?: Instruction
}

/** extractBuilderFlags: the leading `--flag` words and the rest of the line. */
function extractFlags(line: string, escape: string): { flags: string[]; rest: string } {
  const words: string[] = []
  let phase: 'spaces' | 'word' | 'quote' = 'spaces'
  let word = ''
  let quote = ''
  let blankOK = false
  for (let pos = 0; pos <= line.length; pos++) {
    let ch = line.charAt(pos)
    const end = pos === line.length
    if (phase === 'spaces') {
      if (end) break
      if (FLAG_SPACE.test(ch)) continue
      if (ch !== '-' || line.charAt(pos + 1) !== '-') return { flags: words, rest: line.slice(pos) }
      phase = 'word'
    }
    if (end) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word)
      break
    }
    if (ch > '\u007f') {
      // Go reads these bytes one by one (0x85 and 0xA0 count as spaces), garbling the flag.
      throw new Refusal(
        `the flags hold the non-ASCII character ${codePoint(ch)}, which BuildKit reads byte by byte; write flags in ASCII`,
      )
    }
    if (phase === 'word') {
      if (FLAG_SPACE.test(ch)) {
        phase = 'spaces'
        if (word === '--') return { flags: words, rest: line.slice(pos) }
        if (blankOK || word.length > 0) words.push(word)
        word = ''
        blankOK = false
        continue
      }
      if (ch === "'" || ch === '"') {
        quote = ch
        blankOK = true
        phase = 'quote'
        continue
      }
      if (ch === escape) {
        if (pos + 1 === line.length) continue
        ch = line.charAt(++pos)
        if (ch > '\u007f')
          throw new Refusal(`the flags hold the non-ASCII character ${codePoint(ch)}`)
      }
      word += ch
      continue
    }
    // inside quotes
    if (ch === quote) {
      phase = 'word'
      continue
    }
    if (ch === escape) {
      if (pos + 1 === line.length) {
        phase = 'word'
        continue
      }
      ch = line.charAt(++pos)
      if (ch > '\u007f')
        throw new Refusal(`the flags hold the non-ASCII character ${codePoint(ch)}`)
    }
    word += ch
  }
  return { flags: words, rest: '' }
}

/** parseWords: ARG's words, split on unicode.IsSpace outside quotes, quotes and escapes kept. */
function parseWords(rest: string, escape: string): string[] {
  const chars = Array.from(rest)
  const words: string[] = []
  let phase: 'spaces' | 'word' | 'quote' = 'spaces'
  let quote = ''
  let blankOK = false
  let word = ''
  for (let pos = 0; pos <= chars.length; pos++) {
    let ch = chars[pos] ?? ''
    const end = pos === chars.length
    if (phase === 'spaces') {
      if (end) break
      if (isGoSpace(ch)) continue
      phase = 'word'
    }
    if (end) {
      if (blankOK || word.length > 0) words.push(word)
      break
    }
    if (phase === 'word') {
      if (isGoSpace(ch)) {
        phase = 'spaces'
        if (blankOK || word.length > 0) words.push(word)
        word = ''
        blankOK = false
        continue
      }
      if (ch === "'" || ch === '"') {
        quote = ch
        blankOK = true
        phase = 'quote'
      }
      if (ch === escape) {
        if (pos + 1 === chars.length) continue
        word += ch
        ch = chars[++pos] ?? ''
      }
      word += ch
      continue
    }
    if (ch === quote) phase = 'word'
    if (ch === escape && quote !== "'") {
      if (pos + 1 === chars.length) {
        phase = 'word'
        continue
      }
      word += ch
      ch = chars[++pos] ?? ''
    }
    word += ch
  }
  return words
}

/** parseJSON: an array of strings only; another array is an error, anything else is shell form. */
function isJsonForm(args: string): boolean {
  if (!args.startsWith('[')) return false
  let value: unknown
  try {
    value = JSON.parse(args)
  } catch {
    return false
  }
  if (!Array.isArray(value)) return false
  if (!value.every((v) => typeof v === 'string')) {
    throw new Refusal(
      'when using JSON array syntax, arrays must be comprised of strings only (BuildKit refuses this)',
    )
  }
  return true
}

/** newNodeFromLine: the instruction word, its flags and arguments. */
function instructionOf(original: string, escape: string, line: number): Instruction {
  const trimmed = goTrim(original)
  const gap = RE_WHITESPACE.exec(trimmed)
  const word = gap ? trimmed.slice(0, gap.index) : trimmed
  let flags: string[] = []
  let args = ''
  if (gap) {
    const extracted = extractFlags(trimmed.slice(gap.index + gap[0].length), escape)
    flags = extracted.flags
    args = goTrim(extracted.rest)
  }
  if (!/^[\x21-\x7e]+$/.test(word)) {
    throw new Refusal(
      `the instruction word "${word}" is not an instruction Signet reads (BuildKit lower-cases it with Go's Unicode rules); write the instruction in ASCII`,
    )
  }
  const keyword = word.toLowerCase()
  if (!INSTRUCTIONS.has(keyword)) {
    throw new Refusal(`unknown instruction "${word}" (BuildKit refuses it)`)
  }
  const instruction: Instruction = {
    keyword,
    word,
    flags,
    args,
    json: MAYBE_JSON.has(keyword) && isJsonForm(args),
    line,
    original,
    heredocs: [],
  }
  if (keyword === 'onbuild' && args !== '') instruction.child = instructionOf(args, escape, line)
  return instruction
}

/** heredocsFromLine and heredocFromMatch. */
function heredocsOf(line: string): Omit<Heredoc, 'content'>[] {
  let words: string[]
  try {
    words = ShellLexer.words(line, {
      escape: '\\',
      rawQuotes: true,
      rawEscapes: true,
      skipUnsetEnv: true,
      lookup: UNSET_ENV,
    })
  } catch {
    return [] // BuildKit ignores this error: no heredoc at all
  }
  const heredocs: Omit<Heredoc, 'content'>[] = []
  for (const word of words) {
    const m = HEREDOC_RE.exec(word)
    const rest = m?.[3] ?? ''
    if (!m || rest === '') continue
    let names: string[]
    let raw: string[]
    try {
      names = ShellLexer.words(rest, { escape: '\\', skipUnsetEnv: true, lookup: UNSET_ENV })
      if (names.length !== 1) continue
      raw = ShellLexer.words(rest, {
        escape: '\\',
        skipUnsetEnv: true,
        rawQuotes: true,
        lookup: UNSET_ENV,
      })
    } catch (err) {
      throw new Refusal(
        `the heredoc <<${rest} cannot be read: ${err instanceof Unresolved ? err.detail : String(err)}`,
      )
    }
    if (raw.length !== names.length) throw new Refusal(`the heredoc <<${rest} cannot be read`)
    heredocs.push({ written: rest, name: names[0] ?? '', chomp: m[2] === '-' })
  }
  return heredocs
}

function continuationRe(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : '`'
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`)
}

/** trimContinuationCharacter */
function trimContinuation(line: string, re: RegExp): [string, boolean] {
  return re.test(line) ? [line.replace(re, '$1'), false] : [line, true]
}

function isComment(line: string): boolean {
  return goTrimLeft(line).startsWith('#')
}

/**
 * parser.Parse: the instructions of `lines`. Errors are SignetErrors at the line at fault, or at
 * `at` when given (an ONBUILD trigger, read again from its line).
 */
function instructionsOf(
  lines: PhysicalLine[],
  file: string,
  at?: number,
): { escape: string; list: Instruction[] } {
  const where = (line: number): number => at ?? line
  const directives = new DirectiveParser('#')
  let escape = '\\'
  let continuation = continuationRe(escape)
  const list: Instruction[] = []

  let n = 0
  while (n < lines.length) {
    const first = lines[n]
    n++
    let token = goTrimLeft(trimNewline(first.text))
    try {
      const directive = directives.parseLine(token)
      if (directive?.name === 'escape') {
        if (directive.value !== '\\' && directive.value !== '`') {
          throw fail(
            file,
            where(first.number),
            `invalid escape character "${directive.value}": use \\ or \``,
          )
        }
        escape = directive.value
        continuation = continuationRe(escape)
      }
    } catch (err) {
      if (!(err instanceof RepeatedDirective)) throw err
      throw fail(
        file,
        where(first.number),
        `only one "${err.directive}" parser directive may be given`,
      )
    }
    if (isComment(token)) token = ''
    let [line, end] = trimContinuation(token, continuation)
    if (end && line === '') continue

    while (!end && n < lines.length) {
      const next = lines[n]
      n++
      const text = trimNewline(next.text)
      if (isComment(next.text)) continue
      if (goTrimLeft(text) === '') continue // an empty continuation line
      const [joined, last] = trimContinuation(text, continuation)
      line += joined
      end = last
    }

    let instruction: Instruction
    let heredocs: Omit<Heredoc, 'content'>[] = []
    try {
      instruction = instructionOf(line, escape, where(first.number))
      const target = instruction.keyword === 'onbuild' ? instruction.child : instruction
      if (
        target &&
        HEREDOC_INSTRUCTIONS.has(target.keyword) &&
        !target.json &&
        line.includes('<<')
      ) {
        heredocs = heredocsOf(line)
      }
    } catch (err) {
      if (err instanceof Refusal) throw fail(file, where(first.number), err.message)
      throw err
    }
    for (const heredoc of heredocs) {
      let content = ''
      let terminated = false
      while (n < lines.length) {
        const body = lines[n]
        n++
        let candidate = trimNewline(body.text)
        if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '')
        if (candidate === heredoc.name) {
          terminated = true
          break
        }
        content += body.raw
      }
      if (!terminated) {
        throw fail(
          file,
          where(first.number),
          `heredoc <<${heredoc.written} has no closing "${heredoc.name}" line`,
        )
      }
      instruction.heredocs.push({ ...heredoc, content })
    }
    list.push(instruction)
  }
  return { escape, list }
}

// ---------------------------------------------------------------------------------------------
// Flags

type FlagValues = Map<string, string[]>

/** BFlags.Parse with the flags BuildKit defines for the instruction. */
function flagsOf(instruction: Instruction): FlagValues {
  const spec = FLAGS[instruction.keyword] ?? {}
  const keyword = instruction.keyword.toUpperCase()
  const values: FlagValues = new Map()
  for (const flag of instruction.flags) {
    const body = flag.slice(2)
    const eq = body.indexOf('=')
    const name = eq >= 0 ? body.slice(0, eq) : body
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined
    if (kind === undefined) {
      const known = Object.keys(spec)
      throw new Refusal(
        `${keyword} has an unknown flag "${flag}" (${known.length > 0 ? `only ${known.map((k) => `--${k}`).join(', ')}` : 'it takes no flags'})`,
      )
    }
    const seen = values.get(name)
    if (seen && kind !== 'strings') throw new Refusal(`${keyword} has --${name} twice`)
    let value = eq >= 0 ? body.slice(eq + 1) : undefined
    if (kind === 'bool') {
      if (value === '') throw new Refusal(`${keyword} --${name}= needs true or false`)
      value = value === undefined ? 'true' : value.toLowerCase()
      if (value !== 'true' && value !== 'false') {
        throw new Refusal(`${keyword} --${name} takes true or false, not "${value}"`)
      }
    } else if (value === undefined) {
      throw new Refusal(`${keyword} --${name} needs a value: --${name}=<value>`)
    }
    values.set(name, [...(seen ?? []), value])
  }
  return values
}

/** go-csvvalue Fields: one line of CSV, as `RUN --mount` values are read. */
function csvFields(line: string): string[] {
  if (line === '') throw new Refusal('RUN --mount= is empty')
  const fields: string[] = []
  let rest = line
  for (;;) {
    if (!rest.startsWith('"')) {
      const comma = rest.indexOf(',')
      const field = comma >= 0 ? rest.slice(0, comma) : rest
      if (field.includes('"')) throw new Refusal(`RUN --mount=${line} is not valid CSV (a bare ")`)
      fields.push(field)
      if (comma < 0) return fields
      rest = rest.slice(comma + 1)
      continue
    }
    rest = rest.slice(1)
    let field = ''
    for (;;) {
      const quote = rest.indexOf('"')
      if (quote < 0) throw new Refusal(`RUN --mount=${line} is not valid CSV (an unclosed ")`)
      field += rest.slice(0, quote)
      rest = rest.slice(quote + 1)
      if (rest.startsWith('"')) {
        field += '"'
        rest = rest.slice(1)
        continue
      }
      if (rest === '') {
        fields.push(field)
        return fields
      }
      if (rest.startsWith(',')) {
        fields.push(field)
        rest = rest.slice(1)
        break
      }
      throw new Refusal(`RUN --mount=${line} is not valid CSV (text after a closing ")`)
    }
    // a quoted field closed by a comma: the next field may be empty
    if (rest === '') {
      fields.push('')
      return fields
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Names and build contexts

/**
 * The key BuildKit and buildx give a named context: distribution/reference ParseNormalizedNamed,
 * FamiliarString, and ":latest" trimmed. Undefined for a string that is not a valid name.
 */
function contextKey(ref: string): string | undefined {
  if (!/^[\x21-\x7e]+$/.test(ref) || /^[a-f0-9]{64}$/.test(ref)) return undefined
  try {
    parseImageReference(ref)
  } catch {
    return undefined
  }
  // splitDockerDomain, on the name as written (Signet's parser lower-cases hosts; Go does not)
  let domain = 'docker.io'
  let remainder = ref
  const slash = ref.indexOf('/')
  if (slash >= 0) {
    const first = ref.slice(0, slash)
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first.toLowerCase() !== first
    ) {
      domain = first
      remainder = ref.slice(slash + 1)
    }
  }
  if (domain === 'index.docker.io') domain = 'docker.io'
  const at = remainder.indexOf('@')
  const digest = at >= 0 ? remainder.slice(at) : ''
  const named = at >= 0 ? remainder.slice(0, at) : remainder
  const colon = named.indexOf(':')
  const tag = colon >= 0 ? named.slice(colon) : ''
  let path = colon >= 0 ? named.slice(0, colon) : named
  if (domain === 'docker.io') {
    if (path.startsWith('library/') && !path.slice('library/'.length).includes('/')) {
      path = path.slice('library/'.length)
    }
  } else {
    path = `${domain}/${path}`
  }
  const key = `${path}${tag}${digest}`
  return key.endsWith(':latest') ? key.slice(0, -':latest'.length) : key
}

interface BuildContext {
  name: string
  value: string
  pulled: 'image' | 'none' | 'unverifiable'
  ref?: string
  image?: ImageReference
}

function contextError(why: string): SignetError {
  return new SignetError('INPUT_INVALID', `input ${INPUT.buildContexts}: ${why}`, {
    input: INPUT.buildContexts,
  })
}

/** build-contexts, keyed as BuildKit looks them up; what each one means for the pull. */
function readBuildContexts(contexts: Record<string, string>): Map<string, BuildContext> {
  const byKey = new Map<string, BuildContext>()
  for (const [name, value] of Object.entries(contexts)) {
    const key = contextKey(name)
    if (key === undefined) {
      throw contextError(
        `"${name}" is not a valid build context name: docker buildx takes an image name there, e.g. alpine or ghcr.io/acme/base:1`,
      )
    }
    let context: BuildContext
    if (value.startsWith('docker-image://')) {
      const ref = value.slice('docker-image://'.length)
      if (ref === SCRATCH) {
        context = { name, value, pulled: 'none' }
      } else {
        if (!/^[\x21-\x7e]+$/.test(ref) || /^[a-f0-9]{64}$/.test(ref)) {
          throw contextError(`${name}=${value}: "${ref}" is not a valid image reference`)
        }
        let image: ImageReference
        try {
          image = parseImageReference(ref, INPUT.buildContexts)
        } catch (err) {
          if (!(err instanceof SignetError)) throw err
          throw contextError(`${name}=${value}: ${err.message.replace(/^build-contexts: /, '')}`)
        }
        context = { name, value, pulled: 'image', ref, image }
      }
    } else if (value.startsWith('oci-layout://')) {
      // An image from a directory the runner has: no registry, no signature Signet can check.
      context = { name, value, pulled: 'unverifiable' }
    } else if (value.startsWith('target:')) {
      throw contextError(
        `${name}=${value}: target: contexts are docker buildx bake's; BuildKit refuses them in a build`,
      )
    } else {
      // A local directory, a git repository or an https URL (buildx IsRemoteURL): files, not an image.
      context = { name, value, pulled: 'none' }
    }
    const other = byKey.get(key)
    if (other && other.value !== value) {
      throw contextError(
        `"${other.name}" and "${name}" are the same name to BuildKit (${key}) with different values; give it once`,
      )
    }
    byKey.set(key, context)
  }
  return byKey
}

// ---------------------------------------------------------------------------------------------
// Global ARGs

type ArgState =
  | { kind: 'value'; value: string }
  | { kind: 'unset' }
  /** A default that used something unknown: using the ARG fails the same way. */
  | { kind: 'unresolved'; cause: Unresolved }

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

// ---------------------------------------------------------------------------------------------

/**
 * Every image a BuildKit build of `text` (a Dockerfile read from `file`, which only names it in
 * messages) pulls, in the order BuildKit meets them: the frontend (`# syntax=` or the
 * BUILDKIT_SYNTAX build arg), then each FROM, COPY --from and RUN --mount from= (also inside
 * ONBUILD) that names an image rather than a stage, with build contexts applied. Scratch and
 * stages are not images; the same reference on several lines is returned for each line.
 *
 * Errors are SignetErrors: DOCKERFILE_INVALID naming input `dockerfile` with `file:line` for what
 * BuildKit would read otherwise or refuse, the code of parseImageReference
 * (IMAGE_REFERENCE_INVALID, DIGEST_INVALID) for a reference it refuses, and INPUT_INVALID naming
 * `build-contexts` or `build-args` for those inputs.
 */
export function parseDockerfile(
  text: string,
  file: string,
  options: DockerfileOptions = {},
): DockerfileImage[] {
  const buildArgs = options.buildArgs ?? {}
  const contexts = readBuildContexts(options.buildContexts ?? {})
  const has = (o: Record<string, string>, k: string): boolean =>
    Object.prototype.hasOwnProperty.call(o, k)
  const override = (name: string): string | undefined =>
    has(buildArgs, name) ? buildArgs[name] : undefined

  const lines = physicalLines(text, file)
  const directive = detectSyntax(lines)
  const { escape, list } = instructionsOf(lines, file)

  const images: DockerfileImage[] = []

  /** One result, with the build context that replaces `reference` (if any) applied. */
  const item = (
    kind: DockerfileImageKind,
    reference: string,
    image: ImageReference | undefined,
    context: BuildContext | undefined,
    at: { line: number; onbuild?: boolean; stage?: string; platform?: string; buildArg?: string },
  ): DockerfileImage => {
    const replaced = context?.pulled === 'image' ? context.ref : undefined
    const shown = replaced ?? reference
    const pulledImage = context ? context.image : image
    return {
      kind,
      onbuild: at.onbuild ?? false,
      reference: shown,
      ...(pulledImage ? { image: pulledImage } : {}),
      ...(context
        ? {
            context: {
              name: context.name,
              value: context.value,
              pulled: context.pulled,
              replaces: reference,
            },
          }
        : {}),
      ...(at.platform !== undefined ? { platform: at.platform } : {}),
      line: at.line,
      file,
      ...(at.stage !== undefined ? { stage: at.stage } : {}),
      ...(at.buildArg !== undefined ? { buildArg: at.buildArg } : {}),
    }
  }

  /** `reference` checked as BuildKit's ParseNormalizedNamed would, parsed, with a context applied. */
  const add = (
    kind: DockerfileImageKind,
    reference: string,
    at: { line: number; onbuild?: boolean; stage?: string; platform?: string; buildArg?: string },
  ): void => {
    const refuse = (why: string, code: SignetErrorCode, cause?: unknown): SignetError =>
      at.buildArg !== undefined
        ? new SignetError(code, `input ${INPUT.buildArgs}: ${at.buildArg}: ${why}`, {
            input: INPUT.buildArgs,
            cause,
          })
        : fail(file, at.line, why, code, cause)
    if (!/^[\x21-\x7e]+$/.test(reference) || /^[a-f0-9]{64}$/.test(reference)) {
      throw refuse(
        `"${reference}" is not a valid image reference: it is empty, holds whitespace or a character outside printable ASCII, or is a bare 64-hex id`,
        'IMAGE_REFERENCE_INVALID',
      )
    }
    let image: ImageReference
    try {
      image = parseImageReference(reference, INPUT.dockerfile)
    } catch (err) {
      if (!(err instanceof SignetError)) throw err
      const prefix = `${INPUT.dockerfile}: `
      const why = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message
      throw refuse(why, err.code, err)
    }
    const context = contexts.get(contextKey(reference) ?? '')
    images.push(item(kind, reference, image, context, at))
  }

  // The frontend: builder/build.go reads BUILDKIT_SYNTAX first, else DetectSyntax.
  const syntaxArg = override(SYNTAX_BUILD_ARG)
  if (syntaxArg !== undefined) {
    const ref = goTrim(syntaxArg).split(' ')[0] ?? ''
    add('syntax', ref, { line: directive?.line ?? 1, buildArg: SYNTAX_BUILD_ARG })
  } else if (directive) {
    add('syntax', directive.value, { line: directive.line })
  }

  // Every stage name, for COPY --from and RUN --mount from= (findStateByName sees them all).
  const allStages = new Set<string>()
  for (const instruction of list) {
    if (instruction.keyword !== 'from') continue
    const words = instruction.args === '' ? [] : instruction.args.split(RE_WHITESPACE)
    const name = words.length === 3 && isAs(words[1] ?? '') ? goLower(words[2] ?? '') : undefined
    if (name !== undefined) allStages.add(name)
  }

  const globals = new Map<string, ArgState>()
  const lookup: Lookup = (name) => {
    const state = globals.get(name)
    if (state?.kind === 'value') return { kind: 'value', value: state.value }
    if (state?.kind === 'unresolved') return { kind: 'unknown', why: state.cause }
    if (state?.kind === 'unset') return { kind: 'unset', why: new Unresolved(name, 'unset') }
    if (AUTOMATIC_ARGS.has(name)) {
      const value = override(name)
      if (value !== undefined) return { kind: 'value', value }
      return { kind: 'unknown', why: new Unresolved(name, 'automatic') }
    }
    return { kind: 'unset', why: new Unresolved(name, 'undeclared') }
  }
  const expand = (word: string): string => ShellLexer.word(word, { escape, lookup, strict: true })

  const definedStages: string[] = []
  let stage: string | undefined
  let sawFrom = false

  /** A --from / from= value that BuildKit takes for a stage or scratch, not an image. */
  const isStageOrScratch = (name: string): boolean =>
    allStages.has(goLower(name)) || name === SCRATCH

  const copyFrom = (instruction: Instruction, line: number, onbuild: boolean): void => {
    const from = flagsOf(instruction).get('from')?.[0]
    if (from === undefined || from === '') return
    // convert.go toCommand: the value must lex to itself (no variables, quotes or escapes).
    for (const e of new Set([escape, '\\'])) {
      let lexed: string
      try {
        lexed = ShellLexer.word(from, { escape: e, lookup: UNSET_ENV })
      } catch {
        lexed = ''
      }
      if (lexed !== from) {
        throw new Refusal(
          `COPY --from=${from}: variable expansion is not supported for --from (BuildKit refuses it; define a stage with FROM … AS <name> and copy from that)`,
        )
      }
    }
    // strconv.Atoi: a stage index, whatever it points at (a stage or an image already listed)
    if (/^[+-]?[0-9]+$/.test(from)) {
      const index = BigInt(from)
      if (index >= -(2n ** 63n) && index < 2n ** 63n) return
    }
    if (isStageOrScratch(from)) return
    add('copy-from', from, { line, onbuild, ...(stage !== undefined ? { stage } : {}) })
  }

  const mountFrom = (instruction: Instruction, line: number, onbuild: boolean): void => {
    for (const mount of flagsOf(instruction).get('mount') ?? []) {
      // parseMount without an expander (what toCommand uses): only from= is read, from every
      // mount whatever its type; the last from= wins.
      let from: string | undefined
      for (const field of csvFields(mount)) {
        const eq = field.indexOf('=')
        if (eq < 0) continue
        if (goLower(field.slice(0, eq)) !== 'from') continue
        const value = field.slice(eq + 1)
        const dollar = value.indexOf('$')
        if (dollar !== -1 && dollar !== value.length - 1) {
          throw new Refusal(
            `RUN --mount from=${value}: 'from' doesn't support variable expansion (BuildKit refuses it; define an alias stage)`,
          )
        }
        from = value
      }
      if (from === undefined || from === '' || isStageOrScratch(from)) continue
      add('mount-from', from, { line, onbuild, ...(stage !== undefined ? { stage } : {}) })
    }
  }

  const onbuild = (instruction: Instruction): void => {
    if (instruction.flags.length > 0) {
      throw new Refusal(`ONBUILD has an unknown flag "${instruction.flags[0] ?? ''}"`)
    }
    if (instruction.args === '') throw new Refusal('ONBUILD requires an instruction')
    const inner = instruction.child?.keyword ?? ''
    if (inner === 'onbuild' || inner === 'from' || inner === 'maintainer') {
      throw new Refusal(`${inner.toUpperCase()} isn't allowed as an ONBUILD trigger`)
    }
    // parseOnBuild keeps the text after ONBUILD (and the heredocs); initOnBuildTriggers parses it
    // again with a fresh parser (escape \) when a stage inherits it.
    const expression =
      instruction.original.replace(new RegExp(`^${GO_RE_S}*onbuild${GO_RE_S}*`, 'i'), '') +
      instruction.heredocs.map((h) => `\n${h.content}${h.name}`).join('')
    const at = instruction.line
    const trigger = instructionsOf(physicalLines(expression, file, at), file, at).list
    const only = trigger[0]
    if (trigger.length !== 1 || !only) {
      throw new Refusal('the ONBUILD trigger is not a single instruction')
    }
    if (only.keyword === 'copy') copyFrom(only, instruction.line, true)
    if (only.keyword === 'run') mountFrom(only, instruction.line, true)
  }

  const globalArg = (instruction: Instruction): void => {
    flagsOf(instruction)
    const words = parseWords(instruction.args, escape)
    if (words.length === 0) throw new Refusal('ARG needs a name')
    for (const word of words) {
      const eq = word.indexOf('=')
      const name = eq >= 0 ? word.slice(0, eq) : word
      if (name === '') throw new Refusal(`ARG "${word}" has no name`)
      const value = override(name)
      if (value !== undefined) {
        globals.set(name, { kind: 'value', value })
      } else if (eq >= 0) {
        try {
          globals.set(name, { kind: 'value', value: expand(word.slice(eq + 1)) })
        } catch (err) {
          if (!(err instanceof Unresolved)) throw err
          // BuildKit fails here on a syntax error or ${X:?}; an unknown value fails when used.
          if (err.why === 'syntax' || err.why === 'required') {
            throw new Refusal(unresolvedMessage(err, `ARG ${name}`))
          }
          globals.set(name, { kind: 'unresolved', cause: err })
        }
      } else if (!globals.has(name) && !AUTOMATIC_ARGS.has(name)) {
        globals.set(name, { kind: 'unset' })
      }
    }
  }

  const from = (instruction: Instruction): void => {
    const flags = flagsOf(instruction)
    const platformWritten = flags.get('platform')?.[0]
    const words = instruction.args === '' ? [] : instruction.args.split(RE_WHITESPACE)
    const [imageWord, , stageWord] = words
    if (imageWord === undefined) throw new Refusal('FROM names no image')
    if (!(words.length === 1 || (words.length === 3 && isAs(words[1] ?? '')))) {
      throw new Refusal(
        `FROM takes an image and optionally "AS <stage name>"; found "${words.join(' ')}"`,
      )
    }
    const resolve = (word: string, what: string): string => {
      try {
        return expand(word)
      } catch (err) {
        if (!(err instanceof Unresolved)) throw err
        throw new Refusal(unresolvedMessage(err, what))
      }
    }

    // parseBuildStageName: lower-cased, never substituted
    let name: string | undefined
    if (stageWord !== undefined) {
      name = goLower(stageWord)
      if (!STAGE_NAME_RE.test(name)) {
        throw new Refusal(
          `"${stageWord}" is not a valid stage name (a letter, then letters, digits, '-', '_' or '.'; no variables)`,
        )
      }
      if (definedStages.includes(name)) throw new Refusal(`stage name "${name}" is used twice`)
    }

    const base = resolve(imageWord, 'the FROM image')
    if (base === '') {
      throw new Refusal(`FROM names no image ("${imageWord}" is empty after ARG substitution)`)
    }

    let platform: string | undefined
    if (platformWritten !== undefined && platformWritten !== '') {
      try {
        platform = expand(platformWritten)
      } catch (err) {
        if (!(err instanceof Unresolved)) throw err
        if (err.why !== 'automatic') throw new Refusal(unresolvedMessage(err, 'FROM --platform'))
        platform = undefined
      }
      if (platform === '') {
        throw new Refusal(`FROM --platform=${platformWritten} is empty after ARG substitution`)
      }
    }

    const at = {
      line: instruction.line,
      ...(name !== undefined ? { stage: name } : {}),
      ...(platform !== undefined ? { platform } : {}),
    }
    // A build context named like the stage replaces the stage (its image is never resolved).
    if (name !== undefined && name !== SCRATCH && name !== 'context') {
      const key = contextKey(name)
      if (key === undefined) {
        throw new Refusal(
          `stage name "${name}" is not a valid image name, which BuildKit needs to look up a build context of that name`,
        )
      }
      const context = contexts.get(key)
      if (context) {
        images.push(item('from', base, context.image, context, at))
        definedStages.push(name)
        return
      }
    }
    const isStage = definedStages.includes(base)
    if (name !== undefined) definedStages.push(name)
    if (base === SCRATCH || isStage) return
    add('from', base, at)
  }

  for (const instruction of list) {
    try {
      if (!sawFrom && instruction.keyword !== 'arg' && instruction.keyword !== 'from') {
        throw new Refusal(
          `${instruction.word} comes before the first FROM; only ARG may (BuildKit: no build stage in current context)`,
        )
      }
      switch (instruction.keyword) {
        case 'arg':
          if (sawFrom) flagsOf(instruction)
          else globalArg(instruction)
          break
        case 'from':
          sawFrom = true
          from(instruction)
          stage = stageOf(instruction)
          break
        case 'copy':
          copyFrom(instruction, instruction.line, false)
          break
        case 'run':
          mountFrom(instruction, instruction.line, false)
          break
        case 'add':
          // ADD fetches URLs and git repositories, never an image; its flags are still checked.
          flagsOf(instruction)
          break
        case 'onbuild':
          onbuild(instruction)
          break
      }
    } catch (err) {
      if (err instanceof Refusal) throw fail(file, instruction.line, err.message)
      throw err
    }
  }

  if (!sawFrom) throw fail(file, 1, 'the Dockerfile has no FROM instruction')
  return images
}

/** The stage a FROM starts, if named. */
function stageOf(instruction: Instruction): string | undefined {
  const words = instruction.args.split(RE_WHITESPACE)
  return words.length === 3 ? goLower(words[2] ?? '') : undefined
}
