/**
 * cosign's "simple signing" payload: the bytes a legacy `.sig` layer holds and signs.
 * Written for the strictest reader (containers/image): exactly these keys, in this order.
 */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json'
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature'

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string }
    image: { 'docker-manifest-digest': string }
    type: string
  }
  optional: Record<string, string> | null
}

/**
 * @param dockerReference `registry/repository`, as cosign writes it (no tag)
 * @param annotations the `annotations` input; cosign's `-a` lands in `optional`
 */
export function buildSimpleSigningPayload(
  dockerReference: string,
  digest: string,
  annotations: Record<string, string> = {},
): Buffer {
  const payload: SimpleSigningPayload = {
    critical: {
      identity: { 'docker-reference': dockerReference },
      image: { 'docker-manifest-digest': digest },
      type: SIMPLE_SIGNING_TYPE,
    },
    optional: Object.keys(annotations).length > 0 ? { ...annotations } : null,
  }
  return Buffer.from(JSON.stringify(payload))
}

/** Parses a payload, returning undefined when it is not a cosign simple-signing payload. */
export function parseSimpleSigningPayload(bytes: Buffer): SimpleSigningPayload | undefined {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  const payload = value as Partial<SimpleSigningPayload> | null
  const critical = payload?.critical
  if (
    !critical ||
    critical.type !== SIMPLE_SIGNING_TYPE ||
    typeof critical.image?.['docker-manifest-digest'] !== 'string' ||
    typeof critical.identity?.['docker-reference'] !== 'string'
  ) {
    return undefined
  }
  return payload as SimpleSigningPayload
}
