/**
 * Discovery (src/storage/discover.ts) against real HTTP: the project's OCI registry (referrers API)
 * and Debian's docker-registry (distribution 2.8: no referrers API, so the `sha256-<hex>` fallback
 * index tag). Every place cosign and actions/attest write to is filled by hand with the registry
 * client, and discover must return exactly what is there, and set aside what is not about the image.
 */
import { attestationTag, signatureTag, LEGACY_ANNOTATIONS } from '../../src/formats/cosign-tags'
import { sha256Digest } from '../../src/formats/digest'
import {
  addToFallbackIndex,
  buildBundleReferrer,
  BUNDLE_ANNOTATIONS,
  BUNDLE_V03_MEDIA_TYPE,
  EMPTY_CONFIG,
  referrersFallbackTag,
  type BundleReferrer,
} from '../../src/formats/referrers'
import { RegistryClient } from '../../src/registry/client'
import {
  MAX_LISTED_REFERRERS,
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
  type Repository,
} from '../../src/registry/types'
import {
  claimedAttestationType,
  COSIGN_SIGN_PREDICATE,
  DEFAULT_DISCOVERY_MAX_BYTES,
  discover,
  MAX_BUNDLE_REFERRERS,
  type Discovery,
} from '../../src/storage/discover'
import { asyncErrorOf } from '../infra/expect'
import { startTestRegistry } from '../infra/docker-registry'
import { pushFreshImage, type PushedImage } from '../infra/harness'
import { pushTestImage } from '../infra/images'
import { startOciRegistry, type OciRegistry, type OciRegistryOptions } from '../infra/oci-registry'
import { readRealWorld as read } from '../infra/real-world'

/** A cosign v3 signature bundle (its envelope claims cosign's sign predicate). */
const SIGNATURE_BUNDLE = read('_derived/docker-actions-toolkit/sign-output1.bundle.sigstore.json')
/** An actions/attest SLSA provenance bundle. */
const SLSA_BUNDLE = read(
  'artifact-attestations-opa-provider/pkg/fetcher/testdata/valid-bundle.json',
)
const SLSA_V1 = 'https://slsa.dev/provenance/v1'
const SPDX_ARTIFACT = 'application/spdx+json'
const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json'
const DSSE = 'application/vnd.dsse.envelope.v1+json'
const CREATED = new Date('2026-01-02T03:04:05Z')
const FAST_RETRY = { minDelayMs: 5, maxDelayMs: 20, maxTotalMs: 10_000 }

interface Setup {
  name: string
  referrersFrom: Discovery['referrersFrom']
  start: () => Promise<{ host: string; stop: () => Promise<void> }>
}

const SETUPS: Setup[] = [
  { name: 'OCI registry (referrers API)', referrersFrom: 'api', start: () => startOciRegistry() },
  {
    name: 'distribution 2.8 (fallback tag)',
    referrersFrom: 'fallback-tag',
    start: () => startTestRegistry('distribution'),
  },
]

/** A cosign legacy manifest (`.sig` / `.att`): an empty config and the given layers. */
async function pushLegacyManifest(
  client: RegistryClient,
  repo: Repository,
  tag: string,
  layers: { bytes: Buffer; mediaType: string; annotations: Record<string, string> }[],
): Promise<void> {
  const config = await client.pushBlob(
    repo,
    Buffer.from('{"type":"cosign"}'),
    MEDIA_TYPES.ociConfig,
  )
  const descriptors: Descriptor[] = []
  for (const layer of layers) {
    const pushed = await client.pushBlob(repo, layer.bytes, layer.mediaType)
    descriptors.push({ ...pushed, mediaType: layer.mediaType, annotations: layer.annotations })
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: config.digest, size: config.size },
    layers: descriptors,
  }
  await client.putManifest(
    repo,
    tag,
    Buffer.from(JSON.stringify(manifest)),
    MEDIA_TYPES.ociManifest,
  )
}

/** Pushes a referrer's blobs and manifest (by digest); returns its descriptor. */
async function pushReferrer(
  client: RegistryClient,
  repo: Repository,
  referrer: BundleReferrer,
): Promise<Descriptor> {
  for (const blob of referrer.blobs) await client.pushBlob(repo, blob.bytes, blob.mediaType)
  await client.putManifest(
    repo,
    referrer.descriptor.digest,
    referrer.manifestBytes,
    MEDIA_TYPES.ociManifest,
  )
  return referrer.descriptor
}

/** How a referrer manifest is listed: its digest and size, artifactType and annotations. */
function referrerDescriptor(manifest: ImageManifest, manifestBytes: Buffer): Descriptor {
  return {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: sha256Digest(manifestBytes),
    size: manifestBytes.length,
    ...(manifest.artifactType ? { artifactType: manifest.artifactType } : {}),
    ...(manifest.annotations ? { annotations: manifest.annotations } : {}),
  }
}

/** A referrer as buildBundleReferrer makes it, with `change` applied to its manifest. */
function changedReferrer(
  referrer: BundleReferrer,
  change: (manifest: ImageManifest) => ImageManifest,
): BundleReferrer {
  const manifest = change(structuredClone(referrer.manifest))
  const manifestBytes = Buffer.from(JSON.stringify(manifest))
  return {
    ...referrer,
    manifest,
    manifestBytes,
    descriptor: referrerDescriptor(manifest, manifestBytes),
  }
}

/** An SPDX SBOM referrer (not a Sigstore bundle). */
function spdxReferrer(subject: Descriptor): BundleReferrer {
  const sbom = Buffer.from(JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'app', packages: [] }))
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: SPDX_ARTIFACT,
    config: { mediaType: MEDIA_TYPES.ociEmpty, digest: sha256Digest(EMPTY_CONFIG), size: 2 },
    layers: [{ mediaType: SPDX_ARTIFACT, digest: sha256Digest(sbom), size: sbom.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  }
  const manifestBytes = Buffer.from(JSON.stringify(manifest))
  return {
    manifest,
    manifestBytes,
    descriptor: referrerDescriptor(manifest, manifestBytes),
    blobs: [
      { bytes: sbom, mediaType: SPDX_ARTIFACT },
      { bytes: EMPTY_CONFIG, mediaType: MEDIA_TYPES.ociEmpty },
    ],
  }
}

const byReference = <T extends { reference: string }>(items: T[]): T[] =>
  [...items].sort((a, b) => a.reference.localeCompare(b.reference))

describe.each(SETUPS)('$name', (setup) => {
  let host: string
  let stop: () => Promise<void>
  let client: RegistryClient

  beforeAll(async () => {
    const registry = await setup.start()
    host = registry.host
    stop = () => registry.stop()
    client = new RegistryClient({ plainHttp: [host], retry: FAST_RETRY })
  })
  afterAll(async () => {
    await stop?.()
  })

  it('finds nothing for an image with no signature, attestation or referrer', async () => {
    const image = await pushFreshImage(host, 'discover/empty')
    const found = await discover(client, image.repo, image.image.digest)
    expect(found).toEqual({
      signatures: [],
      attestations: [],
      bundles: [],
      notes: [],
      referrersFrom: setup.referrersFrom,
    })
  })

  it('sets aside a .sig tag that holds an index, with a note', async () => {
    const image = await pushFreshImage(host, 'discover/sig-index', { platforms: ['linux/amd64'] })
    const digest = image.image.children[0].digest
    // The multi-platform index itself, tagged as if it were the signature manifest.
    const index = await client.getManifest(image.repo, image.image.digest)
    expect(index?.descriptor.mediaType).toBe(MEDIA_TYPES.ociIndex)
    const tag = signatureTag(digest)
    await client.putManifest(image.repo, tag, index!.bytes, MEDIA_TYPES.ociIndex)
    const found = await discover(client, image.repo, digest)
    expect(found.signatures).toEqual([])
    expect(found.notes).toEqual([`${image.name}:${tag} is not an image manifest: ignored`])
  })

  it('reads at most 100 layers of a .sig, with a note', async () => {
    const image = await pushFreshImage(host, 'discover/many')
    const layers = Array.from({ length: 101 }, (_, i) => ({
      bytes: Buffer.from(`{"n":${i}}`),
      mediaType: SIMPLE_SIGNING,
      annotations: { [LEGACY_ANNOTATIONS.signature]: `sig-${i}` },
    }))
    const tag = signatureTag(image.image.digest)
    await pushLegacyManifest(client, image.repo, tag, layers)
    const found = await discover(client, image.repo, image.image.digest)
    expect(found.signatures).toHaveLength(100)
    expect(found.signatures[99]).toEqual({
      reference: `${image.name}:${tag} layer 100`,
      signature: { payload: layers[99].bytes, annotations: layers[99].annotations },
    })
    expect(found.notes).toEqual([`${image.name}:${tag} has 101 layers: read the first 100`])
  })

  if (setup.referrersFrom === 'fallback-tag') {
    it('skips a referrer the fallback index still lists after it was deleted', async () => {
      const image = await pushFreshImage(host, 'discover/stale')
      const subject = {
        mediaType: image.image.mediaType,
        digest: image.image.digest,
        size: image.image.size,
      }
      const kept = await pushReferrer(
        client,
        image.repo,
        buildBundleReferrer(SLSA_BUNDLE, subject, SLSA_V1, CREATED),
      )
      const deleted = await pushReferrer(
        client,
        image.repo,
        buildBundleReferrer(SIGNATURE_BUNDLE, subject, COSIGN_SIGN_PREDICATE, CREATED),
      )
      const first = addToFallbackIndex(undefined, kept)!
      const both = addToFallbackIndex(first.index, deleted)!
      await client.putManifest(
        image.repo,
        referrersFallbackTag(subject.digest),
        both.bytes,
        MEDIA_TYPES.ociIndex,
      )
      const res = await fetch(
        `http://${host}/v2/${image.repo.repository}/manifests/${deleted.digest}`,
        { method: 'DELETE' },
      )
      expect(res.status).toBe(202)
      const found = await discover(client, image.repo, subject.digest)
      expect(found.bundles.map((b) => [b.reference, b.predicateType])).toEqual([
        [`${image.name}@${kept.digest}`, SLSA_V1],
      ])
    })
  }

  describe('an image with a .sig, an .att and referrers', () => {
    let image: PushedImage
    let subject: Descriptor
    let other: Descriptor
    let found: Discovery
    const sigPayload = Buffer.from(
      JSON.stringify({ critical: { type: 'cosign container image signature' }, optional: null }),
    )
    const sigAnnotations = {
      [LEGACY_ANNOTATIONS.signature]: 'MEUCIQDsignature',
      [LEGACY_ANNOTATIONS.certificate]:
        '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    }
    const envelope = Buffer.from(
      JSON.stringify({
        payloadType: 'application/vnd.in-toto+json',
        payload: Buffer.from(
          JSON.stringify({ predicateType: 'https://cyclonedx.org/bom' }),
        ).toString('base64'),
        signatures: [{ sig: 'c2ln' }],
      }),
    )
    const attAnnotations = {
      [LEGACY_ANNOTATIONS.signature]: '',
      [LEGACY_ANNOTATIONS.predicateType]: 'https://cyclonedx.org/bom',
    }
    let slsaReferrer: Descriptor
    let signatureReferrer: Descriptor
    let spdx: Descriptor
    let foreign: Descriptor

    beforeAll(async () => {
      image = await pushFreshImage(host, 'discover/full')
      subject = {
        mediaType: image.image.mediaType,
        digest: image.image.digest,
        size: image.image.size,
      }
      // Another image in the same repository, whose referrer ends up in this image's index.
      const otherImage = await pushTestImage(client, image.repo, { seed: `other-${Math.random()}` })
      other = { mediaType: otherImage.mediaType, digest: otherImage.digest, size: otherImage.size }

      await pushLegacyManifest(client, image.repo, signatureTag(subject.digest), [
        { bytes: sigPayload, mediaType: SIMPLE_SIGNING, annotations: sigAnnotations },
      ])
      await pushLegacyManifest(client, image.repo, attestationTag(subject.digest), [
        { bytes: envelope, mediaType: DSSE, annotations: attAnnotations },
      ])

      // An attestation bundle whose referrer annotates its predicate type (what cosign writes).
      slsaReferrer = await pushReferrer(
        client,
        image.repo,
        buildBundleReferrer(SLSA_BUNDLE, subject, SLSA_V1, CREATED),
      )
      // A signature bundle whose referrer does not: the type is read from the envelope.
      signatureReferrer = await pushReferrer(
        client,
        image.repo,
        changedReferrer(buildBundleReferrer(SIGNATURE_BUNDLE, subject, 'x', CREATED), (m) => ({
          ...m,
          annotations: { [BUNDLE_ANNOTATIONS.content]: 'dsse-envelope' },
        })),
      )
      spdx = await pushReferrer(client, image.repo, spdxReferrer(subject))
      // A bundle about the other image (as if its index had been copied here).
      foreign = await pushReferrer(
        client,
        image.repo,
        buildBundleReferrer(SIGNATURE_BUNDLE, other, COSIGN_SIGN_PREDICATE, CREATED),
      )

      // The fallback index: on distribution what discovery reads; on the OCI registry it must be
      // ignored in favour of the API (which lists only the referrers of this subject).
      let index: ImageIndex | undefined
      for (const descriptor of [slsaReferrer, signatureReferrer, spdx, foreign]) {
        const next = addToFallbackIndex(index, descriptor)
        if (!next) throw new Error('descriptor listed twice')
        index = next.index
      }
      await client.putManifest(
        image.repo,
        referrersFallbackTag(subject.digest),
        Buffer.from(JSON.stringify(index)),
        MEDIA_TYPES.ociIndex,
      )

      found = await discover(client, image.repo, subject.digest)
    })

    it(`lists referrers through the ${setup.referrersFrom}`, () => {
      expect(found.referrersFrom).toBe(setup.referrersFrom)
    })

    it('returns the .sig layer with its bytes and annotations', () => {
      expect(found.signatures).toEqual([
        {
          reference: `${image.name}:${signatureTag(subject.digest)} layer 1`,
          signature: { payload: sigPayload, annotations: sigAnnotations },
        },
      ])
    })

    it('returns the .att layer with its envelope bytes and annotations', () => {
      expect(found.attestations).toEqual([
        {
          reference: `${image.name}:${attestationTag(subject.digest)} layer 1`,
          envelope,
          annotations: attAnnotations,
        },
      ])
      expect(claimedAttestationType(found.attestations[0])).toBe('https://cyclonedx.org/bom')
    })

    it('returns the bundle referrers, with the predicate type from the annotation or the envelope', () => {
      expect(byReference(found.bundles)).toEqual(
        byReference([
          {
            reference: `${image.name}@${slsaReferrer.digest}`,
            json: JSON.parse(SLSA_BUNDLE.toString('utf8')),
            predicateType: SLSA_V1,
          },
          {
            reference: `${image.name}@${signatureReferrer.digest}`,
            json: JSON.parse(SIGNATURE_BUNDLE.toString('utf8')),
            predicateType: COSIGN_SIGN_PREDICATE,
          },
        ]),
      )
    })

    it('lists, without reading, attestations whose annotated type no rule needs', async () => {
      const onlySignatures = await discover(client, image.repo, subject.digest, () => false)
      expect(onlySignatures.attestations).toEqual([
        {
          reference: `${image.name}:${attestationTag(subject.digest)} layer 1`,
          annotations: attAnnotations,
        },
      ])
      expect(claimedAttestationType(onlySignatures.attestations[0])).toBe(
        'https://cyclonedx.org/bom',
      )
      expect(byReference(onlySignatures.bundles)).toEqual(
        byReference([
          { reference: `${image.name}@${slsaReferrer.digest}`, predicateType: SLSA_V1 },
          {
            reference: `${image.name}@${signatureReferrer.digest}`,
            json: JSON.parse(SIGNATURE_BUNDLE.toString('utf8')),
            predicateType: COSIGN_SIGN_PREDICATE,
          },
        ]),
      )
      expect(onlySignatures.signatures).toEqual(found.signatures)
    })

    it('ignores a referrer that is not a Sigstore bundle, without a note', () => {
      const references = found.bundles.map((b) => b.reference)
      expect(references).not.toContain(`${image.name}@${spdx.digest}`)
      expect(found.notes.join('\n')).not.toContain(spdx.digest)
    })

    if (setup.referrersFrom === 'fallback-tag') {
      it('drops a listed referrer whose subject is another image, with a note naming it', () => {
        expect(found.bundles.map((b) => b.reference)).not.toContain(
          `${image.name}@${foreign.digest}`,
        )
        expect(found.notes).toEqual([
          `referrer ${image.name}@${foreign.digest} is about ${other.digest}, not this digest: ignored`,
        ])
      })
    } else {
      it('reads only the referrers the API lists for this digest (the fallback tag is not read)', () => {
        expect(found.bundles.map((b) => b.reference)).not.toContain(
          `${image.name}@${foreign.digest}`,
        )
        expect(found.notes).toEqual([])
      })
    }

    it('finds the referrer of the other image when asked about the other image', async () => {
      const forOther = await discover(client, image.repo, other.digest)
      expect(forOther.signatures).toEqual([])
      expect(forOther.attestations).toEqual([])
      if (setup.referrersFrom === 'api') {
        expect(forOther.bundles.map((b) => [b.reference, b.predicateType])).toEqual([
          [`${image.name}@${foreign.digest}`, COSIGN_SIGN_PREDICATE],
        ])
      } else {
        // No fallback index was written for the other image.
        expect(forOther.bundles).toEqual([])
      }
    })
  })
})

describe('issue 8.9: bounded work per image', () => {
  const MiB = 1024 * 1024
  const started: OciRegistry[] = []
  afterAll(async () => {
    await Promise.all(started.map((r) => r.stop()))
  })
  async function start(options: OciRegistryOptions = {}) {
    const registry = await startOciRegistry(options)
    started.push(registry)
    const client = new RegistryClient({ plainHttp: [registry.host], retry: FAST_RETRY })
    return { registry, client }
  }
  const subjectOf = (image: PushedImage): Descriptor => ({
    mediaType: image.image.mediaType,
    digest: image.image.digest,
    size: image.image.size,
  })
  const blobGets = (registry: OciRegistry, digest: string): number =>
    registry.log.filter((l) => l.method === 'GET' && l.url.endsWith(`/blobs/${digest}`)).length
  /** A DSSE envelope (that is also a bundle's JSON) of about `size` bytes. */
  const largeEnvelope = (size: number, seed = ''): Buffer =>
    Buffer.from(
      JSON.stringify({
        dsseEnvelope: {
          payloadType: 'application/vnd.in-toto+json',
          payload: Buffer.from(JSON.stringify({ predicateType: SLSA_V1 })).toString('base64'),
          signatures: [{ sig: 'c2ln' }],
        },
        padding: `${seed}${'x'.repeat(size)}`,
      }),
    )

  it('issue 8.9: the same large blob named by 50 .att layers and 50 referrers is downloaded once', async () => {
    const { registry, client } = await start()
    const image = await pushFreshImage(registry.host, 'bounded/dedupe')
    const subject = subjectOf(image)
    const blob = largeEnvelope(MiB)
    const annotations = { [LEGACY_ANNOTATIONS.predicateType]: SLSA_V1 }
    await pushLegacyManifest(
      client,
      image.repo,
      attestationTag(subject.digest),
      Array.from({ length: 50 }, () => ({ bytes: blob, mediaType: DSSE, annotations })),
    )
    for (let i = 0; i < 50; i++) {
      const created = new Date(CREATED.getTime() + i * 1000)
      await pushReferrer(client, image.repo, buildBundleReferrer(blob, subject, SLSA_V1, created))
    }
    const found = await discover(client, image.repo, subject.digest)
    expect(found.attestations).toHaveLength(50)
    expect(found.attestations.every((a) => a.envelope?.equals(blob))).toBe(true)
    expect(found.bundles).toHaveLength(50)
    expect(found.bundles.every((b) => b.predicateType === SLSA_V1)).toBe(true)
    expect(blobGets(registry, sha256Digest(blob))).toBe(1)
  })

  it('issue 8.9: a blob over the per-image budget fails the image, naming the budget, unread', async () => {
    const { registry, client } = await start()
    const image = await pushFreshImage(registry.host, 'bounded/budget')
    const blob = largeEnvelope(1.5 * MiB)
    await pushLegacyManifest(client, image.repo, attestationTag(image.image.digest), [
      { bytes: blob, mediaType: DSSE, annotations: {} },
    ])
    const err = await asyncErrorOf(
      discover(client, image.repo, image.image.digest, () => true, { maxBytes: MiB }),
    )
    expect(err.code).toBe('REGISTRY_LIMIT')
    expect(err.message).toContain(`blob ${sha256Digest(blob)}`)
    expect(err.message).toMatch(
      /Signet reads at most 1 MiB of signatures, attestations and their manifests per image$/,
    )
    expect(blobGets(registry, sha256Digest(blob))).toBe(0)
    expect(DEFAULT_DISCOVERY_MAX_BYTES).toBe(64 * MiB)
  })

  it('issue 8.9: blobs that fit one by one but not together fail the image', async () => {
    const { registry, client } = await start()
    const image = await pushFreshImage(registry.host, 'bounded/together')
    const subject = subjectOf(image)
    for (let i = 0; i < 4; i++) {
      const created = new Date(CREATED.getTime() + i * 1000)
      const bundle = largeEnvelope(300 * 1024, `${i}`)
      await pushReferrer(client, image.repo, buildBundleReferrer(bundle, subject, SLSA_V1, created))
    }
    const err = await asyncErrorOf(
      discover(client, image.repo, subject.digest, () => true, { maxBytes: MiB }),
    )
    expect(err.code).toBe('REGISTRY_LIMIT')
    expect(err.message).toContain('at most 1 MiB')
  })

  const listing = (count: number, artifactType = BUNDLE_V03_MEDIA_TYPE) => ({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: Array.from({ length: count }, (_, i) => ({
      mediaType: MEDIA_TYPES.ociManifest,
      digest: sha256Digest(Buffer.from(`referrer ${i}`)),
      size: 600,
      artifactType,
    })),
  })

  it.each([
    [10_000, `more than ${MAX_LISTED_REFERRERS} entries`],
    [MAX_BUNDLE_REFERRERS + 1, `at most ${MAX_BUNDLE_REFERRERS} bundle referrers per image`],
  ])(
    'issue 8.9: a referrers listing of %i bundles fails the image, naming the limit, unread',
    async (count, limit) => {
      const body = JSON.stringify(listing(count))
      const { registry, client } = await start({
        intercept: ({ url }) =>
          url.pathname.includes('/referrers/')
            ? { status: 200, headers: { 'content-type': MEDIA_TYPES.ociIndex }, body }
            : undefined,
      })
      const image = await pushFreshImage(registry.host, 'bounded/listing')
      const err = await asyncErrorOf(discover(client, image.repo, image.image.digest))
      expect(err.code).toBe('REGISTRY_LIMIT')
      expect(err.message).toContain(limit)
      // Not one listed referrer was read.
      const byDigest = registry.log.filter((l) => /\/manifests\/sha256:/.test(l.url))
      expect(byDigest.map((l) => l.url)).not.toContain(
        `/v2/${image.repo.repository}/manifests/${listing(1).manifests[0].digest}`,
      )
    },
  )

  it('issue 8.9: a referrers fallback index of 10,000 entries fails the image', async () => {
    const { registry, client } = await start({ referrers: false, requireContent: false })
    const image = await pushFreshImage(registry.host, 'bounded/fallback')
    await client.putManifest(
      image.repo,
      referrersFallbackTag(image.image.digest),
      Buffer.from(JSON.stringify(listing(10_000))),
      MEDIA_TYPES.ociIndex,
    )
    const err = await asyncErrorOf(discover(client, image.repo, image.image.digest))
    expect(err.code).toBe('REGISTRY_LIMIT')
    expect(err.message).toContain(`more than ${MAX_LISTED_REFERRERS} entries`)
  })

  it('issue 8.4: digests a registry lists or a referrer names are not quoted in notes', async () => {
    const { registry, client } = await start()
    const image = await pushFreshImage(registry.host, 'bounded/quoted')
    const subject = subjectOf(image)
    const hostile = 'sha256:<img src=x onerror=alert(1)>\n::error::pwned'
    // A referrer about "another image" whose subject digest is text.
    const liar = await pushReferrer(
      client,
      image.repo,
      changedReferrer(buildBundleReferrer(SLSA_BUNDLE, subject, SLSA_V1, CREATED), (m) => ({
        ...m,
        // (one line: the test registry echoes a subject into its OCI-Subject header)
        subject: { ...m.subject!, digest: hostile.replace('\n', ' ') },
      })),
    )
    const body = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        liar,
        {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: hostile,
          size: 1,
          artifactType: BUNDLE_V03_MEDIA_TYPE,
        },
      ],
    })
    const c = new RegistryClient({
      plainHttp: [registry.host],
      retry: FAST_RETRY,
      fetch: async (input, init) => {
        const url = new URL(input instanceof Request ? input.url : String(input))
        if (url.pathname.includes('/referrers/')) {
          return new Response(body, { headers: { 'content-type': MEDIA_TYPES.ociIndex } })
        }
        return fetch(input, init)
      },
    })
    const found = await discover(c, image.repo, subject.digest)
    expect(found.bundles).toEqual([])
    for (const note of found.notes) expect(note).not.toMatch(/<img|::error::|\n/)
    expect(found.notes).toContain(
      `referrer ${image.name}@${liar.digest} is about no valid digest, not this digest: ignored`,
    )
  })
})
