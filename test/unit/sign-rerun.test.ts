/**
 * Issue 12.2 (re-runs finish the job) and 12.6 (large attestations fail early), runSign in
 * process against the in-memory registry: by a generated key with tlog: false (no service), then
 * keyless against the Sigstore stand-in with its trusted root.
 *
 * What counts as "already there" is what verifies for this run's signer: the tests plant what a
 * registry or an attacker could (a layer with the right annotations and a bad signature, another
 * signer's signature, another SBOM) and check that each is signed over, not skipped.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
// The body sigstore-js's RekorWitness sends, to measure the count against (test only: Signet's
// code reaches sigstore-js's internals through src/sigstore/internals.ts alone).
// eslint-disable-next-line no-restricted-imports
import { toProposedEntry } from '@sigstore/sign/dist/witness/tlog/entry'
import { LEGACY_ANNOTATIONS } from '../../src/formats/cosign-tags'
import { sha256Digest } from '../../src/formats/digest'
import { SIMPLE_SIGNING_MEDIA_TYPE } from '../../src/formats/simple-signing'
import { readInputs } from '../../src/inputs'
import {
  MEDIA_TYPES,
  type ImageIndex,
  type ImageManifest,
  type Repository,
} from '../../src/registry/types'
import { predicateDigest } from '../../src/sign/existing'
import { runSign, type RunDependencies } from '../../src/sign/run'
import {
  checkTlogEntrySizes,
  dsseEntryRequestBytes,
  PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES,
} from '../../src/sign/tlog-size'
import { signSummary } from '../../src/report/summary'
import { FakeRegistry } from '../infra/fake-registry'
import { recordingLogger } from '../infra/recording-logger'
import { CYCLONEDX } from '../infra/sboms'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'

const APP: Repository = { registry: 'registry.test', repository: 'acme/app' }
const WORKER: Repository = { registry: 'registry.test', repository: 'acme/worker' }
const nameOf = (repo: Repository) => `${repo.registry}/${repo.repository}`
const stem = (digest: string) => digest.replace(':', '-')
const CYCLONEDX_TYPE = 'https://cyclonedx.org/bom'

const newKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString()
const KEY = newKey()

let cwd: string
beforeAll(() => {
  cwd = mkdtempSync(join(tmpdir(), 'sign-rerun-'))
  writeFileSync(join(cwd, 'sbom.cdx.json'), JSON.stringify(CYCLONEDX))
  // The same SBOM, keys reordered and indented: the same predicate.
  const { components, ...rest } = CYCLONEDX
  writeFileSync(join(cwd, 'reordered.cdx.json'), JSON.stringify({ components, ...rest }, null, 2))
  writeFileSync(
    join(cwd, 'newer.cdx.json'),
    JSON.stringify({ ...CYCLONEDX, components: [...CYCLONEDX.components].slice(1) }),
  )
})
afterAll(() => rmSync(cwd, { recursive: true, force: true }))

function inputsOf(given: Record<string, string>) {
  const values: Record<string, string> = {
    mode: 'sign',
    key: KEY,
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
  const outcome = await runSign(inputsOf(given), {
    log: lines.log,
    env: {},
    registry,
    cwd,
    ...deps,
  })
  return { outcome, lines }
}

function seeded(options: ConstructorParameters<typeof FakeRegistry>[0] = {}) {
  const registry = new FakeRegistry(options)
  const app = registry.seedImage(APP, { tag: 'v1' })
  const worker = registry.seedImage(WORKER, { tag: 'v1' })
  return { registry, app, worker }
}

/** How many layers each legacy tag of `digest` holds, and how many referrers it has. */
async function counts(registry: FakeRegistry, repo: Repository, digest: string) {
  const layers = (tag: string) =>
    registry.manifest<ImageManifest>(repo, `${stem(digest)}.${tag}`)?.layers.length ?? 0
  const listing =
    registry.referrersMode === 'api'
      ? await registry.referrers(repo, digest)
      : registry.manifest<ImageIndex>(repo, stem(digest))
  return { sig: layers('sig'), att: layers('att'), referrers: listing?.manifests?.length ?? 0 }
}

describe('re-runs finish the job, by key (issue 12.2)', () => {
  test.each([
    ['the referrers API', 'api'],
    ['the fallback tag', 'none'],
  ] as const)(
    'a second run over a signed image writes nothing and says it was already signed (%s)',
    async (_label, referrers) => {
      const { registry, app } = seeded({ referrers })
      const given = { images: `${nameOf(APP)}@${app.digest}`, sbom: 'sbom.cdx.json' }
      const first = await run(registry, given)
      expect(first.outcome.signed).toBe(true)
      expect(first.outcome.results[0].alreadySigned).toBeUndefined()
      const before = await counts(registry, APP, app.digest)
      expect(before).toEqual({ sig: 1, att: 1, referrers: 2 })
      const writes = registry.writes().length

      const second = await run(registry, given)
      expect(second.outcome.signed).toBe(true)
      expect(registry.writes()).toHaveLength(writes)
      expect(await counts(registry, APP, app.digest)).toEqual(before)
      expect(second.outcome.bundleCount).toBe(0)

      const [result] = second.outcome.results
      expect(result.alreadySigned).toBe(true)
      expect(result.signatures).toEqual([
        {
          format: 'legacy',
          reference: `${nameOf(APP)}:${stem(app.digest)}.sig`,
          existing: true,
        },
        {
          format: 'bundle',
          reference: first.outcome.results[0].signatures[1].reference,
          existing: true,
        },
      ])
      expect(result.attestations).toEqual(
        expect.arrayContaining([
          {
            predicateType: CYCLONEDX_TYPE,
            format: 'legacy',
            reference: `${nameOf(APP)}:${stem(app.digest)}.att`,
            existing: true,
          },
          {
            predicateType: CYCLONEDX_TYPE,
            format: 'bundle',
            reference: expect.stringMatching(`^${nameOf(APP)}@sha256:`),
            existing: true,
          },
        ]),
      )
      expect(second.lines.infos.some((l) => l.includes('already signed by this signer'))).toBe(true)
      const summary = signSummary(second.outcome)
      expect(summary).toContain('1 of 1 image(s) signed (1 already signed)')
      expect(summary).toContain('✅ already signed')
      expect(summary).toContain('`.sig` (already there)')
    },
  )

  test('a run interrupted part way, then run again: every image signed once, the second run says which were already signed', async () => {
    const { registry, app, worker } = seeded()
    const given = {
      images: `${nameOf(APP)}@${app.digest}\n${nameOf(WORKER)}@${worker.digest}`,
      sbom: 'sbom.cdx.json',
    }
    // The registry goes away for the worker's writes: the first run signs the app only.
    let gone = true
    registry.fail((c) => gone && c.repo.repository === WORKER.repository && c.op === 'putManifest')
    const first = await run(registry, given)
    expect(first.outcome.results.map((r) => [r.image, r.signed])).toEqual([
      [nameOf(APP), true],
      [nameOf(WORKER), false],
    ])
    gone = false

    const second = await run(registry, given)
    expect(second.outcome.signed).toBe(true)
    expect(second.outcome.results.map((r) => [r.image, r.signed, r.alreadySigned])).toEqual([
      [nameOf(APP), true, true],
      [nameOf(WORKER), true, undefined],
    ])
    for (const [repo, image] of [
      [APP, app],
      [WORKER, worker],
    ] as const) {
      expect(await counts(registry, repo, image.digest)).toEqual({ sig: 1, att: 1, referrers: 2 })
    }
    // The worker's records are this run's: none says existing.
    const workerResult = second.outcome.results[1]
    expect([...workerResult.signatures, ...workerResult.attestations].some((r) => r.existing)).toBe(
      false,
    )
  })

  test('signature-format both over a legacy signature: only the bundle is written', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    await run(registry, { images, 'signature-format': 'legacy' })
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 0, referrers: 0 })

    const { outcome } = await run(registry, { images, 'signature-format': 'both' })
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 0, referrers: 1 })
    const [result] = outcome.results
    expect(result.alreadySigned).toBeUndefined()
    expect(result.signatures.map((s) => [s.format, s.existing])).toEqual([
      ['legacy', true],
      ['bundle', undefined],
    ])
    expect(outcome.bundleCount).toBe(1)
  })

  test('an attestation already there in legacy only: signed once more, written as a bundle only', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    await run(registry, { images, sbom: 'sbom.cdx.json', 'signature-format': 'legacy' })
    const { outcome } = await run(registry, { images, sbom: 'sbom.cdx.json' })
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 1, referrers: 2 })
    const formats = outcome.results[0].attestations.map((a) => [a.format, a.existing]).sort()
    expect(formats).toEqual([
      ['bundle', undefined],
      ['legacy', true],
    ])
  })

  test('the same predicate re-serialised is the same attestation; a changed SBOM is attested anew', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    await run(registry, { images, sbom: 'sbom.cdx.json' })
    const same = await run(registry, { images, sbom: 'reordered.cdx.json' })
    expect(same.outcome.results[0].alreadySigned).toBe(true)
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 1, referrers: 2 })

    const newer = await run(registry, { images, sbom: 'newer.cdx.json' })
    const [result] = newer.outcome.results
    expect(result.alreadySigned).toBeUndefined()
    expect(result.signatures.every((s) => s.existing)).toBe(true)
    expect(result.attestations.some((a) => a.existing)).toBe(false)
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 2, referrers: 3 })
  })

  test('another key’s signature is not this signer’s: signed again', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    await run(registry, { images, key: newKey() })
    const { outcome } = await run(registry, { images })
    expect(outcome.results[0].alreadySigned).toBeUndefined()
    expect(outcome.results[0].signatures.some((s) => s.existing)).toBe(false)
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 2, att: 0, referrers: 2 })
  })

  test('a planted .sig layer (right payload and annotations, a signature that does not verify) does not make Signet skip', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    // What a first run would write, with its signature swapped for garbage.
    const scratch = new FakeRegistry()
    const copy = scratch.seedImage(APP)
    expect(copy.digest).toBe(app.digest)
    await run(scratch, { images, 'signature-format': 'legacy' })
    const real = scratch.manifest<ImageManifest>(APP, `${stem(app.digest)}.sig`)!
    const layer = real.layers[0]
    const payload = scratch.blob(APP, layer.digest)!
    const config = scratch.blob(APP, real.config.digest)!
    await registry.pushBlob(APP, payload, SIMPLE_SIGNING_MEDIA_TYPE)
    await registry.pushBlob(APP, config, real.config.mediaType)
    const planted: ImageManifest = {
      ...real,
      layers: [
        {
          ...layer,
          annotations: {
            ...layer.annotations,
            [LEGACY_ANNOTATIONS.signature]: Buffer.alloc(64, 7).toString('base64'),
          },
        },
      ],
    }
    const bytes = Buffer.from(JSON.stringify(planted))
    await registry.putManifest(APP, `${stem(app.digest)}.sig`, bytes, MEDIA_TYPES.ociManifest)

    const { outcome } = await run(registry, { images, 'signature-format': 'legacy' })
    expect(outcome.results[0].alreadySigned).toBeUndefined()
    expect(outcome.results[0].signatures).toEqual([
      { format: 'legacy', reference: `${nameOf(APP)}:${stem(app.digest)}.sig` },
    ])
    expect(await counts(registry, APP, app.digest)).toMatchObject({ sig: 2 })
  })

  test('signature-repository: what is already there is found where the run writes it', async () => {
    const { registry, app } = seeded()
    const STORE: Repository = { registry: 'registry.test', repository: 'acme/signatures' }
    const given = {
      images: `${nameOf(APP)}@${app.digest}`,
      sbom: 'sbom.cdx.json',
      'signature-repository': nameOf(STORE),
    }
    await run(registry, given)
    const before = await counts(registry, STORE, app.digest)
    expect(before).toEqual({ sig: 1, att: 1, referrers: 2 })
    const writes = registry.writes().length

    const { outcome } = await run(registry, given)
    const [result] = outcome.results
    expect(result.alreadySigned).toBe(true)
    expect(registry.writes()).toHaveLength(writes)
    expect(await counts(registry, STORE, app.digest)).toEqual(before)
    for (const record of [...result.signatures, ...result.attestations]) {
      expect(record.existing).toBe(true)
      expect(record.reference.startsWith(`${nameOf(STORE)}`)).toBe(true)
    }
  })

  test('the registry failing the re-run check: a warning, and the image is signed in full', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    await run(registry, { images, 'signature-format': 'bundle' })
    registry.fail((c) => c.op === 'referrers', { times: 1 })
    const { outcome, lines } = await run(registry, { images, 'signature-format': 'bundle' })
    expect(outcome.signed).toBe(true)
    expect(lines.warnings.some((w) => w.includes('signed again in full'))).toBe(true)
    expect(await counts(registry, APP, app.digest)).toMatchObject({ referrers: 2 })
  })
})

describe('predicate digest', () => {
  test('sha256 of the canonical JSON: key order and whitespace do not matter, content does', () => {
    expect(predicateDigest({ b: 1, a: [1, { d: 2, c: 'x' }] })).toBe(
      predicateDigest(JSON.parse('{ "a": [1, {"c": "x", "d": 2}], "b": 1 }')),
    )
    expect(predicateDigest({ a: 1 })).toBe(sha256Digest('{"a":1}'))
    expect(predicateDigest({ a: 1 })).not.toBe(predicateDigest({ a: 2 }))
  })
})

describe('large attestations fail early and clearly (issue 12.6)', () => {
  /** A CycloneDX SBOM of about `bytes` bytes. */
  function largeSbom(bytes: number): string {
    const component = (i: number) => ({
      type: 'library',
      name: `package-${i}`,
      version: `1.0.${i}`,
      purl: `pkg:npm/package-${i}@1.0.${i}`,
    })
    const one = JSON.stringify(component(100000)).length + 1
    const components = Array.from({ length: Math.ceil(bytes / one) }, (_, i) => component(i))
    return JSON.stringify({ ...CYCLONEDX, components })
  }

  test('the dsse entry size is counted as sigstore-js sends it', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ format: 'pem', type: 'spki' })
      .toString()
    for (const size of [0, 1, 2, 3, 1000, 123457]) {
      const body = toProposedEntry(
        {
          $case: 'dsseEnvelope',
          dsseEnvelope: {
            payloadType: 'application/vnd.in-toto+json',
            payload: Buffer.alloc(size, 'x'),
            signatures: [{ sig: Buffer.alloc(72, 1), keyid: '' }],
          },
        },
        pem,
      )
      const actual = Buffer.byteLength(JSON.stringify(body))
      const counted = dsseEntryRequestBytes(size, Buffer.byteLength(pem))
      // An upper bound (the signature allowance is an RSA-4096's), never more than 1 KiB over.
      expect(counted).toBeGreaterThanOrEqual(actual)
      expect(counted - actual).toBeLessThan(1024)
    }
  })

  test('an SBOM over the public-good Rekor’s limit fails naming sbom, with size, limit and ways out; nothing is written', async () => {
    writeFileSync(join(cwd, 'large.cdx.json'), largeSbom(3 * 1024 * 1024))
    const { registry, app } = seeded()
    const tagsBefore = registry.tags(APP)
    const lines = recordingLogger()
    const err = await runSign(
      inputsOf({
        images: `${nameOf(APP)}@${app.digest}`,
        sbom: 'large.cdx.json',
        tlog: 'true',
      }),
      {
        log: lines.log,
        env: {},
        registry,
        cwd,
        // The public-good root is not needed: the run stops before it would be.
        tuf: { mirrorURL: 'http://127.0.0.1:9', cacheDir: join(cwd, 'tuf'), timeoutMs: 100 },
      },
    ).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toMatchObject({ code: 'INPUT_INVALID', input: 'sbom' })
    const message = (err as Error).message
    expect(message).toMatch(
      /^input sbom: the SBOM large\.cdx\.json \(CycloneDX 1\.5\) makes a transparency-log entry of \d\.\d MiB \(\d+ bytes/,
    )
    expect(message).toContain(
      `over the 2.0 MiB Signet sends the public-good Rekor (https://rekor.sigstore.dev)`,
    )
    expect(message).toContain('Nothing was written')
    expect(message).toContain('tlog: false, with tsa-url set to a timestamp authority')
    expect(message).toContain('a smaller SBOM')
    expect(message).toContain('rekor-url')
    // Nothing written: the image may have been resolved (read) while the key was being derived.
    expect(registry.calls.filter((c) => !['headManifest', 'getManifest'].includes(c.op))).toEqual(
      [],
    )
    expect(registry.tags(APP)).toEqual(tagsBefore)
  })

  test('only for the public-good Rekor, and only with the log', () => {
    const attestation = {
      predicateType: CYCLONEDX_TYPE,
      predicate: {},
      predicateJson: 'x'.repeat(PUBLIC_GOOD_REKOR_MAX_REQUEST_BYTES),
      predicateDigest: '',
      input: 'sbom',
      label: 'SBOM big.json',
    }
    const context = {
      tlog: true,
      publicGoodRekor: true,
      rekorURL: 'https://rekor.sigstore.dev',
      images: [{ name: nameOf(APP) }],
    }
    expect(() => checkTlogEntrySizes([attestation], context)).toThrow(/input sbom/)
    expect(() => checkTlogEntrySizes([attestation], { ...context, tlog: false })).not.toThrow()
    expect(() =>
      checkTlogEntrySizes([attestation], { ...context, publicGoodRekor: false }),
    ).not.toThrow()
    // An attestation for another image only: not this run's entry.
    expect(() =>
      checkTlogEntrySizes([{ ...attestation, only: { name: nameOf(WORKER) } }], context),
    ).not.toThrow()
    const small = { ...attestation, predicateJson: 'x'.repeat(1024 * 1024) }
    expect(() => checkTlogEntrySizes([small], context)).not.toThrow()
  })
})

describe('re-runs, keyless against the stand-in with its trusted root (issue 12.2)', () => {
  let standIn: SigstoreStandIn
  beforeAll(async () => {
    standIn = await startSigstoreStandIn()
  })
  afterAll(async () => {
    await standIn?.stop()
    if (standIn) rmSync(dirname(standIn.trustedRootPath), { recursive: true, force: true })
  })

  const keyless = (registry: FakeRegistry, images: string, claims?: Record<string, string>) => {
    const values: Record<string, string> = {
      mode: 'sign',
      recursive: 'false',
      images,
      sbom: 'sbom.cdx.json',
      'fulcio-url': standIn.fulcioURL,
      'rekor-url': standIn.rekorURL,
      'trusted-root': standIn.trustedRootPath,
    }
    const lines = recordingLogger()
    return runSign(
      readInputs((name) => values[name] ?? '', 'sign'),
      {
        log: lines.log,
        registry,
        cwd,
        identity: { getToken: async () => standIn.mintToken(claims) },
      },
    )
  }

  test('the same identity and issuer: already signed, with the first run’s Rekor entries; another identity signs again', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    const first = await keyless(registry, images)
    expect(first.signed).toBe(true)
    const rekorBefore = standIn.requests.rekor

    // A new certificate (a new key), the same identity: what the first run wrote counts.
    const second = await keyless(registry, images)
    expect(second.results[0].alreadySigned).toBe(true)
    expect(second.bundleCount).toBe(0)
    expect(standIn.requests.rekor).toBe(rekorBefore)
    const indexes = (o: typeof first) =>
      [...o.results[0].signatures, ...o.results[0].attestations].map((r) => r.rekorLogIndex).sort()
    expect(indexes(second)).toEqual(indexes(first))
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 1, att: 1, referrers: 2 })

    const other = 'acme/app/.github/workflows/other.yml@refs/heads/main'
    const third = await keyless(registry, images, { job_workflow_ref: other, workflow_ref: other })
    expect(third.identity?.subject).not.toBe(first.identity?.subject)
    expect(third.results[0].alreadySigned).toBeUndefined()
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 2, att: 2, referrers: 4 })
    // The signature bundle the third run wrote is its own.
    expect(third.results[0].signatures.find((s) => s.format === 'bundle')?.existing).toBeUndefined()
  })

  test('no trusted root for custom services: nothing can be verified, so every image is signed in full', async () => {
    const { registry, app } = seeded()
    const images = `${nameOf(APP)}@${app.digest}`
    const values: Record<string, string> = {
      mode: 'sign',
      recursive: 'false',
      images,
      'fulcio-url': standIn.fulcioURL,
      'rekor-url': standIn.rekorURL,
    }
    const go = async () => {
      const lines = recordingLogger()
      const outcome = await runSign(
        readInputs((name) => values[name] ?? '', 'sign'),
        {
          log: lines.log,
          registry,
          cwd,
          identity: { getToken: async () => standIn.mintToken() },
        },
      )
      return { outcome, lines }
    }
    await go()
    const { outcome, lines } = await go()
    expect(outcome.results[0].alreadySigned).toBeUndefined()
    expect(lines.infos.some((l) => l.includes('signing every image in full'))).toBe(true)
    expect(await counts(registry, APP, app.digest)).toEqual({ sig: 2, att: 0, referrers: 2 })
  })
})
