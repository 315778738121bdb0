/**
 * scripts/workflow/plan.cjs: what .github/workflows/publish-image.yml tags and builds, from
 * inputs a caller controls. Required as the workflow runs it, and run as a process the way the
 * workflow's step runs it (env in, $GITHUB_OUTPUT out).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  imageName,
  imageTags,
  PlanError,
  plan,
  platformMatrix,
  versionTags,
} from '../../scripts/workflow/plan.cjs'

const SHA = '0123456789abcdef0123456789abcdef01234567'
const SCRIPT = resolve(__dirname, '../../scripts/workflow/plan.cjs')

function refusal(run: () => unknown): PlanError {
  try {
    run()
  } catch (err) {
    if (err instanceof PlanError) return err
    throw err
  }
  throw new Error('expected a PlanError')
}

describe('versionTags', () => {
  it.each([
    ['1.2.3', ['1.2.3', '1.2', '1']],
    ['v1.2.3', ['1.2.3', '1.2', '1']],
    ['10.20.30', ['10.20.30', '10.20', '10']],
    ['v2.0.0', ['2.0.0', '2.0', '2']],
    // 0.y.z: no bare "0", which would promise nothing across minors
    ['0.4.1', ['0.4.1', '0.4']],
    ['v0.0.1', ['0.0.1', '0.0']],
    // a prerelease tags only itself: it never moves 1.2 or 1
    ['1.2.3-rc.1', ['1.2.3-rc.1']],
    ['v1.2.3-alpha', ['1.2.3-alpha']],
    ['1.0.0-0.3.7', ['1.0.0-0.3.7']],
    ['1.0.0-x-y-z.--', ['1.0.0-x-y-z.--']],
    ['', []],
  ])('%j gives %j', (version, tags) => {
    expect(versionTags(version)).toEqual(tags)
  })

  it.each([
    '1.2',
    '1',
    'v',
    'vv1.2.3',
    'V1.2.3',
    'latest',
    '01.2.3',
    '1.02.3',
    '1.2.3-01',
    '1.2.3-',
    ' 1.2.3',
    '1.2.3 ',
    'release-1.2.3',
    '1.2.3.4',
  ])('refuses %j, naming the input and the expected form', (version) => {
    const err = refusal(() => versionTags(version))
    expect(err.input).toBe('version')
    expect(err.message).toMatch(
      /^input version: .* is not a semantic version: give MAJOR\.MINOR\.PATCH/,
    )
  })

  it('refuses build metadata, which a tag cannot hold', () => {
    const err = refusal(() => versionTags('v1.2.3+build.5'))
    expect(err.message).toBe(
      'input version: "v1.2.3+build.5" has build metadata (+build.5), which an image tag cannot hold: drop the +… part',
    )
  })

  // What a caller (or whoever names its git tag) can put in the version: refused whole, shown
  // with every line break escaped so the message stays one line of the log.
  it.each([
    '1.2.3\necho PWNED',
    '1.2.3\r\n::warning::PWNED',
    '$(echo PWNED)',
    '1.2.3$(echo PWNED)',
    '`echo PWNED`',
    '1.2.3; echo PWNED',
    '1.2.3 && echo PWNED',
    '1.2.3,ghcr.io/evil/app:1',
    '1.2.3-rc.1\nfoo=bar',
    "1.2.3'",
    '1.2.3"',
    '1.2.3\u0000',
  ])('refuses the hostile version %j on one line', (version) => {
    const err = refusal(() => versionTags(version))
    expect(err.input).toBe('version')
    expect(err.message).not.toMatch(/[\r\n\u0000]/)
  })
})

describe('imageTags', () => {
  it('always tags sha-<git-sha>, first', () => {
    expect(imageTags({ version: '', sha: SHA })).toEqual([`sha-${SHA}`])
    expect(imageTags({ version: 'v1.2.3', sha: SHA })).toEqual([`sha-${SHA}`, '1.2.3', '1.2', '1'])
  })

  it('takes SHA-256 commits too', () => {
    const sha256 = 'ab'.repeat(32)
    expect(imageTags({ version: '', sha: sha256 })).toEqual([`sha-${sha256}`])
  })

  it.each(['', 'abc', SHA.toUpperCase(), `${SHA}\necho PWNED`, `${SHA.slice(0, 39)}g`])(
    'refuses the commit %j',
    (sha) => {
      expect(refusal(() => imageTags({ version: '', sha })).input).toBe('sha')
    },
  )
})

describe('imageName', () => {
  it('defaults to ghcr.io/<owner>/<repo>, lowercased', () => {
    expect(imageName({ image: '', repository: 'Acme/My-App' })).toBe('ghcr.io/acme/my-app')
  })

  it('refuses a repository name OCI cannot hold, asking for image', () => {
    expect(refusal(() => imageName({ image: '', repository: 'acme/.app' })).message).toMatch(
      /give image/,
    )
  })

  it.each([
    'ghcr.io/acme/app',
    'registry.example.com:5000/team/app',
    'localhost:5000/app',
    'localhost/app',
    'reg:5000/a/b/c',
    'docker.io/acme/my_app',
  ])('takes %j as given', (image) => {
    expect(imageName({ image, repository: 'acme/app' })).toBe(image)
  })

  it.each([
    'acme/app', // no registry: no Docker Hub shorthand is guessed
    'app',
    'ghcr.io/Acme/app',
    'ghcr.io/acme/app:1.0',
    `ghcr.io/acme/app@sha256:${'a'.repeat(64)}`,
    'ghcr.io/acme/app\necho PWNED',
    'ghcr.io/acme/$(echo PWNED)',
    'ghcr.io/acme/app,ghcr.io/evil/app',
    'ghcr.io/acme/app ',
    'ghcr.io//app',
    'ghcr.io/acme/-app',
  ])('refuses %j', (image) => {
    const err = refusal(() => imageName({ image, repository: 'acme/app' }))
    expect(err.input).toBe('image')
    expect(err.message).not.toMatch(/[\r\n]/)
  })
})

describe('platformMatrix', () => {
  it('puts each platform on its native runner', () => {
    expect(platformMatrix({ platforms: 'linux/amd64, linux/arm64', runners: '' })).toEqual({
      include: [
        { platform: 'linux/amd64', runner: 'ubuntu-24.04', slug: 'linux-amd64' },
        { platform: 'linux/arm64', runner: 'ubuntu-24.04-arm', slug: 'linux-arm64' },
      ],
    })
  })

  it('takes newline lists, drops repeats, and lets runners add or replace a platform', () => {
    const matrix = platformMatrix({
      platforms: 'linux/arm64\nlinux/arm/v7\nlinux/arm64\n',
      runners: 'linux/arm/v7=self-hosted-armv7\nlinux/arm64=arm-large',
    })
    expect(matrix.include).toEqual([
      { platform: 'linux/arm64', runner: 'arm-large', slug: 'linux-arm64' },
      { platform: 'linux/arm/v7', runner: 'self-hosted-armv7', slug: 'linux-arm-v7' },
    ])
  })

  it('refuses a platform without a known runner, saying how to name one', () => {
    expect(refusal(() => platformMatrix({ platforms: 'linux/s390x', runners: '' })).message).toBe(
      'input platforms: no native runner is known for linux/s390x: name one in runners (linux/s390x=<label>)',
    )
  })

  it.each([
    ['', ''],
    [' , ', ''],
    ['linux', ''],
    ['linux/amd64; echo PWNED', ''],
    ['linux/amd64\n$(echo PWNED)', ''],
    ['linux/amd64', 'linux/amd64=ubuntu latest'],
    ['linux/amd64', 'linux/amd64=$(echo PWNED)'],
    ['linux/amd64', 'ubuntu-24.04'],
    ['linux/amd64', 'linux/amd64="x"'],
  ])('refuses platforms %j with runners %j', (platforms, runners) => {
    const err = refusal(() => platformMatrix({ platforms, runners }))
    expect(['platforms', 'runners']).toContain(err.input)
    expect(err.message).not.toMatch(/[\r\n]/)
  })
})

describe('plan', () => {
  it('gives the outputs the workflow reads, every one a single line', () => {
    const outputs = plan({
      INPUT_IMAGE: '',
      INPUT_VERSION: 'v1.4.0',
      INPUT_PLATFORMS: 'linux/amd64,linux/arm64',
      INPUT_RUNNERS: '',
      GITHUB_REPOSITORY: 'Acme/App',
      GITHUB_SHA: SHA,
    })
    expect(outputs).toEqual({
      image: 'ghcr.io/acme/app',
      registry: 'ghcr.io',
      tags: `ghcr.io/acme/app:sha-${SHA},ghcr.io/acme/app:1.4.0,ghcr.io/acme/app:1.4,ghcr.io/acme/app:1`,
      'sha-tag': `ghcr.io/acme/app:sha-${SHA}`,
      matrix: JSON.stringify(platformMatrix({ platforms: 'linux/amd64,linux/arm64', runners: '' })),
    })
    for (const value of Object.values(outputs)) expect(value).not.toMatch(/[\r\n]/)
  })
})

describe('plan.cjs run as the workflow step runs it', () => {
  let dir: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'signet-plan-'))
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  function runPlan(env: Record<string, string>) {
    const output = join(dir, 'github-output')
    writeFileSync(output, '')
    const result = spawnSync(process.execPath, [SCRIPT], {
      env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, GITHUB_SHA: SHA, ...env },
      encoding: 'utf8',
    })
    return { ...result, written: readFileSync(output, 'utf8') }
  }

  it('appends name=value lines to $GITHUB_OUTPUT', () => {
    const run = runPlan({
      GITHUB_REPOSITORY: 'acme/app',
      INPUT_VERSION: '2.0.0-beta.1',
      INPUT_PLATFORMS: 'linux/amd64',
    })
    expect(run.status).toBe(0)
    expect(run.written.split('\n')).toEqual([
      'image=ghcr.io/acme/app',
      'registry=ghcr.io',
      `tags=ghcr.io/acme/app:sha-${SHA},ghcr.io/acme/app:2.0.0-beta.1`,
      `sha-tag=ghcr.io/acme/app:sha-${SHA}`,
      'matrix={"include":[{"platform":"linux/amd64","runner":"ubuntu-24.04","slug":"linux-amd64"}]}',
      '',
    ])
  })

  it('refuses a hostile version with one ::error:: line and writes no output', () => {
    const run = runPlan({
      GITHUB_REPOSITORY: 'acme/app',
      INPUT_VERSION: '1.2.3\n::warning::echo PWNED%0A',
      INPUT_PLATFORMS: 'linux/amd64',
    })
    expect(run.status).toBe(1)
    expect(run.written).toBe('')
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      '::error::input version: "1.2.3\\n::warning::echo PWNED%250A" is not a semantic version: ' +
        'give MAJOR.MINOR.PATCH with an optional -prerelease and a leading v at most ' +
        '(v1.2.3, 1.2.3-rc.1), or leave it empty',
    ])
    expect(run.stderr).toBe('')
  })
})
