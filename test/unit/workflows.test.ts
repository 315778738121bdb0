/**
 * The reusable workflows (.github/workflows/publish-image.yml, verify-images.yml) and the callers
 * the README shows (docs/examples/*.yml): judged by GitHub's own workflow parser and by actionlint
 * (scripts/workflow/lint-workflows.ts), then checked for what those tools do not know: the
 * permissions each job needs and each caller grants, every third-party action pinned by commit,
 * no expression inside a run: script, every output wired to something that exists, Signet taken
 * from the commit the caller pinned, and the README's snippets byte for byte the tested files.
 */
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse } from 'yaml'
import { plan } from '../../scripts/workflow/plan.cjs'
import { parsePolicy } from '../../src/policy/policy'

const ROOT = resolve(__dirname, '../..')
const REUSABLE = ['.github/workflows/publish-image.yml', '.github/workflows/verify-images.yml']
const EXAMPLES = ['docs/examples/publish-caller.yml', 'docs/examples/verify-caller.yml']

type Mapping = Record<string, unknown>
interface Step {
  id?: string
  uses?: string
  run?: string
  with?: Mapping
  env?: Mapping
}
interface Job {
  needs?: string | string[]
  permissions?: Record<string, string>
  outputs?: Record<string, string>
  steps?: Step[]
  uses?: string
  with?: Mapping
  secrets?: unknown
}
interface Workflow {
  on: { workflow_call?: { inputs?: Mapping; outputs?: Record<string, { value: string }> } }
  permissions?: Record<string, string>
  jobs: Record<string, Job>
}

const text = (path: string) => readFileSync(join(ROOT, path), 'utf8')
const workflow = (path: string) => parse(text(path)) as Workflow
const needsOf = (job: Job) => (job.needs === undefined ? [] : [job.needs].flat())
const expressions = (value: string) => [...value.matchAll(/\$\{\{(.*?)\}\}/g)].map((m) => m[1])

const action = parse(text('action.yml')) as {
  inputs: Mapping
  outputs: Mapping
}

describe('GitHub workflow parser and actionlint', () => {
  let problems: { file: string; tool: string; line: number; message: string }[]

  beforeAll(() => {
    const run = spawnSync(
      join(ROOT, 'node_modules/.bin/node'),
      ['scripts/run-ts.mjs', 'scripts/workflow/lint-workflows.ts', ...REUSABLE, ...EXAMPLES],
      { cwd: ROOT, encoding: 'utf8' },
    )
    if (run.status !== 0) throw new Error(`lint-workflows failed: ${run.stderr}`)
    problems = (JSON.parse(run.stdout) as { problems: typeof problems }).problems
  })

  // GitHub documents job.workflow_repository and job.workflow_sha (the job context, 2026-04);
  // actionlint's type of `job` predates them (rhysd/actionlint#647, #705 open). Those two
  // messages, and only on the lines that check Signet out, are let through.
  const actionlintPredatesJobWorkflow = (p: (typeof problems)[number]) =>
    p.tool === 'actionlint' &&
    /^property "(workflow_repository|workflow_sha)" is not defined in object type \{container: /.test(
      p.message,
    ) &&
    /^\s+(repository: \$\{\{ job\.workflow_repository \}\}|ref: \$\{\{ job\.workflow_sha \}\})$/.test(
      text(p.file).split('\n')[p.line - 1],
    )

  it('find nothing wrong in the reusable workflows and the README callers', () => {
    expect(problems.filter((p) => !actionlintPredatesJobWorkflow(p))).toEqual([])
  })

  it('ran: actionlint did read the files (the let-through messages are there)', () => {
    expect(problems.filter(actionlintPredatesJobWorkflow).length).toBeGreaterThan(0)
  })
})

describe.each(REUSABLE)('%s', (path) => {
  const wf = workflow(path)
  const jobs = Object.entries(wf.jobs)
  const steps = jobs.flatMap(([, job]) => job.steps ?? [])

  it('is a reusable workflow that grants nothing by default', () => {
    expect(wf.on).toHaveProperty('workflow_call')
    expect(wf.permissions).toEqual({})
  })

  it('pins every third-party action by full commit, with the release in a comment', () => {
    const lines = text(path)
      .split('\n')
      .filter((l) => /^\s*(- )?uses:/.test(l))
    expect(lines.length).toBeGreaterThan(0)
    for (const line of lines) {
      if (line.trim().endsWith('uses: ./.signet')) continue
      expect(line).toMatch(/uses: [\w.-]+\/[\w./-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+$/)
    }
  })

  it('puts no expression in a run: script (inputs reach scripts through env:)', () => {
    const runs = steps.filter((s) => s.run !== undefined)
    expect(runs.length).toBeGreaterThanOrEqual(path.includes('publish') ? 1 : 0)
    for (const step of runs) expect(step.run).not.toContain('${{')
  })

  it('runs Signet from its own repository at the commit the caller pinned', () => {
    for (const [, job] of jobs) {
      const list = job.steps ?? []
      const signet = list.findIndex((s) => s.uses === './.signet')
      const planned = list.findIndex((s) => s.run?.includes('.signet/') === true)
      if (signet < 0 && planned < 0) continue
      const checkout = list.findIndex(
        (s) =>
          s.uses?.startsWith('actions/checkout@') === true &&
          s.with?.repository === '${{ job.workflow_repository }}' &&
          s.with.ref === '${{ job.workflow_sha }}' &&
          s.with.path === '.signet' &&
          s.with['persist-credentials'] === false,
      )
      expect(checkout).toBeGreaterThanOrEqual(0)
      expect(checkout).toBeLessThan(Math.max(signet, planned))
      // A later checkout into the workspace root would wipe .signet.
      for (const s of list.slice(checkout + 1)) {
        if (s.uses?.startsWith('actions/checkout@')) expect(s.with?.path).toBeDefined()
      }
    }
  })

  it('gives Signet only inputs action.yml has', () => {
    const signetSteps = steps.filter((s) => s.uses === './.signet')
    expect(signetSteps).toHaveLength(1)
    for (const key of Object.keys(signetSteps[0].with ?? {})) {
      expect(Object.keys(action.inputs)).toContain(key)
    }
  })

  it('wires every output to a job output, a step output or a needs output that exists', () => {
    const workflowOutputs = wf.on.workflow_call?.outputs ?? {}
    expect(Object.keys(workflowOutputs).length).toBeGreaterThan(0)
    for (const [name, { value }] of Object.entries(workflowOutputs)) {
      const m = /^\$\{\{ jobs\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(value)
      expect([name, m]).not.toEqual([name, null])
      expect(Object.keys(wf.jobs[m![1]].outputs ?? {})).toContain(m![2])
    }
    for (const [jobName, job] of jobs) {
      for (const value of Object.values(job.outputs ?? {})) {
        const step = /^\$\{\{ steps\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(value)
        const need = /^\$\{\{ needs\.([\w-]+)\.outputs\.([\w-]+) \}\}$/.exec(value)
        expect([jobName, value, step ?? need]).not.toEqual([jobName, value, null])
        if (step) {
          const producer = (job.steps ?? []).find((s) => s.id === step[1])
          expect(producer).toBeDefined()
          if (producer!.uses === './.signet') expect(Object.keys(action.outputs)).toContain(step[2])
        }
        if (need) {
          expect(needsOf(job)).toContain(need[1])
          expect(Object.keys(wf.jobs[need[1]].outputs ?? {})).toContain(need[2])
        }
      }
    }
  })

  it('reads only inputs it declares', () => {
    const declared = Object.keys(wf.on.workflow_call?.inputs ?? {})
    for (const expr of expressions(text(path))) {
      for (const m of expr.matchAll(/\binputs\.([\w-]+)/g)) expect(declared).toContain(m[1])
    }
  })
})

describe('publish-image.yml', () => {
  const wf = workflow('.github/workflows/publish-image.yml')

  it('signs in one job with id-token: write and packages: write; builds without id-token', () => {
    expect(wf.jobs.publish.permissions).toEqual({
      contents: 'read',
      packages: 'write',
      'id-token': 'write',
    })
    expect(wf.jobs.build.permissions).toEqual({ contents: 'read', packages: 'write' })
    expect(wf.jobs.plan.permissions).toEqual({ contents: 'read' })
  })

  it('builds one job per platform from the plan, and merges after all of them', () => {
    const build = wf.jobs.build as Job & { strategy: { matrix: string }; 'runs-on': string }
    expect(build.strategy.matrix).toBe('${{ fromJSON(needs.plan.outputs.matrix) }}')
    expect(build['runs-on']).toBe('${{ matrix.runner }}')
    const push = build.steps!.find((s) => s.uses?.startsWith('docker/build-push-action@'))!
    expect(push.with?.platforms).toBe('${{ matrix.platform }}')
    expect(push.with?.outputs).toContain('push-by-digest=true')
    expect(push.with?.sbom).toBe(true)
    expect(needsOf(wf.jobs.publish)).toEqual(['plan', 'build'])
  })

  it('takes its plan from scripts/workflow/plan.cjs, every output it reads', () => {
    const step = wf.jobs.plan.steps!.find((s) => s.id === 'plan')!
    expect(step.run).toBe('node .signet/scripts/workflow/plan.cjs')
    for (const value of Object.values(step.env ?? {})) {
      expect(value).toMatch(/^\$\{\{ inputs\.[\w-]+ \}\}$/)
    }
    const produced = Object.keys(
      plan({
        GITHUB_REPOSITORY: 'a/b',
        GITHUB_SHA: 'a'.repeat(40),
        INPUT_PLATFORMS: 'linux/amd64',
      }),
    )
    for (const value of Object.values(wf.jobs.plan.outputs ?? {})) {
      expect(produced).toContain(/steps\.plan\.outputs\.([\w-]+)/.exec(value)![1])
    }
  })

  it('signs the merged index by digest, with the build SBOMs and provenance', () => {
    const sign = wf.jobs.publish.steps!.find((s) => s.uses === './.signet')!
    expect(sign.with).toMatchObject({
      images: '${{ needs.plan.outputs.image }}@${{ steps.merge.outputs.digest }}',
      sbom: 'signet-sbom/*.spdx.json',
      provenance: true,
    })
    expect(Object.keys(wf.on.workflow_call!.outputs!)).toEqual(
      expect.arrayContaining(['image', 'digest', 'certificate-identity', 'verify-command']),
    )
  })
})

describe('verify-images.yml', () => {
  const wf = workflow('.github/workflows/verify-images.yml')

  it('needs no id-token and no write permission', () => {
    expect(wf.jobs.verify.permissions).toEqual({ contents: 'read', packages: 'read' })
  })

  it('verifies against the policy at the pull request base commit, after a deep enough checkout', () => {
    const steps = wf.jobs.verify.steps!
    const sign = steps.find((s) => s.uses === './.signet')!
    expect(sign.with).toMatchObject({
      mode: 'verify',
      dockerfile: '${{ inputs.dockerfile }}',
      policy: '${{ inputs.policy }}',
      'policy-ref': '${{ github.event.pull_request.base.sha }}',
    })
    const checkout = steps.find(
      (s) => s.uses?.startsWith('actions/checkout@') && s.with?.path === undefined,
    )!
    expect(Number(checkout.with?.['fetch-depth'])).toBeGreaterThanOrEqual(2)
  })
})

describe.each(EXAMPLES)('the README caller %s', (path) => {
  const wf = workflow(path)
  const [name, caller] = Object.entries(wf.jobs).find(([, job]) => job.uses !== undefined)!
  const called = /^acme\/signet\/(\.github\/workflows\/[\w-]+\.yml)@(.+)$/.exec(caller.uses!)!

  it('calls a reusable workflow of this repository, pinned by commit', () => {
    expect(called).not.toBeNull()
    expect(REUSABLE).toContain(called[1])
    // The placeholder the README tells readers to replace with the full commit.
    expect(called[2]).toBe('<sha>')
    expect(text(path)).toContain(`${caller.uses} # vX.Y.Z`)
  })

  it('passes secrets: inherit and grants every permission the called jobs ask for', () => {
    expect(caller.secrets).toBe('inherit')
    const levels: Record<string, number> = { none: 0, read: 1, write: 2 }
    for (const job of Object.values(workflow(called[1]).jobs)) {
      for (const [scope, level] of Object.entries(job.permissions ?? {})) {
        const granted = caller.permissions?.[scope] ?? 'none'
        expect(`${scope}: ${granted}`).toBe(
          levels[granted] >= levels[level] ? `${scope}: ${granted}` : `${scope}: ${level}`,
        )
      }
    }
  })

  it('reads only outputs the called workflow has', () => {
    const outputs = Object.keys(workflow(called[1]).on.workflow_call?.outputs ?? {})
    for (const expr of expressions(text(path))) {
      for (const m of expr.matchAll(new RegExp(`needs\\.${name}\\.outputs\\.([\\w-]+)`, 'g'))) {
        expect(outputs).toContain(m[1])
      }
    }
  })

  it('is in the README byte for byte', () => {
    const blocks = [...text('README.md').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1])
    expect(blocks).toContain(text(path))
  })
})

describe('the README policy for what publish-image.yml signs', () => {
  const block = [...text('README.md').matchAll(/^```yaml\n([\s\S]*?)^```$/gm)]
    .map((m) => m[1])
    .find((b) => b.startsWith('rules:') && b.includes('acme/signet/'))!

  it('is a valid Signet policy pinning the caller', () => {
    const policy = parsePolicy(block, 'README.md')
    expect(policy.rules).toHaveLength(1)
    expect(block).toMatch(/sourceRepository: acme\/app/)
  })

  it('expects the reusable workflow at any commit, and nothing else', () => {
    const regexp = /identityRegexp: (\S+)/.exec(block)![1]
    const whole = new RegExp(`^(?:${regexp})$`)
    const at = (ref: string) =>
      `https://github.com/acme/signet/.github/workflows/publish-image.yml@${ref}`
    expect(whole.test(at('0123456789abcdef0123456789abcdef01234567'))).toBe(true)
    expect(whole.test(at('refs/heads/main'))).toBe(false)
    expect(whole.test(at('0123456789abcdef0123456789abcdef01234567x'))).toBe(false)
    expect(
      whole.test(
        'https://github.com/acme/signet/.github/workflows/verify-images.yml@0123456789abcdef0123456789abcdef01234567',
      ),
    ).toBe(false)
  })
})
