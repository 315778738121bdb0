/**
 * runSign end to end in-process: inputs in, an in-memory registry written, results out. Signing
 * is by a generated P-256 key with tlog: false (no service, no network), except the last block,
 * which signs keyless against the Sigstore stand-in on loopback.
 *
 * What is checked is what a verifier would read: the `.sig` layers and their signatures, the
 * bundle referrers (or the fallback index) and the statements inside, and that nothing at all is
 * written when any input is bad or any digest is missing.
 */
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { BUNDLE_V03_MEDIA_TYPE, bundleFromJSON, type Bundle } from '@sigstore/bundle'
import { LEGACY_ANNOTATIONS, DSSE_ENVELOPE_MEDIA_TYPE } from '../../src/formats/cosign-tags'
import { BUNDLE_ANNOTATIONS } from '../../src/formats/referrers'
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/formats/simple-signing'
import { COSIGN_SIGN_PREDICATE_TYPE, IN_TOTO_PAYLOAD_TYPE } from '../../src/formats/statement'
import { readInputs } from '../../src/inputs'
import type { ImageIndex, ImageManifest, Repository } from '../../src/registry/types'
import { runSign, type RunDependencies } from '../../src/sign/run'
import { FakeRegistry, type FakeRegistryOptions } from '../infra/fake-registry'
import { CYCLONEDX } from '../infra/sboms'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { recordingLogger } from '../infra/recording-logger'

const APP: Repository = { registry: 'registry.test', repository: 'acme/app' }
const WORKER: Repository = { registry: 'registry.test', repository: 'acme/worker' }
const nameOf = (repo: Repository) => `${repo.registry}/${repo.repository}`
const stem = (digest: string) => digest.replace(':', '-')
const ABSENT = `sha256:${'0'.repeat(64)}`
const CYCLONEDX_TYPE = 'https://cyclonedx.org/bom'

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()
const publicKey: KeyObject = createPublicKey(pem)

let cwd: string
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'sign-run-'))
  writeFileSync(join(cwd, 'sbom.cdx.json'), JSON.stringify(CYCLONEDX))
  writeFileSync(join(cwd, 'broken.json'), '{')
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

/** The action's inputs as the runner hands them over (sign mode, by key, no log). */
function inputs(given: Record<string, string>) {
  const values: Record<string, string> = {
    mode: 'sign',
    key: pem,
    tlog: 'false',
    recursive: 'false',
    ...given,
  }
  return readInputs((name) => values[name] ?? '', 'sign')
}

async function run(
  registry: FakeRegistry,
  given: Record<string, string>,
  deps: Partial<RunDependencies> = {},
) {
  const lines = recordingLogger()
  const { log } = lines
  const bundles: Bundle[] = []
  const outcome = await runSign(inputs(given), {
    log,
    env: {},
    registry,
    cwd,
    onBundle: (b) => bundles.push(b),
    ...deps,
  })
  return { outcome, lines, bundles }
}

// --- what a verifier reads --------------------------------------------------------------------------

/** The `.sig` manifest of a digest, each layer's payload checked against its signature. */
function legacySignatures(registry: FakeRegistry, repo: Repository, digest: string) {
  const manifest = registry.manifest<ImageManifest>(repo, `${stem(digest)}.sig`)
  if (!manifest) return undefined
  return manifest.layers.map((layer) => {
    expect(layer.mediaType).toBe(SIMPLE_SIGNING_MEDIA_TYPE)
    const payload = registry.blob(repo, layer.digest)!
    const signature = Buffer.from(layer.annotations![LEGACY_ANNOTATIONS.signature], 'base64')
    return {
      payload: JSON.parse(payload.toString('utf8')) as {
        critical: {
          identity: { 'docker-reference': string }
          image: { 'docker-manifest-digest': string }
        }
        optional: Record<string, string> | null
      },
      verifies: verify('sha256', payload, publicKey, signature),
      annotations: layer.annotations!,
    }
  })
}

/** DSSE's pre-authentication encoding, what a DSSE signature covers. */
const pae = (type: string, body: Buffer) =>
  Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(type)} ${type} ${body.length} `), body])

/** The bundle referrers of a digest (by the API, or the fallback index), each opened. */
async function bundleReferrers(registry: FakeRegistry, repo: Repository, digest: string) {
  const listing =
    registry.referrersMode === 'api'
      ? await registry.referrers(repo, digest)
      : registry.manifest<ImageIndex>(repo, stem(digest))
  return (listing?.manifests ?? []).map((descriptor) => {
    expect(descriptor.artifactType).toBe(BUNDLE_V03_MEDIA_TYPE)
    const manifest = registry.manifest<ImageManifest>(repo, descriptor.digest)!
    expect(manifest.subject?.digest).toBe(digest)
    const bundle = bundleFromJSON(
      JSON.parse(registry.blob(repo, manifest.layers[0].digest)!.toString('utf8')),
    )
    if (bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle')
    const envelope = bundle.content.dsseEnvelope
    expect(envelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE)
    return {
      digest: descriptor.digest,
      predicateType: manifest.annotations![BUNDLE_ANNOTATIONS.predicateType],
      statement: JSON.parse(envelope.payload.toString('utf8')) as {
        subject: {
          name?: string
          digest: { sha256: string }
          annotations?: Record<string, string>
        }[]
        predicateType: string
        predicate: unknown
      },
      verifies:
        bundle.verificationMaterial.content.$case === 'publicKey'
          ? verify(
              'sha256',
              pae(envelope.payloadType, envelope.payload),
              publicKey,
              envelope.signatures[0].sig,
            )
          : undefined,
    }
  })
}

function seeded(options: FakeRegistryOptions = {}) {
  const registry = new FakeRegistry(options)
  const app = registry.seedImage(APP, { tag: 'v1' })
  const worker = registry.seedImage(WORKER, { tag: 'v1' })
  return { registry, app, worker }
}

describe('runSign by key', () => {
  test('both formats: a .sig and a bundle referrer per digest, each verifying with the key', async () => {
    const { registry, app, worker } = seeded()
    const { outcome, bundles } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${worker.digest}`,
    })

    expect(outcome.signed).toBe(true)
    expect(outcome.errors).toEqual([])
    expect(outcome.keyless).toBe(false)
    expect(outcome.publicKeyPem).toBe(createPublicKey(pem).export({ format: 'pem', type: 'spki' }))
    expect(outcome.bundleCount).toBe(4)
    expect(bundles).toHaveLength(4)

    for (const [repo, image] of [
      [APP, app],
      [WORKER, worker],
    ] as const) {
      const result = outcome.results.find((r) => r.digest === image.digest)!
      const referrers = await bundleReferrers(registry, repo, image.digest)
      expect(referrers).toHaveLength(1)
      expect(result).toEqual({
        image: nameOf(repo),
        digest: image.digest,
        mediaType: image.mediaType,
        parent: undefined,
        platform: undefined,
        signed: true,
        signatures: [
          { format: 'legacy', reference: `${nameOf(repo)}:${stem(image.digest)}.sig` },
          {
            format: 'bundle',
            reference: `${nameOf(repo)}@${referrers[0].digest}`,
            fallbackTag: undefined,
          },
        ],
        attestations: [],
      })

      const sigs = legacySignatures(registry, repo, image.digest)!
      expect(sigs).toHaveLength(1)
      expect(sigs[0].verifies).toBe(true)
      expect(sigs[0].payload.critical.image['docker-manifest-digest']).toBe(image.digest)
      expect(sigs[0].payload.critical.identity['docker-reference']).toBe(nameOf(repo))

      expect(referrers[0].verifies).toBe(true)
      expect(referrers[0].predicateType).toBe(COSIGN_SIGN_PREDICATE_TYPE)
      expect(referrers[0].statement.subject[0].digest.sha256).toBe(
        image.digest.slice('sha256:'.length),
      )
    }
    // A registry with the referrers API gets no fallback tag.
    expect(registry.tags(APP)).toEqual(['v1', `${stem(app.digest)}.sig`].sort())
  })

  test('bundle format on a registry without the referrers API: the fallback index, no .sig', async () => {
    const { registry, app } = seeded({ referrers: 'none' })
    const { outcome } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}`,
      'signature-format': 'bundle',
    })
    const referrers = await bundleReferrers(registry, APP, app.digest)
    expect(referrers).toHaveLength(1)
    expect(referrers[0].verifies).toBe(true)
    expect(outcome.results[0].signatures).toEqual([
      {
        format: 'bundle',
        reference: `${nameOf(APP)}@${referrers[0].digest}`,
        fallbackTag: stem(app.digest),
      },
    ])
    expect(registry.tags(APP)).toEqual([stem(app.digest), 'v1'])
    expect(outcome.bundleCount).toBe(1)
  })

  test('legacy format: the .sig alone, no referrer', async () => {
    const { registry, app } = seeded()
    const { outcome } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}`,
      'signature-format': 'legacy',
    })
    expect(outcome.results[0].signatures.map((s) => s.format)).toEqual(['legacy'])
    expect(legacySignatures(registry, APP, app.digest)).toHaveLength(1)
    expect(await bundleReferrers(registry, APP, app.digest)).toEqual([])
  })

  test('a tag is signed as the digest it points to, and annotations go in both formats', async () => {
    const { registry, app } = seeded()
    const { outcome, lines } = await run(registry, {
      images: `${nameOf(APP)}:v1`,
      annotations: 'env=prod\nteam=platform',
    })
    expect(outcome.results.map((r) => r.digest)).toEqual([app.digest])
    expect(lines.warnings.some((w) => w.includes(`${nameOf(APP)}:v1 is a tag`))).toBe(true)
    expect(legacySignatures(registry, APP, app.digest)![0].payload.optional).toEqual({
      env: 'prod',
      team: 'platform',
    })
    const [referrer] = await bundleReferrers(registry, APP, app.digest)
    expect(referrer.statement.subject[0].annotations).toEqual({ env: 'prod', team: 'platform' })
  })

  test('the same digest named twice is signed once', async () => {
    const { registry, app } = seeded()
    registry.seedTag(APP, 'latest', app.digest)
    const { outcome } = await run(registry, {
      images: [`${nameOf(APP)}:v1`, `${nameOf(APP)}:latest`, `${nameOf(APP)}@${app.digest}`].join(
        '\n',
      ),
    })
    expect(outcome.results).toHaveLength(1)
    expect(outcome.bundleCount).toBe(2)
    expect(legacySignatures(registry, APP, app.digest)).toHaveLength(1)
    expect(await bundleReferrers(registry, APP, app.digest)).toHaveLength(1)
  })

  test('recursive: the index and each platform manifest get their own signatures', async () => {
    const registry = new FakeRegistry()
    const { index, children } = registry.seedIndex(
      APP,
      [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
      { tag: 'v1' },
    )
    const { outcome } = await run(registry, {
      images: `${nameOf(APP)}@${index.digest}`,
      recursive: 'true',
      sbom: 'sbom.cdx.json',
    })
    expect(outcome.results.map((r) => [r.digest, r.parent, r.platform, r.signed])).toEqual([
      [index.digest, undefined, undefined, true],
      [children[0].digest, index.digest, 'linux/amd64', true],
      [children[1].digest, index.digest, 'linux/arm64/v8', true],
    ])
    for (const digest of [index.digest, ...children.map((c) => c.digest)]) {
      expect(legacySignatures(registry, APP, digest)).toHaveLength(1)
      const signatures = (await bundleReferrers(registry, APP, digest)).filter(
        (r) => r.predicateType === COSIGN_SIGN_PREDICATE_TYPE,
      )
      expect(signatures).toHaveLength(1)
    }
    // Attestations go to the image named, not to the platforms recursive adds.
    expect(outcome.results.map((r) => r.attestations.length)).toEqual([2, 0, 0])
    expect(registry.tags(APP)).not.toContain(`${stem(children[0].digest)}.att`)
  })

  test('not recursive: the index alone', async () => {
    const registry = new FakeRegistry()
    const { index } = registry.seedIndex(APP, [{ os: 'linux', architecture: 'amd64' }])
    const { outcome } = await run(registry, { images: `${nameOf(APP)}@${index.digest}` })
    expect(outcome.results.map((r) => r.digest)).toEqual([index.digest])
  })

  test('an SBOM for one image: a .att layer and an attestation referrer for it alone', async () => {
    const { registry, app, worker } = seeded()
    const { outcome } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${worker.digest}`,
      sbom: `${nameOf(APP)}=sbom.cdx.json`,
    })
    const [appResult, workerResult] = outcome.results
    expect(workerResult.attestations).toEqual([])
    const attestationReferrer = (await bundleReferrers(registry, APP, app.digest)).find(
      (r) => r.predicateType === CYCLONEDX_TYPE,
    )!
    // The two formats are written at once: their records come in the order the writes finish.
    expect(appResult.attestations).toHaveLength(2)
    expect(appResult.attestations).toEqual(
      expect.arrayContaining([
        {
          predicateType: CYCLONEDX_TYPE,
          format: 'legacy',
          reference: `${nameOf(APP)}:${stem(app.digest)}.att`,
        },
        {
          predicateType: CYCLONEDX_TYPE,
          format: 'bundle',
          reference: `${nameOf(APP)}@${attestationReferrer.digest}`,
          fallbackTag: undefined,
        },
      ]),
    )
    expect(attestationReferrer.verifies).toBe(true)
    expect(attestationReferrer.statement).toMatchObject({
      subject: [{ name: nameOf(APP), digest: { sha256: app.digest.slice('sha256:'.length) } }],
      predicateType: CYCLONEDX_TYPE,
      predicate: CYCLONEDX,
    })

    const att = registry.manifest<ImageManifest>(APP, `${stem(app.digest)}.att`)!
    expect(att.layers).toHaveLength(1)
    expect(att.layers[0].mediaType).toBe(DSSE_ENVELOPE_MEDIA_TYPE)
    expect(att.layers[0].annotations?.[LEGACY_ANNOTATIONS.predicateType]).toBe(CYCLONEDX_TYPE)
    const envelope = JSON.parse(registry.blob(APP, att.layers[0].digest)!.toString('utf8')) as {
      payload: string
      payloadType: string
      signatures: { sig: string }[]
    }
    const payload = Buffer.from(envelope.payload, 'base64')
    expect(
      verify(
        'sha256',
        pae(envelope.payloadType, payload),
        publicKey,
        Buffer.from(envelope.signatures[0].sig, 'base64'),
      ),
    ).toBe(true)
    expect(registry.tags(WORKER)).not.toContain(`${stem(worker.digest)}.att`)
    expect(outcome.bundleCount).toBe(5)
  })
})

describe('runSign writes nothing unless every input and every digest is good', () => {
  test('a missing digest among good ones: IMAGE_NOT_FOUND naming it, and no write at all', async () => {
    const { registry, app } = seeded()
    await expect(
      run(registry, { images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${ABSENT}` }),
    ).rejects.toMatchObject({
      code: 'IMAGE_NOT_FOUND',
      input: 'images',
      message: expect.stringContaining(`${nameOf(WORKER)}@${ABSENT}`),
    })
    expect(registry.writes()).toEqual([])
  })

  test('a missing tag: IMAGE_NOT_FOUND naming it, and no write at all', async () => {
    const { registry, app } = seeded()
    await expect(
      run(registry, { images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}:gone` }),
    ).rejects.toThrow(`${nameOf(WORKER)}:gone`)
    expect(registry.writes()).toEqual([])
  })

  test.each([
    ['an SBOM that does not exist', { sbom: 'missing.cdx.json' }, 'INPUT_INVALID', 'sbom'],
    ['an SBOM that is not JSON', { sbom: 'broken.json' }, 'SBOM_INVALID', 'sbom'],
    [
      'an SBOM for an image not being signed',
      { sbom: 'registry.test/acme/stranger=sbom.cdx.json' },
      'INPUT_INVALID',
      'sbom',
    ],
    [
      'a predicate that is not JSON',
      { 'predicate-type': 'https://example.com/p/v1', predicate: 'broken.json' },
      'INPUT_INVALID',
      'predicate',
    ],
    ['a key that is no key', { key: 'not a key' }, 'KEY_INVALID', 'key'],
    [
      'provenance outside GitHub Actions',
      { provenance: 'true' },
      'PROVENANCE_UNAVAILABLE',
      'provenance',
    ],
  ])('%s: refused, and no write at all', async (_what, bad, code, input) => {
    const { registry, app, worker } = seeded()
    await expect(
      run(registry, {
        images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${worker.digest}`,
        ...bad,
      }),
    ).rejects.toMatchObject({ code, input })
    expect(registry.writes()).toEqual([])
  })

  test('an image reference that does not parse: refused before the registry is asked anything', async () => {
    const { registry, app } = seeded()
    await expect(
      run(registry, { images: `${nameOf(APP)}@${app.digest}\nRegistry.test/UPPER CASE` }),
    ).rejects.toMatchObject({ input: 'images' })
    expect(registry.calls).toEqual([])
  })
})

describe('runSign when the registry fails a write', () => {
  test('the image whose write failed is not signed, and says why; the others are', async () => {
    const { registry, app, worker } = seeded()
    registry.fail((c) => c.op === 'putManifest' && c.repo.repository === WORKER.repository)
    const { outcome, lines } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${worker.digest}`,
    })
    expect(outcome.signed).toBe(false)
    const [appResult, workerResult] = outcome.results
    expect(appResult.signed).toBe(true)
    expect(appResult.signatures).toHaveLength(2)
    expect(workerResult).toMatchObject({
      image: nameOf(WORKER),
      digest: worker.digest,
      signed: false,
      error: expect.stringContaining('failure injected'),
    })
    expect(outcome.errors).toHaveLength(1)
    expect(outcome.errors[0]).toMatchObject({ code: 'REGISTRY_ERROR' })
    expect(lines.warnings).toContainEqual(
      expect.stringContaining(`${nameOf(WORKER)}@${worker.digest}: not signed: `),
    )
    expect(legacySignatures(registry, APP, app.digest)).toHaveLength(1)
    expect(registry.tags(WORKER)).toEqual(['v1'])
  })

  test('one format failing fails the image, though the other was written', async () => {
    const { registry, app } = seeded()
    // The .sig layer upload fails; the bundle referrer goes through.
    registry.fail((c) => c.op === 'pushBlob' && c.mediaType === SIMPLE_SIGNING_MEDIA_TYPE)
    const { outcome } = await run(registry, { images: `${nameOf(APP)}@${app.digest}` })
    expect(outcome.signed).toBe(false)
    expect(outcome.results[0]).toMatchObject({
      signed: false,
      error: expect.stringContaining('failure injected'),
    })
    expect(legacySignatures(registry, APP, app.digest)).toBeUndefined()
  })

  test('an attestation write failing fails its image', async () => {
    const { registry, app } = seeded()
    registry.fail((c) => c.op === 'putManifest' && c.reference === `${stem(app.digest)}.att`)
    const { outcome } = await run(registry, {
      images: `${nameOf(APP)}@${app.digest}`,
      sbom: 'sbom.cdx.json',
    })
    expect(outcome.results[0].signed).toBe(false)
    expect(outcome.signed).toBe(false)
  })

  test('a failed read of the .sig tag fails the image, and the tag is not written blind', async () => {
    const { registry, app } = seeded()
    // The tag update merges with what the tag holds: unread, it must not be overwritten. (The
    // first read is the re-run check's, which only warns; the second is the tag update's.)
    registry.fail((c) => c.op === 'getManifest' && c.reference === `${stem(app.digest)}.sig`, {
      times: 2,
    })
    const { outcome } = await run(registry, { images: `${nameOf(APP)}@${app.digest}` })
    expect(outcome.results[0].signed).toBe(false)
    expect(registry.tags(APP)).not.toContain(`${stem(app.digest)}.sig`)
  })
})

describe('runSign keyless (stand-in Fulcio, Rekor and OIDC endpoint on loopback)', () => {
  let standIn: SigstoreStandIn
  beforeAll(async () => {
    standIn = await startSigstoreStandIn()
  })
  afterAll(async () => {
    await standIn?.stop()
    if (standIn) rmSync(dirname(standIn.trustedRootPath), { recursive: true, force: true })
  })

  test('one token and one certificate for the whole run, the token masked, every bundle checked', async () => {
    const { registry, app, worker } = seeded()
    const third = registry.seedImage(APP)
    const lines = recordingLogger()
    const { log } = lines
    const values: Record<string, string> = {
      mode: 'sign',
      recursive: 'false',
      images: [
        `${nameOf(APP)}@${app.digest}`,
        `${nameOf(WORKER)}@${worker.digest}`,
        `${nameOf(APP)}@${third.digest}`,
      ].join('\n'),
      sbom: 'sbom.cdx.json',
      'fulcio-url': standIn.fulcioURL,
      'rekor-url': standIn.rekorURL,
      'trusted-root': standIn.trustedRootPath,
    }
    const before = { ...standIn.requests }
    const outcome = await runSign(
      readInputs((name) => values[name] ?? '', 'sign'),
      {
        log,
        registry,
        cwd,
        env: {
          ACTIONS_ID_TOKEN_REQUEST_URL: standIn.oidc.requestURL,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: standIn.oidc.requestToken,
        },
      },
    )
    expect(outcome.errors).toEqual([])
    expect(outcome.signed).toBe(true)
    expect(outcome.keyless).toBe(true)
    expect(outcome.identity?.subject).toBe(standIn.identity.subject)
    // 3 images x (a .sig, a bundle, an SBOM attestation): 9 signatures, 9 log entries.
    expect(outcome.bundleCount).toBe(9)
    expect(standIn.requests.oidc - before.oidc).toBe(1)
    expect(standIn.requests.fulcio - before.fulcio).toBe(1)
    expect(standIn.requests.rekor - before.rekor).toBeGreaterThanOrEqual(9)
    expect(lines.masked).toHaveLength(1)
    expect(lines.masked[0].split('.')).toHaveLength(3)

    const certificates = new Set<string>()
    for (const [repo, image] of [
      [APP, app],
      [WORKER, worker],
      [APP, third],
    ] as const) {
      const result = outcome.results.find((r) => r.digest === image.digest)!
      for (const record of [...result.signatures, ...result.attestations]) {
        expect(record.rekorLogIndex).toEqual(expect.any(Number))
      }
      const layer = registry.manifest<ImageManifest>(repo, `${stem(image.digest)}.sig`)!.layers[0]
      certificates.add(layer.annotations![LEGACY_ANNOTATIONS.certificate])
      expect(layer.annotations![LEGACY_ANNOTATIONS.rekorBundle]).toBeDefined()
    }
    expect(certificates.size).toBe(1)
  })

  test('no OIDC token offered: refused before the registry is asked anything', async () => {
    const { registry, app } = seeded()
    const values: Record<string, string> = {
      mode: 'sign',
      images: `${nameOf(APP)}@${app.digest}`,
      'fulcio-url': standIn.fulcioURL,
      'rekor-url': standIn.rekorURL,
    }
    const { log } = recordingLogger()
    await expect(
      runSign(
        readInputs((name) => values[name] ?? '', 'sign'),
        { log, registry, cwd, env: {} },
      ),
    ).rejects.toMatchObject({ code: 'OIDC_UNAVAILABLE', input: 'key' })
    expect(registry.calls).toEqual([])
  })

  test('Fulcio refusing: nothing is written', async () => {
    const { registry, app } = seeded()
    const values: Record<string, string> = {
      mode: 'sign',
      images: `${nameOf(APP)}@${app.digest}`,
      'fulcio-url': standIn.fulcioURL,
      'rekor-url': standIn.rekorURL,
    }
    const { log } = recordingLogger()
    standIn.failNext('fulcio', 1, 400)
    await expect(
      runSign(
        readInputs((name) => values[name] ?? '', 'sign'),
        {
          log,
          registry,
          cwd,
          identity: { getToken: async () => standIn.mintToken() },
        },
      ),
    ).rejects.toMatchObject({ code: 'SIGSTORE_ERROR', input: 'fulcio-url' })
    expect(registry.writes()).toEqual([])
  })
})
