/**
 * Real cosign v3 and v2 as producers of signatures and attestations (keyless against the Sigstore
 * stand-in, or by a key from `cosign generate-key-pair`), and the registry edits an attacker would
 * make to what they wrote: a corrupted signature, a signature moved to another digest, a referrer
 * index copied to another image.
 *
 * cosign talks to servers living in the test's own process (the stand-in, the in-memory registry),
 * so it always runs through runToolAsync. Every run is offline: cosign gets a private HOME and
 * TUF_ROOT and is handed the stand-in's trust material, never the public-good TUF repository.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RegistryClient } from '../../src/registry/client'
import {
  MEDIA_TYPES,
  type Descriptor,
  type ImageIndex,
  type ImageManifest,
} from '../../src/registry/types'
import type { PushedImage } from './harness'
import { pushTestImage } from './images'
import type { SigstoreStandIn } from './sigstore-standin'
import { runToolAsync } from './tools'

/** Both flags: cosign v2 wants the first for HTTP too, v3 the second. */
export const INSECURE_REGISTRY = ['--allow-insecure-registry', '--allow-http-registry']

/** The predicate type of the statement cosign v3 signs for `cosign sign`. */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1'

/** Annotations cosign writes: the legacy `.sig` layer's signature, the bundle referrer's type. */
const LEGACY_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature'
const BUNDLE_PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType'

export type CosignVersion = 2 | 3

export interface CosignKeyPair {
  /** `cosign.key`: ENCRYPTED SIGSTORE PRIVATE KEY */
  keyPath: string
  /** `cosign.pub`: the PEM public key verifiers are given */
  pubPath: string
  password: string
}

/** Who signs: an identity token from a stand-in, or a key; the stand-in's Rekor logs either. */
export type CosignSigner =
  | { kind: 'keyless'; sigstore: SigstoreStandIn }
  | { kind: 'key'; sigstore: SigstoreStandIn; key: CosignKeyPair }

/** The exact flags that make each cosign version sign against a stand-in, offline. */
export function signingFlags(
  version: CosignVersion,
  signer: CosignSigner,
  tokenFile: () => string,
): string[] {
  const { sigstore } = signer
  if (version === 3) {
    // v3 reads Fulcio, Rekor and the TSA from the signing config and checks its own output
    // against the trusted root; it takes a long --identity-token for a path, so it gets a file.
    const services = [
      '--signing-config',
      sigstore.signingConfigPath,
      '--trusted-root',
      sigstore.trustedRootPath,
    ]
    return signer.kind === 'key'
      ? ['--key', signer.key.keyPath, ...services]
      : ['--identity-token', tokenFile(), ...services]
  }
  // v2 takes the service URLs as flags (and its roots from cosignV2Env), the token as text.
  return signer.kind === 'key'
    ? ['--key', signer.key.keyPath, '--rekor-url', sigstore.rekorURL]
    : [
        '--fulcio-url',
        sigstore.fulcioURL,
        '--rekor-url',
        sigstore.rekorURL,
        '--identity-token',
        sigstore.mintToken(),
      ]
}

/** cosign v3 and v2 with a private home under `dir`. */
export class Cosign {
  private readonly env: NodeJS.ProcessEnv
  private tokens = 0

  /** `extraEnv`: set for every run, e.g. COSIGN_REPOSITORY (where signatures go and are read). */
  constructor(
    private readonly dir: string,
    extraEnv: NodeJS.ProcessEnv = {},
  ) {
    const home = join(dir, 'cosign-home')
    mkdirSync(home, { recursive: true })
    this.env = { HOME: home, TUF_ROOT: join(home, 'tuf'), ...extraEnv }
  }

  /** `cosign generate-key-pair` (v3) in a directory of its own. */
  async generateKeyPair(name: string, password: string): Promise<CosignKeyPair> {
    const keyDir = join(this.dir, name)
    mkdirSync(keyDir, { recursive: true })
    await runToolAsync('cosign3', ['generate-key-pair'], {
      cwd: keyDir,
      env: { ...this.env, COSIGN_PASSWORD: password },
    })
    return { keyPath: join(keyDir, 'cosign.key'), pubPath: join(keyDir, 'cosign.pub'), password }
  }

  /** `cosign sign`: v3 writes a bundle referrer, v2 a `sha256-<hex>.sig` tag. */
  sign(version: CosignVersion, signer: CosignSigner, ref: string): Promise<string> {
    return this.run(version, signer, ['sign', '--yes', ...INSECURE_REGISTRY], [ref])
  }

  /** `cosign attest`: v3 writes a bundle referrer, v2 a `sha256-<hex>.att` tag. */
  attest(
    version: CosignVersion,
    signer: CosignSigner,
    ref: string,
    type: string,
    predicatePath: string,
  ): Promise<string> {
    return this.run(
      version,
      signer,
      ['attest', '--yes', ...INSECURE_REGISTRY, '--type', type, '--predicate', predicatePath],
      [ref],
    )
  }

  /**
   * `cosign verify` trusting `trust`'s instance; `who` is the identity or key flags. v3 reads
   * bundles first and the `.sig` tag only when there is no bundle; v2 reads only `.sig`.
   */
  verify(
    version: CosignVersion,
    trust: SigstoreStandIn,
    who: string[],
    ref: string,
  ): Promise<string> {
    return this.verifyCommand(version, trust, ['verify', ...who], ref)
  }

  /** `cosign verify-attestation --type <type>`. */
  verifyAttestation(
    version: CosignVersion,
    trust: SigstoreStandIn,
    who: string[],
    type: string,
    ref: string,
  ): Promise<string> {
    return this.verifyCommand(version, trust, ['verify-attestation', '--type', type, ...who], ref)
  }

  private verifyCommand(
    version: CosignVersion,
    trust: SigstoreStandIn,
    args: string[],
    ref: string,
  ): Promise<string> {
    const [command, ...rest] = args
    const root = version === 3 ? ['--trusted-root', trust.trustedRootPath] : []
    return runToolAsync(
      version === 3 ? 'cosign3' : 'cosign2',
      [command, ...INSECURE_REGISTRY, ...root, ...rest, ref],
      { env: { ...this.env, ...(version === 2 ? trust.cosignV2Env : {}) } },
    )
  }

  private async run(
    version: CosignVersion,
    signer: CosignSigner,
    command: string[],
    args: string[],
  ): Promise<string> {
    const env: NodeJS.ProcessEnv = {
      ...this.env,
      ...(version === 2 ? signer.sigstore.cosignV2Env : {}),
      ...(signer.kind === 'key' ? { COSIGN_PASSWORD: signer.key.password } : {}),
    }
    const tool = version === 3 ? 'cosign3' : 'cosign2'
    const flags = signingFlags(version, signer, () => this.tokenFile(signer.sigstore))
    return runToolAsync(tool, [...command, ...flags, ...args], { env })
  }

  private tokenFile(sigstore: SigstoreStandIn): string {
    const path = join(this.dir, `token-${this.tokens++}.jwt`)
    writeFileSync(path, sigstore.mintToken())
    return path
  }
}

// -------------------------------------------------------------------------------------------------
// Registry edits

const sha256 = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

const hexOf = (digest: string): string => digest.replace(/^sha256:/, '')

/** cosign's legacy tags: `sha256-<hex>.sig` / `.att`. */
export const legacyTag = (digest: string, suffix: 'sig' | 'att'): string =>
  `sha256-${hexOf(digest)}.${suffix}`

/** The OCI referrers fallback tag: `sha256-<hex>`. */
export const fallbackTag = (digest: string): string => `sha256-${hexOf(digest)}`

/** Flips the last byte of a base64 signature: still well-formed DER, no longer valid. */
export function corruptBase64(signature: string): string {
  const bytes = Buffer.from(signature, 'base64')
  bytes[bytes.length - 1] ^= 0x01
  return bytes.toString('base64')
}

async function getJSON<T>(
  client: RegistryClient,
  image: PushedImage,
  reference: string,
): Promise<{ json: T; bytes: Buffer; mediaType: string } | undefined> {
  const fetched = await client.getManifest(image.repo, reference)
  if (!fetched) return undefined
  return {
    json: JSON.parse(fetched.bytes.toString('utf8')) as T,
    bytes: fetched.bytes,
    mediaType: fetched.descriptor.mediaType,
  }
}

async function putJSON(
  client: RegistryClient,
  image: PushedImage,
  reference: string | undefined,
  json: ImageManifest | ImageIndex,
  mediaType: string,
): Promise<Descriptor> {
  const bytes = Buffer.from(JSON.stringify(json))
  const digest = sha256(bytes)
  await client.putManifest(image.repo, reference ?? digest, bytes, mediaType)
  return { mediaType, digest, size: bytes.length }
}

/** Another image in the same repository (so every blob a copied manifest names is there). */
export async function pushSibling(client: RegistryClient, of: PushedImage): Promise<PushedImage> {
  const image = await pushTestImage(client, of.repo, { seed: `sibling-${Math.random()}` })
  return { repo: of.repo, image, name: of.name, ref: `${of.name}@${image.digest}` }
}

/** Puts the manifest tagged `from` under the tag `to`, byte for byte. */
export async function copyTag(
  client: RegistryClient,
  image: PushedImage,
  from: string,
  to: string,
): Promise<void> {
  const fetched = await client.getManifest(image.repo, from)
  if (!fetched) throw new Error(`${image.name}:${from} does not exist`)
  await client.putManifest(image.repo, to, fetched.bytes, fetched.descriptor.mediaType)
}

/** Rewrites the `.sig` layer's signature annotation and pushes the manifest under its tag. */
export async function corruptLegacySignature(
  client: RegistryClient,
  image: PushedImage,
): Promise<void> {
  const tag = legacyTag(image.image.digest, 'sig')
  const sig = await getJSON<ImageManifest>(client, image, tag)
  if (!sig) throw new Error(`${image.name}:${tag} does not exist`)
  const [layer] = sig.json.layers
  const annotations = layer.annotations ?? {}
  annotations[LEGACY_SIGNATURE_ANNOTATION] = corruptBase64(
    annotations[LEGACY_SIGNATURE_ANNOTATION] ?? '',
  )
  await putJSON(client, image, tag, sig.json, sig.mediaType)
}

export interface Referrer {
  descriptor: Descriptor
  manifest: ImageManifest
  mediaType: string
}

/**
 * The image's referrers, from the referrers API or else the fallback tag. (cosign v3's fallback
 * index gives each entry the empty config's type as artifactType and no annotations, so each
 * manifest is read.)
 */
export async function referrersOf(
  client: RegistryClient,
  image: PushedImage,
): Promise<{ referrers: Referrer[]; fallback: boolean }> {
  const api = await client.referrers(image.repo, image.image.digest)
  const descriptors = api
    ? api.manifests
    : ((await getJSON<ImageIndex>(client, image, fallbackTag(image.image.digest)))?.json
        .manifests ?? [])
  const referrers: Referrer[] = []
  for (const descriptor of descriptors) {
    const fetched = await getJSON<ImageManifest>(client, image, descriptor.digest)
    if (fetched)
      referrers.push({ descriptor, manifest: fetched.json, mediaType: fetched.mediaType })
  }
  return { referrers, fallback: api === undefined }
}

/** The bundle referrer `cosign sign` (v3) made for the image. */
export async function signatureReferrer(
  client: RegistryClient,
  image: PushedImage,
): Promise<{ referrer: Referrer; fallback: boolean }> {
  const { referrers, fallback } = await referrersOf(client, image)
  const referrer = referrers.find(
    (r) => r.manifest.annotations?.[BUNDLE_PREDICATE_ANNOTATION] === COSIGN_SIGN_PREDICATE,
  )
  if (!referrer) throw new Error(`${image.ref} has no cosign signature referrer`)
  return { referrer, fallback }
}

/** Adds (or swaps `replacing` for) a descriptor in the image's fallback index. */
async function editFallbackIndex(
  client: RegistryClient,
  image: PushedImage,
  descriptor: Descriptor,
  replacing?: string,
): Promise<void> {
  const tag = fallbackTag(image.image.digest)
  const current = await getJSON<ImageIndex>(client, image, tag)
  const index: ImageIndex = current?.json ?? {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [],
  }
  index.manifests = [...index.manifests.filter((d) => d.digest !== replacing), descriptor]
  await putJSON(client, image, tag, index, MEDIA_TYPES.ociIndex)
}

async function deleteManifest(image: PushedImage, digest: string): Promise<void> {
  const res = await fetch(
    `http://${image.repo.registry}/v2/${image.repo.repository}/manifests/${digest}`,
    { method: 'DELETE' },
  )
  await res.body?.cancel()
  if (res.status !== 202) throw new Error(`DELETE ${digest}: ${res.status}`)
}

/**
 * Rewrites the DSSE signature in the image's cosign v3 signature bundle, pushes the bundle and its
 * referrer manifest anew, and puts that referrer where the original was (fallback index entry
 * swapped; with the referrers API, the original deleted).
 */
export async function corruptBundleSignature(
  client: RegistryClient,
  image: PushedImage,
): Promise<void> {
  const { referrer, fallback } = await signatureReferrer(client, image)
  const [layer] = referrer.manifest.layers
  const bundle = JSON.parse((await client.getBlob(image.repo, layer.digest)).toString('utf8')) as {
    dsseEnvelope?: { signatures: { sig: string }[] }
  }
  const [signature] = bundle.dsseEnvelope?.signatures ?? []
  if (!signature) throw new Error(`${image.ref}: the signature bundle holds no DSSE envelope`)
  signature.sig = corruptBase64(signature.sig)
  const blob = await client.pushBlob(
    image.repo,
    Buffer.from(JSON.stringify(bundle)),
    layer.mediaType,
  )
  const manifest: ImageManifest = {
    ...referrer.manifest,
    layers: [{ ...layer, digest: blob.digest, size: blob.size }],
  }
  const pushed = await putJSON(client, image, undefined, manifest, referrer.mediaType)
  if (fallback) {
    await editFallbackIndex(
      client,
      image,
      { ...referrer.descriptor, digest: pushed.digest, size: pushed.size },
      referrer.descriptor.digest,
    )
  } else {
    await deleteManifest(image, referrer.descriptor.digest)
  }
}

/**
 * Pushes `from`'s signature referrer manifest with its subject rewritten to `to` (the bundle
 * inside still signs `from`'s digest); without the referrers API it is listed in `to`'s fallback
 * index too.
 */
export async function moveSignatureReferrer(
  client: RegistryClient,
  from: PushedImage,
  to: PushedImage,
): Promise<void> {
  const { referrer, fallback } = await signatureReferrer(client, from)
  const manifest: ImageManifest = {
    ...referrer.manifest,
    subject: { mediaType: to.image.mediaType, digest: to.image.digest, size: to.image.size },
  }
  const pushed = await putJSON(client, to, undefined, manifest, referrer.mediaType)
  if (fallback) {
    await editFallbackIndex(client, to, { ...referrer.descriptor, ...pushed })
  }
}
