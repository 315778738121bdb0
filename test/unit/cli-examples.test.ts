/**
 * Issue 13.2: the README's command-line snippets are the tested files in docs/examples, and every
 * `signet` command in them is one the CLI takes: its flags parse and its inputs read, with the
 * pipeline's variables given plausible values.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { parseArgs } from '../../src/cli/args'
import { INPUT, readInputs } from '../../src/inputs'

const ROOT = join(__dirname, '..', '..')
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8')

const VARIABLES: Record<string, string> = {
  IMAGE: 'registry.gitlab.com/acme/app',
  DIGEST: `sha256:${'c'.repeat(64)}`,
  SIGNET: 'github:acme/signet#0123456789abcdef0123456789abcdef01234567',
  CI_REGISTRY_USER: 'gitlab-ci-token',
  CI_REGISTRY_PASSWORD: 'job-token',
}

/** Words of one shell command line: quotes and `$VAR`/`"$VAR"` as the shell reads them here. */
function shellWords(line: string): string[] {
  const words: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  for (const m of line.matchAll(re)) {
    const text = m[2] ?? m[1] ?? m[3]
    words.push(
      m[2] !== undefined
        ? text
        : text.replace(/\$(\w+)/g, (_, v: string) => VARIABLES[v] ?? `$${v}`),
    )
  }
  return words
}

/** The argv after `npx --yes <package>` of every signet command in a script. */
function signetCommands(lines: string[]): string[][] {
  return lines
    .map(shellWords)
    .filter((w) => w[0] === 'npx')
    .map((w) => {
      expect(w.slice(0, 2)).toEqual(['npx', '--yes'])
      expect(w[2]).toMatch(/^github:acme\/signet#[0-9a-f]{40}$/)
      return w.slice(3)
    })
}

function expectAccepted(argv: string[]): void {
  const args = parseArgs(argv)
  expect(args.command).toBeDefined()
  const inputs = readInputs((name) =>
    name === INPUT.mode ? (args.command as string) : (args.inputs[name] ?? ''),
  )
  expect(inputs.mode).toBe(args.command)
}

describe('README command-line snippets', () => {
  const readme = read('README.md')

  it.each(['docs/examples/gitlab-ci.yml', 'docs/examples/laptop-verify.sh'])(
    '%s is in the README verbatim',
    (path) => {
      expect(readme).toContain(read(path))
    },
  )

  it('the GitLab pipeline signs with an id_token for Sigstore, and its command is valid', () => {
    const pipeline = parseYaml(read('docs/examples/gitlab-ci.yml')) as {
      sign: { id_tokens: Record<string, { aud: string }>; script: string[] }
    }
    expect(pipeline.sign.id_tokens).toEqual({ SIGSTORE_ID_TOKEN: { aud: 'sigstore' } })
    const commands = signetCommands(pipeline.sign.script)
    expect(commands).toHaveLength(1)
    expectAccepted(commands[0])
    const args = parseArgs(commands[0])
    expect(args.inputs).toMatchObject({
      images: `${VARIABLES.IMAGE}@${VARIABLES.DIGEST}`,
      sbom: 'sbom.cdx.json',
      'predicate-type': 'https://cosign.sigstore.dev/attestation/vuln/v1',
    })
  })

  it('the laptop commands are valid', () => {
    const script = read('docs/examples/laptop-verify.sh').replace(/\\\n\s*/g, ' ')
    const commands = signetCommands(script.split('\n'))
    expect(commands).toHaveLength(2)
    for (const argv of commands) expectAccepted(argv)
  })
})
