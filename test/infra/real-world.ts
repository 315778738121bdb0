/**
 * The published signatures, attestations and trusted roots the verifier is judged on, read from
 * test/fixtures/real-world (vendored; its README.md says where each came from). Reading only: the
 * unit tests take them from here, and fixtures.ts puts them into a registry for the others.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { toTrustMaterial, type TrustMaterial } from '@sigstore/verify'
import type { Expectation } from '../../src/verify/common'

export const REAL_WORLD = resolve(__dirname, '..', 'fixtures', 'real-world')

/** The Sigstore public-good trusted root (INDEX "PG-TR"). */
export const PUBLIC_GOOD_TRUSTED_ROOT = resolve(
  REAL_WORLD,
  'root-signing/targets/trusted_root.json',
)

/** The issuer of GitHub Actions' OIDC tokens, which most of the published signatures name. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** A path below test/fixtures/real-world. */
export const realWorldPath = (...parts: string[]): string => resolve(REAL_WORLD, ...parts)

/**
 * A fixture's bytes. An absent fixture fails the test that reads it, naming the file (or the
 * whole directory, when that is what is missing): a verdict on nothing proves nothing.
 */
export function readRealWorld(...parts: string[]): Buffer {
  const file = realWorldPath(...parts)
  if (!existsSync(file)) {
    if (!existsSync(REAL_WORLD)) {
      throw new Error(
        `real-world fixtures directory is absent: ${REAL_WORLD} (vendored in the repository, see test/fixtures/README.md); these tests cannot run without it`,
      )
    }
    throw new Error(`fixture is absent: ${file}`)
  }
  return readFileSync(file)
}

export const realWorldJson = <T = unknown>(...parts: string[]): T =>
  JSON.parse(readRealWorld(...parts).toString('utf8')) as T

/** `sha256:<hex>` of some bytes: the digest a registry gives a manifest. */
export const sha256Of = (bytes: Buffer): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/** A trusted_root.json below real-world, as sigstore-js's verifier takes it. */
export const trustMaterialOf = (...parts: string[]): TrustMaterial =>
  toTrustMaterial(TrustedRoot.fromJSON(realWorldJson(...parts)))

/** A keyless expectation: each of identity and issuer exactly this string, or matching this pattern. */
export function keylessExpectation(
  identity: string | RegExp,
  issuer: string | RegExp = GITHUB_ACTIONS_ISSUER,
): Expectation {
  const test = (want: string | RegExp) => (got: string) =>
    typeof want === 'string' ? got === want : want.test(got)
  return {
    kind: 'keyless',
    identity: test(identity),
    issuer: test(issuer),
    describe: `${String(identity)} from ${String(issuer)}`,
  }
}
