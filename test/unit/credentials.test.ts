import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import {
  createCredentialProvider,
  normalizeRegistryKey,
  runCredentialHelper,
} from '../../src/registry/credentials'

const b64 = (s: string): string => Buffer.from(s).toString('base64')

let dir: string
let binDir: string
let env: NodeJS.ProcessEnv

/**
 * A docker-credential-test that behaves like a real helper: the server URL on stdin, JSON on
 * stdout, "credentials not found" with exit 1 when it has nothing. Each call is logged.
 */
const HELPER = `#!/bin/sh
read -r server
echo "$server" >> "$HELPER_LOG"
case "$server" in
  https://index.docker.io/v1/) echo '{"ServerURL":"'$server'","Username":"hubuser","Secret":"hubsecret"}' ;;
  helped.example.com) echo '{"ServerURL":"'$server'","Username":"helper-user","Secret":"helper-secret"}' ;;
  tokened.example.com) echo '{"ServerURL":"'$server'","Username":"<token>","Secret":"refresh-me"}' ;;
  broken.example.com) echo 'helper exploded' >&2; exit 2 ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'signet-creds-'))
  binDir = join(dir, 'bin')
  await writeFile(join(dir, 'helper.log'), '')
  await mkdir(binDir)
  await writeFile(join(binDir, 'docker-credential-test'), HELPER)
  await chmod(join(binDir, 'docker-credential-test'), 0o755)
  env = {
    PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`,
    HELPER_LOG: join(dir, 'helper.log'),
    DOCKER_CONFIG: dir,
  }
})

afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function writeConfig(config: unknown): Promise<void> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(config))
}

async function helperCalls(): Promise<string[]> {
  return (await readFile(join(dir, 'helper.log'), 'utf8')).split('\n').filter(Boolean)
}

describe('normalizeRegistryKey', () => {
  it.each([
    ['https://index.docker.io/v1/', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['https://ghcr.io', 'ghcr.io'],
    ['GHCR.io', 'ghcr.io'],
    ['http://localhost:5000/v2/', 'localhost:5000'],
    ['ghcr.io:8443', 'ghcr.io:8443'],
  ])('%s → %s', (key, want) => expect(normalizeRegistryKey(key)).toBe(want))

  it.each([
    ['ghcr.io:443', 'ghcr.io'],
    ['https://GHCR.io:443/v2/', 'ghcr.io'],
    ['docker.io:443', 'docker.io'],
    ['index.docker.io:443', 'docker.io'],
    ['registry-1.docker.io:443', 'docker.io'],
    ['https://registry.hub.docker.com:443/v2/', 'docker.io'],
  ])('issue 8.8: %s → %s', (key, want) => expect(normalizeRegistryKey(key)).toBe(want))
})

describe('issue 8.8: explicit credentials match the normalised host, and only it', () => {
  const explicit = { username: 'u', password: 'registry-password', registries: ['GHCR.io'] }

  it('issue 8.8: registry-password goes to every spelling of the host named, and no other host', async () => {
    const p = createCredentialProvider({ env, explicit })
    for (const host of ['ghcr.io', 'ghcr.io:443', 'GHCR.IO:0443']) {
      expect((await p.get(host))?.password).toBe('registry-password')
    }
    for (const host of [
      'ghcr.io:80',
      'ghcr.io:8443',
      'ghcr.io.evil.example',
      'evil.example',
      'registry-1.docker.io',
    ]) {
      expect(await p.get(host)).toBeUndefined()
    }
  })

  it('issue 8.8: credentials given for docker.io:443 are Docker Hub’s', async () => {
    const p = createCredentialProvider({
      env,
      explicit: { ...explicit, registries: ['docker.io:443'] },
    })
    expect((await p.get('registry-1.docker.io'))?.password).toBe('registry-password')
  })
})

describe('docker config auths', () => {
  it('reads auth (base64 user:pass), with keys as host, https://host or the Hub v1 URL', async () => {
    await writeConfig({
      auths: {
        'https://index.docker.io/v1/': { auth: b64('hub:pw:with:colons') },
        'https://ghcr.io': { auth: b64('gh:ghpw') },
        'localhost:5000': { auth: b64('local:localpw') },
      },
    })
    const p = createCredentialProvider({ env })
    expect(await p.get('registry-1.docker.io')).toMatchObject({
      username: 'hub',
      password: 'pw:with:colons',
    })
    expect(await p.get('ghcr.io')).toMatchObject({ username: 'gh', password: 'ghpw' })
    expect(await p.get('localhost:5000')).toMatchObject({ username: 'local', password: 'localpw' })
    expect(await p.get('localhost:5001')).toBeUndefined()
    expect((await p.get('ghcr.io'))?.source).toContain(join(dir, 'config.json'))
  })

  it('reads username/password fields and identitytoken', async () => {
    await writeConfig({
      auths: {
        'reg.example.com': { username: 'u', password: 'p' },
        'id.example.com': { auth: b64('<token>:'), identitytoken: 'refresh' },
        'empty.example.com': {},
      },
    })
    const p = createCredentialProvider({ env })
    expect(await p.get('reg.example.com')).toMatchObject({ username: 'u', password: 'p' })
    expect(await p.get('id.example.com')).toMatchObject({ identityToken: 'refresh' })
    expect(await p.get('empty.example.com')).toBeUndefined()
  })

  it('prefers an exact key over a normalised one', async () => {
    await writeConfig({
      auths: {
        'https://reg.example.com/v2/': { auth: b64('loose:1') },
        'reg.example.com': { auth: b64('exact:2') },
      },
    })
    expect(await createCredentialProvider({ env }).get('reg.example.com')).toMatchObject({
      username: 'exact',
    })
  })

  it('reads config.json from dockerConfigDir, which beats DOCKER_CONFIG', async () => {
    const other = join(dir, 'other')
    await mkdir(other)
    await writeFile(
      join(other, 'config.json'),
      JSON.stringify({ auths: { 'reg.example.com': { auth: b64('o:p') } } }),
    )
    await writeConfig({ auths: { 'reg.example.com': { auth: b64('u:p') } } })
    expect(await createCredentialProvider({ env }).get('reg.example.com')).toMatchObject({
      username: 'u',
    })
    expect(
      await createCredentialProvider({ env, dockerConfigDir: other }).get('reg.example.com'),
    ).toMatchObject({ username: 'o' })
  })

  it('survives a missing or malformed config', async () => {
    const log = jest.fn()
    expect(await createCredentialProvider({ env, log }).get('ghcr.io')).toBeUndefined()
    expect(log).not.toHaveBeenCalled()
    await writeFile(join(dir, 'config.json'), '{not json')
    expect(await createCredentialProvider({ env, log }).get('ghcr.io')).toBeUndefined()
    expect(log).toHaveBeenCalledWith(expect.stringContaining('not valid JSON'))
  })
})

describe('credential helpers', () => {
  it('runs credHelpers[host] with the server URL on stdin', async () => {
    await writeConfig({
      credHelpers: { 'helped.example.com': 'test', 'https://index.docker.io/v1/': 'test' },
      auths: { 'helped.example.com': { auth: b64('ignored:x') } },
    })
    const p = createCredentialProvider({ env })
    expect(await p.get('helped.example.com')).toEqual({
      username: 'helper-user',
      password: 'helper-secret',
      source: 'docker-credential-test',
    })
    expect(await p.get('registry-1.docker.io')).toMatchObject({ username: 'hubuser' })
    expect(await helperCalls()).toEqual(['helped.example.com', 'https://index.docker.io/v1/'])
  })

  it('treats the <token> username as an identity token', async () => {
    await writeConfig({ credHelpers: { 'tokened.example.com': 'test' } })
    expect(await createCredentialProvider({ env }).get('tokened.example.com')).toEqual({
      identityToken: 'refresh-me',
      source: 'docker-credential-test',
    })
  })

  it('uses only the host helper (as Docker does), but falls back from credsStore to auths', async () => {
    await writeConfig({
      credHelpers: { 'unknown.example.com': 'test' },
      credsStore: 'test',
      auths: {
        'unknown.example.com': { auth: b64('a:b') },
        'stored.example.com': { auth: b64('c:d') },
      },
    })
    const p = createCredentialProvider({ env })
    expect(await p.get('unknown.example.com')).toBeUndefined()
    expect(await p.get('stored.example.com')).toMatchObject({ username: 'c', password: 'd' })
    expect(await p.get('helped.example.com')).toMatchObject({ username: 'helper-user' })
  })

  it('asks a helper once per host', async () => {
    await writeConfig({ credsStore: 'test' })
    const p = createCredentialProvider({ env })
    await Promise.all([p.get('helped.example.com'), p.get('helped.example.com')])
    await p.get('helped.example.com')
    expect(await helperCalls()).toEqual(['helped.example.com'])
  })

  it('logs and goes on when a helper fails or is missing', async () => {
    await writeConfig({
      credHelpers: { 'broken.example.com': 'test', 'missing.example.com': 'absent' },
    })
    const log = jest.fn()
    const p = createCredentialProvider({ env, log })
    expect(await p.get('broken.example.com')).toBeUndefined()
    expect(await p.get('missing.example.com')).toBeUndefined()
    expect(log.mock.calls.map((c) => c[0]).join('\n')).toMatch(
      /helper exploded[\s\S]*docker-credential-absent is not on PATH/,
    )
  })

  it('rejects helper names that are not plain names', async () => {
    await expect(runCredentialHelper('../evil', 'x', env)).rejects.toThrow(
      'invalid credential helper',
    )
  })
})

describe('precedence', () => {
  beforeEach(async () => {
    await writeConfig({ auths: { 'ghcr.io': { auth: b64('docker-login:pat') } } })
  })

  it('explicit inputs win for the registries they are given for, and only those', async () => {
    const p = createCredentialProvider({
      env,
      explicit: {
        username: 'me',
        password: 'secret',
        registries: ['ghcr.io', 'registry-1.docker.io'],
      },
      githubToken: 'ghs_x',
    })
    expect(await p.get('ghcr.io')).toEqual({
      username: 'me',
      password: 'secret',
      source: 'the registry-username and registry-password inputs',
    })
    expect(await p.get('registry-1.docker.io')).toMatchObject({ username: 'me' })
    expect(await p.get('quay.io')).toBeUndefined()
  })

  it('docker config beats github-token for ghcr.io', async () => {
    const p = createCredentialProvider({ env, githubToken: 'ghs_x' })
    expect(await p.get('ghcr.io')).toMatchObject({ username: 'docker-login', password: 'pat' })
  })

  it('github-token is used for ghcr.io only, with the actor as username', async () => {
    await writeConfig({})
    const p = createCredentialProvider({
      env: { ...env, GITHUB_ACTOR: 'octocat' },
      githubToken: 'ghs_x',
    })
    expect(await p.get('ghcr.io')).toEqual({
      username: 'octocat',
      password: 'ghs_x',
      source: 'the github-token input',
    })
    expect(await p.get('quay.io')).toBeUndefined()
    const outside = createCredentialProvider({ env, githubToken: 'ghs_x' })
    expect(await outside.get('ghcr.io')).toMatchObject({ username: 'x-access-token' })
  })

  it('anonymous when nothing matches', async () => {
    expect(await createCredentialProvider({ env }).get('quay.io')).toBeUndefined()
  })
})
