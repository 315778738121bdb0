'use strict'
/**
 * The plan of .github/workflows/publish-image.yml: from the caller's inputs, the image name, its
 * tags (sha-<git-sha> always; semver tags from `version`, a leading v stripped) and the matrix of
 * per-platform build jobs. Plain CommonJS with no dependency, because the workflow runs it with
 * whatever Node the runner has, from Signet's own checkout; the unit tests require it as it is
 * (test/unit/workflow-plan.test.ts).
 *
 * Everything here comes from a caller, so it is hostile until checked: each value is matched
 * against a grammar that admits no newline, quote, `$`, space or comma, because the workflow
 * writes the results to $GITHUB_OUTPUT and splits the tag list on commas. A value that does not
 * match is refused with one `::error::` naming the input, never repaired.
 */

/** Semantic Versioning 2.0.0's own grammar (semver.org), anchored: no leading zeros, no spaces. */
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/

/** A git commit: SHA-1 (40 hex) or SHA-256 (64 hex) object names. */
const GIT_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/

/**
 * An image name without tag or digest, as distribution/reference reads it: a registry host (a
 * dot, a colon or `localhost`) then lowercase path components. The default image is on ghcr.io,
 * and an explicit one must name its registry too, so no Docker Hub shorthand is guessed.
 */
const HOST_LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?'
const PORT = '(?::[0-9]{1,5})'
const HOST = `(?:localhost${PORT}?|${HOST_LABEL}(?:\\.${HOST_LABEL})+${PORT}?|${HOST_LABEL}${PORT})`
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*'
const IMAGE_NAME = new RegExp(`^${HOST}(?:/${PATH_COMPONENT})+$`)

/** owner/repo as GitHub allows them (the default image is ghcr.io/<owner>/<repo>, lowercased). */
const GITHUB_REPOSITORY = /^[A-Za-z0-9-]+\/[A-Za-z0-9._-]+$/

/** os/arch[/variant], as BuildKit's --platform takes it. */
const PLATFORM = /^[a-z0-9_]+\/[a-z0-9_]+(?:\/[a-z0-9_.]+)?$/

/** A runs-on label: GitHub's hosted labels and self-hosted ones alike, nothing a shell reads. */
const RUNNER_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** GitHub's native runners for the platforms they have (free for public repositories). */
const NATIVE_RUNNERS = {
  'linux/amd64': 'ubuntu-24.04',
  'linux/arm64': 'ubuntu-24.04-arm',
}

class PlanError extends Error {
  /** @param {string} input the workflow input at fault @param {string} message */
  constructor(input, message) {
    super(`input ${input}: ${message}`)
    this.name = 'PlanError'
    this.input = input
  }
}

/** A caller's value quoted for a message: JSON escapes every line break and control character. */
function quoted(value) {
  const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value
  return JSON.stringify(shown)
}

/**
 * The version tags for `version`: '' gives none; v1.2.3 and 1.2.3 give 1.2.3, 1.2 and 1; a
 * prerelease (1.2.3-rc.1) gives only its full tag, so it never moves 1.2 or 1; 0.y.z gives 0.y.z
 * and 0.y but no bare 0 (a 0.x minor can break anything, so "0" would promise nothing).
 * @param {string} version
 * @returns {string[]}
 */
function versionTags(version) {
  if (version === '') return []
  const stripped = version.startsWith('v') ? version.slice(1) : version
  const m = SEMVER.exec(stripped)
  if (!m) {
    throw new PlanError(
      'version',
      `${quoted(version)} is not a semantic version: give MAJOR.MINOR.PATCH with an optional ` +
        '-prerelease and a leading v at most (v1.2.3, 1.2.3-rc.1), or leave it empty',
    )
  }
  const [, major, minor, patch, prerelease, build] = m
  if (build !== undefined) {
    throw new PlanError(
      'version',
      `${quoted(version)} has build metadata (+${build}), which an image tag cannot hold: ` +
        'drop the +… part',
    )
  }
  const full = `${major}.${minor}.${patch}${prerelease === undefined ? '' : `-${prerelease}`}`
  // 128 characters is an OCI tag's limit; sha-<64 hex> and this are the longest we write.
  if (full.length > 128) throw new PlanError('version', 'is longer than an image tag can be')
  if (prerelease !== undefined) return [full]
  const tags = [full, `${major}.${minor}`]
  if (major !== '0') tags.push(major)
  return tags
}

/**
 * Every tag the image gets: sha-<git-sha> first, then the version's.
 * @param {{ version: string, sha: string }} options
 * @returns {string[]}
 */
function imageTags({ version, sha }) {
  if (!GIT_SHA.test(sha)) {
    throw new PlanError('sha', `${quoted(sha)} is not a git commit (40 or 64 lowercase hex)`)
  }
  return [`sha-${sha}`, ...versionTags(version)]
}

/**
 * The image to push: `image` when given, else ghcr.io/<owner>/<repo> lowercased (GitHub names
 * keep their case, OCI repositories may not).
 * @param {{ image: string, repository: string }} options
 * @returns {string}
 */
function imageName({ image, repository }) {
  if (image === '') {
    if (!GITHUB_REPOSITORY.test(repository)) {
      throw new PlanError('repository', `${quoted(repository)} is not owner/repo`)
    }
    const name = `ghcr.io/${repository.toLowerCase()}`
    // GitHub allows repository names OCI does not (a leading dot, a trailing dash, `a..b`).
    if (!IMAGE_NAME.test(name)) {
      throw new PlanError('image', `${quoted(name)} is not a valid image name: give image`)
    }
    return name
  }
  if (image.length > 255 || !IMAGE_NAME.test(image)) {
    throw new PlanError(
      'image',
      `${quoted(image)} is not an image name: give registry/repository in lowercase without tag ` +
        'or digest (ghcr.io/acme/app), or leave it empty for ghcr.io/<owner>/<repo>',
    )
  }
  return image
}

/** A list input: comma- or newline-separated, blanks dropped. */
function listOf(text) {
  return text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * The build matrix: one job per platform on a native runner. `runners` (platform=label lines)
 * adds or overrides runners, e.g. for self-hosted machines or a platform GitHub has none for.
 * @param {{ platforms: string, runners: string }} options
 * @returns {{ include: { platform: string, runner: string, slug: string }[] }}
 */
function platformMatrix({ platforms, runners }) {
  const chosen = { ...NATIVE_RUNNERS }
  for (const line of listOf(runners)) {
    const eq = line.indexOf('=')
    const platform = eq < 0 ? '' : line.slice(0, eq).trim()
    const label = eq < 0 ? '' : line.slice(eq + 1).trim()
    if (!PLATFORM.test(platform) || !RUNNER_LABEL.test(label)) {
      throw new PlanError(
        'runners',
        `${quoted(line)} is not platform=runner-label (linux/arm64=ubuntu-24.04-arm)`,
      )
    }
    chosen[platform] = label
  }
  const include = []
  const seen = new Set()
  for (const platform of listOf(platforms)) {
    if (!PLATFORM.test(platform)) {
      throw new PlanError('platforms', `${quoted(platform)} is not os/arch[/variant]`)
    }
    if (seen.has(platform)) continue
    seen.add(platform)
    const runner = chosen[platform]
    if (runner === undefined) {
      throw new PlanError(
        'platforms',
        `no native runner is known for ${platform}: name one in runners (${platform}=<label>)`,
      )
    }
    include.push({ platform, runner, slug: platform.replaceAll('/', '-') })
  }
  if (include.length === 0) throw new PlanError('platforms', 'names no platform')
  return { include }
}

/**
 * The whole plan from the step's environment (the workflow passes every input through env:,
 * never into the script text).
 * @param {Record<string, string | undefined>} env
 */
function plan(env) {
  const image = imageName({ image: env.INPUT_IMAGE ?? '', repository: env.GITHUB_REPOSITORY ?? '' })
  const tags = imageTags({ version: env.INPUT_VERSION ?? '', sha: env.GITHUB_SHA ?? '' })
  const matrix = platformMatrix({
    platforms: env.INPUT_PLATFORMS ?? '',
    runners: env.INPUT_RUNNERS ?? '',
  })
  return {
    image,
    // The host docker/login-action logs in to: the name's first component.
    registry: image.slice(0, image.indexOf('/')),
    // Full references, comma-separated: build-push-action and `imagetools create -t` take them.
    tags: tags.map((t) => `${image}:${t}`).join(','),
    'sha-tag': `${image}:${tags[0]}`,
    matrix: JSON.stringify(matrix),
  }
}

/** The toolkit's escaping of a workflow command's data: %, CR and LF. */
function commandData(text) {
  return text.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A')
}

function main() {
  const fs = require('node:fs')
  let outputs
  try {
    outputs = plan(process.env)
  } catch (err) {
    if (!(err instanceof PlanError)) throw err
    process.stdout.write(`::error::${commandData(err.message)}\n`)
    process.exit(1)
  }
  const lines = Object.entries(outputs).map(([name, value]) => `${name}=${value}\n`)
  if (process.env.GITHUB_OUTPUT) fs.appendFileSync(process.env.GITHUB_OUTPUT, lines.join(''))
  process.stdout.write(lines.join(''))
}

module.exports = { PlanError, imageName, imageTags, platformMatrix, plan, versionTags }

if (require.main === module) main()
