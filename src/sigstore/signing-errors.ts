/**
 * sigstore-js's signing failures, said as the input at fault.
 *
 * @sigstore/sign throws an InternalError whose `code` names the service that failed
 * (CA_…: Fulcio, TLOG_…: Rekor, TSA_…: the timestamp authority), with the failed request's
 * HTTPError as its `cause` when the service answered. The code says which URL input; the status
 * says whether the service is down, the URL is not the service, or what was sent was refused — and
 * a Rekor entry refused when signing by key is the key's fault, not Rekor's.
 *
 * Pure: an error in, a SignetError out.
 */
import type { InternalError } from '@sigstore/sign'
import { sigstoreSign } from './sign-stack'
import { describeError, SignetError, type SignetErrorCode } from '../errors'
import { INPUT } from '../inputs'
import { isRetryableError, isTlsMismatch, rootMessage, type RetryVerdict } from '../retry'
import { isHTTPError, type HTTPError } from './internals'

export interface SigningContext {
  /** Signing with a Fulcio certificate (else with the `key` input). */
  keyless: boolean
  /**
   * What an unavailable service's message says after the retries (the run's budget:
   * RetryBudget.exhaustedHint); a plain "run again later" without one.
   */
  retryHint?: string
}

type Service = 'fulcio' | 'rekor' | 'tsa'

interface Fault {
  service?: Service
  code: SignetErrorCode
  input?: string
  /** What did not happen, after the service's name. */
  failed: string
}

/**
 * Every code @sigstore/sign throws, by what failed. A Record over the whole union: a pinned
 * version that adds a code does not compile until the code is placed here.
 */
const FAULTS: Record<InternalError['code'], Fault> = {
  CA_CREATE_SIGNING_CERTIFICATE_ERROR: {
    service: 'fulcio',
    code: 'SIGSTORE_ERROR',
    input: INPUT.fulcioURL,
    failed: 'did not issue a signing certificate',
  },
  TLOG_CREATE_ENTRY_ERROR: {
    service: 'rekor',
    code: 'SIGSTORE_ERROR',
    input: INPUT.rekorURL,
    failed: 'did not record the signature',
  },
  TLOG_FETCH_ENTRY_ERROR: {
    service: 'rekor',
    code: 'SIGSTORE_ERROR',
    input: INPUT.rekorURL,
    failed: 'already had the signature but did not hand its entry back',
  },
  TSA_CREATE_TIMESTAMP_ERROR: {
    service: 'tsa',
    code: 'SIGSTORE_ERROR',
    input: INPUT.tsaURL,
    failed: 'did not timestamp the signature',
  },
  // sigstore-js's own OIDC providers (Signet brings its own, so these are not expected): no token
  // is what a job without `id-token: write` gets, and `key` is the way to sign without one.
  IDENTITY_TOKEN_READ_ERROR: {
    code: 'OIDC_UNAVAILABLE',
    input: INPUT.key,
    failed:
      'keyless signing could not read the workflow OIDC token: add `permissions: id-token: write` ' +
      'to the job, or sign with `key`',
  },
  IDENTITY_TOKEN_PARSE_ERROR: {
    code: 'OIDC_UNAVAILABLE',
    failed: 'keyless signing got an OIDC token that is not a JWT',
  },
}

const NAMES: Record<Service, string> = {
  fulcio: 'Fulcio',
  rekor: 'Rekor',
  tsa: 'The timestamp authority',
}

/** The status sigstore-js's retries give up on (5xx, 408, 429): the service, not the request. */
function unavailable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429
}

/** The input at fault and what to do, from the service's answer. */
function byAnswer(
  service: Service,
  url: string,
  answer: HTTPError,
  context: SigningContext,
): { input: string; why: string } {
  const status = answer.statusCode
  // HTTPError's message is "(<status>) <the service's message or status text>".
  const said = answer.message.replace(/^\(\d+\)\s*/, '')
  const http = `HTTP ${status}${said ? `: ${said}` : ''}`
  if (unavailable(status)) {
    return {
      input: url,
      why: `it is unavailable (${http}), ${context.retryHint ?? 'still after retries; run again later'}`,
    }
  }
  if (status === 404 || status === 405) {
    return { input: url, why: `no such endpoint (${http}): check ${url} is the service's base URL` }
  }
  if (service === 'fulcio' && (status === 401 || status === 403)) {
    return {
      input: url,
      why:
        `it refused the workflow's OIDC token (${http}): check ${url} is a Fulcio that trusts ` +
        "the token's issuer, and that the job has `permissions: id-token: write`",
    }
  }
  if (service === 'rekor' && status === 413) {
    // An attestation's entry holds the whole envelope: a large SBOM is over the instance's request
    // limit (the public-good one is checked before signing, src/sign/tlog-size.ts; another
    // instance's limit is its operator's).
    return {
      input: url,
      why:
        `it refused the entry as too large (${http}): attest a smaller SBOM or predicate, raise ` +
        `the instance's max_request_body_size, or attest without the log (${INPUT.tlog}: false ` +
        `with ${INPUT.tsaURL})`,
    }
  }
  if (service === 'rekor' && !context.keyless && (status === 400 || status === 422)) {
    // Rekor checks an entry's signature with the key the entry names before recording it: what it
    // refuses there is the key (an algorithm this instance does not take), not the log.
    return {
      input: INPUT.key,
      why: `it refused the entry signed with the key (${http}): check ${url} accepts the algorithm of ${INPUT.key}`,
    }
  }
  return { input: url, why: `it refused the request (${http}): check ${url}` }
}

/** sigstore-js's failure as a SignetError naming the input at fault. */
export function signingFailure(err: unknown, context: SigningContext): SignetError {
  if (err instanceof SignetError) return err
  // Anything but a service's failure (those all come as InternalError) names no input.
  const fault = isInternalError(err) ? (FAULTS[err.code] as Fault | undefined) : undefined
  if (!fault) {
    return new SignetError('SIGSTORE_ERROR', `signing failed: ${describeError(err)}`, {
      cause: err,
    })
  }
  if (!fault.service || !fault.input) {
    return new SignetError(fault.code, fault.failed, { input: fault.input, cause: err })
  }
  const answer: unknown = (err as InternalError).cause
  const { input, why } = isHTTPError(answer)
    ? byAnswer(fault.service, fault.input, answer, context)
    : {
        input: fault.input,
        // No answer (refused, reset, timed out), or one that is not what the service sends.
        why:
          `no usable answer (${describeError(answer ?? err)})` +
          (context.retryHint && answer !== undefined && noAnswer(answer)
            ? `, ${context.retryHint}; check ${fault.input}`
            : `: check ${fault.input}`),
      }
  return new SignetError(
    fault.code,
    `${NAMES[fault.service]} (${fault.input}) ${fault.failed}: ${why}`,
    {
      input,
      cause: err,
    },
  )
}

/** A failure to reach the service at all (refused, reset, timed out), as opposed to a bad answer. */
function noAnswer(cause: unknown): boolean {
  return !isTlsMismatch(cause) && isRetryableError(cause)
}

/**
 * Whether a sigstore-js failure is worth signing again, and which service it was (by name, from
 * `names`): a service that answered 408, 429 or 5xx, or did not answer at all. What it refused
 * (other 4xx), an answer that is not what the service sends, a TLS handshake with something that
 * does not speak TLS, and every other error are final.
 */
export function classifySigningFailure(err: unknown, names: Record<Service, string>): RetryVerdict {
  if (!isInternalError(err)) return { retry: false }
  const service = (FAULTS[err.code] as Fault | undefined)?.service
  if (!service) return { retry: false }
  const cause: unknown = err.cause
  if (isHTTPError(cause)) {
    const said = cause.message.replace(/^\(\d+\)\s*/, '')
    return {
      retry: unavailable(cause.statusCode) && cause.statusCode !== 501 && cause.statusCode !== 505,
      service: names[service],
      reason: `HTTP ${cause.statusCode}${said ? ` (${said})` : ''}`,
    }
  }
  return { retry: noAnswer(cause), service: names[service], reason: rootMessage(cause ?? err) }
}

/** @sigstore/sign's failure of a service (it has failed, so the stack is loaded already). */
function isInternalError(err: unknown): err is InternalError {
  return err instanceof sigstoreSign().InternalError
}
