/**
 * Registries that keep tags immutable, and what they answer when a tag is overwritten. Signet
 * appends to tags (a `.sig` or `.att` manifest, a referrers fallback index), so on such a
 * registry the second write to a tag is refused; the run then says so, and names the ways out,
 * instead of passing on a registry message that reads like a bug.
 *
 * What registries answer to the PUT of a manifest over an immutable tag:
 * - Amazon ECR: 400 TAG_INVALID "The image tag '…' already exists in the '…' repository and
 *   cannot be overwritten because the tag is immutable" (older: "…the repository is immutable");
 * - Harbor: 412 PRECONDITION "Failed to process request due to '…' configured as immutable"
 *   (412 is also the If-Match answer to a lost race; the client tells them apart by the text);
 * - Google Artifact Registry, Docker Hub: 400 or 403 naming the tag immutable;
 * - Azure Container Registry, a locked tag (write-enabled false): 405 REGISTRY_DISALLOWED_OPERATION
 *   "The operation is disallowed on this registry, repository or image";
 * - others: 409 with TAG_IMMUTABLE or "already exists".
 * Registry text is hostile: it only decides the classification, and reaches the message bounded
 * (as every registry message does, src/registry/http.ts).
 */
import { SignetError, isSignetError } from '../errors'
import { INPUT } from '../inputs'
import { RegistryAnswerError } from '../registry/http'
import type { Repository } from '../registry/types'

/** Registry words for "this tag cannot be overwritten", whatever the tag held before. */
const IMMUTABLE_TEXT = /\bimmutable\b|cannot be overwritten/i
/**
 * Error codes that mean it on a PUT of a tag: ECR's TAG_INVALID (Signet's tags are well-formed,
 * so that is its immutable answer), TAG_IMMUTABLE. Registry text reaches Signet bounded (200
 * characters), and ECR's message, holding a 71-character tag and the repository, can lose its
 * last words: the code decides then.
 */
const IMMUTABLE_CODES = new Set(['TAG_INVALID', 'TAG_IMMUTABLE'])
/** Answers that, to the overwrite of a tag that existed, mean the same (ACR's lock, a 409). */
const OVERWRITE_REFUSED_TEXT = /already exists|operation is disallowed|DISALLOWED_OPERATION/i
const REFUSAL_STATUSES = new Set([400, 403, 405, 409, 412])

/**
 * True when `err`, the failure of the manifest PUT to `tag` in `repo`, is the registry refusing to
 * overwrite it. `overwriting`: the tag existed when it was read, so the PUT replaces it; only then
 * does a vaguer answer (ACR's "disallowed", a 409 "already exists") count. A 412 that reaches here
 * is not a lost If-Match race (the client makes that CONCURRENT_WRITE): Harbor's PRECONDITION.
 */
export function isImmutableTagRefusal(
  err: unknown,
  where: { repo: Repository; tag: string; overwriting: boolean },
): boolean {
  if (!isSignetError(err)) return false
  if (err.code !== 'REGISTRY_ERROR' && err.code !== 'REGISTRY_AUTH') return false
  const status = err instanceof RegistryAnswerError ? err.status : undefined
  const code = err instanceof RegistryAnswerError ? (err.registryCode ?? '') : ''
  if (status !== undefined && !REFUSAL_STATUSES.has(status)) return false
  if (IMMUTABLE_CODES.has(code) || status === 412) return true
  // The message names the host, the repository and the tag (in the path, in a hint): a
  // repository called `acme/immutable` must not make every failure look like this one.
  const names = [where.repo.registry, where.repo.repository, where.tag]
  let text = err.message
  for (const name of names.filter((n) => n !== '').sort((a, b) => b.length - a.length)) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    text = text.replace(new RegExp(`(?<![A-Za-z0-9])${escaped}(?![A-Za-z0-9])`, 'g'), ' ')
  }
  if (IMMUTABLE_TEXT.test(text)) return true
  return where.overwriting && OVERWRITE_REFUSED_TEXT.test(`${code} ${text}`)
}

/** The one error for a refused overwrite: what happened, why Signet writes there, the ways out. */
export function immutableTagError(repo: Repository, tag: string, cause: unknown): SignetError {
  const answer = isSignetError(cause) ? cause.message : String(cause)
  return new SignetError(
    'TAG_IMMUTABLE',
    `${repo.registry}/${repo.repository}:${tag}: the registry refused to overwrite this tag, as ` +
      'it does with immutable tags; Signet adds each signature or attestation to it, as cosign ' +
      `does. Either set ${INPUT.signatureRepository} to a repository whose tags can be ` +
      "overwritten (cosign's COSIGN_REPOSITORY: cosign and Signet then read the signatures " +
      `there), or use ${INPUT.signatureFormat}: bundle on a registry with the OCI referrers API ` +
      `(no tag is written then). The registry answered: ${answer}`,
    { input: INPUT.signatureRepository, cause },
  )
}
