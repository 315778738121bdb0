/**
 * Puts the real published signatures of test/fixtures/real-world/ into a loopback registry,
 * byte for byte, so that cosign and Signet judge exactly what was published.
 *
 * The fixture set keeps the manifests that were signed but dropped what is not needed to verify
 * them: an index's platform manifests, image layers over 100 KB, the layers of buildx attestation
 * manifests. The registry is therefore told to take manifests whose content is not there
 * (`requireContent: false`); every byte that is there is served as published.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Descriptor } from '../../src/registry/types'
import { legacyTag } from './cosign'
import { startOciRegistry, type OciRegistry } from './oci-registry'
import { PUBLIC_GOOD_TRUSTED_ROOT, REAL_WORLD, sha256Of as sha256 } from './real-world'

export { PUBLIC_GOOD_TRUSTED_ROOT, REAL_WORLD }

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'

interface ManifestJson {
  mediaType?: string
  config?: Descriptor
  layers?: Descriptor[]
  manifests?: Descriptor[]
  subject?: Descriptor
}

export interface PushedManifest {
  digest: string
  mediaType: string
  size: number
}

export interface FixtureRegistry {
  /** 127.0.0.1:port (what cosign and Signet are pointed at). */
  host: string
  pushBlob(repository: string, bytes: Buffer): Promise<string>
  /** PUTs the exact bytes (by tag when one is given, else by digest). */
  pushManifest(repository: string, bytes: Buffer, tag?: string): Promise<PushedManifest>
  stop(): Promise<void>
}

function mediaTypeOf(bytes: Buffer): string {
  const parsed = JSON.parse(bytes.toString('utf8')) as ManifestJson
  if (parsed.mediaType) return parsed.mediaType
  // cosign save's own index.json (and some old indexes) omit it; the shape says which it is.
  return parsed.manifests ? OCI_INDEX : OCI_MANIFEST
}

export async function startFixtureRegistry(): Promise<FixtureRegistry> {
  const registry: OciRegistry = await startOciRegistry({ requireContent: false })
  const base = `http://${registry.host}/v2`

  return {
    host: registry.host,
    async pushBlob(repository, bytes) {
      const digest = sha256(bytes)
      const answer = await fetch(`${base}/${repository}/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
      })
      if (answer.status !== 201)
        throw new Error(`blob ${digest} refused: ${answer.status} ${await answer.text()}`)
      return digest
    },
    async pushManifest(repository, bytes, tag) {
      const digest = sha256(bytes)
      const mediaType = mediaTypeOf(bytes)
      const answer = await fetch(`${base}/${repository}/manifests/${tag ?? digest}`, {
        method: 'PUT',
        headers: { 'content-type': mediaType },
        body: bytes,
      })
      if (answer.status !== 201)
        throw new Error(`manifest ${digest} refused: ${answer.status} ${await answer.text()}`)
      return { digest, mediaType, size: bytes.length }
    },
    async stop() {
      await registry.stop()
    },
  }
}
// --- cosign legacy .sig: salrashid123/go-bazel-github-workflow (INDEX 2b) ------------------------

const SALRASHID = join(REAL_WORLD, '_derived', 'salrashid123-go-bazel-github-workflow')

export const salrashidFile = (name: string): Buffer => readFileSync(join(SALRASHID, name))

/**
 * The config blob cosign writes into a `.sig` manifest: an empty image config whose one diff_id
 * is the payload layer. Byte-identical to the one cosign pushed (the fixture's config digest
 * proves it; see the check in pushLegacySignature).
 */
function cosignSignatureConfig(payloadDigest: string): Buffer {
  return Buffer.from(
    `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${payloadDigest}"]},"config":{}}`,
  )
}

/**
 * Pushes a signed image (exact bytes) and a cosign `.sig` manifest for it under the image's
 * `sha256-<hex>.sig` tag. The `.sig` manifest is pushed as is when its layer already points at
 * `payload`; a tampered payload gets a manifest re-pointed at it, as an attacker swapping the
 * payload blob would have to write.
 */
export async function pushLegacySignature(
  registry: FixtureRegistry,
  repository: string,
  files: { image: Buffer; payload: Buffer; sigManifest: Buffer },
): Promise<PushedManifest> {
  const image = await registry.pushManifest(repository, files.image)
  const payloadDigest = await registry.pushBlob(repository, files.payload)
  let sigManifest = files.sigManifest
  const parsed = JSON.parse(sigManifest.toString('utf8')) as Required<
    Pick<ManifestJson, 'config' | 'layers'>
  >
  if (parsed.layers.length !== 1) throw new Error('expected a .sig manifest with one layer')
  const config = cosignSignatureConfig(payloadDigest)
  if (parsed.layers[0].digest !== payloadDigest) {
    parsed.layers[0] = { ...parsed.layers[0], digest: payloadDigest, size: files.payload.length }
    parsed.config = { ...parsed.config, digest: sha256(config), size: config.length }
    sigManifest = Buffer.from(JSON.stringify(parsed, null, 2))
  } else if (parsed.config.digest !== sha256(config)) {
    throw new Error(`the .sig config is not cosign's: ${parsed.config.digest}`)
  }
  await registry.pushBlob(repository, config)
  await registry.pushManifest(repository, sigManifest, legacyTag(image.digest, 'sig'))
  return image
}

// --- cosign v3 bundles as OCI referrers: docker/actions-toolkit (INDEX 4) ------------------------

const DOCKER_DERIVED = join(REAL_WORLD, '_derived', 'docker-actions-toolkit')
const DOCKER_LOGS = join(REAL_WORLD, 'docker-actions-toolkit', '__tests__', '.fixtures', 'cosign')

export interface CosignV3Signing {
  /** The signed manifest (exact bytes). */
  manifest: Buffer
  bundle: Buffer
  /** The referrer manifest cosign v3.0.2 PUT, exact bytes from its --verbose log. */
  referrer: Buffer
}

/** Fixture n of the three `cosign sign` runs in docker/actions-toolkit's tests. */
export function cosignV3Signing(n: 1 | 2 | 3): CosignV3Signing {
  const named = (prefix: string): Buffer => {
    const file = readdirSync(DOCKER_DERIVED).find((f) => f.startsWith(prefix))
    if (!file) throw new Error(`no ${prefix}* in ${DOCKER_DERIVED}`)
    return readFileSync(join(DOCKER_DERIVED, file))
  }
  const manifest = named(`manifest${n}_`)
  const bundle = named(`sign-output${n}.bundle`)
  const log = readFileSync(join(DOCKER_LOGS, `sign-output${n}.txt`), 'utf8')
  const referrer = referrerFromLog(log, sha256(manifest))
  const layer = (JSON.parse(referrer.toString('utf8')) as ManifestJson).layers?.[0]
  if (layer?.digest !== sha256(bundle))
    throw new Error(`referrer ${n}'s layer is not bundle ${n}: ${layer?.digest}`)
  return { manifest, bundle, referrer }
}

/**
 * The body of cosign's `PUT /v2/<repo>/manifests/sha256:<d>` whose subject is `subjectDigest`, from
 * a `cosign --verbose` log; its sha256 must be the `<d>` it was PUT under.
 */
function referrerFromLog(log: string, subjectDigest: string): Buffer {
  const lines = log.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const put = /^\S+ \S+ PUT \/v2\/\S+\/manifests\/(sha256:[a-f0-9]{64}) HTTP/.exec(lines[i])
    if (!put) continue
    const body = lines.slice(i + 1).find((l) => l.startsWith('{'))
    if (!body) continue
    const bytes = Buffer.from(body)
    const parsed = JSON.parse(body) as ManifestJson
    if (parsed.subject?.digest !== subjectDigest) continue
    if (sha256(bytes) !== put[1]) throw new Error(`the logged body is not the PUT ${put[1]}`)
    return bytes
  }
  throw new Error(`no referrer manifest for ${subjectDigest} in the log`)
}

/**
 * Attaches a bundle to a pushed image the way cosign v3 does (formats.md D.2): the `{}` config
 * blob, the bundle blob, then the referrer manifest, which the registry lists under its subject.
 */
export async function pushCosignV3Referrer(
  registry: FixtureRegistry,
  repository: string,
  bundle: Buffer,
  referrer: Buffer,
): Promise<PushedManifest> {
  await registry.pushBlob(repository, Buffer.from('{}'))
  await registry.pushBlob(repository, bundle)
  return registry.pushManifest(repository, referrer)
}

/**
 * The same referrer manifest re-pointed at another subject: a bundle copied onto an image it
 * was not made for. Serialized as Go does (compact, same key order), so only the subject differs.
 */
export function referrerWithSubject(referrer: Buffer, subject: PushedManifest): Buffer {
  const parsed = JSON.parse(referrer.toString('utf8')) as ManifestJson
  parsed.subject = { mediaType: subject.mediaType, size: subject.size, digest: subject.digest }
  return Buffer.from(JSON.stringify(parsed))
}

// --- cosign save layouts with .att: slsa-framework/slsa-verifier (INDEX 3) -----------------------

export const SLSA_LAYOUTS = join(
  REAL_WORLD,
  'slsa-verifier',
  'cli',
  'slsa-verifier',
  'testdata',
  'gha_generic_container',
)

interface LayoutIndex {
  manifests: Descriptor[]
}

/**
 * Pushes what `cosign save` wrote: the image (a manifest or an index with its children, children
 * first) and its `.sig`/`.att` manifests under the image's tags, with every blob the layout kept.
 * Returns the image.
 */
export async function pushCosignLayout(
  registry: FixtureRegistry,
  repository: string,
  layout: string,
): Promise<PushedManifest> {
  const blobDir = join(layout, 'blobs', 'sha256')
  const kept = new Set(readdirSync(blobDir))
  const blob = (digest: string): Buffer | undefined => {
    const hex = digest.replace(/^sha256:/, '')
    return kept.has(hex) ? readFileSync(join(blobDir, hex)) : undefined
  }
  const pushTree = async (digest: string, tag?: string): Promise<PushedManifest> => {
    const bytes = blob(digest)
    if (!bytes) throw new Error(`the layout lacks manifest ${digest}`)
    const parsed = JSON.parse(bytes.toString('utf8')) as ManifestJson
    for (const child of parsed.manifests ?? []) if (blob(child.digest)) await pushTree(child.digest)
    for (const d of [parsed.config, ...(parsed.layers ?? [])]) {
      const content = d && blob(d.digest)
      if (content) await registry.pushBlob(repository, content)
    }
    return registry.pushManifest(repository, bytes, tag)
  }
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as LayoutIndex
  const kind = (d: Descriptor): string => d.annotations?.kind ?? ''
  const images = index.manifests.filter((d) => /cosign\/image(Index)?$/.test(kind(d)))
  if (images.length !== 1) throw new Error(`expected one image in ${layout}`)
  const image = await pushTree(images[0].digest)
  for (const d of index.manifests) {
    if (kind(d).endsWith('/sigs')) await pushTree(d.digest, legacyTag(image.digest, 'sig'))
    if (kind(d).endsWith('/atts')) await pushTree(d.digest, legacyTag(image.digest, 'att'))
  }
  return image
}
