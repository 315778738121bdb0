import { SignetError } from '../../src/errors'
import { parseDockerfile, type DockerfileImage } from '../../src/subjects/dockerfile'
import { errorOf } from '../infra/expect'

const D = `sha256:${'a'.repeat(64)}`
const F = 'app/Dockerfile'

/** The error for `text`, checked to name the input and point at `line`. */
function failure(text: string, line: number, buildArgs?: Record<string, string>): SignetError {
  const err = errorOf(() => parseDockerfile(text, F, { buildArgs }))
  expect(err.input).toBe('dockerfile')
  expect(err.message).toContain(`${F}:${line}:`)
  return err
}

/** reference, platform, line, stage of each image. */
function summary(
  images: DockerfileImage[],
): [string, string | undefined, number, string | undefined][] {
  return images.map((i) => [i.reference, i.platform, i.line, i.stage])
}

function parse(text: string, buildArgs?: Record<string, string>): DockerfileImage[] {
  return parseDockerfile(text, F, { buildArgs })
}

describe('parseDockerfile', () => {
  it('reads a multi-stage node build, skipping stage references', () => {
    const text = `# syntax=docker/dockerfile:1.7
ARG NODE_VERSION=20

FROM node:\${NODE_VERSION}-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev

FROM node:\${NODE_VERSION}-alpine AS build
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY . .
RUN npm run build

FROM gcr.io/distroless/nodejs20-debian12:nonroot
COPY --from=build /app/dist /app
CMD ["/app/server.js"]
`
    const images = parse(text)
    // The frontend named by `# syntax=` runs the build, so it is an image to verify too (issue 8.1).
    expect(summary(images)).toEqual([
      ['docker/dockerfile:1.7', undefined, 1, undefined],
      ['node:20-alpine', undefined, 4, 'deps'],
      ['node:20-alpine', undefined, 9, 'build'],
      ['gcr.io/distroless/nodejs20-debian12:nonroot', undefined, 15, undefined],
    ])
    expect(images.map((i) => i.kind)).toEqual(['syntax', 'from', 'from', 'from'])
    expect(images[1]?.file).toBe(F)
    expect(images[1]?.image?.registry).toBe('registry-1.docker.io')
    expect(images[1]?.image?.repository).toBe('library/node')
    expect(images[1]?.image?.tag).toBe('20-alpine')
    expect(images[3]?.image?.registry).toBe('gcr.io')
    expect(images[3]?.image?.repository).toBe('distroless/nodejs20-debian12')
  })

  it('reads a golang cross-compile build: --platform, scratch and stage references skipped', () => {
    const text = `ARG GO_VERSION=1.22
ARG BASE=gcr.io/distroless/static-debian12
FROM --platform=$BUILDPLATFORM golang:\${GO_VERSION}-bookworm AS builder
ARG TARGETOS TARGETARCH
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/app ./cmd/app

FROM scratch AS empty
COPY --from=builder /out/app /app

FROM builder AS again
FROM \${BASE}@${D}
COPY --from=builder /out/app /app
`
    const images = parse(text)
    expect(summary(images)).toEqual([
      ['golang:1.22-bookworm', undefined, 3, 'builder'],
      [`gcr.io/distroless/static-debian12@${D}`, undefined, 11, undefined],
    ])
    expect(images[1]?.image?.digest).toBe(D)
  })

  it('keeps digests as written, with or without a tag', () => {
    const images = parse(`FROM ghcr.io/acme/base@${D}\nFROM node:20-alpine@${D}\n`)
    expect(images.map((i) => i.reference)).toEqual([
      `ghcr.io/acme/base@${D}`,
      `node:20-alpine@${D}`,
    ])
    expect(images[1]?.image?.tag).toBe('20-alpine')
    expect(images[1]?.image?.digest).toBe(D)
  })

  it('treats instructions and AS case-insensitively, and lower-cases stage names', () => {
    const images = parse('from alpine:3.20 as Base\nFrom base\nfRoM base AS final\n')
    expect(summary(images)).toEqual([['alpine:3.20', undefined, 1, 'base']])
    // BuildKit (dispatchStates.addState) finds `FROM <stage>` only as the lower-cased name is
    // written: `FROM BASE` names the image BASE, which is no valid reference.
    expect(failure('FROM alpine AS base\nFROM BASE\n', 2).code).toBe('IMAGE_REFERENCE_INVALID')
  })

  it('reads a stage named after an image only after that stage is defined', () => {
    const images = parse('FROM alpine AS alpine\nFROM alpine\n')
    expect(summary(images)).toEqual([['alpine', undefined, 1, 'alpine']])
  })

  describe('global ARGs', () => {
    const text = `ARG REGISTRY=ghcr.io/acme
ARG TAG="1.2.3"
ARG VARIANT='slim'
FROM $REGISTRY/base:\${TAG}-\${VARIANT}
`
    it('substitutes defaults, quoted or not', () => {
      expect(parse(text).map((i) => i.reference)).toEqual(['ghcr.io/acme/base:1.2.3-slim'])
    })

    it('lets build args override defaults', () => {
      expect(parse(text, { TAG: '2.0.0', VARIANT: 'full' }).map((i) => i.reference)).toEqual([
        'ghcr.io/acme/base:2.0.0-full',
      ])
    })

    it('gives a value to an ARG declared without one', () => {
      expect(parse('ARG IMAGE\nFROM $IMAGE\n', { IMAGE: 'redis:7' })[0]?.reference).toBe('redis:7')
    })

    it('reads several ARGs in one instruction, and defaults that use earlier ARGs', () => {
      const images = parse('ARG A=python B=3.12\nARG IMAGE=${A}:${B}-slim\nFROM $IMAGE\n')
      expect(images[0]?.reference).toBe('python:3.12-slim')
    })

    it('ignores build args for ARGs the Dockerfile does not declare, as BuildKit does', () => {
      expect(parse('FROM alpine:3.20\n', { IMAGE: 'x' })[0]?.reference).toBe('alpine:3.20')
    })

    it('ignores ARGs declared inside a stage', () => {
      const images = parse('ARG V=1\nFROM alpine:$V\nARG V=2\nFROM busybox:$V\n')
      expect(images.map((i) => i.reference)).toEqual(['alpine:1', 'busybox:1'])
    })

    it.each([
      ['${V:-3.20}', {}, 'alpine:3.20'],
      ['${V:-3.20}', { V: '3.19' }, 'alpine:3.19'],
      ['${V:-3.20}', { V: '' }, 'alpine:3.20'],
      ['${V-3.20}', { V: '' }, 'alpine:'],
      ['3.20${V:+-$V}', {}, 'alpine:3.20'],
      ['3.20${V:+-$V}', { V: 'edge' }, 'alpine:3.20-edge'],
      ['${V:-${W:-3.18}}', {}, 'alpine:3.18'],
      ['${V:?set-V}', { V: '3.17' }, 'alpine:3.17'],
      ['"${V:-3.20}"', {}, 'alpine:3.20'],
      ["'3.20'", {}, 'alpine:3.20'],
    ])('expands alpine:%s with %j', (tag, args, expected) => {
      const text = `ARG V\nFROM alpine:${tag}\n`
      if (expected.endsWith(':')) {
        // ${V-x} with V set to "" keeps "", which leaves an empty tag: refused as a reference
        expect(failure(text, 2, args).code).toBe('IMAGE_REFERENCE_INVALID')
      } else {
        expect(parse(text, args)[0]?.reference).toBe(expected)
      }
    })

    it('does not look up ARGs in a default it does not use', () => {
      expect(parse('ARG V=3.20\nFROM alpine:${V:-$UNSET}\n')[0]?.reference).toBe('alpine:3.20')
    })

    it('keeps a literal $ that starts no name, and an escaped one', () => {
      // Neither is a valid reference, but the error shows what the lexer produced. (`$-` is the
      // special parameter "-" to BuildKit's lexer, so `$/` is the literal case.)
      expect(failure('FROM alpine:$/x\n', 1).message).toContain('"alpine:$/x"')
      expect(failure('ARG V=1\nFROM alpine:\\$V\n', 2).message).toContain('"alpine:$V"')
    })
  })

  describe('--platform', () => {
    it('reports a literal platform', () => {
      expect(parse('FROM --platform=linux/arm64 alpine\n')[0]?.platform).toBe('linux/arm64')
    })

    it('substitutes global ARGs', () => {
      const text = 'ARG ARCH=arm64\nFROM --platform=linux/${ARCH} alpine\n'
      expect(parse(text)[0]?.platform).toBe('linux/arm64')
      expect(parse(text, { ARCH: 'amd64' })[0]?.platform).toBe('linux/amd64')
    })

    it('leaves automatic platform ARGs unresolved (undefined) unless a build arg gives them', () => {
      for (const arg of ['$BUILDPLATFORM', '${TARGETPLATFORM}', 'linux/$TARGETARCH']) {
        expect(parse(`FROM --platform=${arg} alpine\n`)[0]?.platform).toBeUndefined()
      }
      expect(
        parse('FROM --platform=$TARGETPLATFORM alpine\n', { TARGETPLATFORM: 'linux/arm64' })[0]
          ?.platform,
      ).toBe('linux/arm64')
    })

    it('uses an automatic platform ARG given a default globally', () => {
      expect(parse('ARG TARGETARCH=amd64\nFROM alpine:3-$TARGETARCH\n')[0]?.reference).toBe(
        'alpine:3-amd64',
      )
    })
  })

  describe('lexical structure', () => {
    it('joins continuation lines and reports the first line', () => {
      const text = `FROM alpine AS one
FROM \\
  --platform=linux/amd64 \\
  # a comment inside the instruction

  ghcr.io/acme/base:1 \\
  AS two
FROM node:20\\
-alpine
`
      expect(summary(parse(text))).toEqual([
        ['alpine', undefined, 1, 'one'],
        ['ghcr.io/acme/base:1', 'linux/amd64', 2, 'two'],
        ['node:20-alpine', undefined, 8, undefined],
      ])
    })

    it('allows whitespace after the continuation character and before instructions', () => {
      const text = '\n   \n  FROM \\  \t\r\n    alpine:3.20\r\n'
      expect(summary(parse(text))).toEqual([['alpine:3.20', undefined, 3, undefined]])
    })

    it('skips comments, including ones that look like FROM', () => {
      const text = '# FROM evil:1\n  # FROM evil:2\nFROM alpine # not a comment: junk\n'
      expect(failure(text, 3).message).toMatch(/AS <stage name>/)
      expect(parse('# FROM evil\n\nFROM alpine\n').map((i) => i.reference)).toEqual(['alpine'])
    })

    it('honours # escape=` (Windows Dockerfiles)', () => {
      const text = `# escape=\`
# syntax=docker/dockerfile:1

ARG TAG=ltsc2022
FROM mcr.microsoft.com/windows/servercore:$TAG \`
  AS base
RUN dir c:\\
FROM base
`
      expect(summary(parse(text))).toEqual([
        ['docker/dockerfile:1', undefined, 2, undefined],
        ['mcr.microsoft.com/windows/servercore:ltsc2022', undefined, 5, 'base'],
      ])
      // ` escapes the $, so nothing is substituted (and the reference is refused).
      const escaped = failure(`${text}FROM mcr.microsoft.com/windows/nanoserver:\`$TAG\n`, 9)
      expect(escaped.message).toContain('"mcr.microsoft.com/windows/nanoserver:$TAG"')
    })

    it('reads # escape only at the top of the file', () => {
      // After an instruction the directive is a comment, so \ still continues the line.
      const text = 'FROM alpine AS a\n# escape=`\nFROM \\\n  busybox\n'
      expect(parse(text).map((i) => i.reference)).toEqual(['alpine', 'busybox'])
    })

    it('skips RUN heredoc bodies, even ones that contain FROM', () => {
      const text = `FROM alpine:3.20 AS build
RUN <<EOF
FROM evil.example/backdoor:latest
echo building
EOF
RUN <<-"SCRIPT" bash
\tFROM evil:2
\tSCRIPT
COPY <<EOT /etc/motd
FROM evil:3
EOT
RUN cat <<A >/a && cat <<'B' >/b
FROM evil:4
A
FROM evil:5
B
FROM busybox:1.36
`
      expect(summary(parse(text))).toEqual([
        ['alpine:3.20', undefined, 1, 'build'],
        ['busybox:1.36', undefined, 17, undefined],
      ])
    })

    it('does not take << in JSON form or quotes for a heredoc', () => {
      const text = 'FROM alpine\nRUN ["sh", "-c", "cat <<EOF"]\nRUN echo "<<EOF"\nFROM busybox\n'
      expect(parse(text).map((i) => i.reference)).toEqual(['alpine', 'busybox'])
    })

    it('skips ONBUILD RUN heredoc bodies', () => {
      const text = 'FROM alpine\nONBUILD RUN <<EOF\nFROM evil\nEOF\nFROM busybox\n'
      expect(parse(text).map((i) => i.reference)).toEqual(['alpine', 'busybox'])
    })

    it('returns nothing for a Dockerfile FROM scratch', () => {
      expect(parse('FROM scratch\nCOPY app /\n')).toEqual([])
    })
  })

  describe('errors name the input, the file and the line', () => {
    it('an ARG with no value', () => {
      const err = failure('ARG BASE\n\nFROM $BASE\n', 3)
      expect(err.code).toBe('DOCKERFILE_INVALID')
      expect(err.message).toMatch(/ARG BASE .*no value: give it a default .*build arg/)
    })

    it('an ARG whose default uses an ARG with no value', () => {
      const err = failure('ARG V\nARG IMAGE=alpine:$V\nFROM $IMAGE\n', 3)
      expect(err.message).toMatch(/ARG V .*no value/)
    })

    it('a name no global ARG declares', () => {
      const err = failure('FROM alpine\nARG LATE=1\nFROM busybox:$LATE\n', 3)
      expect(err.code).toBe('DOCKERFILE_INVALID')
      expect(err.message).toMatch(/LATE .*no ARG before the first FROM declares it/)
    })

    it('an automatic platform ARG in the image', () => {
      const err = failure('FROM --platform=$BUILDPLATFORM golang:1.22-$TARGETARCH\n', 1)
      expect(err.message).toMatch(/TARGETARCH.*build's platform.*pass TARGETARCH as a build arg/)
    })

    it('${V:?message}', () => {
      expect(failure('ARG V\nFROM alpine:${V:?set_the_version}\n', 2).message).toMatch(
        /ARG V is required .*set_the_version/,
      )
    })

    it('an ARG with no value in --platform', () => {
      expect(failure('ARG P\nFROM --platform=$P alpine\n', 2).message).toMatch(/ARG P .*no value/)
    })

    it.each([
      ['FROM\n', 1, /FROM names no image/],
      ['FROM --platform=linux/amd64\n', 1, /FROM names no image/],
      ['ARG E=""\nFROM $E\n', 2, /empty after ARG substitution/],
      ['FROM alpine builder\n', 1, /AS <stage name>.*"alpine builder"/],
      ['FROM alpine AS\n', 1, /AS <stage name>/],
      ['FROM alpine AS a b\n', 1, /AS <stage name>/],
      ['FROM alpine FOR x\n', 1, /AS <stage name>/],
      ['FROM --platform linux/amd64 alpine\n', 1, /--platform needs a value/],
      ['FROM --pull=always alpine\n', 1, /unknown flag "--pull=always"/],
      ['FROM --platform=a --platform=b alpine\n', 1, /--platform twice/],
      ['FROM alpine AS 1st\n', 1, /not a valid stage name/],
      ['FROM alpine AS a\nFROM busybox AS A\n', 2, /stage name "a" is used twice/],
      ['FROM alpine:${V#x}\n', 1, /not a substitution Signet reads/],
      ['FROM alpine:${V\n', 1, /missing "}"/],
      ['FROM alpine:${}\n', 1, /bad substitution/],
      ['FROM "alpine\n', 1, /unmatched "/],
      ['FROM alpine\nRUN <<EOF\necho hi\n', 2, /heredoc <<EOF has no closing "EOF" line/],
      ['# escape=x\nFROM alpine\n', 1, /invalid escape character "x"/],
      ['# escape=`\n# escape=\\\nFROM alpine\n', 2, /only one "escape" parser directive/],
    ])('%j (line %d)', (text, line, message) => {
      const err = failure(text, line)
      expect(err.code).toBe('DOCKERFILE_INVALID')
      expect(err.message).toMatch(message)
    })

    it('a Dockerfile with no FROM', () => {
      expect(failure('# nothing\nARG X=1\n', 1).message).toMatch(/no FROM instruction/)
      expect(failure('', 1).code).toBe('DOCKERFILE_INVALID')
    })

    it.each([
      ['FROM Alpine\n', 'IMAGE_REFERENCE_INVALID', /"Alpine" is not a valid image reference/],
      ['FROM https://ghcr.io/acme/x\n', 'IMAGE_REFERENCE_INVALID', /URL scheme/],
      ['FROM alpine:-bad\n', 'IMAGE_REFERENCE_INVALID', /tag "-bad"/],
      ['FROM alpine@sha256:abc\n', 'DIGEST_INVALID', /invalid digest "sha256:abc"/],
    ])('a reference parseImageReference refuses: %j', (text, code, message) => {
      const err = failure(text, 1)
      expect(err.code).toBe(code)
      expect(err.message).toMatch(message)
      expect(err.message.startsWith(`input dockerfile: ${F}:1: `)).toBe(true)
      expect(err.cause).toBeInstanceOf(SignetError)
    })

    it('reports the line of a continued FROM as its first line, after heredocs', () => {
      const text = 'FROM alpine\nRUN <<EOF\nx\nEOF\n\n# c\nFROM \\\n  Bad\n'
      expect(failure(text, 7).message).toContain('"Bad"')
    })
  })
})
