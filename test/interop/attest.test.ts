/**
 * Attestations written by Signet, judged by real cosign v3 and v2 verify-attestation: SBOMs
 * (CycloneDX, SPDX), SLSA provenance and a custom predicate, keyless and by key, as `.att` layers
 * and as bundle referrers. The predicate cosign hands back must be the file that went in.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/client'
import { anonymousCredentials } from '../../src/registry/credentials'
import type { ImageManifest } from '../../src/registry/types'
import { runAction, type ActionRun } from '../infra/action-runner'
import { INSECURE_REGISTRY as INSECURE } from '../infra/cosign'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import {
  identityFlags,
  oidcEnv,
  pushFreshImage,
  standInInputs,
  writeSigningKey,
} from '../infra/harness'
import { CYCLONEDX, SPDX } from '../infra/sboms'
import { runToolAsync } from '../infra/tools'

let registry: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let cdxPath: string
let spdxPath: string
let keyPath: string
let pubPath: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-attest-'))
  ;[registry, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
  ])
  cdxPath = join(dir, 'sbom.cdx.json')
  spdxPath = join(dir, 'sbom.spdx.json')
  writeFileSync(cdxPath, JSON.stringify(CYCLONEDX, null, 2))
  writeFileSync(spdxPath, JSON.stringify(SPDX))
  ;({ keyPath, pubPath } = writeSigningKey(dir, 'att', 'pw'))
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()])
})

const pushImage = async (): Promise<string> =>
  (await pushFreshImage(registry.host, 'attest/app')).ref
const services = () => standInInputs(sigstore, registry.host)
const oidc = () => oidcEnv(sigstore)
const identity = () => identityFlags(sigstore)

function expectOk(run: ActionRun): void {
  if (run.exitCode !== 0) throw new Error(`action failed: ${run.stdout}\n${run.stderr}`)
}

/** The predicates of the statements cosign verified (it prints one DSSE envelope per line). */
function predicatesOf(output: string): { predicateType: string; predicate: unknown }[] {
  return output
    .split('\n')
    .filter((l) => l.trim().startsWith('{'))
    .map(
      (l) =>
        JSON.parse(
          Buffer.from((JSON.parse(l) as { payload: string }).payload, 'base64').toString(),
        ) as { predicateType: string; predicate: unknown },
    )
}

async function verifyAttestation(
  tool: 'cosign3' | 'cosign2',
  args: string[],
  ref: string,
): Promise<string> {
  const common = tool === 'cosign3' ? ['--trusted-root', sigstore.trustedRootPath] : []
  return runToolAsync(tool, ['verify-attestation', ...INSECURE, ...common, ...args, ref], {
    env: tool === 'cosign2' ? sigstore.cosignV2Env : {},
  })
}

describe('SBOM attestations judged by cosign verify-attestation', () => {
  it.each([
    ['keyless', true],
    ['by key', false],
  ])('%s, both formats: cosign v3 and v2 hand back the SBOM files', async (_label, keyless) => {
    const ref = await pushImage()
    const signer: Record<string, string> = keyless ? {} : { key: keyPath, 'key-password': 'pw' }
    const run = await runAction(
      { images: ref, sbom: `${cdxPath}\n${spdxPath}`, ...signer, ...services() },
      keyless ? oidc() : {},
    )
    expectOk(run)
    const result = JSON.parse(run.outputs.results)[0]
    expect(
      result.attestations
        .map((a: { predicateType: string; format: string }) => `${a.format} ${a.predicateType}`)
        .sort(),
    ).toEqual([
      'bundle https://cyclonedx.org/bom',
      'bundle https://spdx.dev/Document',
      'legacy https://cyclonedx.org/bom',
      'legacy https://spdx.dev/Document',
    ])
    expect(run.summary).toContain('https://cyclonedx.org/bom')
    const who = keyless ? identity() : ['--key', pubPath]
    for (const [type, expected] of [
      ['cyclonedx', CYCLONEDX],
      ['spdxjson', SPDX],
    ] as const) {
      // cosign v3 reads the bundle referrers; v2, and v3 told so, read the .att tag
      for (const [tool, extra] of [
        ['cosign3', []],
        ['cosign3', ['--new-bundle-format=false']],
        ['cosign2', []],
      ] as const) {
        const out = await verifyAttestation(tool, [...who, ...extra, '--type', type], ref)
        const predicates = predicatesOf(out)
        expect(predicates.length).toBeGreaterThan(0)
        for (const p of predicates) expect(p.predicate).toEqual(expected)
      }
    }
  })

  it("stores in each .att layer exactly the envelope Rekor hashed, with cosign's annotations", async () => {
    const ref = await pushImage()
    const run = await runAction(
      { images: ref, sbom: cdxPath, 'signature-format': 'legacy', ...services() },
      oidc(),
    )
    expectOk(run)
    const [name, digest] = ref.split('@')
    const repo = { registry: registry.host, repository: name.slice(registry.host.length + 1) }
    const client = new RegistryClient({
      credentials: anonymousCredentials,
      plainHttp: [registry.host],
    })
    const att = await client.getManifest(repo, `sha256-${digest.slice(7)}.att`)
    const manifest = JSON.parse(att!.bytes.toString()) as ImageManifest
    expect(manifest.layers).toHaveLength(1)
    const [layer] = manifest.layers
    expect(layer.mediaType).toBe('application/vnd.dsse.envelope.v1+json')
    expect(layer.annotations?.['dev.cosignproject.cosign/signature']).toBe('')
    expect(layer.annotations?.predicateType).toBe('https://cyclonedx.org/bom')
    expect(layer.annotations?.['dev.sigstore.cosign/certificate']).toContain('BEGIN CERTIFICATE')
    const blob = await client.getBlob(repo, layer.digest)
    const rekor = JSON.parse(layer.annotations!['dev.sigstore.cosign/bundle']) as {
      Payload: { body: string }
    }
    const entry = JSON.parse(Buffer.from(rekor.Payload.body, 'base64').toString()) as {
      kind: string
      spec: { envelopeHash: { value: string } }
    }
    expect(entry.kind).toBe('dsse')
    expect(entry.spec.envelopeHash.value).toBe(createHash('sha256').update(blob).digest('hex'))
  })

  it("writes GitHub's versioned SPDX predicate type when asked, which cosign finds by that type", async () => {
    const ref = await pushImage()
    const run = await runAction(
      {
        images: ref,
        sbom: spdxPath,
        'sbom-predicate-type': 'https://spdx.dev/Document/v2.3',
        ...services(),
      },
      oidc(),
    )
    expectOk(run)
    const out = await verifyAttestation(
      'cosign3',
      [...identity(), '--type', 'https://spdx.dev/Document/v2.3'],
      ref,
    )
    expect(predicatesOf(out)[0].predicateType).toBe('https://spdx.dev/Document/v2.3')
    await expect(
      verifyAttestation('cosign3', [...identity(), '--type', 'spdxjson'], ref),
    ).rejects.toThrow()
  })

  it('gives each image its own SBOM with image=path lines', async () => {
    const [a, b] = [await pushImage(), await pushImage()]
    const otherPath = join(dir, 'other.cdx.json')
    const other = { ...CYCLONEDX, serialNumber: 'urn:uuid:00000000-0000-4000-8000-000000000000' }
    writeFileSync(otherPath, JSON.stringify(other))
    const run = await runAction(
      {
        images: `${a}\n${b}`,
        sbom: `${a}=${cdxPath}\n${b.split('@')[0]}=${otherPath}`,
        'signature-format': 'bundle',
        ...services(),
      },
      oidc(),
    )
    expectOk(run)
    const outA = await verifyAttestation('cosign3', [...identity(), '--type', 'cyclonedx'], a)
    const outB = await verifyAttestation('cosign3', [...identity(), '--type', 'cyclonedx'], b)
    expect(predicatesOf(outA).map((p) => p.predicate)).toEqual([CYCLONEDX])
    expect(predicatesOf(outB).map((p) => p.predicate)).toEqual([other])
  })
})

describe('provenance and custom predicates', () => {
  it('SLSA v1 provenance from the run passes cosign verify-attestation --type slsaprovenance1', async () => {
    const ref = await pushImage()
    const run = await runAction({ images: ref, provenance: 'true', ...services() }, oidc())
    expectOk(run)
    for (const [tool, extra] of [
      ['cosign3', []],
      ['cosign2', []],
    ] as const) {
      const out = await verifyAttestation(
        tool,
        [...identity(), ...extra, '--type', 'slsaprovenance1'],
        ref,
      )
      const [p] = predicatesOf(out)
      expect(p.predicateType).toBe('https://slsa.dev/provenance/v1')
      expect(p.predicate).toMatchObject({
        buildDefinition: { buildType: 'https://actions.github.io/buildtypes/workflow/v1' },
        runDetails: { builder: { id: sigstore.identity.subject } },
      })
    }
  })

  it('provenance by key comes from the runner environment', async () => {
    const ref = await pushImage()
    const env = {
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_REPOSITORY_ID: '1',
      GITHUB_REPOSITORY_OWNER_ID: '2',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: 'a'.repeat(40),
      GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/publish.yml@refs/heads/main',
      GITHUB_EVENT_NAME: 'push',
      RUNNER_ENVIRONMENT: 'github-hosted',
      GITHUB_RUN_ID: '42',
      GITHUB_RUN_ATTEMPT: '1',
    }
    const run = await runAction(
      { images: ref, provenance: 'true', key: keyPath, 'key-password': 'pw', ...services() },
      env,
    )
    expectOk(run)
    const out = await verifyAttestation(
      'cosign2',
      ['--key', pubPath, '--type', 'slsaprovenance1'],
      ref,
    )
    expect(predicatesOf(out)[0].predicate).toMatchObject({
      runDetails: {
        metadata: { invocationId: 'https://github.com/acme/app/actions/runs/42/attempts/1' },
      },
    })
  })

  it("a custom predicate (cosign's vuln format) passes verify-attestation --type vuln", async () => {
    const ref = await pushImage()
    const vuln = {
      invocation: {
        parameters: null,
        uri: 'https://github.com/acme/app/actions/runs/1',
        event_id: '1',
        'builder.id': 'x',
      },
      scanner: {
        uri: 'pkg:github/aquasecurity/trivy@0.50.0',
        version: '0.50.0',
        db: { uri: '', version: '' },
        result: {},
      },
      metadata: { scanStartedOn: '2026-11-21T00:00:00Z', scanFinishedOn: '2026-11-21T00:01:00Z' },
    }
    const vulnPath = join(dir, 'vuln.json')
    writeFileSync(vulnPath, JSON.stringify(vuln))
    const run = await runAction(
      {
        images: ref,
        'predicate-type': 'https://cosign.sigstore.dev/attestation/vuln/v1',
        predicate: vulnPath,
        ...services(),
      },
      oidc(),
    )
    expectOk(run)
    for (const tool of ['cosign3', 'cosign2'] as const) {
      const out = await verifyAttestation(tool, [...identity(), '--type', 'vuln'], ref)
      expect(predicatesOf(out)[0].predicate).toEqual(JSON.parse(readFileSync(vulnPath, 'utf8')))
    }
  })
})
