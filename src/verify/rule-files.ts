/**
 * Where verify mode reads the files that say whom to trust: the policy, public keys and the
 * trusted root. In a pull request the workspace is the pull request's own branch, so a check that
 * reads its rules from there lets the pull request rewrite them. `policy-ref` reads them at a
 * commit the pull request cannot change (its base) with `git show`; without it, a pull-request run
 * is told when its branch changes the files it was checked against.
 */
import type * as ChildProcess from 'node:child_process'
import { readFileSync, realpathSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { describeError, SignetError } from '../errors'
import { INPUT } from '../inputs'

/** Reads one of the rule files by its path as written (relative to the workspace). */
export type RuleFileReader = (path: string) => string

export interface RuleFiles {
  read: RuleFileReader
  /** Where the files were read, for the summary: "the workspace" or "commit abc123…". */
  describe: string
  /**
   * Safety notes for the summary: which files the pull request changes. Call after every file was
   * read (it compares what was read with the workspace, or the workspace with the base commit).
   */
  notes(): string[]
}

const COMMIT_RE = /^[0-9a-f]{40}([0-9a-f]{24})?$/

function git(cwd: string, args: string[]): string {
  // Required here: git runs for pull requests and policy-ref only, and loading child_process was a
  // cost of every run's start-up (issue 11).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { execFileSync } = require('node:child_process') as typeof ChildProcess
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  })
}

function hasCommit(cwd: string, ref: string): boolean {
  try {
    git(cwd, ['cat-file', '-e', `${ref}^{commit}`])
    return true
  } catch {
    return false
  }
}

/**
 * The path of `path` (relative to `cwd`) inside the repository, as `git show` names it; undefined
 * for a file outside the repository (e.g. a trusted root a step wrote to RUNNER_TEMP), which is no
 * file of the pull request's and is read from disk.
 */
function repositoryPath(cwd: string, path: string): string | undefined {
  let top: string
  try {
    top = git(cwd, ['rev-parse', '--show-toplevel']).trim()
  } catch (err) {
    throw new SignetError(
      'INPUT_INVALID',
      `input ${INPUT.policyRef}: the workspace is not a git checkout (${describeError(err)}); check out the repository (actions/checkout) before this step`,
      { input: INPUT.policyRef, cause: err },
    )
  }
  const inside = relative(realpathSync(top), realOrResolved(resolve(cwd, path)))
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return undefined
  return inside.split('\\').join('/')
}

/** The real path of a file, or of its folder when the file itself is not on disk. */
function realOrResolved(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    try {
      return join(realpathSync(dirname(path)), basename(path))
    } catch {
      return path
    }
  }
}

function readWorkspace(cwd: string, path: string): string | undefined {
  try {
    return readFileSync(resolve(cwd, path), 'utf8')
  } catch {
    return undefined
  }
}

/** The base commit of the pull request this run is for, from the event payload. */
export function pullRequestBase(env: NodeJS.ProcessEnv): string | undefined {
  const event = env.GITHUB_EVENT_NAME ?? ''
  if (!event.startsWith('pull_request') || !env.GITHUB_EVENT_PATH) return undefined
  try {
    const payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8')) as {
      pull_request?: { base?: { sha?: unknown } }
    }
    const sha = payload.pull_request?.base?.sha
    return typeof sha === 'string' && COMMIT_RE.test(sha) ? sha : undefined
  } catch {
    return undefined
  }
}

/**
 * The rule files of a run. `inputFor(path)` names the input a path came from, for errors; `ref` is
 * the `policy-ref` input.
 */
export function ruleFiles(options: {
  cwd: string
  env: NodeJS.ProcessEnv
  ref?: string
  inputFor: (path: string) => string
}): RuleFiles {
  const { cwd, env, ref, inputFor } = options
  const read = new Map<string, string>()
  const base = pullRequestBase(env)

  if (!ref) {
    return {
      describe: 'the workspace',
      read: (path) => {
        const text = readFileSync(resolve(cwd, path), 'utf8')
        read.set(path, text)
        return text
      },
      notes: () => {
        if (read.size === 0 || base === undefined) return []
        const changed = hasCommit(cwd, base)
          ? [...read].filter(([path, text]) => {
              try {
                return git(cwd, ['show', `${base}:./${path}`]) !== text
              } catch {
                return true // not there at the base: the pull request added it
              }
            })
          : undefined
        const names = [...read.keys()].join(', ')
        if (changed === undefined)
          return [
            `This pull request run read ${names} from the pull request's own checkout, which the pull request can change. ` +
              'Set policy-ref: ${{ github.event.pull_request.base.sha }} to read them at the base commit.',
          ]
        if (changed.length === 0) return []
        return [
          `This pull request changes ${changed.map(([p]) => p).join(', ')}, and the check used the pull request's version. ` +
            'Set policy-ref: ${{ github.event.pull_request.base.sha }} so that a pull request cannot rewrite its own policy.',
        ]
      },
    }
  }

  if (!/^[A-Za-z0-9][A-Za-z0-9._/^~@{}-]*$/.test(ref) || ref.includes('..')) {
    throw new SignetError(
      'INPUT_INVALID',
      `input ${INPUT.policyRef}: "${ref}" is not a commit or ref name; give a commit SHA such as \${{ github.event.pull_request.base.sha }}`,
      { input: INPUT.policyRef },
    )
  }
  let fetched = false
  const ensureCommit = (): void => {
    if (fetched || hasCommit(cwd, ref)) {
      fetched = true
      return
    }
    // actions/checkout fetches one commit by default; fetch the base commit alone.
    try {
      git(cwd, ['fetch', '--no-tags', '--depth=1', 'origin', ref])
    } catch {
      // Reported below, with what to do.
    }
    if (!hasCommit(cwd, ref)) {
      throw new SignetError(
        'INPUT_INVALID',
        `input ${INPUT.policyRef}: commit ${ref} is not in the checkout and could not be fetched; use actions/checkout with fetch-depth: 0 (or fetch the base commit) before this step`,
        { input: INPUT.policyRef },
      )
    }
    fetched = true
  }

  return {
    describe: `commit ${ref}`,
    read: (path) => {
      ensureCommit()
      const input = inputFor(path)
      const inRepo = repositoryPath(cwd, path)
      if (inRepo === undefined) return readFileSync(resolve(cwd, path), 'utf8')
      let text: string
      try {
        text = git(cwd, ['show', `${ref}:${inRepo}`])
      } catch {
        throw new SignetError(
          'INPUT_INVALID',
          `input ${input}: ${path} does not exist at ${INPUT.policyRef} ${ref}; add it on the base branch first (a pull request cannot bring its own policy)`,
          { input },
        )
      }
      read.set(path, text)
      return text
    },
    notes: () => {
      const changed = [...read].filter(([path, text]) => readWorkspace(cwd, path) !== text)
      if (changed.length === 0) return []
      return [
        `This run's checkout changes ${changed.map(([p]) => p).join(', ')}; Signet checked against the version at ${ref} (policy-ref), not the changed one.`,
      ]
    },
  }
}
