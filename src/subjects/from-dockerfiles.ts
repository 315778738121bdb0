/**
 * The images the Dockerfiles of the `dockerfile` input make BuildKit pull, as subjects: each FROM,
 * COPY --from, RUN --mount from= and `# syntax=` image (./dockerfile.ts reads them as BuildKit
 * does), with the file, line and use it was found at. A build context that replaces an image with
 * something that is no registry image comes decided: there is nothing in a registry to look up.
 */
import { readFile } from 'node:fs/promises'
import { relative, resolve } from 'node:path'
import { INPUT } from '../inputs'
import { expandPaths } from '../paths'
import type { DockerfileLocation } from '../report/types'
import { parseDockerfile, type DockerfileImage, type DockerfileOptions } from './dockerfile'
import type { Subject } from '.'

/** A Dockerfile image a build context replaced with no registry image: decided without one. */
export interface ReplacedByContext {
  /** What the Dockerfile wrote there, after ARG substitution. */
  written: string
  dockerfile: DockerfileLocation
  /** skipped: nothing is pulled (a directory, a git or https source); failed: an OCI layout. */
  verdict: 'skipped' | 'failed'
  reason: string
}

/** The Dockerfiles the input names, each once, relative to the workspace (for annotations). */
async function dockerfilePaths(patterns: string[], cwd: string): Promise<string[]> {
  const files: string[] = []
  for (const pattern of patterns) {
    files.push(
      ...(await expandPaths(pattern, cwd, {
        input: INPUT.dockerfile,
        noun: 'Dockerfile',
        exampleGlob: 'Dockerfile',
      })),
    )
  }
  return [...new Set(files.map((f) => relative(cwd, resolve(cwd, f))))]
}

/** The Dockerfile place of an image, for results, annotations and the summary. */
function dockerfileLocation(item: DockerfileImage): DockerfileLocation {
  const use =
    item.kind === 'syntax'
      ? item.buildArg
        ? `build arg ${item.buildArg}`
        : '# syntax='
      : item.kind === 'copy-from'
        ? 'COPY --from'
        : item.kind === 'mount-from'
          ? 'RUN --mount from='
          : 'FROM'
  return {
    file: item.file,
    line: item.line,
    use: item.onbuild ? `ONBUILD ${use}` : use,
    ...(item.context ? { context: `${item.context.name}=${item.context.value}` } : {}),
  }
}

/** What a build context that is not a registry image means for the check. */
function replacedByContext(
  item: DockerfileImage,
  dockerfile: DockerfileLocation,
): ReplacedByContext {
  const unverifiable = item.context?.pulled !== 'none'
  return {
    written: item.reference,
    dockerfile,
    verdict: unverifiable ? 'failed' : 'skipped',
    reason: unverifiable
      ? `expected an image Signet can verify, got build context ${dockerfile.context ?? ''}: an OCI layout on the runner carries no signature Signet can look up; push it to a registry and name it there (docker-image://…)`
      : `replaced by build context ${dockerfile.context ?? ''}: nothing is pulled from a registry for it`,
  }
}

/**
 * The images of the Dockerfiles `patterns` name (paths or globs, relative to `cwd`), in file and
 * line order; build-args and build-contexts applied as BuildKit applies them.
 */
export async function dockerfileSubjects(
  patterns: string[],
  cwd: string,
  options: DockerfileOptions,
): Promise<(Subject | ReplacedByContext)[]> {
  const subjects: (Subject | ReplacedByContext)[] = []
  for (const file of await dockerfilePaths(patterns, cwd)) {
    const text = await readFile(resolve(cwd, file), 'utf8')
    for (const item of parseDockerfile(text, file, options)) {
      const dockerfile = dockerfileLocation(item)
      if (!item.image) {
        // A named build context stands where the image was: nothing (a directory, a git or HTTPS
        // source) or an OCI layout no signature can be looked up for.
        subjects.push(replacedByContext(item, dockerfile))
        continue
      }
      subjects.push({
        registry: item.image.registry,
        repository: item.image.repository,
        name: item.image.name,
        digest: item.image.digest,
        // A name without a tag is name:latest, as Docker pulls it.
        tag: item.image.tag ?? 'latest',
        written: item.reference,
        writtenAs: [item.reference],
        input: INPUT.dockerfile,
        dockerfile,
        platform: item.platform,
      })
    }
  }
  return subjects
}
