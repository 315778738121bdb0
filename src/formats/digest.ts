import { createHash } from 'node:crypto'

/** `sha256:<hex>` of some bytes, the way OCI names content. */
export function sha256Digest(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** The hex part of `algorithm:hex`. */
export function digestHex(digest: string): string {
  return digest.slice(digest.indexOf(':') + 1)
}

/** `sha256:abc…` → `sha256-abc…`: the stem of cosign's tags and of the referrers fallback tag. */
export function digestTagStem(digest: string): string {
  const [algorithm, encoded] = digest.split(':', 2)
  // The OCI referrers tag schema truncates both parts and replaces characters a tag cannot hold.
  return `${algorithm.slice(0, 32)}-${encoded.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, '-')
}
