/** OCI distribution types and the registry seam the rest of Signet codes against. */
import { SignetError } from '../errors'

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const

/** The manifest media types that list other manifests: an OCI image index, a Docker manifest list. */
export const INDEX_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
]

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_MEDIA_TYPES.includes(mediaType)
}

/** Every manifest media type Signet accepts when it reads an image. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
]

// Signet's limits on what a registry may make it read for one image. A registry is named by
// whoever writes the Dockerfile, so its answers are bounded: over a limit the image fails
// (REGISTRY_LIMIT, see registryLimit) rather than being read without end. Discovery's own limits
// (signature layers, referrers read, the per-image byte budget) are in src/storage/discover.ts.

/** Registries reject larger manifests (distribution, GHCR, ECR all use 4 MiB); so does Signet. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024
/** Pages of one referrers listing (Link rel="next"): bounds a listing that loops or never ends. */
export const MAX_REFERRER_PAGES = 100
/** Entries of one referrers listing, over all its pages (the API or the fallback tag's index). */
export const MAX_LISTED_REFERRERS = 1000
/** Bytes of one referrers listing, over all its pages: as much as one manifest may hold. */
export const MAX_REFERRERS_LISTING_BYTES = MAX_MANIFEST_BYTES
/** Children of one image index (platforms and attestation manifests) that Signet resolves. */
export const MAX_INDEX_CHILDREN = 256

/**
 * The error for an answer over one of Signet's limits: `what` went over, and `limit` says the
 * limit with its value, e.g. registryLimit('the registry lists more than 1000 referrers of
 * sha256:…', '1000 referrers') reads "…: Signet reads at most 1000 referrers per image".
 */
export function registryLimit(what: string, limit: string): SignetError {
  return new SignetError('REGISTRY_LIMIT', `${what}: Signet reads at most ${limit} per image`)
}

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
  platform?: { architecture: string; os: string; variant?: string }
}

/**
 * An index entry's platform as the user writes it (`FROM --platform`, the report):
 * `os/architecture[/variant]`, e.g. linux/arm64/v8; undefined for an entry with no platform.
 */
export function platformText(platform: Descriptor['platform']): string | undefined {
  return platform
    ? [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
    : undefined
}

export interface ImageManifest {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

export interface ImageIndex {
  schemaVersion: 2
  mediaType?: string
  artifactType?: string
  manifests: Descriptor[]
  subject?: Descriptor
  annotations?: Record<string, string>
}

/** A repository in a registry: `registry` is the host (with port) the API is served on. */
export interface Repository {
  registry: string
  repository: string
}

export interface FetchedManifest {
  /** mediaType from Content-Type, digest computed over `bytes` (and checked against the registry's). */
  descriptor: Descriptor
  bytes: Buffer
  /** The registry's ETag, when it sends one (used for If-Match on the fallback index). */
  etag?: string
}

export interface PutManifestResult {
  digest: string
  /** The OCI-Subject header: present when the registry processed the manifest's `subject`. */
  ociSubject?: string
}

/** What Signet needs of a registry. `RegistryClient` implements it over HTTP. */
export interface Registry {
  /** HEAD a manifest by tag or digest; undefined on 404. */
  headManifest(repo: Repository, reference: string): Promise<Descriptor | undefined>
  /**
   * GET a manifest by tag or digest; undefined on 404. Refuses more than `maxBytes` (default and at
   * most MAX_MANIFEST_BYTES).
   */
  getManifest(
    repo: Repository,
    reference: string,
    accept?: string[],
    maxBytes?: number,
  ): Promise<FetchedManifest | undefined>
  /** PUT a manifest under a tag or its digest. `ifMatch` sends If-Match (ignored by registries that do not support it). */
  putManifest(
    repo: Repository,
    reference: string,
    bytes: Buffer,
    mediaType: string,
    options?: { ifMatch?: string },
  ): Promise<PutManifestResult>
  /**
   * Upload a blob unless the registry already has it. `fresh`: the caller knows it cannot be there
   * yet (it holds a signature made a moment ago), so the existence check is skipped.
   */
  pushBlob(
    repo: Repository,
    bytes: Buffer,
    mediaType: string,
    options?: { fresh?: boolean },
  ): Promise<Descriptor>
  /** Download a blob, refusing more than `maxBytes`, checking its digest. */
  getBlob(repo: Repository, digest: string, maxBytes?: number): Promise<Buffer>
  /**
   * The referrers API for `digest`: the index it answers, or undefined when the registry does not
   * serve the API (404, 400, 406, or a non-index answer), so the caller uses the fallback tag schema.
   * A listing over MAX_REFERRER_PAGES, MAX_LISTED_REFERRERS or MAX_REFERRERS_LISTING_BYTES is a
   * REGISTRY_LIMIT error.
   */
  referrers(
    repo: Repository,
    digest: string,
    artifactType?: string,
  ): Promise<ImageIndex | undefined>
}
