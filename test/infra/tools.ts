/** Where the real judges live. scripts/install-test-tools.sh puts them there; tests never skip them. */
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'

export const TOOLS_DIR = process.env.SIGNET_TOOLS ?? join(homedir(), '.cache', 'signet-tools')

export type ToolName =
  'cosign3' | 'cosign2' | 'crane' | 'oras' | 'docker-registry' | 'htpasswd' | 'tinyproxy'

export function toolPath(name: ToolName): string {
  if (name === 'docker-registry' || name === 'htpasswd' || name === 'tinyproxy') {
    for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
      if (existsSync(join(dir, name))) return join(dir, name)
    }
    throw new Error(`${name} is not installed: run scripts/install-test-tools.sh`)
  }
  const path = join(TOOLS_DIR, 'bin', name)
  if (!existsSync(path))
    throw new Error(`${name} is not installed at ${path}: run scripts/install-test-tools.sh`)
  return path
}

export function hasTool(name: ToolName): boolean {
  try {
    toolPath(name)
    return true
  } catch {
    return false
  }
}

/** Runs a tool, returning stdout; throws with stderr on a non-zero exit. */
export function runTool(
  name: ToolName,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; cwd?: string } = {},
): string {
  try {
    return execFileSync(toolPath(name), args, {
      env: { ...process.env, ...options.env },
      input: options.input,
      cwd: options.cwd,
      encoding: 'utf8',
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: 120_000,
    })
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string }
    throw new Error(
      `${name} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}${e.message}`,
    )
  }
}

/**
 * Runs a tool without blocking the event loop: needed whenever the tool talks to a server that
 * lives in this process (the Sigstore stand-in, the in-memory registry), which a synchronous
 * spawn would starve.
 */
export async function runToolAsync(
  name: ToolName,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<string> {
  const { execFile } = await import('node:child_process')
  return new Promise((resolve, reject) => {
    execFile(
      toolPath(name),
      args,
      {
        env: { ...process.env, ...options.env },
        cwd: options.cwd,
        timeout: 120_000,
        maxBuffer: 64 << 20,
      },
      (err, stdout, stderr) => {
        if (err)
          reject(new Error(`${name} ${args.join(' ')} failed: ${stderr}${stdout}${err.message}`))
        else resolve(stdout)
      },
    )
  })
}
