/**
 * Public keys named in a policy (`publicKey:` in a file, the `public-key` input): PEM text, or a
 * path relative to the workspace (as for every other path input). The policy reads no files
 * itself: the caller passes the reader (verify mode's rule-file reader, relative to the workspace
 * or at `policy-ref`), so the parser stays pure and a pull request cannot swap the key where
 * `policy-ref` is set.
 */
import { SignetError } from '../errors'
import { loadPublicKey } from '../sigstore/keys'
import type { KeySigner } from './types'

/** Reads a file by its path as written; the caller decides what the path is relative to. */
export type PolicyFileReader = (path: string) => string

/**
 * How a policy file or the inputs read public-key files named by path. The policy reads no files
 * of its own: verify mode passes its rule-file reader (relative to the workspace, or at
 * `policy-ref`). Without `readFile`, a key named by path is refused (PEM text still works), so no
 * caller silently reads relative to the process's working directory.
 */
export interface PolicyReadOptions {
  readFile?: PolicyFileReader
}

/**
 * The reader of a caller that gave none: it refuses every path. The message does not quote the
 * path, for the reason keys.ts gives: the value may be a secret pasted into the wrong input.
 */
export function refusePaths(input: string): PolicyFileReader {
  return () => {
    throw new SignetError(
      'KEY_INVALID',
      `${input}: a public key named by path needs a file reader, and none was given ` +
        '(the caller reads key files, relative to the workspace); give the key as PEM text',
      { input },
    )
  }
}

/**
 * The key signer `value` names (PEM text or a path, read by `readFile`); `input` names what the
 * value came from in errors (`policy`, `public-key`). The source shown in reports is the path, or
 * `inline PEM`: never the PEM itself.
 */
export function keySigner(value: string, input: string, readFile: PolicyFileReader): KeySigner {
  return {
    kind: 'key',
    publicKey: loadPublicKey(value, input, readFile),
    source: value.includes('-----BEGIN') ? 'inline PEM' : value.trim(),
  }
}
