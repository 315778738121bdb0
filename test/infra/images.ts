/**
 * Tiny but valid container images for tests: a gzip'd tar layer holding one file, an image config
 * that crane, cosign and containers/image parse (os, architecture, rootfs.diff_ids), and optionally
 * a multi-platform index. The seed makes each image distinct, so tests never share digests.
 */
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import { MEDIA_TYPES, type Registry, type Repository } from '../../src/registry/types'

export interface TestImageOptions {
  tag?: string
  /** e.g. ['linux/amd64', 'linux/arm64/v8']: pushes one manifest per platform and an index. */
  platforms?: string[]
  seed?: string
  /** OCI (default) or Docker schema 2 media types. */
  format?: 'oci' | 'docker'
}

export interface TestImage {
  digest: string
  mediaType: string
  size: number
  children: { digest: string; platform: { os: string; architecture: string; variant?: string } }[]
}

/** The image's digest, then its platform manifests' (an index's children; none for a manifest). */
export const imageDigests = (image: TestImage): string[] => [
  image.digest,
  ...image.children.map((c) => c.digest),
]

const DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip'
const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json'
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip'

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`

/** A one-file ustar archive (enough for every tool that unpacks layers). */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512)
  const put = (text: string, offset: number, length: number): void => {
    header.write(text, offset, length, 'ascii')
  }
  const octal = (n: number, length: number): string =>
    n.toString(8).padStart(length - 1, '0') + '\0'
  put(name, 0, 100)
  put(octal(0o644, 8), 100, 8)
  put(octal(0, 8), 108, 8)
  put(octal(0, 8), 116, 8)
  put(octal(content.length, 12), 124, 12)
  put(octal(0, 12), 136, 12)
  put('        ', 148, 8) // checksum is computed with its own field as spaces
  put('0', 156, 1)
  put('ustar\0', 257, 6)
  put('00', 263, 2)
  let sum = 0
  for (const byte of header) sum += byte
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
  const padding = Buffer.alloc((512 - (content.length % 512)) % 512)
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)])
}

function parsePlatform(text: string): { os: string; architecture: string; variant?: string } {
  const [os, architecture, variant] = text.split('/')
  if (!os || !architecture) throw new Error(`platform "${text}" is not os/architecture[/variant]`)
  return { os, architecture, ...(variant ? { variant } : {}) }
}

async function pushSingle(
  registry: Registry,
  repo: Repository,
  seed: string,
  platform: { os: string; architecture: string; variant?: string },
  format: 'oci' | 'docker',
): Promise<{ digest: string; mediaType: string; size: number; bytes: Buffer }> {
  const tar = tarOneFile(
    'signet-test.txt',
    Buffer.from(`signet test image ${seed} ${JSON.stringify(platform)}\n`),
  )
  const layerBytes = gzipSync(tar)
  const config = {
    created: '1970-01-01T00:00:00Z',
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: { Labels: { 'dev.signet.test.seed': seed } },
    rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: `signet test image ${seed}` }],
  }
  const configBytes = Buffer.from(JSON.stringify(config))
  const layer = await registry.pushBlob(
    repo,
    layerBytes,
    format === 'oci' ? OCI_LAYER : DOCKER_LAYER,
  )
  const configDesc = await registry.pushBlob(
    repo,
    configBytes,
    format === 'oci' ? MEDIA_TYPES.ociConfig : DOCKER_CONFIG,
  )
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociManifest : MEDIA_TYPES.dockerManifest
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType, config: configDesc, layers: [layer] }),
  )
  const { digest } = await registry.putManifest(repo, sha256(manifest), manifest, mediaType)
  return { digest, mediaType, size: manifest.length, bytes: manifest }
}

/** Pushes a test image (and tags it when asked); returns its descriptor and per-platform children. */
export async function pushTestImage(
  registry: Registry,
  repo: Repository,
  options: TestImageOptions = {},
): Promise<TestImage> {
  const seed = options.seed ?? `${Date.now()}-${Math.random()}`
  const format = options.format ?? 'oci'
  const tagIt = async (bytes: Buffer, mediaType: string): Promise<void> => {
    if (options.tag) await registry.putManifest(repo, options.tag, bytes, mediaType)
  }

  if (!options.platforms || options.platforms.length === 0) {
    const { bytes, ...image } = await pushSingle(
      registry,
      repo,
      seed,
      { os: 'linux', architecture: 'amd64' },
      format,
    )
    await tagIt(bytes, image.mediaType)
    return { ...image, children: [] }
  }

  const children: TestImage['children'] = []
  const manifests: Record<string, unknown>[] = []
  for (const text of options.platforms) {
    const platform = parsePlatform(text)
    const child = await pushSingle(registry, repo, seed, platform, format)
    children.push({ digest: child.digest, platform })
    manifests.push({ mediaType: child.mediaType, digest: child.digest, size: child.size, platform })
  }
  const mediaType = format === 'oci' ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests }))
  const { digest } = await registry.putManifest(repo, sha256(index), index, mediaType)
  await tagIt(index, mediaType)
  return { digest, mediaType, size: index.length, children }
}
