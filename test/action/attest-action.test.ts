/**
 * Attestation inputs through the bundled action: bad input refused before anything is written,
 * size limits, GitHub's attestations API (stored, or a warning that names the permission).
 */
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from '../infra/action-runner'
import { startGitHubApiStandIn } from '../infra/github-api'
import { startOciRegistry, type OciRegistry } from '../infra/oci-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { oidcEnv, pushFreshImage, standInInputs } from '../infra/harness'
import { CYCLONEDX } from '../infra/sboms'
import { expectOneError } from '../infra/expect'

let registry: OciRegistry
let sigstore: SigstoreStandIn
let dir: string
let cdxPath: string
let ref: string

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-attest-action-'))
  ;[registry, sigstore] = await Promise.all([
    startOciRegistry({ referrers: false }),
    startSigstoreStandIn({ dir }),
  ])
  cdxPath = join(dir, 'sbom.cdx.json')
  writeFileSync(cdxPath, JSON.stringify(CYCLONEDX))
  ref = await pushImage()
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()])
})

const pushImage = async (): Promise<string> =>
  (await pushFreshImage(registry.host, 'attest/action')).ref
const services = () => standInInputs(sigstore, registry.host)
const oidc = () => oidcEnv(sigstore)
const writes = () =>
  registry.log.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')
    .length

describe('bad attestation input: one ::error::, exit 1, nothing written', () => {
  it.each([
    ['a missing SBOM file', () => ({ sbom: join(dir, 'nope.json') }), 'sbom', /nope\.json/],
    [
      'an SBOM that is not JSON',
      () => ({ sbom: file('bad.json', '{"bomFormat": ') }),
      'sbom',
      /JSON/,
    ],
    [
      'JSON that is neither CycloneDX nor SPDX',
      () => ({ sbom: file('other.json', '{"hello":"world"}') }),
      'sbom',
      /CycloneDX|SPDX/,
    ],
    [
      'an image=path line for an image not being signed',
      () => ({ sbom: `ghcr.io/acme/other=${cdxPath}` }),
      'sbom',
      /not one of the images being signed/,
    ],
    [
      'an empty predicate-type',
      () => ({ predicate: file('p.json', '{}'), 'predicate-type': '' }),
      'predicate-type',
      /predicate-type is empty/,
    ],
    [
      'a predicate that is not JSON',
      () => ({ predicate: file('p2.json', 'nope'), 'predicate-type': 'https://example.com/p/v1' }),
      'predicate',
      /not valid JSON/,
    ],
  ])('%s', async (_what, inputs, input, message) => {
    const before = writes()
    const run = await runAction({ images: ref, ...services(), ...inputs() }, oidc())
    expectOneError(run, input, message)
    expect(writes()).toBe(before)
  })

  it('refuses an SBOM over 16 MB without writing anything', async () => {
    const big = join(dir, 'huge.cdx.json')
    writeFileSync(big, '')
    truncateSync(big, 17 * 1024 * 1024)
    const before = writes()
    const run = await runAction({ images: ref, sbom: big, ...services() }, oidc())
    expectOneError(run, 'sbom', /16 MB/)
    expect(writes()).toBe(before)
  })
})

function file(name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

describe('size', () => {
  it('warns about an SBOM over 10 MB (Kyverno reads no larger bundle) and attests it', async () => {
    const big = { ...CYCLONEDX, components: [] as unknown[] }
    // About 260 bytes a component: 42,000 make 10.5 MB. (Measuring inside the loop would be
    // quadratic.)
    for (let i = 0; i < 42_000; i++) {
      big.components.push({
        type: 'library',
        name: `pkg-${i}-${'x'.repeat(200)}`,
        version: `${i}.0.0`,
      })
    }
    expect(Buffer.byteLength(JSON.stringify(big))).toBeGreaterThan(10 * 1024 * 1024)
    const path = file('big.cdx.json', JSON.stringify(big))
    const target = await pushImage()
    const run = await runAction(
      { images: target, sbom: path, 'signature-format': 'bundle', ...services() },
      oidc(),
    )
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(/::warning::.*10 MB/)
  })
})

describe('issue 12.6: an attestation too large for the public-good Rekor', () => {
  it('fails with one ::error:: naming sbom, its size, the limit and the ways out; nothing written', async () => {
    const big = { ...CYCLONEDX, components: [] as unknown[] }
    // About 230 bytes a component: 14,000 make about 3 MB, a 4 MiB entry once base64-encoded.
    for (let i = 0; i < 14_000; i++) {
      big.components.push({ type: 'library', name: `pkg-${i}-${'x'.repeat(180)}`, version: '1' })
    }
    const path = file('rekor-big.cdx.json', JSON.stringify(big))
    const target = await pushImage()
    const before = writes()
    // Fulcio is the stand-in's; rekor-url is left at its default, the public-good instance, which
    // is never reached: the run stops before anything is signed.
    const run = await runAction(
      { images: target, sbom: path, ...services(), 'rekor-url': '' },
      oidc(),
    )
    expectOneError(
      run,
      'sbom',
      /makes a transparency-log entry of \d\.\d MiB .* over the 2\.0 MiB Signet sends the public-good Rekor \(https:\/\/rekor\.sigstore\.dev\).*Nothing was written.*tlog: false, with tsa-url.*smaller SBOM.*rekor-url/,
    )
    expect(writes()).toBe(before)
  })
})

describe('github-attestations', () => {
  it("stores every bundle through GitHub's attestations API", async () => {
    const api = await startGitHubApiStandIn()
    try {
      const target = await pushImage()
      const run = await runAction(
        {
          images: target,
          sbom: cdxPath,
          provenance: 'true',
          'github-attestations': 'true',
          'github-token': 'ghs_test_token',
          ...services(),
        },
        {
          ...oidc(),
          GITHUB_API_URL: api.url,
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_REPOSITORY: 'acme/app',
        },
      )
      expect(run.exitCode).toBe(0)
      // the signature bundle and the two attestations
      expect(api.attestations).toHaveLength(3)
      expect(api.attestations.every((a) => a.repository === 'acme/app')).toBe(true)
      const results = JSON.parse(run.outputs.results)
      expect(
        results[0].attestations.some((a: { githubAttestation?: string }) =>
          a.githubAttestation?.startsWith('https://github.com/acme/app/attestations/'),
        ),
      ).toBe(true)
      expect(run.visibleLog).not.toContain('ghs_test_token')
    } finally {
      await api.stop()
    }
  })

  it('warns, naming attestations: write, when GitHub refuses, and the step still succeeds', async () => {
    const api = await startGitHubApiStandIn()
    api.respondWith(403, { message: 'Resource not accessible by integration' }, 10)
    try {
      const target = await pushImage()
      const run = await runAction(
        {
          images: target,
          sbom: cdxPath,
          'github-attestations': 'true',
          'github-token': 'ghs_test_token',
          ...services(),
        },
        { ...oidc(), GITHUB_API_URL: api.url, GITHUB_REPOSITORY: 'acme/app' },
      )
      expect(run.exitCode).toBe(0)
      expect(run.outputs.signed).toBe('true')
      expect(run.stdout).toMatch(/::warning::.*attestations: write/)
    } finally {
      await api.stop()
    }
  })
})

describe('issue 9.3: trusted-root in sign mode', () => {
  it("issue 9.3: with another instance's root, no attestation reaches the registry or GitHub's attestations API", async () => {
    const other = await startSigstoreStandIn({ dir: join(dir, 'other-instance') })
    const api = await startGitHubApiStandIn()
    try {
      const target = await pushImage()
      const before = writes()
      const inputs = {
        images: target,
        sbom: cdxPath,
        provenance: 'true',
        'github-attestations': 'true',
        'github-token': 'ghs_test_token',
        ...services(),
      }
      const env = {
        ...oidc(),
        GITHUB_API_URL: api.url,
        GITHUB_SERVER_URL: 'https://github.com',
        GITHUB_REPOSITORY: 'acme/app',
      }
      const run = await runAction({ ...inputs, 'trusted-root': other.trustedRootPath }, env)
      expectOneError(run, 'trusted-root', /does not verify against trusted-root/)
      expect(writes()).toBe(before)
      expect(api.requests).toEqual([])
      // The same run with the services' own root: the signature and both attestations, everywhere.
      const ok = await runAction({ ...inputs, 'trusted-root': sigstore.trustedRootPath }, env)
      expect(ok.exitCode).toBe(0)
      expect(api.attestations).toHaveLength(3)
    } finally {
      await Promise.all([api.stop(), other.stop()])
    }
  })
})
