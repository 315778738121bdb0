/**
 * The bundled action run as the runner runs it: bad input, outages, concurrent signers,
 * credentials, build metadata and the report. Signatures are judged by cosign v2 where it matters.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { attestationTag, signatureTag } from '../../src/formats/cosign-tags'
import { referrersFallbackTag } from '../../src/formats/referrers'
import { RegistryClient } from '../../src/registry/client'
import {
  anonymousCredentials,
  staticCredentials,
  type CredentialProvider,
} from '../../src/registry/credentials'
import type { ImageIndex, ImageManifest } from '../../src/registry/types'
import { runAction, type ActionRun } from '../infra/action-runner'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import { Cosign } from '../infra/cosign'
import {
  identityFlags,
  oidcEnv,
  pushFreshImage,
  standInInputs,
  writeSigningKey,
  type PushedImage,
} from '../infra/harness'
import { startOciRegistry, type OciRegistry } from '../infra/oci-registry'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { runToolAsync } from '../infra/tools'
import { expectOneError } from '../infra/expect'
import { imageDigests } from '../infra/images'
import { closeServer, listenOnLoopback } from '../infra/listen'
import { crdErrors, crdSchema } from '../infra/crd-schema'
import { parse } from 'yaml'
import { CYCLONEDX } from '../infra/sboms'

const CRDS = join(__dirname, '..', 'fixtures', 'crds')
const KYVERNO = crdSchema(join(CRDS, 'kyverno.io_clusterpolicies.excerpt.yaml'), 'v1')
const CIP = crdSchema(join(CRDS, 'policy.sigstore.dev_clusterimagepolicies.yaml'), 'v1beta1')

let distribution: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let keyPath: string
let n = 0

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-action-test-'))
  ;[distribution, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
  ])
  ;({ keyPath } = writeSigningKey(dir, 'test', 'secret-pw'))
})

afterAll(async () => {
  await Promise.all([distribution?.stop(), sigstore?.stop()])
})

function clientFor(host: string, credentials = anonymousCredentials) {
  return new RegistryClient({ credentials, plainHttp: [host] })
}

const push = async (
  host: string,
  options: { platforms?: string[]; tag?: string; credentials?: CredentialProvider } = {},
) => pushFreshImage(host, 'action/app', options)
const oidc = () => oidcEnv(sigstore)
const services = (host: string) => standInInputs(sigstore, host)

describe('bad input: one ::error:: naming the input, exit 1, nothing written', () => {
  let registry: OciRegistry
  let ref: string
  let name: string

  beforeAll(async () => {
    registry = await startOciRegistry()
    ;({ ref, name } = await push(registry.host))
  })
  afterAll(async () => registry?.stop())

  const writes = () =>
    registry.log.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')

  it.each([
    [
      'an unparsable image reference',
      () => ({ images: 'Not A Ref!!' }),
      'images',
      /not a valid image reference|invalid/i,
    ],
    ['a malformed digest', () => ({ images: `${name}@sha256:1234` }), 'images', /digest/],
    [
      'a malformed digest input',
      () => ({ images: name, digest: 'sha256:xyz' }),
      'digest',
      /digest/,
    ],
    [
      'a digest that is not in the registry',
      () => ({ images: `${name}@sha256:${'0'.repeat(64)}` }),
      'images',
      /not in the registry.*push: true/,
    ],
    ['an unknown mode', () => ({ images: ref, mode: 'publish' }), 'mode', /mode must be one of/],
    [
      'an unknown signature-format',
      () => ({ images: ref, 'signature-format': 'v4' }),
      'signature-format',
      /signature-format must be one of/,
    ],
    ['a key that is not a key', () => ({ images: ref, key: 'definitely not a key' }), 'key', /key/],
    [
      'a wrong key password',
      () => ({ images: ref, key: keyPath, 'key-password': 'wrong-password' }),
      'key-password',
      /password/,
    ],
    ['metadata that is not JSON', () => ({ metadata: '{not json' }), 'metadata', /not JSON/],
    [
      'metadata that names no image',
      () => ({ metadata: '{"buildx.build.ref":"x"}' }),
      'metadata',
      /names no image/,
    ],
    ['no images at all', () => ({}), 'images', /no images to sign/],
  ])('%s', async (_what, inputs, input, message) => {
    const before = writes().length
    const run = await runAction({ ...services(registry.host), ...inputs() }, oidc())
    expectOneError(run, input, message)
    expect(run.outputs.signed).toBe('false')
    expect(writes().length).toBe(before)
    expect(run.visibleLog).not.toContain('wrong-password')
  })

  it('keyless signing without the id-token permission', async () => {
    const before = writes().length
    const run = await runAction({ images: ref, ...services(registry.host) })
    expectOneError(run, 'key', /permissions: id-token: write.*forks/)
    expect(writes().length).toBe(before)
  })
})

/** Every digest of a pushed image (the index and each platform's), as `name@digest`. */
const everyDigest = ({ name, image }: PushedImage): string[] => [
  `${name}@${image.digest}`,
  ...image.children.map((c) => `${name}@${c.digest}`),
]

/** cosign v3 (the bundle) and v2 (the `.sig` tag) both verify each reference's signature. */
async function verifiedByCosign(trust: SigstoreStandIn, refs: string[]): Promise<void> {
  const cosign = new Cosign(mkdtempSync(join(dir, 'cosign-')))
  for (const ref of refs) {
    for (const version of [3, 2] as const) {
      await cosign.verify(version, trust, identityFlags(trust), ref)
    }
  }
}

describe('reliability', () => {
  it('survives a registry that fails one request in five: every image verified by cosign v3 and v2', async () => {
    const flaky = await startOciRegistry({ failEvery: 5, referrers: false })
    try {
      const pushed = await push(flaky.host, { platforms: ['linux/amd64', 'linux/arm64'] })
      const run = await runAction({ images: pushed.ref, ...services(flaky.host) }, oidc())
      expect(run.exitCode).toBe(0)
      expect(run.outputs.signed).toBe('true')
      expect(JSON.parse(run.outputs.results)).toHaveLength(3)
      // Each retry says which registry answered what, and how long is left.
      expect(run.visibleLog).toMatch(
        new RegExp(`the registry ${flaky.host}: HTTP 503; retry \\d+ in .*left of retry-timeout`),
      )
      await verifiedByCosign(sigstore, everyDigest(pushed))
    } finally {
      await flaky.stop()
    }
  })

  describe('a Rekor outage', () => {
    // A stand-in of its own: its outage must not reach the other tests.
    let down: SigstoreStandIn
    beforeAll(async () => {
      down = await startSigstoreStandIn({ dir: join(dir, 'rekor-outage') })
    })
    afterAll(async () => down?.stop())

    it('longer than the old retries (about 25 s) is ridden out within retry-timeout', async () => {
      const pushed = await push(distribution.host, { platforms: ['linux/amd64', 'linux/arm64'] })
      down.failFor('rekor', 30_000, 503)
      const run = await runAction(
        { images: pushed.ref, ...standInInputs(down, distribution.host), 'retry-timeout': '2m' },
        oidcEnv(down),
      )
      expect(run.errors).toEqual([])
      expect(run.exitCode).toBe(0)
      expect(run.outputs.signed).toBe('true')
      expect(JSON.parse(run.outputs.results)).toHaveLength(3)
      const retries = run.visibleLog
        .split('\n')
        .filter((l) => l.startsWith(`Rekor (${down.rekorURL}): HTTP 503`))
      expect(retries.length).toBeGreaterThan(3)
      expect(retries[0]).toMatch(/retry 1 in \d+ (ms|s), 1 min \d+ s left of retry-timeout$/)
      await verifiedByCosign(down, everyDigest(pushed))
    }, 150_000)

    it('longer than retry-timeout fails the step with one error naming Rekor and retry-timeout', async () => {
      const { ref } = await push(distribution.host)
      down.failFor('rekor', 20_000, 503)
      const run = await runAction(
        { images: ref, ...standInInputs(down, distribution.host), 'retry-timeout': '5s' },
        oidcEnv(down),
      )
      expect(run.exitCode).toBe(1)
      expect(run.outputs.signed).toBe('false')
      expect(run.errors).toHaveLength(1)
      expect(run.errors[0]).toMatch(
        /Rekor .* did not record the signature: it is unavailable \(HTTP 503.*\), still unavailable after retrying for 5 s \(retry-timeout\).*raise retry-timeout/,
      )
    }, 60_000)
  })

  it('survives a Fulcio and Rekor outage of a few failed requests', async () => {
    const { ref } = await push(distribution.host)
    sigstore.failNext('fulcio', 2, 503)
    sigstore.failNext('rekor', 3, 502)
    const run = await runAction({ images: ref, ...services(distribution.host) }, oidc())
    expect(run.exitCode).toBe(0)
    expect(run.outputs.signed).toBe('true')
  })

  it('treats Rekor\'s "entry already exists" as success and never duplicates a signature', async () => {
    // RSA PKCS#1 v1.5 signatures are deterministic: signing the same payload twice proposes the
    // identical Rekor entry, which Rekor answers with 409.
    const { keyPath: rsaKey, pubPath: rsaPub } = writeSigningKey(
      dir,
      'rsa',
      '',
      generateKeyPairSync('rsa', { modulusLength: 2048 }),
    )
    const { ref, repo, image } = await push(distribution.host)
    const inputs = {
      images: ref,
      key: rsaKey,
      'signature-format': 'legacy',
      ...services(distribution.host),
    }
    const first = await runAction(inputs)
    const second = await runAction(inputs)
    expect(first.exitCode).toBe(0)
    expect(second.exitCode).toBe(0)
    const rekorIndex = (run: ActionRun) =>
      JSON.parse(run.outputs.results)[0].signatures[0].rekorLogIndex
    expect(rekorIndex(second)).toBe(rekorIndex(first))
    const sig = await clientFor(distribution.host).getManifest(repo, signatureTag(image.digest))
    expect((JSON.parse(sig!.bytes.toString()) as ImageManifest).layers).toHaveLength(1)
    await runToolAsync(
      'cosign2',
      ['verify', '--allow-insecure-registry', '--allow-http-registry', '--key', rsaPub, ref],
      { env: sigstore.cosignV2Env },
    )
  })

  it('loses no signature when six jobs sign the same digest at once', async () => {
    const { ref, repo, image } = await push(distribution.host)
    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        runAction({ images: ref, ...services(distribution.host) }, oidc()),
      ),
    )
    for (const run of runs) expect(run.exitCode).toBe(0)
    const client = clientFor(distribution.host)
    const sig = JSON.parse(
      (await client.getManifest(repo, signatureTag(image.digest)))!.bytes.toString(),
    ) as ImageManifest
    expect(sig.layers).toHaveLength(6)
    const index = JSON.parse(
      (await client.getManifest(repo, referrersFallbackTag(image.digest)))!.bytes.toString(),
    ) as ImageIndex
    expect(index.manifests).toHaveLength(6)
    const written = runs
      .map((r) => JSON.parse(r.outputs.results)[0].signatures[1].reference.split('@')[1])
      .sort()
    expect(index.manifests.map((m) => m.digest).sort()).toEqual(written)
  })
})

describe('inputs that name images and credentials', () => {
  /** Runs `test` against a registry behind basic auth (user ci) holding an image pushed as ci. */
  async function withSecuredRegistry(
    password: string,
    test: (host: string, pushed: PushedImage) => Promise<void>,
  ): Promise<void> {
    const secured = await startTestRegistry('distribution', {
      htpasswd: { username: 'ci', password },
    })
    try {
      const credentials = staticCredentials({ [secured.host]: { username: 'ci', password } })
      await test(secured.host, await push(secured.host, { credentials }))
    } finally {
      await secured.stop()
    }
  }

  it('signs every image of docker/build-push-action metadata once', async () => {
    const { name, image } = await push(distribution.host)
    const metadata = JSON.stringify({
      'containerimage.digest': image.digest,
      'image.name': `${name}:v1,${name}:latest`,
    })
    const run = await runAction({
      metadata,
      key: keyPath,
      'key-password': 'secret-pw',
      ...services(distribution.host),
    })
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(run.outputs.results)).toHaveLength(1)
  })

  it('takes a bare name with the digest input, and the registry-username/password inputs', async () => {
    await withSecuredRegistry('reg-pass-123', async (host, { name, image }) => {
      const anonymous = await runAction({
        images: name,
        digest: image.digest,
        key: keyPath,
        'key-password': 'secret-pw',
        ...services(host),
      })
      expect(anonymous.exitCode).toBe(1)
      expect(anonymous.errors[0]).toMatch(/registry-username|docker\/login-action/)
      const run = await runAction({
        images: name,
        digest: image.digest,
        key: keyPath,
        'key-password': 'secret-pw',
        'registry-username': 'ci',
        'registry-password': 'reg-pass-123',
        ...services(host),
      })
      expect(run.exitCode).toBe(0)
      expect(run.visibleLog).not.toContain('reg-pass-123')
    })
  })

  it('reads credentials from the Docker config as docker/login-action writes it', async () => {
    await withSecuredRegistry('cfg-pass-456', async (host, { ref }) => {
      const configDir = join(dir, `docker-${n++}`)
      mkdirSync(configDir)
      writeFileSync(
        join(configDir, 'config.json'),
        JSON.stringify({
          auths: { [host]: { auth: Buffer.from('ci:cfg-pass-456').toString('base64') } },
        }),
      )
      const run = await runAction(
        { images: ref, key: keyPath, 'key-password': 'secret-pw', ...services(host) },
        { DOCKER_CONFIG: configDir },
      )
      expect(run.exitCode).toBe(0)
    })
  })
})

describe('report', () => {
  it('says plainly when the identity is a reusable workflow', async () => {
    const reusable = await startSigstoreStandIn({
      dir: join(dir, 'reusable'),
      claims: {
        job_workflow_ref: 'acme/platform/.github/workflows/publish-image.yml@refs/tags/v1',
      },
    })
    try {
      const { ref } = await push(distribution.host)
      const run = await runAction(
        {
          images: ref,
          'plain-http': distribution.host,
          'fulcio-url': reusable.fulcioURL,
          'rekor-url': reusable.rekorURL,
        },
        {
          ACTIONS_ID_TOKEN_REQUEST_URL: reusable.oidc.requestURL,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: reusable.oidc.requestToken,
        },
      )
      expect(run.exitCode).toBe(0)
      const identity =
        'https://github.com/acme/platform/.github/workflows/publish-image.yml@refs/tags/v1'
      expect(run.outputs['certificate-identity']).toBe(identity)
      expect(run.summary).toMatch(/reusable workflow/)
      expect(run.summary).toContain('acme/app/.github/workflows/publish.yml')
      expect(run.stdout).toMatch(/::notice::.*reusable workflow/)
    } finally {
      await reusable.stop()
    }
  })

  it('issue 13.3: offers admission policies naming exactly the identity signed with, files and summary', async () => {
    const { ref } = await push(distribution.host)
    const sbom = join(dir, 'admission.cdx.json')
    writeFileSync(sbom, JSON.stringify(CYCLONEDX))
    const run = await runAction({ images: ref, sbom, ...services(distribution.host) }, oidc())
    expect(run.exitCode).toBe(0)
    const kyverno = parse(run.outputFiles['kyverno-policy']) as Record<string, unknown>
    expect(crdErrors(run.outputFiles['kyverno-policy'], KYVERNO)).toEqual([])
    expect(crdErrors(run.outputFiles['cluster-image-policy'], CIP)).toEqual([])
    const entry = (kyverno.spec as { rules: { verifyImages: Record<string, unknown>[] }[] })
      .rules[0].verifyImages[0]
    expect(entry).toMatchObject({
      // signature-format defaults to both: Kyverno reads the .sig tag.
      type: 'Cosign',
      failureAction: 'Audit',
      attestors: [
        {
          count: 1,
          entries: [
            {
              keyless: {
                subject: run.outputs['certificate-identity'],
                issuer: run.outputs['certificate-oidc-issuer'],
              },
            },
          ],
        },
      ],
    })
    const repository = ref.replace(/[:@][^/]*$/, '')
    expect(entry.imageReferences).toEqual([`${repository}:*`, `${repository}@*`])
    const types = (
      JSON.parse(run.outputs.results) as { attestations: { predicateType: string }[] }[]
    )[0].attestations.map((a) => a.predicateType)
    expect(types.length).toBeGreaterThan(0)
    expect((entry.attestations as { type: string }[]).map((a) => a.type).sort()).toEqual(
      [...new Set(types)].sort(),
    )
    expect(run.summary).toContain('<details><summary>Admission policy (Kyverno ClusterPolicy)')
    expect(run.summary).toContain(run.outputFiles['kyverno-policy'].trimEnd())

    // admission-mode: enforce reaches both files.
    const enforced = await runAction(
      { images: ref, 'admission-mode': 'enforce', ...services(distribution.host) },
      oidc(),
    )
    expect(enforced.exitCode).toBe(0)
    expect(parse(enforced.outputFiles['kyverno-policy'])).toMatchObject({
      spec: { validationFailureAction: 'Enforce' },
    })
    expect(parse(enforced.outputFiles['cluster-image-policy'])).toMatchObject({
      spec: { mode: 'enforce' },
    })
  })

  it('writes one summary row per digest, log groups per phase, and every bundle to bundle-path', async () => {
    const { ref, image } = await push(distribution.host, {
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const run = await runAction({ images: ref, ...services(distribution.host) }, oidc())
    expect(run.exitCode).toBe(0)
    for (const digest of imageDigests(image)) {
      expect(run.summary).toContain(digest.slice(0, 19))
    }
    expect(run.summary).toContain('linux/arm64')
    expect(run.summary).toContain(run.outputs['verify-command'])
    expect(run.stdout).toMatch(/::group::Resolving images/)
    expect(run.stdout).toMatch(/::group::Signing 3 image/)
    expect(run.bundleLines).toHaveLength(6)
    for (const line of run.bundleLines) {
      expect(JSON.parse(line).mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    }
  })

  it('asks Fulcio for one certificate for the whole run', async () => {
    const { ref } = await push(distribution.host, {
      platforms: ['linux/amd64', 'linux/arm64', 'linux/s390x'],
    })
    const before = sigstore.requests.fulcio ?? 0
    const run = await runAction({ images: ref, ...services(distribution.host) }, oidc())
    expect(run.exitCode).toBe(0)
    // 4 digests × 2 formats = 8 signatures, one certificate
    expect(run.bundleLines).toHaveLength(8)
    expect((sigstore.requests.fulcio ?? 0) - before).toBe(1)
  })

  it('issue 8.12: the OIDC token Signet fetches is masked before anything could print it', async () => {
    // The runner's token endpoint, answering with a token the test knows (minted by the stand-in,
    // whose Fulcio accepts it).
    const token = sigstore.mintToken({ aud: 'sigstore' })
    const endpoint = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ count: 1, value: token }))
    })
    const port = await listenOnLoopback(endpoint)
    try {
      const { ref } = await push(distribution.host)
      const run = await runAction(
        { images: ref, ...services(distribution.host) },
        {
          ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?api-version=2.0`,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
        },
      )
      expect(run.exitCode).toBe(0)
      const lines = run.stdout.split('\n')
      const mask = lines.indexOf(`::add-mask::${token}`)
      expect(mask).toBeGreaterThanOrEqual(0)
      expect(lines.slice(0, mask).join('\n')).not.toContain(token)
      expect(run.visibleLog).not.toContain(token)
    } finally {
      await closeServer(endpoint)
    }
  })

  it('signs only the index with recursive: false', async () => {
    const { ref, image } = await push(distribution.host, {
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const run = await runAction(
      { images: ref, recursive: 'false', ...services(distribution.host) },
      oidc(),
    )
    expect(run.exitCode).toBe(0)
    expect(JSON.parse(run.outputs.results).map((r: { digest: string }) => r.digest)).toEqual([
      image.digest,
    ])
  })

  it('names plain-http when a plain-HTTP registry is reached over HTTPS', async () => {
    const { ref } = await push(distribution.host)
    const run = await runAction({ images: ref, key: keyPath, 'key-password': 'secret-pw' })
    expectOneError(run, 'plain-http', /does not speak HTTPS/)
  })
})

describe('tags plus digest (docker/metadata-action tags, docker/build-push-action digest)', () => {
  let registry: OciRegistry

  beforeAll(async () => {
    registry = await startOciRegistry()
  })
  afterAll(async () => registry?.stop())

  const TAGS = ['1.2.3', '1.2', 'latest']
  /** Manifest requests by tag: none may be made when every tag takes the digest input. */
  const tagLookups = (repository: string) =>
    registry.log.filter((r) =>
      TAGS.some((tag) => r.url.split('?')[0] === `/v2/${repository}/manifests/${tag}`),
    )
  const digestsOf = (run: ActionRun) =>
    (JSON.parse(run.outputs.results) as { digest: string; signed: boolean }[]).map((r) => {
      expect(r.signed).toBe(true)
      return r.digest
    })

  it('issue 9.2: three tags never pushed (a push by digest) plus digest: signed, no tag looked up, each digest once', async () => {
    // A matrix build pushes by digest only: none of the tags exists in the registry.
    const { name, repo, image } = await push(registry.host, {
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const client = clientFor(registry.host)
    for (const tag of TAGS) expect(await client.headManifest(repo, tag)).toBeUndefined()
    const before = tagLookups(repo.repository).length
    const run = await runAction(
      {
        images: TAGS.map((tag) => `${name}:${tag}`).join('\n'),
        digest: image.digest,
        ...services(registry.host),
      },
      oidc(),
    )
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.outputs.signed).toBe('true')
    expect(run.stdout).not.toMatch(/::warning::.*is a tag/)
    const digests = digestsOf(run)
    expect(digests.sort()).toEqual(imageDigests(image).sort())
    expect(tagLookups(repo.repository).length).toBe(before)
    // and verify mode, given the same inputs, verifies that digest without looking a tag up
    const verify = await runAction({
      mode: 'verify',
      images: TAGS.map((tag) => `${name}:${tag}`).join('\n'),
      digest: image.digest,
      'plain-http': registry.host,
      'trusted-root': sigstore.trustedRootPath,
      'certificate-identity': sigstore.identity.subject,
      'certificate-oidc-issuer': sigstore.identity.issuer,
    })
    expect(verify.errors).toEqual([])
    expect(verify.outputs.verified).toBe('true')
    const verified = JSON.parse(verify.outputs.results) as { digest: string; verified: boolean }[]
    expect(verified.map((r) => r.digest)).toContain(image.digest)
    expect(verified.every((r) => r.verified)).toBe(true)
    expect(new Set(verified.map((r) => r.digest)).size).toBe(verified.length)
    expect(tagLookups(repo.repository).length).toBe(before)
  })

  it('issue 9.2: with images empty, the tags of DOCKER_METADATA_OUTPUT_JSON take digest', async () => {
    const { name, repo, image } = await push(registry.host)
    const before = tagLookups(repo.repository).length
    const json = JSON.stringify({
      tags: TAGS.map((tag) => `${name}:${tag}`),
      labels: { 'org.opencontainers.image.version': '1.2.3' },
      annotations: ['manifest:org.opencontainers.image.version=1.2.3'],
    })
    const run = await runAction(
      {
        digest: image.digest,
        key: keyPath,
        'key-password': 'secret-pw',
        ...services(registry.host),
      },
      { DOCKER_METADATA_OUTPUT_JSON: json },
    )
    expect(run.errors).toEqual([])
    expect(digestsOf(run)).toEqual([image.digest])
    expect(tagLookups(repo.repository).length).toBe(before)
  })

  it('issue 9.2: name:tag@digest with another digest input: one ::error:: naming digest, nothing written', async () => {
    const { name, image } = await push(registry.host)
    const other = `sha256:${'0'.repeat(64)}`
    const writes = () => registry.log.filter((r) => r.method === 'PUT' || r.method === 'POST')
    const before = writes().length
    const run = await runAction(
      { images: `${name}:v1@${image.digest}`, digest: other, ...services(registry.host) },
      oidc(),
    )
    expectOneError(run, 'digest', new RegExp(other))
    expect(writes().length).toBe(before)
  })
})

describe('issue 9.3: trusted-root in sign mode', () => {
  let registry: OciRegistry
  let other: SigstoreStandIn

  beforeAll(async () => {
    ;[registry, other] = await Promise.all([
      startOciRegistry(),
      startSigstoreStandIn({ dir: join(dir, 'other-instance') }),
    ])
  })
  afterAll(async () => Promise.all([registry?.stop(), other?.stop()]))

  type RootPart = 'certificateAuthorities' | 'ctlogs' | 'tlogs' | 'timestampAuthorities'
  /** The stand-in's trusted_root.json with `parts` taken from the other instance's. */
  const rootWithOthers = (...parts: RootPart[]): string => {
    const own = JSON.parse(readFileSync(sigstore.trustedRootPath, 'utf8'))
    const theirs = JSON.parse(readFileSync(other.trustedRootPath, 'utf8'))
    for (const part of parts) own[part] = theirs[part]
    const path = join(dir, `root-${parts.join('-')}-${n++}.json`)
    writeFileSync(path, JSON.stringify(own))
    return path
  }
  const writes = () =>
    registry.log.filter((r) => r.method === 'PUT' || r.method === 'POST' || r.method === 'PATCH')
      .length
  /** Nothing in the registry for the image: no .sig, no .att, no referrer, no fallback tag. */
  const expectNoSignature = async (pushed: PushedImage): Promise<void> => {
    const client = clientFor(registry.host)
    for (const digest of imageDigests(pushed.image)) {
      expect(await client.getManifest(pushed.repo, signatureTag(digest))).toBeUndefined()
      expect(await client.getManifest(pushed.repo, attestationTag(digest))).toBeUndefined()
      expect(await client.getManifest(pushed.repo, referrersFallbackTag(digest))).toBeUndefined()
      expect((await client.referrers(pushed.repo, digest))?.manifests ?? []).toEqual([])
    }
  }
  const signWith = (pushed: PushedImage, inputs: Record<string, string>, keyless = true) =>
    runAction({ images: pushed.ref, ...services(registry.host), ...inputs }, keyless ? oidc() : {})
  // A function: keyPath is set in the file's beforeAll.
  const byKey = () => ({ key: keyPath, 'key-password': 'secret-pw' })

  it('issue 9.3: keyless against the services of the root given: signed, checked once per certificate, verify-command names it', async () => {
    const pushed = await push(registry.host, { platforms: ['linux/amd64', 'linux/arm64'] })
    const run = await signWith(pushed, { 'trusted-root': sigstore.trustedRootPath })
    expect(run.exitCode).toBe(0)
    expect(run.outputs.signed).toBe('true')
    expect(run.outputs['verify-command']).toContain(`--trusted-root=${sigstore.trustedRootPath}`)
    expect(run.outputs['verify-command']).not.toContain('--trusted-root=trusted_root.json')
    // 3 digests × 2 formats: every signature checked, the one certificate's chain and SCT once.
    expect(run.stdout).toMatch(
      /::debug::trusted-root: 6 signature\(s\) checked .*; 1 certificate\(s\) chain and SCT checked/,
    )
  })

  it.each<[string, RootPart[]]>([
    [
      "another instance's root",
      ['certificateAuthorities', 'ctlogs', 'tlogs', 'timestampAuthorities'],
    ],
    ["a root whose Fulcio CA is another instance's", ['certificateAuthorities']],
    ["a root whose CT log is another instance's (the SCT)", ['ctlogs']],
    ["a root whose Rekor is another instance's (the log entry)", ['tlogs']],
  ])(
    'issue 9.3: keyless with %s: one ::error:: naming trusted-root, exit 1, nothing written',
    async (_what, parts) => {
      const pushed = await push(registry.host, { platforms: ['linux/amd64', 'linux/arm64'] })
      const before = writes()
      const run = await signWith(pushed, {
        'trusted-root': rootWithOthers(...parts),
        sbom: sbomPath(),
      })
      expectOneError(run, 'trusted-root', /does not verify against trusted-root/)
      expect(run.outputs.signed).toBe('false')
      expect(writes()).toBe(before)
      await expectNoSignature(pushed)
    },
  )

  it("issue 9.3: by key, the Rekor entry is what is checked: another instance's log refuses, nothing written", async () => {
    const pushed = await push(registry.host)
    const before = writes()
    const run = await signWith(
      pushed,
      { ...byKey(), 'trusted-root': rootWithOthers('tlogs') },
      false,
    )
    expectOneError(run, 'trusted-root', /does not verify against trusted-root.*the Rekor entry/)
    expect(writes()).toBe(before)
    await expectNoSignature(pushed)
    // The same root with this instance's log: signed (the key itself needs no root).
    const ok = await signWith(
      await push(registry.host),
      { ...byKey(), 'trusted-root': rootWithOthers('certificateAuthorities', 'ctlogs') },
      false,
    )
    expect(ok.exitCode).toBe(0)
  })

  it("issue 9.3: by key with tlog: false and no TSA nothing is checked beyond the key: another instance's root signs", async () => {
    const pushed = await push(registry.host)
    const run = await signWith(
      pushed,
      { ...byKey(), tlog: 'false', 'trusted-root': other.trustedRootPath },
      false,
    )
    expect(run.exitCode).toBe(0)
    expect(run.outputs['verify-command']).toContain(`--trusted-root=${other.trustedRootPath}`)
  })

  it.each([
    ['keyless', true],
    ['by key', false],
  ])(
    "issue 9.3: with tsa-url (%s), the timestamp is checked: a root whose TSA is another instance's refuses",
    async (_how, keyless) => {
      const tsa = { tlog: 'false', 'tsa-url': `${sigstore.tsaURL}/api/v1/timestamp` }
      const key = keyless ? {} : byKey()
      const good = await signWith(
        await push(registry.host),
        { ...tsa, ...key, 'trusted-root': sigstore.trustedRootPath },
        keyless,
      )
      expect(good.exitCode).toBe(0)
      const pushed = await push(registry.host)
      const before = writes()
      const run = await signWith(
        pushed,
        { ...tsa, ...key, 'trusted-root': rootWithOthers('timestampAuthorities') },
        keyless,
      )
      expectOneError(run, 'trusted-root', /does not verify against trusted-root.*the timestamp/)
      expect(writes()).toBe(before)
      await expectNoSignature(pushed)
    },
  )

  it('issue 9.3: a trusted-root that is not a trusted root is bad input: refused before anything is written', async () => {
    const pushed = await push(registry.host)
    const before = writes()
    const fulcioBefore = sigstore.requests.fulcio ?? 0
    const notARoot = join(dir, `not-a-root-${n++}.json`)
    writeFileSync(notARoot, JSON.stringify({ hello: 'world' }))
    const run = await signWith(pushed, { 'trusted-root': notARoot })
    expectOneError(run, 'trusted-root', /not a Sigstore trusted root/)
    expect(writes()).toBe(before)
    // Read before Fulcio is asked: bad input sends nothing anywhere.
    expect(sigstore.requests.fulcio ?? 0).toBe(fulcioBefore)
  })

  it('issue 9.3: other services and no trusted-root: nothing to check against, said in a debug line, signed', async () => {
    const run = await signWith(await push(registry.host), {})
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(/::debug::.*not Sigstore's public-good.*set trusted-root/)
    expect(run.outputs['verify-command']).toContain('--trusted-root=trusted_root.json')
  })
})

function sbomPath(): string {
  const path = join(dir, `sbom-${n++}.cdx.json`)
  writeFileSync(
    path,
    JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5', version: 1, components: [] }),
  )
  return path
}
