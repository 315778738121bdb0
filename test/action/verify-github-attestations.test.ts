/**
 * Verify mode with `github-attestations: true` through the bundled action (issue 9.4): an image
 * signed in its registry whose SLSA provenance is only in GitHub's artifact attestations API (as
 * actions/attest stores it by default), served by the API stand-in.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VerifyImageResult } from '../../src/verify/run'
import { runAction, type ActionRun } from '../infra/action-runner'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { expectOneError } from '../infra/expect'
import {
  actionsAttestBundle,
  startGitHubApiStandIn,
  type GitHubApiStandIn,
} from '../infra/github-api'
import { oidcEnv, pushFreshImage, standInInputs, type PushedImage } from '../infra/harness'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

const TOKEN = 'ghs_verifyActionToken0123456789'

let registry: TestRegistry
let sigstore: SigstoreStandIn
let api: GitHubApiStandIn
/** Signed in the registry; its provenance only on GitHub, in acme/app. */
let image: PushedImage

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'signet-verify-github-'))
  ;[registry, sigstore, api] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
    startGitHubApiStandIn({ tokens: [TOKEN] }),
  ])
  image = await pushFreshImage(registry.host, 'verify/gh')
  const sign = await runAction(
    { images: image.ref, ...standInInputs(sigstore, registry.host) },
    oidcEnv(sigstore),
  )
  expect(sign.errors).toEqual([])
  api.add(
    'acme/app',
    await actionsAttestBundle(sigstore, { name: image.name, digest: image.image.digest }),
  )
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop(), api?.stop()])
})

beforeEach(() => {
  api.requests.length = 0
})

function verifyInputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    mode: 'verify',
    images: image.ref,
    'trusted-root': sigstore.trustedRootPath,
    'plain-http': registry.host,
    'certificate-identity': sigstore.identity.subject,
    'certificate-oidc-issuer': sigstore.identity.issuer,
    'require-attestations': 'slsaprovenance1',
    'github-token': TOKEN,
    ...extra,
  }
}

const env = (): Record<string, string> => ({ GITHUB_API_URL: api.url })
const results = (run: ActionRun): VerifyImageResult[] =>
  JSON.parse(run.outputs.results ?? '[]') as VerifyImageResult[]

describe('github-attestations in verify mode', () => {
  it('issue 9.4: require-attestations slsaprovenance1 passes with github-attestations, and fails without', async () => {
    const without = await runAction(verifyInputs(), env())
    expect(without.exitCode).toBe(1)
    expect(results(without)[0].reason).toMatch(/expected a slsaprovenance1 attestation, got none/)
    expect(api.requests).toEqual([])

    const run = await runAction(
      verifyInputs({ 'github-attestations': 'true', 'github-attestations-owner': 'acme' }),
      env(),
    )
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    const [r] = results(run)
    expect(r.verified).toBe(true)
    expect(r.attestations).toEqual([
      expect.objectContaining({
        reference: expect.stringMatching(/^github:acme\/attestations\/\d+$/) as unknown,
        predicateType: 'https://slsa.dev/provenance/v1',
        verified: true,
      }),
    ])
    expect(api.requests.map((q) => q.authorization)).toEqual([`token ${TOKEN}`])
    expect(run.visibleLog).not.toContain(TOKEN)
  })

  it('issue 9.4: a GitHub API failure fails the image closed when attestations are required', async () => {
    // One image, one lookup; a 403 is not retried.
    api.respondWith(403, { message: 'Resource not accessible by integration' })
    const run = await runAction(
      verifyInputs({ 'github-attestations': 'true', 'github-attestations-owner': 'acme' }),
      env(),
    )
    expect(run.exitCode).toBe(1)
    expect(api.requests.map((q) => q.status)).toEqual([403])
    expect(results(run)[0].reason).toMatch(
      /GitHub artifact attestations of sha256:[0-9a-f]{64} for acme could not be read: the token may not read them \(HTTP 403\)/,
    )
    expect(results(run)[0].reason).toContain('`attestations: read`')
    expect(run.visibleLog).not.toContain(TOKEN)
  })

  it('issue 9.4: a bad github-attestations-owner is one error naming the input, before any network', async () => {
    const run = await runAction(
      verifyInputs({ 'github-attestations': 'true', 'github-attestations-owner': 'a/b/c' }),
      env(),
    )
    expectOneError(run, 'github-attestations-owner', /expected a GitHub user or organisation/)
    expect(api.requests).toEqual([])
  })
})
