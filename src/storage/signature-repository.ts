/**
 * Where an image's signatures and attestations live: in its own repository, or in the signature
 * repository (the `signature-repository` input, a policy rule's `signatureRepository:`), which is
 * cosign's COSIGN_REPOSITORY. cosign (v2 and v3) then keeps everything it would have put beside
 * the image in that repository instead, under the same names:
 * - the legacy tags `sha256-<hex>.sig` and `sha256-<hex>.att`, `<hex>` the image's digest;
 * - each bundle referrer (its `subject` still the image's digest, which that repository does not
 *   hold), listed by that repository's referrers API, or else by its `sha256-<hex>` fallback tag.
 * `cosign verify` and `verify-attestation` look only there when COSIGN_REPOSITORY is set. The
 * signed payloads still name the image (its repository, its digest): only the storage moves.
 */
import type { ImageReference } from '../registry/reference'
import type { Repository } from '../registry/types'

export interface SignatureStore {
  repo: Repository
  /** `registry/repository` as cosign names it, for references in results and messages. */
  name: string
  /** True when it is another repository than the image's own. */
  elsewhere: boolean
}

/** The store of an image (`repo`, `name`): the signature repository when one is given. */
export function signatureStore(
  image: { repo: Repository; name: string },
  signatureRepository: ImageReference | undefined,
): SignatureStore {
  if (
    !signatureRepository ||
    (signatureRepository.registry === image.repo.registry &&
      signatureRepository.repository === image.repo.repository)
  )
    return { repo: image.repo, name: image.name, elsewhere: false }
  return {
    repo: { registry: signatureRepository.registry, repository: signatureRepository.repository },
    name: signatureRepository.name,
    elsewhere: true,
  }
}
