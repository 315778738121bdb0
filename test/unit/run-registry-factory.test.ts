/**
 * The runs get their registry client from the front door's factory and name the registries the
 * workflow chose: registry-username/password go to those only, never to a host that only a
 * Dockerfile names (issue 8.3; the action test in verify-attacker.test.ts checks it on the wire).
 */
import { generateKeyPairSync } from 'node:crypto'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readInputs } from '../../src/inputs'
import type { Registry } from '../../src/registry/types'
import { silentLogger } from '../../src/report/types'
import { runSign } from '../../src/sign/run'
import { runVerify } from '../../src/verify/run'

const DIGEST = `sha256:${'d'.repeat(64)}`
const ROOT = join(__dirname, '..', 'fixtures', 'real-world', 'root-signing', 'targets')

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signet-registry-factory-'))
  copyFileSync(join(ROOT, 'trusted_root.json'), join(dir, 'trusted_root.json'))
  writeFileSync(join(dir, 'Dockerfile'), 'FROM evil.example/base:1\nFROM ghcr.io/acme/base:2\n')
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A factory that records the registries it is told of; its client finds nothing. */
function recordingFactory() {
  const named: string[][] = []
  const factory = (namedRegistries: string[]): Registry => {
    named.push(namedRegistries)
    return { headManifest: async () => undefined } as unknown as Registry
  }
  return { factory, named }
}

describe('the registry factory a run is given', () => {
  it('issue 8.3: verify names the registries of images and metadata, not those of Dockerfiles', async () => {
    const { factory, named } = recordingFactory()
    const values: Record<string, string> = {
      mode: 'verify',
      images: `registry.acme.test/app@${DIGEST}\nregistry.acme.test/worker@${DIGEST}`,
      dockerfile: 'Dockerfile',
      'certificate-identity':
        'https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main',
      'certificate-oidc-issuer': 'https://token.actions.githubusercontent.com',
      'trusted-root': 'trusted_root.json',
      'registry-username': 'user',
      'registry-password': 'secret',
    }
    const inputs = readInputs((name) => values[name] ?? '')
    if (inputs.mode !== 'verify') throw new Error('expected verify inputs')
    const outcome = await runVerify(inputs, {
      log: silentLogger,
      cwd: dir,
      env: {},
      registry: factory,
    })
    expect(named).toHaveLength(1)
    expect([...new Set(named[0])]).toEqual(['registry.acme.test'])
    // Every image was looked up through the client the factory made (and not found there).
    expect(outcome.results.map((r) => [r.image, r.verdict])).toEqual([
      [`registry.acme.test/app@${DIGEST}`, 'failed'],
      [`registry.acme.test/worker@${DIGEST}`, 'failed'],
      ['evil.example/base:1', 'failed'],
      ['ghcr.io/acme/base:2', 'failed'],
    ])
  })

  it('sign names the registries of the images it signs', async () => {
    const { factory, named } = recordingFactory()
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const values: Record<string, string> = {
      images: `registry.acme.test/app@${DIGEST}\nghcr.io/acme/app@${DIGEST}`,
      key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      tlog: 'false',
    }
    const inputs = readInputs((name) => values[name] ?? '')
    if (inputs.mode !== 'sign') throw new Error('expected sign inputs')
    // The images are not in the factory's registry: the run stops there, having said which.
    await expect(
      runSign(inputs, { log: silentLogger, cwd: dir, env: {}, registry: factory }),
    ).rejects.toThrow()
    expect(named).toHaveLength(1)
    expect([...new Set(named[0])].sort()).toEqual(['ghcr.io', 'registry.acme.test'])
  })

  it("issue 12.4: sign names the signature repository's registry too", async () => {
    const { factory, named } = recordingFactory()
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const values: Record<string, string> = {
      images: `registry.acme.test/app@${DIGEST}`,
      key: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      tlog: 'false',
      'signature-repository': 'signatures.acme.test/acme/signatures',
    }
    const inputs = readInputs((name) => values[name] ?? '')
    if (inputs.mode !== 'sign') throw new Error('expected sign inputs')
    await expect(
      runSign(inputs, { log: silentLogger, cwd: dir, env: {}, registry: factory }),
    ).rejects.toThrow()
    expect([...new Set(named[0])].sort()).toEqual(['registry.acme.test', 'signatures.acme.test'])
  })

  it("issue 12.4: verify names the input's signature repository, not one only a workspace policy names", async () => {
    const { factory, named } = recordingFactory()
    writeFileSync(
      join(dir, 'policy.yml'),
      [
        'rules:',
        '  - images: registry.acme.test/**',
        '    signatureRepository: attacker.example/loot',
        '    signers:',
        '      - identity: https://github.com/acme/app/.github/workflows/ci.yml@refs/heads/main',
        '        issuer: https://token.actions.githubusercontent.com',
        '',
      ].join('\n'),
    )
    const extras: Record<string, string>[] = [
      {},
      { 'signature-repository': 'signatures.acme.test/acme/signatures' },
    ]
    for (const extra of extras) {
      const values: Record<string, string> = {
        mode: 'verify',
        images: `registry.acme.test/app@${DIGEST}`,
        policy: 'policy.yml',
        'trusted-root': 'trusted_root.json',
        'registry-username': 'user',
        'registry-password': 'secret',
        ...extra,
      }
      const inputs = readInputs((name) => values[name] ?? '')
      if (inputs.mode !== 'verify') throw new Error('expected verify inputs')
      await runVerify(inputs, { log: silentLogger, cwd: dir, env: {}, registry: factory })
    }
    expect(named.map((n) => [...new Set(n)].sort())).toEqual([
      ['registry.acme.test'],
      ['registry.acme.test', 'signatures.acme.test'],
    ])
  })
})
