/**
 * src/action/workflow-commands.ts writes what @actions/core 3.x writes, byte for byte: the same
 * calls, with text others control, made through each in a child process (both bundled, as the
 * action runs), give the same stdout, GITHUB_OUTPUT and job summary (the heredoc delimiters are
 * random in both, and compared as a placeholder).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { buildSync } from 'esbuild'

const ROOT = join(__dirname, '..', '..')

const HOSTILE = [
  'plain',
  '',
  'evil\n::add-mask::secret',
  'evil\r\n::error file=x.yml,line=1::forged',
  '100% sure: a, b',
  'emoji ✅ and \u2028 separator',
]

/** Every call the action makes, each with every hostile text where it takes text. */
const CALLS = `
  const texts = ${JSON.stringify(HOSTILE)}
  ;(async () => {
    for (const t of texts) {
      core.info(t)
      core.debug(t)
      core.warning(t)
      core.notice(t)
      core.error(t)
      core.setSecret(t)
      core.warning(t, {})
      core.error(t, { file: 'Dockerfile,line=9:x ' + t, startLine: 3 })
      core.warning(t, { file: t, startLine: 0 })
      core.error(t, { file: undefined, startLine: undefined })
      core.setOutput('name-' + texts.indexOf(t), t)
      core.setFailed(t)
      await core.group(t, async () => core.info('inside'))
      SUMMARY
    }
    process.stdout.write('inputs:' + JSON.stringify([core.getInput('images'), core.getInput('key password'), core.getInput('unset')]) + '\\n')
    process.stdout.write('exit code:' + process.exitCode + '\\n')
    process.exitCode = 0
  })()
`

interface Written {
  stdout: string
  output: string
  summary: string
}

function runThrough(importLine: string, summaryCall: string): Written {
  const bundle = buildSync({
    stdin: {
      contents: `${importLine}\n${CALLS.replace('SUMMARY', summaryCall)}`,
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    platform: 'node',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  })
  const dir = mkdtempSync(join(tmpdir(), 'signet-commands-'))
  try {
    const script = join(dir, 'commands.cjs')
    writeFileSync(script, bundle.outputFiles[0].text)
    const output = join(dir, 'output')
    const summary = join(dir, 'summary')
    writeFileSync(output, '')
    writeFileSync(summary, '')
    const run = spawnSync(process.execPath, [script], {
      env: {
        PATH: process.env.PATH,
        GITHUB_OUTPUT: output,
        GITHUB_STEP_SUMMARY: summary,
        INPUT_IMAGES: '  ghcr.io/acme/app:1 \n',
        INPUT_KEY_PASSWORD: 'pw',
      },
      encoding: 'utf8',
    })
    if (run.status !== 0) throw new Error(`the child failed: ${run.error ?? run.stderr}`)
    const placeholder = (text: string): string =>
      text.replace(/ghadelimiter_[0-9a-f-]{36}/g, 'ghadelimiter_<uuid>')
    return {
      stdout: run.stdout,
      output: placeholder(readFileSync(output, 'utf8')),
      summary: readFileSync(summary, 'utf8'),
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('workflow commands', () => {
  it('issue 11: write what @actions/core writes, for every call the action makes', () => {
    const ours = runThrough(
      "import * as core from './src/action/workflow-commands'",
      'await core.appendSummary(t)',
    )
    const toolkit = runThrough(
      "import * as core from '@actions/core'",
      'await core.summary.addRaw(t).write()',
    )
    expect(ours.stdout).toContain('::add-mask::evil%0A::add-mask::secret')
    expect(ours.stdout).toContain('inputs:["ghcr.io/acme/app:1","pw",""]')
    expect(ours.stdout).toContain('exit code:1')
    expect(ours.output).toContain('name-2<<ghadelimiter_<uuid>')
    expect(ours).toEqual(toolkit)
  })
})
