/**
 * GitHub's artifact attestations as a verify source (issue 9.4): discover() with a GitHub source
 * against the attestations API stand-in, then verifyImage() with the rule's signers and the
 * Sigstore stand-in's root. The image is signed in its registry (a cosign v3 signature bundle
 * referrer); its SLSA provenance is only in GitHub's API, shaped as actions/attest writes it.
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  createGitHubAttestationSource,
  MAX_GITHUB_ATTESTATION_PAGES,
  type GitHubAttestationSource,
} from '../../src/github/attestation-lookup'
import { BUNDLE_V03_MEDIA_TYPE } from '../../src/formats/referrers'
import { policyFromInputs, type Rule } from '../../src/policy/policy'
import { writeBundleReferrer, ReferrersSupport } from '../../src/storage/write-referrer'
import { RegistryClient } from '../../src/registry/client'
import { anonymousCredentials } from '../../src/registry/credentials'
import { MEDIA_TYPES } from '../../src/registry/types'
import type { Logger } from '../../src/report/types'
import { COSIGN_SIGN_PREDICATE, discover, type DiscoverOptions } from '../../src/storage/discover'
import { verifyImage, requiredPredicateTypes } from '../../src/verify/image'
import { parseTrustedRootFile, type TrustRoot } from '../../src/verify/trust'
import {
  actionsAttestBundle,
  signatureBundle,
  startGitHubApiStandIn,
  type GitHubApiStandIn,
} from '../infra/github-api'
import { pushFreshImage, type PushedImage } from '../infra/harness'
import { startOciRegistry, type OciRegistry } from '../infra/oci-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

const TOKEN = 'ghs_discoverTestToken0123456789'
const SLSA_V1 = 'https://slsa.dev/provenance/v1'
const OTHER_WORKFLOW = 'evil/app/.github/workflows/publish.yml@refs/heads/main'
/** The digest as it goes in a request path (percent-encoded, as Octokit encodes parameters). */
const inPath = (digest: string): string => digest.replace(':', '%3A')

let registry: OciRegistry
let sigstore: SigstoreStandIn
let client: RegistryClient
let roots: TrustRoot[]
/** The stand-in's instance shaped as GitHub's own (private repositories): no Rekor, a TSA. */
let githubLikeRoots: TrustRoot[]

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'signet-discover-github-'))
  ;[registry, sigstore] = await Promise.all([startOciRegistry(), startSigstoreStandIn({ dir })])
  client = new RegistryClient({ credentials: anonymousCredentials, plainHttp: [registry.host] })
  const rootText = readFileSync(sigstore.trustedRootPath, 'utf8')
  roots = parseTrustedRootFile(rootText, 'stand-in')
  // GitHub's root has no CT log either, and its Fulcio embeds no SCT; the stand-in's Fulcio does,
  // and sigstore-js refuses an SCT it cannot check, so the CT log stays.
  const withoutLogs = { ...(JSON.parse(rootText) as object), tlogs: [] }
  githubLikeRoots = parseTrustedRootFile(JSON.stringify(withoutLogs), 'github-like')
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()])
})

/** A fresh image with a keyless signature bundle as its only referrer: no attestation there. */
async function signedImage(): Promise<PushedImage> {
  const image = await pushFreshImage(registry.host, 'github/app')
  const bundle = await signatureBundle(sigstore, image.image.digest)
  await writeBundleReferrer(
    client,
    image.repo,
    { mediaType: MEDIA_TYPES.ociManifest, digest: image.image.digest, size: image.image.size },
    Buffer.from(JSON.stringify(bundle)),
    COSIGN_SIGN_PREDICATE,
    new ReferrersSupport(),
  )
  return image
}

const ruleRequiring = (requireAttestations: string[]): Rule => {
  const rule = policyFromInputs({
    certificateIdentity: sigstore.identity.subject,
    certificateOidcIssuer: sigstore.identity.issuer,
    requireAttestations,
  })?.rules[0]
  if (!rule) throw new Error('no rule')
  return rule
}

interface CapturedLog extends Logger {
  warnings: string[]
  lines: string[]
}

function capturingLog(): CapturedLog {
  const warnings: string[] = []
  const lines: string[] = []
  return {
    warnings,
    lines,
    info: (m) => lines.push(m),
    debug: (m) => lines.push(m),
    warning: (m) => {
      warnings.push(m)
      lines.push(m)
    },
    group: (_name, fn) => fn(),
  }
}

function sourceFor(
  api: GitHubApiStandIn,
  options: { owner?: string; log?: Logger } = {},
): GitHubAttestationSource {
  return createGitHubAttestationSource({
    token: TOKEN,
    owner: options.owner ?? 'acme',
    apiUrl: api.url,
    log: options.log ?? capturingLog(),
    minRetryDelayMs: 5,
  })
}

/** Discovery with the rule's needs, and the verdict on it, as run.ts does. */
async function verify(
  image: PushedImage,
  rule: Rule,
  options: DiscoverOptions = {},
  trusted: TrustRoot[] = roots,
): Promise<ReturnType<typeof verifyImage>> {
  const needed = requiredPredicateTypes(rule)
  const found = await discover(client, image.repo, image.image.digest, (t) => needed.has(t), {
    attestationsRequired: needed.size > 0,
    ...options,
  })
  return verifyImage(found, image.image.digest, rule, trusted, { keysWithoutTlog: false })
}

describe('GitHub artifact attestations as a verify source', () => {
  let api: GitHubApiStandIn
  beforeEach(async () => {
    api = await startGitHubApiStandIn({ tokens: [TOKEN], users: ['octocat'] })
  })
  afterEach(async () => {
    await api.stop()
  })

  /** A provenance attestation about the image, in acme/app's attestations on GitHub. */
  const attest = async (image: PushedImage, claims?: Record<string, string>) => {
    const bundle = await actionsAttestBundle(
      sigstore,
      { name: image.name, digest: image.image.digest },
      { claims },
    )
    return api.add('acme/app', bundle)
  }

  it('issue 9.4: require-attestations slsaprovenance1 passes with the GitHub source, and fails without it', async () => {
    const image = await signedImage()
    const stored = await attest(image)
    expect((stored.bundle as { mediaType: string }).mediaType).toBe(BUNDLE_V03_MEDIA_TYPE)
    const rule = ruleRequiring(['slsaprovenance1'])

    const without = await verify(image, rule)
    expect(without.verified).toBe(false)
    expect(without.reason).toMatch(/expected a slsaprovenance1 attestation, got none/)

    const withGitHub = await verify(image, rule, { github: sourceFor(api) })
    expect(withGitHub.reason).toBeUndefined()
    expect(withGitHub.verified).toBe(true)
    expect(withGitHub.attestations).toEqual([
      expect.objectContaining({
        format: 'bundle',
        reference: `github:acme/attestations/${stored.id}`,
        predicateType: SLSA_V1,
        verified: true,
      }),
    ])
    // What gh attestation verify --owner asks, with the token, the pinned API version, 100 a page.
    expect(api.requests).toEqual([
      expect.objectContaining({
        method: 'GET',
        path: `/orgs/acme/attestations/${inPath(image.image.digest)}`,
        query: 'per_page=100',
        status: 200,
        authorization: `token ${TOKEN}`,
        apiVersion: '2022-11-28',
      }),
    ])
  })

  it("issue 9.4: a private repository's attestation (GitHub's instance: a timestamp, no log) verifies under that root", async () => {
    const image = await signedImage()
    const bundle = await actionsAttestBundle(
      sigstore,
      { name: image.name, digest: image.image.digest },
      { instance: 'github' },
    )
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([])
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1)
    api.add('acme/private-app', bundle)
    const rule = ruleRequiring(['slsaprovenance1'])
    const github = sourceFor(api)

    // As `gh attestation trusted-root` gives them: the public-good root and GitHub's.
    const both = await verify(image, rule, { github }, [...roots, ...githubLikeRoots])
    expect(both.reason).toBeUndefined()
    expect(both.verified).toBe(true)
    // Without GitHub's root, the public-good root wants a log entry it does not have.
    const publicOnly = await verify(image, rule, { github }, roots)
    expect(publicOnly.verified).toBe(false)
    expect(publicOnly.attestations[0]).toMatchObject({ verified: false })
  })

  it('issue 9.4: an attestation about another digest, listed under this one, is refused', async () => {
    const image = await signedImage()
    const other = await pushFreshImage(registry.host, 'github/other')
    const bundle = await actionsAttestBundle(sigstore, {
      name: other.name,
      digest: other.image.digest,
    })
    // GitHub lists it under this image's digest: only its statement can say what it is about.
    api.add('acme/app', bundle, [image.image.digest])

    const result = await verify(image, ruleRequiring(['slsaprovenance1']), {
      github: sourceFor(api),
    })
    expect(result.verified).toBe(false)
    expect(result.reason).toMatch(/expected a verified slsaprovenance1 attestation, got 1/)
    expect(result.attestations[0]).toMatchObject({
      verified: false,
      reason: expect.stringMatching(
        new RegExp(`expected a statement subject with digest ${image.image.digest}`),
      ) as unknown,
    })
  })

  it('issue 9.4: an attestation signed by another identity is refused', async () => {
    const image = await signedImage()
    await attest(image, { workflow_ref: OTHER_WORKFLOW, repository: 'evil/app' })

    const result = await verify(image, ruleRequiring(['slsaprovenance1']), {
      github: sourceFor(api),
    })
    expect(result.verified).toBe(false)
    expect(result.attestations[0]).toMatchObject({ verified: false })
    expect(result.attestations[0].reason).toContain(`https://github.com/${OTHER_WORKFLOW}`)
  })

  it("issue 9.4: the API's 404 is none: the organisation, then the user account, is asked", async () => {
    const image = await signedImage()
    const rule = ruleRequiring(['slsaprovenance1'])

    const none = await verify(image, rule, { github: sourceFor(api, { owner: 'acme' }) })
    expect(none.verified).toBe(false)
    expect(none.reason).toMatch(/expected a slsaprovenance1 attestation, got none/)
    expect(api.requests.map((r) => [r.path, r.status])).toEqual([
      [`/orgs/acme/attestations/${inPath(image.image.digest)}`, 404],
      [`/users/acme/attestations/${inPath(image.image.digest)}`, 404],
    ])

    // A user account: its attestations are under /users/{username}.
    const bundle = await actionsAttestBundle(sigstore, {
      name: image.name,
      digest: image.image.digest,
    })
    api.add('octocat/app', bundle)
    api.requests.length = 0
    const user = await verify(image, rule, { github: sourceFor(api, { owner: 'octocat' }) })
    expect(user.verified).toBe(true)
    expect(api.requests.map((r) => [r.path, r.status])).toEqual([
      [`/orgs/octocat/attestations/${inPath(image.image.digest)}`, 404],
      [`/users/octocat/attestations/${inPath(image.image.digest)}`, 200],
    ])
  })

  it('issue 9.4: github-attestations-owner owner/repo reads that repository only', async () => {
    const image = await signedImage()
    await attest(image)
    const result = await verify(image, ruleRequiring(['slsaprovenance1']), {
      github: sourceFor(api, { owner: 'acme/app' }),
    })
    expect(result.verified).toBe(true)
    expect(api.requests.map((r) => r.path)).toEqual([
      `/repos/acme/app/attestations/${inPath(image.image.digest)}`,
    ])
    expect(result.attestations[0].reference).toMatch(/^github:acme\/app\/attestations\/\d+$/)
  })

  it('issue 9.4: an image not on ghcr.io and no owner input is not looked up, and says so', async () => {
    const image = await signedImage()
    const source = createGitHubAttestationSource({
      token: TOKEN,
      apiUrl: api.url,
      log: capturingLog(),
    })
    const found = await discover(client, image.repo, image.image.digest, () => true, {
      github: source,
    })
    expect(api.requests).toEqual([])
    expect(found.notes.join('\n')).toMatch(/not a ghcr\.io image; set github-attestations-owner/)
  })

  it('issue 9.4: the owner comes from a ghcr.io image name, or from the input', async () => {
    const digest = `sha256:${'a'.repeat(64)}`
    const charge = (): void => undefined
    const ask = (owner?: string) =>
      createGitHubAttestationSource({
        token: TOKEN,
        owner,
        apiUrl: api.url,
        log: capturingLog(),
      }).lookup({ name: 'ghcr.io/octo-org/tools/app', digest, charge, required: true })
    await ask()
    await ask('other-org')
    expect(api.requests.map((r) => r.path)).toEqual([
      `/orgs/octo-org/attestations/${inPath(digest)}`,
      `/users/octo-org/attestations/${inPath(digest)}`,
      `/orgs/other-org/attestations/${inPath(digest)}`,
      `/users/other-org/attestations/${inPath(digest)}`,
    ])
  })

  it('issue 9.4: pages are followed through Link rel="next" with their cursor', async () => {
    const image = await signedImage()
    await api.stop()
    api = await startGitHubApiStandIn({ tokens: [TOKEN], maxPerPage: 2 })
    // Four attestations of a type no rule needs come first; the provenance is on page 3.
    for (let i = 0; i < 4; i++) {
      const bundle = await actionsAttestBundle(
        sigstore,
        { name: image.name, digest: image.image.digest },
        { predicateType: `https://example.com/other/v${i}`, predicate: { i } },
      )
      api.add('acme/app', bundle)
    }
    await attest(image)

    const result = await verify(image, ruleRequiring(['slsaprovenance1']), {
      github: sourceFor(api),
    })
    expect(result.verified).toBe(true)
    expect(result.attestations).toHaveLength(5)
    expect(api.requests.map((r) => r.query)).toEqual([
      'per_page=100',
      `per_page=2&after=${Buffer.from('2').toString('base64url')}`,
      `per_page=2&after=${Buffer.from('4').toString('base64url')}`,
    ])
    expect(api.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true)
  })

  it('issue 9.4: a listing longer than the page cap fails the image, naming the limit', async () => {
    const image = await signedImage()
    await api.stop()
    api = await startGitHubApiStandIn({ tokens: [TOKEN], maxPerPage: 1 })
    const bundle = await actionsAttestBundle(sigstore, {
      name: image.name,
      digest: image.image.digest,
    })
    for (let i = 0; i <= MAX_GITHUB_ATTESTATION_PAGES; i++) api.add('acme/app', bundle)

    await expect(
      verify(image, ruleRequiring([]), { github: sourceFor(api) }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_LIMIT',
      message: expect.stringMatching(
        new RegExp(`Signet reads at most ${MAX_GITHUB_ATTESTATION_PAGES} pages`),
      ) as unknown,
    })
    expect(api.requests).toHaveLength(MAX_GITHUB_ATTESTATION_PAGES)
  })

  it("issue 9.4: GitHub's answers count against the image's byte budget", async () => {
    // Unsigned: nothing in the registry is read, so GitHub's answer alone meets the budget.
    const image = await pushFreshImage(registry.host, 'github/budget')
    await attest(image)
    await expect(
      verify(image, ruleRequiring(['slsaprovenance1']), {
        github: sourceFor(api),
        maxBytes: 2000,
      }),
    ).rejects.toMatchObject({
      code: 'REGISTRY_LIMIT',
      message: expect.stringMatching(/GitHub's attestations of sha256:/) as unknown,
    })
  })

  it('issue 9.4: a next-page link to another host is not followed, and the token stays home', async () => {
    const elsewhere = await startGitHubApiStandIn()
    try {
      const image = await signedImage()
      await api.stop()
      api = await startGitHubApiStandIn({ tokens: [TOKEN], maxPerPage: 1, linkBase: elsewhere.url })
      await attest(image)
      await attest(image)
      const error = await verify(image, ruleRequiring(['slsaprovenance1']), {
        github: sourceFor(api),
      }).then(
        () => undefined,
        (e: unknown) => e as Error,
      )
      expect(error?.message).toMatch(/next-page link leads away from/)
      expect(elsewhere.requests).toEqual([])
    } finally {
      await elsewhere.stop()
    }
  })

  it('issue 9.4: an API failure fails the image closed when a rule requires attestations, without the token', async () => {
    const image = await signedImage()
    await attest(image)
    api.respondWith(403, { message: `Resource not accessible by integration ${TOKEN}` }, 10)
    const log = capturingLog()
    const error = await verify(image, ruleRequiring(['slsaprovenance1']), {
      github: sourceFor(api, { log }),
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    )
    expect(error?.message).toMatch(
      /GitHub artifact attestations of sha256:[0-9a-f]{64} for acme could not be read: the token may not read them \(HTTP 403\)/,
    )
    expect(error?.message).toContain('`attestations: read`')
    expect(error?.message).not.toContain(TOKEN)
    expect(log.lines.join('\n')).not.toContain(TOKEN)
  })

  it('issue 9.4: an API failure is one warning and a note when no rule requires attestations', async () => {
    const image = await signedImage()
    api.respondWith(500, { message: 'Server Error' }, 100)
    const log = capturingLog()
    const github = sourceFor(api, { log })
    const rule = ruleRequiring([])

    const first = await verify(image, rule, { github })
    const second = await verify(image, rule, { github })
    // The registry's signature decides; GitHub's outage is reported once.
    expect(first.verified).toBe(true)
    expect(second.verified).toBe(true)
    expect(log.warnings).toHaveLength(1)
    expect(log.warnings[0]).toMatch(/kept failing \(HTTP 500\)/)
    // Retried (2 retries) for each lookup, then given up.
    expect(api.requests).toHaveLength(6)
  })

  it('issue 9.4: a signature bundle stored on GitHub (sign mode with github-attestations) signs the image', async () => {
    const image = await pushFreshImage(registry.host, 'github/unsigned')
    api.add('acme/app', await signatureBundle(sigstore, image.image.digest))
    await attest(image)
    const rule = ruleRequiring(['slsaprovenance1'])

    expect((await verify(image, rule)).reason).toMatch(/expected a signature, got none/)
    const result = await verify(image, rule, { github: sourceFor(api) })
    expect(result.verified).toBe(true)
    expect(result.signatures[0].reference).toMatch(/^github:acme\/attestations\/\d+$/)
  })
})
