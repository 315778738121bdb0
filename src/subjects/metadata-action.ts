/**
 * The image names docker/metadata-action leaves for the steps after it. Besides its outputs, it
 * exports each one as a `DOCKER_METADATA_OUTPUT_<NAME>` environment variable (unless
 * DOCKER_METADATA_SET_OUTPUT_ENV is false), so a later step in the same job sees its `json` output
 * there: `{"tags": ["ghcr.io/acme/app:1.2.3", …], "labels": {…}, "annotations": […]}`.
 */
import { SignetError } from '../errors'
import { INPUT } from '../inputs'

export const METADATA_ACTION_ENV = 'DOCKER_METADATA_OUTPUT_JSON'

function invalid(why: string): SignetError {
  // `images` is the input to set instead: naming it tells the user how to get past a bad variable.
  return new SignetError(
    'METADATA_INVALID',
    `${METADATA_ACTION_ENV} (exported by docker/metadata-action) ${why}; ` +
      'or set images to the names to sign (e.g. images: ${{ steps.meta.outputs.tags }})',
    { input: INPUT.images },
  )
}

/**
 * The `tags` of DOCKER_METADATA_OUTPUT_JSON in `env`, in order; undefined when the variable is
 * unset or empty. They are checked only for shape here: subjects/ parses them as references.
 */
export function metadataActionTags(env: NodeJS.ProcessEnv): string[] | undefined {
  const text = env[METADATA_ACTION_ENV]?.trim()
  if (!text) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw invalid("is not JSON: it should hold docker/metadata-action's json output")
  }
  const tags =
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as { tags?: unknown }).tags
      : undefined
  if (!Array.isArray(tags) || !tags.every((t): t is string => typeof t === 'string')) {
    throw invalid('has no tags array of image names')
  }
  return tags.map((t) => t.trim()).filter((t) => t !== '')
}

/**
 * Refuses one entry of the variable's tags. metadata-action writes `name:tag` for every name of its
 * own `images` input, sanitised, and bare tags (`1.2.3`, `latest`) when that input was empty. A
 * bare tag would read as a Docker Hub name, so an entry that is no reference with a tag is refused
 * rather than signed as `docker.io/library/latest`.
 */
export function refuseMetadataActionTag(text: string, why?: string): never {
  throw invalid(
    `lists "${text}", which is no image name with a tag` +
      (why
        ? ` (${why})`
        : ': docker/metadata-action was run without its images input; give it images'),
  )
}
