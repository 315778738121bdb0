/** OCI distribution types and the registry seam the rest of Signet codes against. */

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const

/** Every manifest media type Signet accepts when it reads an image. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.dockerManifest,
]

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  artifactType?: string
  annotations?: Record<string, string>
  platform?: { architecture: string; os: string; variant?: string }
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
  /** GET a manifest by tag or digest; undefined on 404. */
  getManifest(
    repo: Repository,
    reference: string,
    accept?: string[],
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
   */
  referrers(
    repo: Repository,
    digest: string,
    artifactType?: string,
  ): Promise<ImageIndex | undefined>
}
