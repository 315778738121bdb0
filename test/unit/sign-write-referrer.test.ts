/**
 * writeBundleReferrer against an in-memory registry: the referrers API where the registry serves
 * it, else the `sha256-<hex>` fallback index, merged with what other writers put there.
 */
import { BUNDLE_V03_MEDIA_TYPE } from '@sigstore/bundle'
import { BUNDLE_ANNOTATIONS } from '../../src/formats/referrers'
import { MEDIA_TYPES, type ImageIndex, type ImageManifest } from '../../src/registry/types'
import { SettleWindow } from '../../src/storage/tag-update'
import {
  ReferrerBatch,
  ReferrersSupport,
  writeBundleReferrer,
} from '../../src/storage/write-referrer'
import { FakeRegistry, type FakeRegistryOptions } from '../infra/fake-registry'

const repo = { registry: 'registry.test', repository: 'acme/app' }
const PREDICATE = 'https://sigstore.dev/cosign/sign/v1'
// No settle pauses: nothing writes concurrently here.
const fast = { minSettleMs: 0, sleep: async () => undefined }
const NOW = new Date('2026-01-02T03:04:05.678Z')

function setUp(referrers: FakeRegistryOptions['referrers']) {
  const registry = new FakeRegistry({ referrers })
  const subject = registry.seedImage(repo, { tag: 'v1' })
  const fallbackTag = `sha256-${subject.digest.slice('sha256:'.length)}`
  const support = new ReferrersSupport()
  /** Bundle `n` written as a referrer of the image. */
  const write = (n = 1, options: Parameters<typeof writeBundleReferrer>[6] = fast) =>
    writeBundleReferrer(registry, repo, subject, bundle(n), PREDICATE, support, options)
  return { registry, subject, fallbackTag, support, write }
}

const bundle = (n: number) => Buffer.from(JSON.stringify({ mediaType: BUNDLE_V03_MEDIA_TYPE, n }))

describe('writeBundleReferrer', () => {
  test('a registry with the referrers API: the referrer by digest, no tag written', async () => {
    const { registry, subject, fallbackTag, write } = setUp('api')
    const written = await write(1, { ...fast, now: NOW })
    expect(written.fallbackTag).toBeUndefined()
    expect(registry.tags(repo)).toEqual(['v1'])
    expect(registry.tags(repo)).not.toContain(fallbackTag)

    const manifest = registry.manifest<ImageManifest>(repo, written.digest)!
    expect(manifest.artifactType).toBe(BUNDLE_V03_MEDIA_TYPE)
    expect(manifest.subject).toEqual(subject)
    expect(manifest.annotations).toEqual({
      [BUNDLE_ANNOTATIONS.created]: '2026-01-02T03:04:05Z',
      [BUNDLE_ANNOTATIONS.content]: 'dsse-envelope',
      [BUNDLE_ANNOTATIONS.predicateType]: PREDICATE,
    })
    expect(registry.blob(repo, manifest.layers[0].digest)).toEqual(bundle(1))

    const listed = await registry.referrers(repo, subject.digest)
    expect(listed?.manifests.map((m) => [m.digest, m.artifactType])).toEqual([
      [written.digest, BUNDLE_V03_MEDIA_TYPE],
    ])
  })

  test('a registry without the API: the fallback index tag lists the referrer', async () => {
    const { registry, subject, fallbackTag, write } = setUp('none')
    const written = await write()
    expect(written.fallbackTag).toBe(fallbackTag)
    const index = registry.manifest<ImageIndex>(repo, fallbackTag)!
    expect(index.mediaType).toBe(MEDIA_TYPES.ociIndex)
    expect(index.manifests).toHaveLength(1)
    // The spec's MUST for the fallback index: artifactType and the manifest's annotations.
    expect(index.manifests[0]).toMatchObject({
      digest: written.digest,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      annotations: { [BUNDLE_ANNOTATIONS.predicateType]: PREDICATE },
    })
    // The referrer manifest itself is stored by digest too.
    expect(registry.manifest<ImageManifest>(repo, written.digest)?.subject?.digest).toBe(
      subject.digest,
    )
  })

  test('a second referrer is added to the fallback index; the same one again is not', async () => {
    const { registry, fallbackTag, write } = setUp('none')
    const first = await write(1, { ...fast, now: NOW })
    const second = await write(2, { ...fast, now: NOW })
    expect(second.digest).not.toBe(first.digest)
    const putsBefore = registry.calls.filter(
      (c) => c.op === 'putManifest' && c.reference === fallbackTag,
    ).length
    await write(1, { ...fast, now: NOW })
    const index = registry.manifest<ImageIndex>(repo, fallbackTag)!
    expect(index.manifests.map((m) => m.digest)).toEqual([first.digest, second.digest])
    // Already listed: the index is not written again.
    expect(
      registry.calls.filter((c) => c.op === 'putManifest' && c.reference === fallbackTag),
    ).toHaveLength(putsBefore)
  })

  test('what another writer put in the fallback index is kept', async () => {
    const { registry, fallbackTag, write } = setUp('none')
    const other = registry.seedImage(repo)
    const existing: ImageIndex = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ ...other, artifactType: 'application/spdx+json' }],
    }
    await registry.putManifest(
      repo,
      fallbackTag,
      Buffer.from(JSON.stringify(existing)),
      MEDIA_TYPES.ociIndex,
    )
    const written = await write()
    const index = registry.manifest<ImageIndex>(repo, fallbackTag)!
    expect(index.manifests.map((m) => m.digest)).toEqual([other.digest, written.digest])
  })

  test('a fallback tag that holds something else than an index is refused, not overwritten', async () => {
    const { registry, fallbackTag, write } = setUp('none')
    const squatter = registry.seedImage(repo)
    const squatterBytes = (await registry.getManifest(repo, squatter.digest))!.bytes
    await registry.putManifest(repo, fallbackTag, squatterBytes, MEDIA_TYPES.ociManifest)
    await expect(write()).rejects.toThrow(`${fallbackTag} exists but is not an OCI index`)
    expect((await registry.headManifest(repo, fallbackTag))?.digest).toBe(squatter.digest)
  })

  test('OCI-Subject without the API (as ECR answered) still gets the fallback index', async () => {
    const { registry, fallbackTag, write } = setUp('subject-header-only')
    const written = await write()
    expect(written.fallbackTag).toBe(fallbackTag)
    expect(registry.manifest<ImageIndex>(repo, fallbackTag)?.manifests).toHaveLength(1)
  })

  test('the API is asked once per registry, however many referrers are written', async () => {
    const { registry, support, write } = setUp('subject-header-only')
    const more = registry.seedImage({ ...repo, repository: 'acme/other' })
    await Promise.all([
      write(),
      write(2),
      writeBundleReferrer(
        registry,
        { ...repo, repository: 'acme/other' },
        more,
        bundle(3),
        PREDICATE,
        support,
        fast,
      ),
    ])
    expect(registry.calls.filter((c) => c.op === 'referrers')).toHaveLength(1)
  })

  test('a registry that sends no OCI-Subject is not asked about the API at all', async () => {
    const { registry, write } = setUp('none')
    await write()
    expect(registry.calls.filter((c) => c.op === 'referrers')).toEqual([])
  })

  test('a failed manifest write fails the call, and no fallback tag is written', async () => {
    const { registry, fallbackTag, write } = setUp('none')
    registry.fail((c) => c.op === 'putManifest', { times: 1 })
    await expect(write()).rejects.toMatchObject({ code: 'REGISTRY_ERROR' })
    expect(registry.tags(repo)).not.toContain(fallbackTag)
  })
})

describe('ReferrerBatch: the referrers one run writes for an image', () => {
  test('every manifest by digest first, then one fallback-index update (read, write, read back)', async () => {
    const { registry, subject, fallbackTag, support } = setUp('none')
    const window = new SettleWindow({ sleep: async () => undefined })
    const confirmations: Promise<number>[] = []
    const batch = new ReferrerBatch(registry, repo, subject, support, {
      deferTo: { window, confirmations },
    })
    const written = await Promise.all([1, 2, 3].map(async (n) => batch.write(bundle(n), PREDICATE)))
    for (const w of written) expect(w.fallbackTag).toBe(fallbackTag)
    // Nothing listed yet: the index is written once, by commit.
    expect(registry.calls.filter((c) => c.reference === fallbackTag)).toEqual([])
    await batch.commit()
    await expect(Promise.all(confirmations)).resolves.toEqual([1])
    const onTag = registry.calls.filter((c) => c.reference === fallbackTag).map((c) => c.op)
    expect(onTag).toEqual(['getManifest', 'putManifest', 'getManifest'])
    const index = registry.manifest<ImageIndex>(repo, fallbackTag)!
    expect(index.manifests.map((m) => m.digest)).toEqual(written.map((w) => w.digest))
  })

  test('with the referrers API, commit writes no tag', async () => {
    const { registry, subject, fallbackTag, support } = setUp('api')
    const batch = new ReferrerBatch(registry, repo, subject, support, fast)
    const written = await batch.write(bundle(1), PREDICATE)
    await batch.commit()
    expect(written.fallbackTag).toBeUndefined()
    expect(registry.calls.filter((c) => c.reference === fallbackTag)).toEqual([])
  })

  test('six signers of one digest, three referrers each, at once: every referrer is listed', async () => {
    const { registry, subject, fallbackTag } = setUp('none')
    const signers = Array.from({ length: 6 }, (_, signer) => async () => {
      // Each signer is its own run: its own support cache, its own settle window.
      const window = new SettleWindow()
      const confirmations: Promise<number>[] = []
      const batch = new ReferrerBatch(registry, repo, subject, new ReferrersSupport(), {
        deferTo: { window, confirmations },
        minSettleMs: 5,
      })
      const written = await Promise.all(
        [0, 1, 2].map(async (n) => batch.write(bundle(10 * signer + n), PREDICATE)),
      )
      await batch.commit()
      await Promise.all(confirmations)
      return written.map((w) => w.digest)
    })
    const written = (await Promise.all(signers.map(async (s) => s()))).flat()
    expect(written).toHaveLength(18)
    const index = registry.manifest<ImageIndex>(repo, fallbackTag)!
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([...written].sort())
    // They did meet: more than one write each was needed by some.
    const puts = registry.calls.filter((c) => c.op === 'putManifest' && c.reference === fallbackTag)
    expect(puts.length).toBeGreaterThan(6)
  })
})
