/**
 * planAttestations: what a sign run attaches, read and checked before anything is written. SBOMs
 * by content (for every image, or `image=path`), SLSA provenance from the token's claims or the
 * runner's environment, a custom predicate, and the size refusals.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { requestedImages } from '../../src/subjects'
import {
  appliesTo,
  planAttestations,
  type PlannedAttestation,
} from '../../src/sign/attestation-plan'
import { predicateDigest } from '../../src/sign/existing'
import { CYCLONEDX, SPDX } from '../infra/sboms'
import { recordingLogger } from '../infra/recording-logger'

type PlanInputs = Parameters<typeof planAttestations>[0]

const APP = 'registry.test/acme/app'
const WORKER = 'registry.test/acme/worker'
const DIGEST = `sha256:${'a'.repeat(64)}`
const OTHER_DIGEST = `sha256:${'b'.repeat(64)}`
const SIXTEEN_MB = 16 * 1024 * 1024

let cwd: string
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'sign-plan-'))
  mkdirSync(join(cwd, 'sboms'))
  writeFileSync(join(cwd, 'sboms', 'app.cdx.json'), JSON.stringify(CYCLONEDX))
  writeFileSync(join(cwd, 'sboms', 'worker.spdx.json'), JSON.stringify(SPDX))
  writeFileSync(join(cwd, 'vuln.json'), JSON.stringify({ scanner: { uri: 'pkg:x/trivy' } }))
  writeFileSync(join(cwd, 'array.json'), '[1, 2]')
  writeFileSync(join(cwd, 'broken.json'), '{"scanner":')
  // Sparse files: over 16 MB on disk without writing 16 MB.
  writeFileSync(join(cwd, 'huge.cdx.json'), '')
  truncateSync(join(cwd, 'huge.cdx.json'), SIXTEEN_MB + 1)
  writeFileSync(join(cwd, 'huge-predicate.json'), '')
  truncateSync(join(cwd, 'huge-predicate.json'), SIXTEEN_MB + 1)
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

const signing = requestedImages({ images: [`${APP}@${DIGEST}`, `${WORKER}@${OTHER_DIGEST}`] })

async function plan(
  inputs: Partial<PlanInputs>,
  options: { env?: NodeJS.ProcessEnv; claims?: () => Promise<Record<string, unknown>> } = {},
) {
  const { log, warnings } = recordingLogger()
  const planned = await planAttestations({ provenance: false, ...inputs }, signing, {
    cwd,
    env: options.env ?? {},
    log,
    claims: options.claims,
  })
  return { planned, warnings }
}

const GITHUB_CLAIMS = {
  repository: 'acme/app',
  ref: 'refs/heads/main',
  sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  workflow_ref: 'acme/app/.github/workflows/publish.yml@refs/heads/main',
  job_workflow_ref: 'acme/app/.github/workflows/publish.yml@refs/heads/main',
  event_name: 'push',
  run_id: '9000000001',
  run_attempt: '1',
}

describe('planAttestations', () => {
  test('nothing asked for, nothing planned', async () => {
    expect((await plan({})).planned).toEqual([])
  })

  test('an SBOM for every image: its type and predicate come from its content', async () => {
    const { planned } = await plan({ sbom: 'sboms/app.cdx.json' })
    expect(planned).toEqual([
      {
        predicateType: 'https://cyclonedx.org/bom',
        predicate: CYCLONEDX,
        predicateJson: JSON.stringify(CYCLONEDX),
        predicateDigest: predicateDigest(CYCLONEDX),
        input: 'sbom',
        label: 'SBOM sboms/app.cdx.json (CycloneDX 1.5)',
        only: undefined,
      },
    ])
    expect(appliesTo(planned[0], APP, DIGEST)).toBe(true)
    expect(appliesTo(planned[0], WORKER, OTHER_DIGEST)).toBe(true)
  })

  test('a glob names several SBOMs, in a stable order, each by its own format', async () => {
    const { planned } = await plan({ sbom: 'sboms/*.json' })
    expect(planned.map((p) => [p.label, p.predicateType])).toEqual([
      ['SBOM sboms/app.cdx.json (CycloneDX 1.5)', 'https://cyclonedx.org/bom'],
      ['SBOM sboms/worker.spdx.json (SPDX 2.3)', 'https://spdx.dev/Document'],
    ])
  })

  test('image=path lines attach each SBOM to its image alone', async () => {
    const { planned } = await plan({
      sbom: `${APP}=sboms/app.cdx.json\n${WORKER}@${OTHER_DIGEST}=sboms/worker.spdx.json`,
    })
    expect(planned.map((p) => p.only)).toEqual([
      { name: APP, digest: undefined },
      { name: WORKER, digest: OTHER_DIGEST },
    ])
    const [app, worker] = planned
    expect(appliesTo(app, APP, DIGEST)).toBe(true)
    expect(appliesTo(app, WORKER, OTHER_DIGEST)).toBe(false)
    expect(appliesTo(worker, WORKER, OTHER_DIGEST)).toBe(true)
    expect(appliesTo(worker, WORKER, DIGEST)).toBe(false)
    expect(appliesTo(worker, APP, DIGEST)).toBe(false)
  })

  test('image=path naming an image that is not being signed is refused', async () => {
    await expect(
      plan({ sbom: 'registry.test/acme/stranger=sboms/app.cdx.json' }),
    ).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      input: 'sbom',
      message: expect.stringContaining(
        '"registry.test/acme/stranger" is not one of the images being signed',
      ),
    })
    // A name that is signed, with a digest that is not, is not the image being signed either.
    await expect(plan({ sbom: `${APP}@${OTHER_DIGEST}=sboms/app.cdx.json` })).rejects.toMatchObject(
      {
        code: 'INPUT_INVALID',
        input: 'sbom',
      },
    )
  })

  test('a missing SBOM names the file', async () => {
    await expect(plan({ sbom: 'sboms/missing.json' })).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      input: 'sbom',
      message: expect.stringContaining('sboms/missing.json does not exist'),
    })
  })

  test('an SBOM over 16 MB is refused without being read', async () => {
    await expect(plan({ sbom: 'huge.cdx.json' })).rejects.toMatchObject({
      code: 'SBOM_INVALID',
      input: 'sbom',
      message: expect.stringMatching(
        /refused .*huge\.cdx\.json: it is 16\.0 MB, larger than 16 MB/,
      ),
    })
  })

  test('sbom-predicate-type overrides the type, and a mismatch with the content warns', async () => {
    const versioned = await plan({ sbom: 'sboms/worker.spdx.json', sbomPredicateType: 'versioned' })
    expect(versioned.planned[0].predicateType).toBe('https://spdx.dev/Document/v2.3')
    const mismatch = await plan({
      sbom: 'sboms/app.cdx.json',
      sbomPredicateType: 'https://spdx.dev/Document/v2.3',
    })
    expect(mismatch.planned[0].predicateType).toBe('https://spdx.dev/Document/v2.3')
    expect(mismatch.warnings).toEqual([
      // (The warning names the resolved path, the label the path as written.)
      expect.stringMatching(/^SBOM \S*sboms\/app\.cdx\.json is CycloneDX but sbom-predicate-type/),
    ])
  })

  test('a custom predicate: its type as given, its content as read', async () => {
    const { planned } = await plan({
      predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
      predicatePath: 'vuln.json',
    })
    expect(planned).toEqual([
      {
        predicateType: 'https://cosign.sigstore.dev/attestation/vuln/v1',
        predicate: { scanner: { uri: 'pkg:x/trivy' } },
        predicateJson: '{"scanner":{"uri":"pkg:x/trivy"}}',
        predicateDigest: predicateDigest({ scanner: { uri: 'pkg:x/trivy' } }),
        input: 'predicate',
        label: 'https://cosign.sigstore.dev/attestation/vuln/v1 (vuln.json)',
      },
    ])
  })

  test.each([
    ['missing.json', 'cannot read'],
    ['broken.json', 'is not valid JSON'],
    ['array.json', 'must hold a JSON object'],
    ['huge-predicate.json', 'is larger than 16 MB'],
  ])('a custom predicate %s is refused: %s', async (path, why) => {
    await expect(
      plan({ predicateType: 'https://example.com/p/v1', predicatePath: path }),
    ).rejects.toMatchObject({
      code: 'INPUT_INVALID',
      input: 'predicate',
      message: expect.stringContaining(why),
    })
  })

  test('provenance from the OIDC token claims when signing keyless, asked once', async () => {
    const claims = jest.fn(async () => GITHUB_CLAIMS)
    const { planned } = await plan({ provenance: true }, { claims })
    expect(claims).toHaveBeenCalledTimes(1)
    expect(planned).toHaveLength(1)
    expect(planned[0].predicateType).toBe('https://slsa.dev/provenance/v1')
    expect(planned[0].label).toBe('SLSA v1 provenance')
    expect(planned[0].predicateJson).toContain(GITHUB_CLAIMS.sha)
    expect(planned[0].predicateJson).toContain('https://github.com/acme/app')
  })

  test('provenance from the environment when signing by key; outside GitHub Actions refused', async () => {
    const env = {
      GITHUB_REPOSITORY: 'acme/app',
      GITHUB_REF: 'refs/heads/main',
      GITHUB_SHA: GITHUB_CLAIMS.sha,
      GITHUB_WORKFLOW_REF: GITHUB_CLAIMS.workflow_ref,
      GITHUB_EVENT_NAME: 'push',
      GITHUB_RUN_ID: '9000000001',
      GITHUB_RUN_ATTEMPT: '1',
    }
    const { planned } = await plan({ provenance: true }, { env })
    expect(planned[0].predicateJson).toContain(GITHUB_CLAIMS.sha)
    await expect(plan({ provenance: true }, { env: {} })).rejects.toMatchObject({
      code: 'PROVENANCE_UNAVAILABLE',
      input: 'provenance',
    })
  })

  test('everything at once: SBOMs, then provenance, then the custom predicate', async () => {
    const { planned } = await plan(
      {
        sbom: 'sboms/*.json',
        provenance: true,
        predicateType: 'https://example.com/p/v1',
        predicatePath: 'vuln.json',
      },
      { claims: async () => GITHUB_CLAIMS },
    )
    expect(planned.map((p: PlannedAttestation) => p.predicateType)).toEqual([
      'https://cyclonedx.org/bom',
      'https://spdx.dev/Document',
      'https://slsa.dev/provenance/v1',
      'https://example.com/p/v1',
    ])
  })
})
