/**
 * Issue 8, points 1 and 2, from the side of a pull request author who controls the Dockerfile:
 * every image BuildKit would pull must come back from parseDockerfile, and the Dockerfile must be
 * read exactly as BuildKit reads it, or refused naming the file and line.
 *
 * The expected readings follow BuildKit's own code (moby/buildkit frontend/dockerfile: parser,
 * shell lexer, instructions, dockerfile2llb; frontend/dockerui named contexts; docker/buildx
 * context names); each case says which function it follows.
 */
import { SignetError } from '../../src/errors'
import { parseDockerfile, type DockerfileImage } from '../../src/subjects/dockerfile'
import { errorOf } from '../infra/expect'

const F = 'app/Dockerfile'
const D = `sha256:${'b'.repeat(64)}`

type Options = Parameters<typeof parseDockerfile>[2]

function parse(text: string, options?: Options): DockerfileImage[] {
  return parseDockerfile(text, F, options)
}

/** [kind, reference, line] of each image, the way a reviewer reads the list. */
function seen(images: DockerfileImage[]): [string, string, number][] {
  return images.map((i) => [i.kind, i.reference, i.line])
}

/** The refusal of `text`: a SignetError naming input dockerfile and `file:line`. */
function refusal(text: string, line: number, options?: Options): SignetError {
  const err = errorOf(() => parseDockerfile(text, F, options))
  expect(err.input).toBe('dockerfile')
  expect(err.message).toContain(`${F}:${line}:`)
  expect(err.line).toBe(line)
  expect(err.file).toBe(F)
  return err
}

describe('issue 8.1: every image BuildKit pulls is returned', () => {
  it('issue 8.1: COPY --from=<image> is returned with its line; stages and indexes are not', () => {
    const text = `FROM golang:1.22 AS build
COPY --from=ghcr.io/evil/tools:1 /bin/x /bin/x
FROM alpine:3.20
COPY --from=build /out /out
COPY --from=BUILD /out /out2
COPY --from=0 /out /out3
COPY --from=scratch / /
COPY --chown=1:1 --from=docker.io/library/busybox@${D} /bin/sh /sh
`
    const images = parse(text)
    expect(seen(images)).toEqual([
      ['from', 'golang:1.22', 1],
      ['copy-from', 'ghcr.io/evil/tools:1', 2],
      ['from', 'alpine:3.20', 3],
      ['copy-from', `docker.io/library/busybox@${D}`, 8],
    ])
    expect(images[1]?.image?.registry).toBe('ghcr.io')
    expect(images[1]?.stage).toBe('build')
    expect(images[1]?.onbuild).toBe(false)
  })

  it('issue 8.1: RUN --mount from=<image> is returned for bind and cache mounts (any type BuildKit resolves)', () => {
    const text = `FROM alpine:3.20 AS base
RUN --mount=type=bind,from=ghcr.io/evil/a:1,target=/a \\
    --mount=type=cache,target=/c,FROM=ghcr.io/evil/b:2 \\
    --mount=type=bind,from=base,target=/b \\
    --mount=type=tmpfs,target=/t \\
    true
RUN --mount="from=ghcr.io/evil/c:3,target=/x" --network=none true
`
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['mount-from', 'ghcr.io/evil/a:1', 2],
      ['mount-from', 'ghcr.io/evil/b:2', 2],
      ['mount-from', 'ghcr.io/evil/c:3', 7],
    ])
  })

  it('issue 8.1: ONBUILD COPY --from and ONBUILD RUN --mount from= are returned, marked onbuild', () => {
    const text = `FROM alpine:3.20 AS base
ONBUILD COPY --from=ghcr.io/evil/onbuild-copy:1 / /
ONBUILD RUN --mount=type=bind,from=ghcr.io/evil/onbuild-mount:1,target=/m true
FROM base
`
    const images = parse(text)
    expect(seen(images)).toEqual([
      ['from', 'alpine:3.20', 1],
      ['copy-from', 'ghcr.io/evil/onbuild-copy:1', 2],
      ['mount-from', 'ghcr.io/evil/onbuild-mount:1', 3],
    ])
    expect(images.map((i) => i.onbuild)).toEqual([false, true, true])
  })

  it('issue 8.1: an ONBUILD trigger is read again with the default escape, as BuildKit runs it', () => {
    // dockerfile2llb initOnBuildTriggers re-parses the trigger text with a fresh parser, whose
    // escape is \ whatever the file's `# escape=` says: `ev\il` is `evil` there.
    const text =
      '# escape=`\nFROM alpine:3.20 AS base\nONBUILD COPY --from=ghcr.io/ev\\il/x:1 / /\n'
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 2],
      ['copy-from', 'ghcr.io/evil/x:1', 3],
    ])
  })

  it('issue 8.1: the # syntax= frontend image is returned, and BUILDKIT_SYNTAX replaces it', () => {
    const text = '# syntax=ghcr.io/evil/frontend:1 --extra\nFROM alpine:3.20\n'
    expect(seen(parse(text))).toEqual([
      ['syntax', 'ghcr.io/evil/frontend:1', 1],
      ['from', 'alpine:3.20', 2],
    ])
    // builder/build.go: the BUILDKIT_SYNTAX build arg wins over the directive.
    const withArg = parse(text, { buildArgs: { BUILDKIT_SYNTAX: ' docker/dockerfile:1.7 x' } })
    expect(seen(withArg)).toEqual([
      ['syntax', 'docker/dockerfile:1.7', 1],
      ['from', 'alpine:3.20', 2],
    ])
    expect(withArg[0]?.buildArg).toBe('BUILDKIT_SYNTAX')
    expect(
      seen(parse('FROM alpine\n', { buildArgs: { BUILDKIT_SYNTAX: 'ghcr.io/evil/fe' } })),
    ).toEqual([
      ['syntax', 'ghcr.io/evil/fe', 1],
      ['from', 'alpine', 1],
    ])
  })

  it('issue 8.1: the syntax directive forms DetectSyntax reads (after a shebang, with //) are returned', () => {
    expect(
      seen(parse('#!/usr/bin/env buildctl\n# syntax=ghcr.io/evil/fe:1\nFROM alpine\n')),
    ).toEqual([
      ['syntax', 'ghcr.io/evil/fe:1', 2],
      ['from', 'alpine', 3],
    ])
    // `//` directives are read by DetectSyntax (the frontend is forwarded before the Dockerfile
    // is parsed); the rest of the file is then not a Dockerfile BuildKit reads, so it is refused.
    const err = refusal('// syntax=ghcr.io/evil/fe:2\nFROM alpine\n', 1)
    expect(err.message).toMatch(/unknown instruction/)
  })

  it('issue 8.1: a build arg changes what FROM ${X} names', () => {
    const text = 'ARG BASE=alpine:3.20\nFROM ${BASE}\n'
    expect(seen(parse(text, { buildArgs: { BASE: 'ghcr.io/evil/base:1' } }))).toEqual([
      ['from', 'ghcr.io/evil/base:1', 2],
    ])
  })

  it('issue 8.1: a docker-image:// build context replaces the image of that name, however it is written', () => {
    // buildx ParseContextNames and dockerui NamedContext both key contexts by the familiar name
    // without ":latest": docker.io/library/alpine:latest, alpine:latest and alpine are one name.
    const text = `# syntax=docker/dockerfile:1
FROM alpine
FROM docker.io/library/alpine:latest
COPY --from=index.docker.io/library/alpine / /
RUN --mount=from=alpine:3.20,target=/m true
`
    const contexts = {
      'docker.io/library/alpine:latest': `docker-image://ghcr.io/acme/alpine@${D}`,
      'docker/dockerfile:1': 'docker-image://ghcr.io/acme/dockerfile:1',
    }
    const images = parse(text, { buildContexts: contexts })
    expect(seen(images)).toEqual([
      ['syntax', 'ghcr.io/acme/dockerfile:1', 1],
      ['from', `ghcr.io/acme/alpine@${D}`, 2],
      ['from', `ghcr.io/acme/alpine@${D}`, 3],
      ['copy-from', `ghcr.io/acme/alpine@${D}`, 4],
      // alpine:3.20 is another name: the context does not apply
      ['mount-from', 'alpine:3.20', 5],
    ])
    expect(images[1]?.image?.digest).toBe(D)
    expect(images[1]?.context).toEqual({
      name: 'docker.io/library/alpine:latest',
      value: `docker-image://ghcr.io/acme/alpine@${D}`,
      pulled: 'image',
      replaces: 'alpine',
    })
    expect(images[4]?.context).toBeUndefined()
  })

  it('issue 8.1: a local, git or https build context means nothing is pulled; oci-layout cannot be checked', () => {
    const text = `FROM alpine:3.20 AS base
FROM node:20
COPY --from=ghcr.io/acme/tools:1 / /
RUN --mount=from=busybox,target=/b true
`
    const images = parse(text, {
      buildContexts: {
        'alpine:3.20': './vendor/alpine',
        'node:20': 'https://github.com/acme/node.git#main',
        'ghcr.io/acme/tools:1': 'oci-layout://./layout:1',
        busybox: 'docker-image://scratch',
      },
    })
    expect(images.map((i) => [i.reference, i.image, i.context?.pulled])).toEqual([
      ['alpine:3.20', undefined, 'none'],
      ['node:20', undefined, 'none'],
      ['ghcr.io/acme/tools:1', undefined, 'unverifiable'],
      ['busybox', undefined, 'none'],
    ])
    expect(images[0]?.context).toEqual({
      name: 'alpine:3.20',
      value: './vendor/alpine',
      pulled: 'none',
      replaces: 'alpine:3.20',
    })
  })

  it('issue 8.1: a build context named like a stage replaces the whole stage', () => {
    // dockerfile2llb: a named context with a stage's name replaces the stage; its FROM image is
    // never resolved, but the context's image is pulled.
    const text = 'FROM scratch AS base\nFROM alpine AS tools\nFROM base\nCOPY --from=tools / /\n'
    const images = parse(text, {
      buildContexts: { base: 'docker-image://ghcr.io/evil/base:1', tools: './tools' },
    })
    expect(images.map((i) => [i.kind, i.reference, i.line, i.stage, i.context?.pulled])).toEqual([
      ['from', 'ghcr.io/evil/base:1', 1, 'base', 'image'],
      ['from', 'alpine', 2, 'tools', 'none'],
    ])
    expect(images[0]?.context?.replaces).toBe('scratch')
  })

  it('issue 8.1: build contexts BuildKit would refuse are refused, naming input build-contexts', () => {
    const refused: Record<string, string>[] = [
      { 'Not A Name': 'docker-image://alpine' },
      { alpine: 'docker-image://Alpine' },
      { alpine: 'target:other' },
      { alpine: './a', 'docker.io/library/alpine': './b' },
    ]
    for (const contexts of refused) {
      const err = errorOf(() => parse('FROM alpine\n', { buildContexts: contexts }))
      expect(err.input).toBe('build-contexts')
    }
  })
})

describe('issue 8.2: the Dockerfile is read as BuildKit reads it, or refused', () => {
  it('issue 8.2: a line led by NEL (U+0085) is a FROM, as unicode.IsSpace trims it', () => {
    const text = 'FROM alpine:3.20\n\u0085FROM ghcr.io/evil/nel:1\n'
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['from', 'ghcr.io/evil/nel:1', 2],
    ])
  })

  it('issue 8.2: NEL separates shell words, so BuildKit starts a heredoc there and not on the next line', () => {
    // heredocsFromLine splits words with unicode.IsSpace: `true\u0085<<X` holds the heredoc X,
    // whose body is the next line; the quoted `<<"ENV A=b"` below is only body text.
    const text = `FROM alpine:3.20
RUN true\u0085<<X
RUN <<"ENV A=b"
X
FROM ghcr.io/evil/hidden:1
ENV A=b
`
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['from', 'ghcr.io/evil/hidden:1', 5],
    ])
  })

  it('issue 8.2: U+FEFF before <<X does not start a heredoc (not unicode.IsSpace)', () => {
    const text = `FROM alpine:3.20
RUN \uFEFF<<"RUN true"
FROM ghcr.io/evil/bom:1
RUN true
`
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['from', 'ghcr.io/evil/bom:1', 3],
    ])
  })

  it('issue 8.2: a directive after U+00A0 is honoured (DirectiveParser trims with unicode.IsSpace)', () => {
    // `#\u00a0escape=\`` makes ` the escape: the backslash then continues nothing.
    const text = '#\u00a0escape=`\nFROM alpine:3.20\nRUN echo \\\nFROM ghcr.io/evil/nbsp:1\n'
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 2],
      ['from', 'ghcr.io/evil/nbsp:1', 4],
    ])
    // A NEL before the directive is trimmed too (processLine: trimLeadingWhitespace).
    const nel = '\u0085# escape=`\nFROM alpine:3.20\nRUN echo \\\nFROM ghcr.io/evil/nel:2\n'
    expect(seen(parse(nel)).map((s) => s[1])).toEqual(['alpine:3.20', 'ghcr.io/evil/nel:2'])
    // But the directive regexp's \s is ASCII: `# escape\u00a0=` is no directive, \ continues the
    // RUN, and the FROM is part of it.
    const notDirective = '# escape\u00a0=`\nFROM alpine:3.20\nRUN echo \\\nFROM ghcr.io/evil/x:1\n'
    expect(seen(parse(notDirective))).toEqual([['from', 'alpine:3.20', 2]])
  })

  it('issue 8.2: U+00A0 inside instruction flags is refused (extractBuilderFlags reads bytes)', () => {
    // BuildKit splits the flag words at the 0xA0 byte of U+00A0, reading --from=ghcr.io/evil here.
    const err = refusal('FROM alpine\nCOPY --chown=1\u00a0--from=ghcr.io/evil/x:1 / /\n', 2)
    expect(err.code).toBe('DOCKERFILE_INVALID')
  })

  it('issue 8.2: a CR inside a line separates words, as reWhitespace and unicode.IsSpace say', () => {
    expect(seen(parse('FROM alpine:3.20\r\nCOPY\r--from=ghcr.io/evil/cr:1 / /\r\n'))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['copy-from', 'ghcr.io/evil/cr:1', 2],
    ])
    // A lone CR is no line break: the FROM after it is a word of the RUN line.
    expect(seen(parse('FROM alpine:3.20\nRUN echo\rFROM ghcr.io/evil/cr:2\n'))).toEqual([
      ['from', 'alpine:3.20', 1],
    ])
  })

  it('issue 8.2: a heredoc word BuildKit cannot lex starts no heredoc', () => {
    // heredocsFromLine ignores a lexing error: no heredoc at all, so the next lines are read.
    const text = 'FROM alpine:3.20\nRUN cat <<EOF "unterminated\nFROM ghcr.io/evil/lex:1\nEOF\n'
    const err = refusal(text, 4)
    expect(err.message).toMatch(/unknown instruction "EOF"/)
    // `<<""` lexes to no word at all: no heredoc (heredocFromMatch), so the FROM is read.
    const quiet = 'FROM alpine:3.20\nRUN cat <<""\nFROM ghcr.io/evil/lex:2\n'
    expect(seen(parse(quiet)).map((s) => s[1])).toEqual(['alpine:3.20', 'ghcr.io/evil/lex:2'])
  })

  it('issue 8.2: a heredoc name is lexed as BuildKit lexes it (quotes inside quotes stay)', () => {
    // heredocFromMatch: ProcessWords on `"ENV 'A=b'"` gives ENV 'A=b', so line 3 ends the body.
    const text = `FROM alpine:3.20
RUN <<"ENV 'A=b'"
ENV 'A=b'
FROM ghcr.io/evil/quoted:1
ENV A=b
`
    expect(seen(parse(text))).toEqual([
      ['from', 'alpine:3.20', 1],
      ['from', 'ghcr.io/evil/quoted:1', 4],
    ])
  })

  it('issue 8.2: an ONBUILD heredoc is skipped, and its trigger still read', () => {
    const text = `FROM alpine:3.20 AS base
ONBUILD RUN --mount=from=ghcr.io/evil/trigger:1,target=/m <<EOF
FROM ghcr.io/not/an-instruction:1
EOF
FROM base
`
    const images = parse(text)
    expect(seen(images)).toEqual([
      ['from', 'alpine:3.20', 1],
      ['mount-from', 'ghcr.io/evil/trigger:1', 2],
    ])
    expect(images[1]?.onbuild).toBe(true)
  })

  it('issue 8.2: FROM names a stage only as written after substitution (statesByName is exact)', () => {
    const err = refusal('FROM alpine:3.20 AS base\nFROM BASE\n', 2)
    expect(err.code).toBe('IMAGE_REFERENCE_INVALID')
  })

  it.each([
    ['a NUL byte', 'FROM alpine\nRUN echo \u0000\n', 2, /character U\+0000/],
    ['an escape control character', 'FROM alpine\n# \u001b[2K\n', 2, /character U\+001B/],
    ['a C1 control character', 'FROM alpine\nLABEL a=\u0090\n', 2, /character U\+0090/],
    ['text that was not valid UTF-8', 'FROM alp\ufffdine\n', 1, /U\+FFFD/],
    [
      'a non-ASCII instruction word',
      'FROM alpine\nONBU\u0130LD COPY --from=evil / /\n',
      2,
      /instruction/,
    ],
    ['an unknown instruction', 'FROM alpine\nFORM evil\n', 2, /unknown instruction "FORM"/],
    ['an instruction before the first FROM', 'RUN true\nFROM alpine\n', 1, /before the first FROM/],
    ['an unknown COPY flag', 'FROM alpine\nCOPY --frm=evil / /\n', 2, /unknown flag "--frm=evil"/],
    ['COPY --from twice', 'FROM alpine\nCOPY --from=a --from=b / /\n', 2, /--from twice/],
    ['COPY --from without =', 'FROM alpine\nCOPY --from evil / /\n', 2, /--from needs a value/],
    ['a variable in COPY --from', 'ARG X=evil\nFROM alpine\nCOPY --from=$X / /\n', 3, /variable/],
    ['a quoted COPY --from', 'FROM alpine\nCOPY --from=\'"evil"\' / /\n', 2, /variable/],
    ['a variable in RUN --mount from=', 'FROM alpine\nRUN --mount=from=$X true\n', 2, /variable/],
    ['an unknown RUN flag', 'FROM alpine\nRUN --mnt=from=evil true\n', 2, /unknown flag/],
    ['an unknown ADD flag', 'FROM alpine\nADD --from=evil / /\n', 2, /unknown flag/],
    ['a --mount that is not CSV', 'FROM alpine\nRUN --mount=from=a\\"b true\n', 2, /CSV/],
    ['a non-ASCII character in flags', 'FROM alpine\nCOPY --from=\u00e9vil / /\n', 2, /flag/],
    ['ONBUILD FROM', 'FROM alpine\nONBUILD FROM evil\n', 2, /ONBUILD/],
    ['an ONBUILD flag', 'FROM alpine\nONBUILD --x COPY / /\n', 2, /ONBUILD/],
    ['a JSON array of non-strings', 'FROM alpine\nRUN ["sh", 1]\n', 2, /JSON/],
    ['an ARG flag', 'ARG --x=1 B=alpine\nFROM $B\n', 1, /ARG/],
    ['a line longer than BuildKit reads', `FROM alpine\nRUN ${'x'.repeat(70000)}\n`, 2, /64 KiB/],
    ['a variable in the stage name', 'ARG X=base\nFROM alpine AS $X\nFROM $X\n', 2, /stage name/],
  ])('issue 8.2: refuses %s with file:line', (_what, text, line, message) => {
    expect(refusal(text, line).message).toMatch(message)
  })
})
