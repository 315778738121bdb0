/**
 * cosign's legacy storage: `sha256-<hex>.sig` (and `.att`) tags holding an OCI image manifest with
 * one layer per signature. Pure: bytes and objects in, bytes and objects out.
 */
import type { TransparencyLogEntry } from '@sigstore/bundle'
import { MEDIA_TYPES, type Descriptor, type ImageManifest } from '../registry/types'
import { digestTagStem, sha256Digest } from './digest'

export const LEGACY_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  rekorBundle: 'dev.sigstore.cosign/bundle',
  timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
  predicateType: 'predicateType',
} as const

export const DSSE_ENVELOPE_MEDIA_TYPE = 'application/vnd.dsse.envelope.v1+json'

export function signatureTag(digest: string): string {
  return `${digestTagStem(digest)}.sig`
}

export function attestationTag(digest: string): string {
  return `${digestTagStem(digest)}.att`
}

/** One signature to store as a layer: the layer bytes and what cosign records beside them. */
export interface LegacyLayer {
  mediaType: string
  bytes: Buffer
  annotations: Record<string, string>
}

export interface LegacySignatureMaterial {
  /** Raw signature bytes; empty for `.att` layers, where the signature lives in the envelope. */
  signature: Buffer
  /** PEM leaf certificate (keyless). */
  certificatePem?: string
  /** PEM intermediates then root (keyless). */
  chainPem?: string
  /** The Rekor v1 entry, recorded as cosign's "Rekor bundle". */
  tlogEntry?: TransparencyLogEntry
  /** DER RFC 3161 TimeStampResp. */
  rfc3161Timestamp?: Buffer
}

/**
 * The layer annotations cosign writes for a signature, in cosign's names. For an attestation
 * (`predicateType` given) the signature annotation is present but empty: the signature is inside
 * the envelope that the layer holds.
 */
export function legacyAnnotations(
  material: LegacySignatureMaterial,
  predicateType?: string,
): Record<string, string> {
  const annotations: Record<string, string> = {
    [LEGACY_ANNOTATIONS.signature]:
      predicateType === undefined ? material.signature.toString('base64') : '',
  }
  if (predicateType !== undefined) annotations[LEGACY_ANNOTATIONS.predicateType] = predicateType
  if (material.certificatePem) {
    annotations[LEGACY_ANNOTATIONS.certificate] = material.certificatePem
    annotations[LEGACY_ANNOTATIONS.chain] = material.chainPem ?? ''
  }
  if (material.tlogEntry) {
    annotations[LEGACY_ANNOTATIONS.rekorBundle] = rekorBundleAnnotation(material.tlogEntry)
  }
  if (material.rfc3161Timestamp) {
    annotations[LEGACY_ANNOTATIONS.timestamp] = JSON.stringify({
      SignedRFC3161Timestamp: material.rfc3161Timestamp.toString('base64'),
    })
  }
  return annotations
}

/**
 * cosign's `dev.sigstore.cosign/bundle`: Go field names, numbers as JSON numbers, the SET over the
 * canonical `Payload`. Built from a bundle's tlog entry, which carries the same facts.
 */
export function rekorBundleAnnotation(entry: TransparencyLogEntry): string {
  if (!entry.inclusionPromise) {
    throw new Error('a legacy signature needs a Rekor v1 entry with a signed entry timestamp')
  }
  return JSON.stringify({
    SignedEntryTimestamp: Buffer.from(entry.inclusionPromise.signedEntryTimestamp).toString(
      'base64',
    ),
    Payload: {
      body: Buffer.from(entry.canonicalizedBody).toString('base64'),
      integratedTime: Number(entry.integratedTime),
      logIndex: Number(entry.logIndex),
      logID: Buffer.from(entry.logId.keyId).toString('hex'),
    },
  })
}

export interface LegacyManifestParts {
  manifest: ImageManifest
  manifestBytes: Buffer
  config: Buffer
  /**
   * Blobs the registry must hold before the manifest is put: new layers and the config.
   * `fresh`: almost surely not there yet (uploading one that is costs a request, nothing more).
   */
  blobs: { bytes: Buffer; mediaType: string; fresh?: boolean }[]
}

function sameAnnotations(a: Record<string, string> = {}, b: Record<string, string> = {}): boolean {
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k])
}

/**
 * A layer already uploaded, as a tag's manifest names it: what a read-back's merge needs, without
 * holding the bytes (a 10 MB SBOM's envelope) until its tag is read back.
 */
export interface UploadedLegacyLayer {
  mediaType: string
  digest: string
  size: number
  annotations: Record<string, string>
}

export function uploadedLayer(layer: LegacyLayer): UploadedLegacyLayer {
  return {
    mediaType: layer.mediaType,
    digest: sha256Digest(layer.bytes),
    size: layer.bytes.length,
    annotations: layer.annotations,
  }
}

function digestOf(layer: LegacyLayer | UploadedLegacyLayer): string {
  return 'bytes' in layer ? sha256Digest(layer.bytes) : layer.digest
}

/** True when `manifest` already holds a layer with these bytes and exactly these annotations. */
export function hasLayer(
  manifest: ImageManifest | undefined,
  layer: LegacyLayer | UploadedLegacyLayer,
): boolean {
  if (!manifest) return false
  const digest = digestOf(layer)
  return manifest.layers.some(
    (l) => l.digest === digest && sameAnnotations(l.annotations, layer.annotations),
  )
}

/**
 * Appends layers to what a `.sig`/`.att` tag holds, keeping every existing layer untouched and
 * skipping identical ones. Returns undefined when there is nothing to add. A layer given as
 * uploaded (no bytes) is named in the manifest but has no blob to push.
 */
export function appendLegacyLayers(
  existing: ImageManifest | undefined,
  layers: (LegacyLayer | UploadedLegacyLayer)[],
): LegacyManifestParts | undefined {
  const kept: Descriptor[] = existing ? [...existing.layers] : []
  const blobs: LegacyManifestParts['blobs'] = []
  let added = 0
  for (const layer of layers) {
    if (hasLayer(existing, layer)) continue
    const digest = digestOf(layer)
    if (
      kept.some((l) => l.digest === digest && sameAnnotations(l.annotations, layer.annotations))
    ) {
      continue
    }
    kept.push({
      mediaType: layer.mediaType,
      size: 'bytes' in layer ? layer.bytes.length : layer.size,
      digest,
      annotations: layer.annotations,
    })
    added++
    // Uploaded without asking first (issue 11: a request an image): an .att envelope holds a
    // signature made a moment ago, and a .sig payload is there already only when the same digest
    // was signed with the same annotations and the tag write did not follow.
    if ('bytes' in layer)
      blobs.push({ bytes: layer.bytes, mediaType: layer.mediaType, fresh: true })
  }
  if (added === 0) return undefined
  // A valid (if empty) OCI image config: containers/image parses it when it appends, and the
  // diff_ids track the layers, which are stored uncompressed.
  const config = Buffer.from(
    JSON.stringify({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: kept.map(() => ({ created: '0001-01-01T00:00:00Z' })),
      os: '',
      rootfs: { type: 'layers', diff_ids: kept.map((l) => l.digest) },
      config: {},
    }),
  )
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, size: config.length, digest: sha256Digest(config) },
    layers: kept,
  }
  blobs.push({ bytes: config, mediaType: MEDIA_TYPES.ociConfig, fresh: true })
  return { manifest, manifestBytes: Buffer.from(JSON.stringify(manifest)), config, blobs }
}
