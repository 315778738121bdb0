/**
 * sigstore-js's signing stack (@sigstore/sign), required when first used rather than imported:
 * evaluating it holds the event loop for some milliseconds, so sign mode starts its first registry
 * reads before it loads (issue 11: the reads travel while it compiles). The bundle keeps it in a
 * file of its own (scripts/bundle.mjs).
 */
/* eslint-disable @typescript-eslint/no-require-imports -- a lazy load, see above */
export type SigstoreSign = typeof import('@sigstore/sign')

export function sigstoreSign(): SigstoreSign {
  return require('@sigstore/sign') as SigstoreSign
}
