/**
 * signImages with a key-signing session and an in-memory registry: what runSign hands it once
 * every input is checked. The bound on images signed at once, the bundles handed out, which
 * attestations go to which image, and GitHub's attestations API as a copy whose failure only warns.
 */
import { generateKeyPairSync } from 'node:crypto'
import type { Bundle, SerializedBundle } from '@sigstore/bundle'
import type { AttestationStore } from '../../src/github/attestation-store'
import type { Repository } from '../../src/registry/types'
import type { PlannedAttestation } from '../../src/sign/attestation-plan'
import { predicateDigest } from '../../src/sign/existing'
import { signImages, type SignOptions } from '../../src/sign/sign-images'
import { loadSigningKey } from '../../src/sigstore/keys'
import { SigningSession } from '../../src/sigstore/signing-session'
import type { ResolvedImage } from '../../src/subjects/resolve'
import { FakeRegistry } from '../infra/fake-registry'
import { recordingLogger } from '../infra/recording-logger'

const APP: Repository = { registry: 'registry.test', repository: 'acme/app' }
const NAME = 'registry.test/acme/app'
const stem = (digest: string) => digest.replace(':', '-')

const key = loadSigningKey(
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString(),
  undefined,
)
const newSession = () =>
  new SigningSession({
    fulcioURL: 'http://127.0.0.1:9',
    rekorURL: 'http://127.0.0.1:9',
    tlog: false,
    key,
  })

/** `count` images in APP, resolved as resolveImages would give them. */
function images(registry: FakeRegistry, count: number): ResolvedImage[] {
  return Array.from({ length: count }, () => {
    const descriptor = registry.seedImage(APP)
    return { repo: APP, name: NAME, digest: descriptor.digest, descriptor, writtenAs: [] }
  })
}

const attestation = (
  predicateType: string,
  only?: PlannedAttestation['only'],
): PlannedAttestation => ({
  predicateType,
  predicate: { about: predicateType },
  predicateJson: JSON.stringify({ about: predicateType }),
  predicateDigest: predicateDigest({ about: predicateType }),
  input: 'predicate',
  label: predicateType,
  only,
})

async function sign(
  registry: FakeRegistry,
  resolved: ResolvedImage[],
  options: Partial<SignOptions> = {},
  session = newSession(),
) {
  const { log, warnings } = recordingLogger()
  const run = await signImages(registry, session, resolved, {
    format: 'both',
    annotations: {},
    log,
    ...options,
  })
  return { run, warnings }
}

describe('signImages', () => {
  test('every bundle made is handed to onBundle and counted', async () => {
    const registry = new FakeRegistry()
    const bundles: Bundle[] = []
    const { run } = await sign(registry, images(registry, 2), {
      attestations: [attestation('https://example.com/a/v1')],
      onBundle: (b) => bundles.push(b),
    })
    // Per image: the .sig signature, the bundle signature, one attestation (signed once, both formats).
    expect(run.bundleCount).toBe(6)
    expect(bundles).toHaveLength(6)
    expect(run.errors).toEqual([])
  })

  test('a bundle whose tag never settled is not handed to onBundle', async () => {
    const registry = new FakeRegistry()
    const resolved = images(registry, 3)
    // The second image's .sig is written, but reading it back fails: its tag never settles.
    const sigTag = `${stem(resolved[1].digest)}.sig`
    let reads = 0
    registry.fail((c) => c.op === 'getManifest' && c.reference === sigTag && ++reads > 1)
    const bundles: Bundle[] = []
    const { run } = await sign(registry, resolved, {
      format: 'legacy',
      onBundle: (b) => bundles.push(b),
    })
    expect(reads).toBeGreaterThan(1)
    expect(run.results.map((r) => r.signed)).toEqual([true, false, true])
    // Only the confirmed images' bundles: the first and the third.
    expect(run.bundleCount).toBe(2)
    expect(bundles).toHaveLength(2)
    const digestOf = (b: Bundle): string =>
      b.content.$case === 'messageSignature'
        ? (b.content.messageSignature.messageDigest?.digest.toString('hex') ?? '')
        : ''
    const payloadDigest = (i: number): string => {
      const sig = registry.manifest(APP, `${stem(resolved[i].digest)}.sig`) as {
        layers: { digest: string }[]
      }
      return sig.layers[0].digest.replace('sha256:', '')
    }
    expect(bundles.map(digestOf)).toEqual([payloadDigest(0), payloadDigest(2)])
  })

  test('no more images at once than the bound', async () => {
    const registry = new FakeRegistry()
    const session = newSession()
    const signPayload = session.signPayload.bind(session)
    let inFlight = 0
    let most = 0
    jest.spyOn(session, 'signPayload').mockImplementation(async (payload) => {
      most = Math.max(most, ++inFlight)
      try {
        await new Promise((resolve) => setTimeout(resolve, 5))
        return await signPayload(payload)
      } finally {
        inFlight--
      }
    })
    const { run } = await sign(
      registry,
      images(registry, 7),
      { format: 'legacy', concurrency: 3 },
      session,
    )
    expect(run.results.every((r) => r.signed)).toBe(true)
    expect(most).toBe(3)
  })

  test('results keep the order of the images, whatever order they finish in', async () => {
    const registry = new FakeRegistry()
    const resolved = images(registry, 5)
    const { run } = await sign(registry, resolved, { format: 'legacy' })
    expect(run.results.map((r) => r.digest)).toEqual(resolved.map((i) => i.digest))
  })

  test("an attestation goes to the images it applies to, never to an index's platforms", async () => {
    const registry = new FakeRegistry()
    const [app, other, child] = images(registry, 3)
    child.parent = app.digest
    child.platform = 'linux/amd64'
    const { run } = await sign(registry, [app, other, child], {
      format: 'legacy',
      attestations: [
        attestation('https://example.com/everyone/v1'),
        attestation('https://example.com/app-only/v1', { name: NAME, digest: app.digest }),
      ],
    })
    expect(run.results.map((r) => r.attestations.map((a) => a.predicateType))).toEqual([
      ['https://example.com/everyone/v1', 'https://example.com/app-only/v1'],
      ['https://example.com/everyone/v1'],
      [],
    ])
    // All of an image's attestations are layers of its one .att manifest.
    const att = registry.manifest(APP, `${stem(app.digest)}.att`) as { layers: unknown[] }
    expect(att.layers).toHaveLength(2)
    expect(registry.tags(APP)).not.toContain(`${stem(child.digest)}.att`)
  })

  test("without the referrers API, an image's bundle signature and attestations share one fallback-index update", async () => {
    const registry = new FakeRegistry({ referrers: 'none' })
    const [image] = images(registry, 1)
    const fallbackTag = stem(image.digest)
    const { run } = await sign(registry, [image], {
      format: 'bundle',
      attestations: [
        attestation('https://example.com/a/v1'),
        attestation('https://example.com/b/v1'),
      ],
    })
    expect(run.errors).toEqual([])
    const [result] = run.results
    // Three referrers, and one read-modify-write of their tag plus one read-back: not one per referrer.
    const onTag = registry.calls.filter((c) => c.reference === fallbackTag).map((c) => c.op)
    expect(onTag).toEqual(['getManifest', 'putManifest', 'getManifest'])
    // Every record still names its own referrer and the fallback tag, and the index lists each.
    const records = [...result.signatures, ...result.attestations]
    expect(records).toHaveLength(3)
    const referrers = records.map((r) => {
      expect(r).toMatchObject({ format: 'bundle', fallbackTag })
      return r.reference.slice(r.reference.indexOf('@') + 1)
    })
    expect(new Set(referrers).size).toBe(3)
    const index = registry.manifest(APP, fallbackTag) as { manifests: { digest: string }[] }
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([...referrers].sort())
    for (const digest of referrers) expect(registry.manifest(APP, digest)).toBeDefined()
  })

  test('an image whose attestation fails lists none of its referrers in the fallback index', async () => {
    const registry = new FakeRegistry({ referrers: 'none' })
    const [image] = images(registry, 1)
    const session = newSession()
    const signStatement = session.signStatement.bind(session)
    jest.spyOn(session, 'signStatement').mockImplementation(async (statement) => {
      if (statement.toString().includes('https://example.com/broken/v1')) {
        throw new Error('the signer is gone')
      }
      return signStatement(statement)
    })
    const { run } = await sign(
      registry,
      [image],
      { format: 'bundle', attestations: [attestation('https://example.com/broken/v1')] },
      session,
    )
    expect(run.results[0].signed).toBe(false)
    expect(registry.tags(APP)).not.toContain(stem(image.digest))
  })

  test('a signing failure fails that image alone', async () => {
    const registry = new FakeRegistry()
    const resolved = images(registry, 3)
    const session = newSession()
    const signPayload = session.signPayload.bind(session)
    jest.spyOn(session, 'signPayload').mockImplementation(async (payload) => {
      if (payload.toString().includes(resolved[1].digest)) throw new Error('the signer is gone')
      return signPayload(payload)
    })
    const { run, warnings } = await sign(registry, resolved, {}, session)
    expect(run.results.map((r) => r.signed)).toEqual([true, false, true])
    expect(run.results[1].error).toBe('the signer is gone')
    expect(run.errors).toEqual([new Error('the signer is gone')])
    expect(warnings).toEqual([`${NAME}@${resolved[1].digest}: not signed: the signer is gone`])
  })

  describe('GitHub attestations API', () => {
    const stored: [SerializedBundle, string][] = []
    const store: AttestationStore = {
      store: async (bundle, digest) => {
        stored.push([bundle, digest])
        return {
          id: stored.length,
          url: `https://github.com/acme/app/attestations/${stored.length}`,
        }
      },
    }
    beforeEach(() => {
      stored.length = 0
    })

    test('the bundle-format signature and every attestation are stored; the records get the URL', async () => {
      const registry = new FakeRegistry()
      const [image] = images(registry, 1)
      const { run } = await sign(registry, [image], {
        attestations: [attestation('https://example.com/a/v1')],
        githubStore: store,
      })
      expect(stored.map(([, digest]) => digest)).toEqual([image.digest, image.digest])
      expect(stored.map(([b]) => b.dsseEnvelope?.payloadType)).toEqual([
        'application/vnd.in-toto+json',
        'application/vnd.in-toto+json',
      ])
      // The attestation (signed once, written in both formats) was stored once, as the second
      // bundle; its URL is on both its records, whichever write finished first.
      expect(run.results[0].attestations).toHaveLength(2)
      expect(
        run.results[0].attestations.map((a) => [a.format, a.githubAttestation]).sort(),
      ).toEqual([
        ['bundle', 'https://github.com/acme/app/attestations/2'],
        ['legacy', 'https://github.com/acme/app/attestations/2'],
      ])
    })

    test('legacy format: only the attestations are stored (a .sig signature has no DSSE bundle)', async () => {
      const registry = new FakeRegistry()
      const [image] = images(registry, 1)
      await sign(registry, [image], {
        format: 'legacy',
        attestations: [attestation('https://example.com/a/v1')],
        githubStore: store,
      })
      expect(stored).toHaveLength(1)
      expect(
        JSON.parse(Buffer.from(stored[0][0].dsseEnvelope!.payload, 'base64').toString())
          .predicateType,
      ).toBe('https://example.com/a/v1')
    })

    test('a store that fails warns once per image and the image is still signed', async () => {
      const registry = new FakeRegistry()
      const failing: AttestationStore = {
        store: jest.fn(async () => Promise.reject(new Error('GitHub is down'))),
      }
      const resolved = images(registry, 2)
      const { run, warnings } = await sign(registry, resolved, {
        attestations: [attestation('https://example.com/a/v1')],
        githubStore: failing,
      })
      expect(run.results.map((r) => r.signed)).toEqual([true, true])
      expect(run.errors).toEqual([])
      // After the first failure for an image, its other bundles are not tried.
      expect(failing.store).toHaveBeenCalledTimes(2)
      expect(warnings).toHaveLength(2)
      // One warning per image, in the order the images finish.
      for (const image of resolved) {
        expect(warnings).toContainEqual(
          `${NAME}@${image.digest}: GitHub artifact attestation not stored: GitHub is down. ` +
            'Set `github-attestations: false` to skip this step.',
        )
      }
    })
  })
})
