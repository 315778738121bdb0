/** What the action and interop tests do alike: push a fresh image, point the action at the stand-ins. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { RegistryClient } from '../../src/registry/client'
import { anonymousCredentials, type CredentialProvider } from '../../src/registry/credentials'
import type { Repository } from '../../src/registry/types'
import { encryptCosignKey } from '../../src/sigstore/keys'
import { pushTestImage, type TestImage, type TestImageOptions } from './images'
import type { SigstoreStandIn } from './sigstore-standin'

export interface PushedImage {
  repo: Repository
  image: TestImage
  /** `registry/repository` */
  name: string
  /** `registry/repository@digest` */
  ref: string
}

let pushed = 0

/** A new image in its own repository `<prefix><n>`, so tests never share digests or tags. */
export async function pushFreshImage(
  host: string,
  prefix: string,
  options: Omit<TestImageOptions, 'seed'> & { credentials?: CredentialProvider } = {},
): Promise<PushedImage> {
  const { credentials, ...imageOptions } = options
  const client = new RegistryClient({
    credentials: credentials ?? anonymousCredentials,
    plainHttp: [host],
  })
  const repo: Repository = { registry: host, repository: `${prefix}${pushed++}` }
  const image = await pushTestImage(client, repo, {
    ...imageOptions,
    seed: `${repo.repository}-${Date.now()}-${Math.random()}`,
  })
  const name = `${host}/${repo.repository}`
  return { repo, image, name, ref: `${name}@${image.digest}` }
}

/** What the runner gives a job with `id-token: write`, pointed at the stand-in. */
export function oidcEnv(sigstore: SigstoreStandIn): Record<string, string> {
  return {
    ACTIONS_ID_TOKEN_REQUEST_URL: sigstore.oidc.requestURL,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: sigstore.oidc.requestToken,
  }
}

/** The action inputs that send it to a local registry and the stand-in's Fulcio and Rekor. */
export function standInInputs(
  sigstore: SigstoreStandIn,
  registryHost: string,
): Record<string, string> {
  return {
    'plain-http': registryHost,
    'fulcio-url': sigstore.fulcioURL,
    'rekor-url': sigstore.rekorURL,
  }
}

/** cosign's flags for the identity the stand-in's tokens carry. */
export function identityFlags(sigstore: SigstoreStandIn): string[] {
  return [
    '--certificate-identity',
    sigstore.identity.subject,
    '--certificate-oidc-issuer',
    sigstore.identity.issuer,
  ]
}

/**
 * A fresh key pair in the files the action's `key` input and cosign's `--key` read: `<name>.key`,
 * encrypted under `password` as `cosign generate-key-pair` writes it, and `<name>.pub` (PEM), in
 * `dir`. P-256 unless another pair is given.
 */
export function writeSigningKey(
  dir: string,
  name: string,
  password: string,
  pair: { privateKey: KeyObject; publicKey: KeyObject } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
  }),
): { keyPath: string; pubPath: string } {
  const keyPath = join(dir, `${name}.key`)
  const pubPath = join(dir, `${name}.pub`)
  writeFileSync(keyPath, encryptCosignKey(pair.privateKey, password))
  writeFileSync(pubPath, pair.publicKey.export({ format: 'pem', type: 'spki' }))
  return { keyPath, pubPath }
}
