/**
 * Sigstore bundles as OCI referrers, as cosign v3 writes them, and the OCI referrers tag schema
 * (`sha256-<hex>` index) for registries without the referrers API. Pure.
 */
import {
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
} from '../registry/types'
import { digestTagStem, sha256Digest } from './digest'

/**
 * @sigstore/bundle's BUNDLE_V03_MEDIA_TYPE, spelt out: importing it would load sigstore-js as the
 * registry is first read, before any signature needs it (issue 11: start-up). A unit test holds
 * the two equal.
 */
export const BUNDLE_V03_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json'
export const BUNDLE_ANNOTATIONS = {
  content: 'dev.sigstore.bundle.content',
  predicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const

/** The OCI empty descriptor's blob: `{}`. */
export const EMPTY_CONFIG = Buffer.from('{}')

export function referrersFallbackTag(digest: string): string {
  return digestTagStem(digest)
}

export interface BundleReferrer {
  manifest: ImageManifest
  manifestBytes: Buffer
  descriptor: Descriptor
  /** `fresh`: cannot be in the registry yet, so uploading needs no existence check. */
  blobs: { bytes: Buffer; mediaType: string; fresh?: boolean }[]
}

/** RFC 3339 in UTC to the second, as cosign writes `org.opencontainers.image.created`. */
export function rfc3339Seconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function buildBundleReferrer(
  bundleJson: Buffer,
  subject: Descriptor,
  predicateType: string,
  created: Date,
): BundleReferrer {
  const annotations = {
    [BUNDLE_ANNOTATIONS.created]: rfc3339Seconds(created),
    [BUNDLE_ANNOTATIONS.content]: 'dsse-envelope',
    [BUNDLE_ANNOTATIONS.predicateType]: predicateType,
  }
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    artifactType: BUNDLE_V03_MEDIA_TYPE,
    config: {
      mediaType: MEDIA_TYPES.ociEmpty,
      // cosign v3 repeats artifactType here; readers that key on the config descriptor see it too.
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      digest: sha256Digest(EMPTY_CONFIG),
      size: EMPTY_CONFIG.length,
    },
    layers: [
      {
        mediaType: BUNDLE_V03_MEDIA_TYPE,
        digest: sha256Digest(bundleJson),
        size: bundleJson.length,
      },
    ],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations,
  }
  const manifestBytes = Buffer.from(JSON.stringify(manifest))
  return {
    manifest,
    manifestBytes,
    descriptor: {
      mediaType: MEDIA_TYPES.ociManifest,
      digest: sha256Digest(manifestBytes),
      size: manifestBytes.length,
      artifactType: BUNDLE_V03_MEDIA_TYPE,
      annotations,
    },
    blobs: [
      { bytes: bundleJson, mediaType: BUNDLE_V03_MEDIA_TYPE, fresh: true },
      { bytes: EMPTY_CONFIG, mediaType: MEDIA_TYPES.ociEmpty },
    ],
  }
}

/**
 * Adds referrers to the fallback index (the spec's MUST: artifactType and all manifest
 * annotations on each descriptor), all in one new index: the referrers one run writes for an
 * image go in one tag update. Returns undefined when every one is already listed.
 */
export function addToFallbackIndex(
  existing: ImageIndex | undefined,
  ...descriptors: Descriptor[]
): { index: ImageIndex; bytes: Buffer } | undefined {
  const manifests = existing ? [...existing.manifests] : []
  const listed = new Set(manifests.map((m) => m.digest))
  for (const descriptor of descriptors) {
    if (listed.has(descriptor.digest)) continue
    listed.add(descriptor.digest)
    manifests.push(descriptor)
  }
  if (manifests.length === (existing?.manifests.length ?? 0)) return undefined
  const index: ImageIndex = existing
    ? { ...existing, manifests }
    : { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }
  return { index, bytes: Buffer.from(JSON.stringify(index)) }
}
