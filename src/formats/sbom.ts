/**
 * SBOM files for the `sbom` input: which format a file is (told by its content, never by its
 * name), the predicate type its attestation gets, and the size limits consumers impose.
 *
 * Predicate types: by default the ones `cosign attest --type cyclonedx|spdxjson` writes
 * (`https://cyclonedx.org/bom`, `https://spdx.dev/Document`), which is what cosign,
 * policy-controller and Kyverno look for. GitHub's actions/attest writes the versioned SPDX type
 * (`https://spdx.dev/Document/v2.3`). The `sbom-predicate-type` input picks between them:
 *   - a URI: used as is, for every SBOM;
 *   - `versioned`: `https://spdx.dev/Document/v<version>` for SPDX (as GitHub writes it);
 *     CycloneDX keeps `https://cyclonedx.org/bom` (GitHub does not version it either);
 *   - `unversioned` (or empty): the cosign types above.
 *
 * Pure apart from reading the files it is given: no network, no @actions/core.
 */
import { readFile, stat } from 'node:fs/promises'
import { SignetError } from '../errors'
import { INPUT } from '../inputs'
import { expandPaths } from '../paths'

export type SbomFormat = 'cyclonedx' | 'spdx'

/** GitHub's attestation API (and actions/attest) refuse predicates larger than this. */
export const SBOM_MAX_BYTES = 16 * 1024 * 1024
/**
 * Kyverno reads no bundle layer larger than 10 MB. The bundle is larger than the SBOM (the
 * statement is base64-encoded in the DSSE envelope), so this warns about the certain cases only.
 */
export const SBOM_WARN_BYTES = 10 * 1024 * 1024

export const CYCLONEDX_PREDICATE_TYPE = 'https://cyclonedx.org/bom'
export const SPDX_PREDICATE_TYPE = 'https://spdx.dev/Document'

/** SPDX 2.2 and 2.3 are the JSON versions syft, trivy and GitHub's dependency graph produce. */
const SPDX_VERSIONS = ['2.2', '2.3']

export interface Sbom {
  /** The path as given (for messages and the summary). */
  path: string
  format: SbomFormat
  /** CycloneDX `specVersion` (e.g. '1.5') or the SPDX version without the prefix (e.g. '2.3'). */
  version: string
  /** The parsed JSON document: the attestation's predicate. */
  predicate: unknown
  predicateType: string
  bytes: number
  /** Things worth a `::warning::` that do not stop the run (size, a mismatched override). */
  warnings: string[]
}

export interface SbomOptions {
  /** The `sbom-predicate-type` input: a URI, `versioned` or `unversioned`; blank = default. */
  predicateTypeOverride?: string
  /** The input named in errors; default `sbom`. */
  input?: string
}

function sbomError(input: string, message: string, cause?: unknown): SignetError {
  return new SignetError('SBOM_INVALID', `input ${input}: ${message}`, { input, cause })
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`
}

function tooLarge(input: string, path: string, bytes: number): SignetError {
  return sbomError(
    input,
    `refused ${path}: it is ${megabytes(bytes)}, larger than 16 MB, the most GitHub's attestation ` +
      'API accepts; make the SBOM smaller (e.g. leave out per-file entries) or split it',
  )
}

/**
 * Parse one SBOM document. `text` is the file content; `path` only names it in messages.
 * Throws a SignetError (code SBOM_INVALID, or INPUT_INVALID for a bad override) that says what to fix.
 */
export function parseSbom(path: string, text: Buffer | string, options: SbomOptions = {}): Sbom {
  const input = options.input ?? INPUT.sbom
  const bytes = typeof text === 'string' ? Buffer.byteLength(text) : text.length
  if (bytes > SBOM_MAX_BYTES) throw tooLarge(input, path, bytes)
  const warnings: string[] = []
  if (bytes > SBOM_WARN_BYTES) {
    warnings.push(
      `SBOM ${path} is ${megabytes(bytes)}: Kyverno reads no attestation larger than 10 MB, ` +
        'so Kyverno policies will not see this one',
    )
  }

  const document = parseJson(input, path, typeof text === 'string' ? text : text.toString('utf8'))
  const { format, version } = detectFormat(input, path, document)
  const predicateType = choosePredicateType(
    path,
    format,
    version,
    options.predicateTypeOverride,
    warnings,
  )
  return { path, format, version, predicate: document, predicateType, bytes, warnings }
}

function parseJson(input: string, path: string, text: string): unknown {
  // Windows tools (PowerShell's Out-File) write a byte-order mark that JSON.parse rejects.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text
  const start = body.trimStart()
  if (start === '') {
    throw sbomError(input, `${path} is empty; give a CycloneDX or SPDX JSON file`)
  }
  try {
    return JSON.parse(body) as unknown
  } catch (err) {
    // The two non-JSON encodings people most often hand over by mistake get a direct hint.
    let hint = 'give the JSON form of the SBOM (e.g. syft -o cyclonedx-json or -o spdx-json)'
    if (start.startsWith('<')) {
      hint = 'it looks like XML; only JSON SBOMs are attested: generate cyclonedx-json'
    } else if (/^SPDXVersion:/m.test(start)) {
      hint = 'it looks like SPDX tag-value; only JSON SBOMs are attested: generate spdx-json'
    }
    const reason = reasonOf(err)
    throw sbomError(input, `${path} is not valid JSON (${reason}); ${hint}`, err)
  }
}

const EXPECTED =
  'expected CycloneDX JSON (with "bomFormat": "CycloneDX" and "specVersion") or SPDX 2.2/2.3 JSON ' +
  '(with "spdxVersion" and "SPDXID")'

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function detectFormat(
  input: string,
  path: string,
  document: unknown,
): { format: SbomFormat; version: string } {
  if (!isRecord(document)) {
    const kind = Array.isArray(document) ? 'an array' : `a ${typeof document}`
    throw sbomError(input, `${path} holds ${kind}, not an SBOM document; ${EXPECTED}`)
  }

  if ('bomFormat' in document) {
    if (document.bomFormat !== 'CycloneDX') {
      throw sbomError(
        input,
        `${path} has "bomFormat": ${JSON.stringify(document.bomFormat)}; ${EXPECTED}`,
      )
    }
    const specVersion = document.specVersion
    if (typeof specVersion !== 'string' || !/^\d+\.\d+$/.test(specVersion)) {
      throw sbomError(
        input,
        `${path} is CycloneDX without a valid "specVersion" (found ${JSON.stringify(specVersion)}); ` +
          'regenerate it with a CycloneDX JSON tool (specVersion like "1.5")',
      )
    }
    return { format: 'cyclonedx', version: specVersion }
  }

  if ('spdxVersion' in document) {
    const spdxVersion = document.spdxVersion
    const match = typeof spdxVersion === 'string' ? /^SPDX-(\d+\.\d+)$/.exec(spdxVersion) : null
    if (!match || !SPDX_VERSIONS.includes(match[1])) {
      throw sbomError(
        input,
        `${path} is SPDX of version ${JSON.stringify(spdxVersion)}, which is not supported; ` +
          'give SPDX-2.2 or SPDX-2.3 JSON (e.g. syft -o spdx-json)',
      )
    }
    if (typeof document.SPDXID !== 'string' || document.SPDXID === '') {
      throw sbomError(
        input,
        `${path} has "spdxVersion" but no "SPDXID"; it is not a valid SPDX document (${EXPECTED})`,
      )
    }
    return { format: 'spdx', version: match[1] }
  }

  throw sbomError(
    input,
    `${path} is neither CycloneDX nor SPDX: ${EXPECTED}${notSbomHint(document)}`,
  )
}

/** Documents that are often mistaken for an SBOM, named so the user knows what they passed. */
function notSbomHint(document: Record<string, unknown>): string {
  const context = JSON.stringify(document['@context'] ?? '')
  if (context.includes('spdx.org/rdf/3')) {
    return '; this is SPDX 3 (JSON-LD), which is not supported yet: generate SPDX 2.3 JSON'
  }
  const schema = isRecord(document.schema) ? document.schema.url : undefined
  if (typeof schema === 'string' && schema.includes('syft')) {
    return "; this is syft's own JSON format: generate it with -o cyclonedx-json or -o spdx-json"
  }
  if (typeof document._type === 'string' && document._type.startsWith('https://in-toto.io/')) {
    return '; this is an in-toto statement: give the SBOM itself, Signet wraps it'
  }
  return ''
}

function choosePredicateType(
  path: string,
  format: SbomFormat,
  version: string,
  override: string | undefined,
  warnings: string[],
): string {
  const unversioned = format === 'spdx' ? SPDX_PREDICATE_TYPE : CYCLONEDX_PREDICATE_TYPE
  const value = override?.trim() ?? ''
  const keyword = value.toLowerCase()
  if (value === '' || keyword === 'unversioned') return unversioned
  if (keyword === 'versioned') {
    return format === 'spdx' ? `${SPDX_PREDICATE_TYPE}/v${version}` : CYCLONEDX_PREDICATE_TYPE
  }
  if (!/^[a-z][a-z0-9+.-]*:\S+$/i.test(value)) {
    throw new SignetError(
      'INPUT_INVALID',
      `input ${INPUT.sbomPredicateType} must be a URI (e.g. https://spdx.dev/Document/v2.3), ` +
        `versioned or unversioned, not "${value}"`,
      { input: INPUT.sbomPredicateType },
    )
  }
  // A URI is taken as given, but one naming the other format (or another SPDX version) would make
  // verifiers read the document as something it is not: worth a warning, not a refusal.
  const spdxType = /^https:\/\/spdx\.dev\/Document(?:\/v(.+))?$/.exec(value)
  if (format === 'cyclonedx' && spdxType) {
    warnings.push(
      `SBOM ${path} is CycloneDX but ${INPUT.sbomPredicateType} is the SPDX type ${value}`,
    )
  } else if (format === 'spdx' && value.startsWith('https://cyclonedx.org/')) {
    warnings.push(
      `SBOM ${path} is SPDX but ${INPUT.sbomPredicateType} is the CycloneDX type ${value}`,
    )
  } else if (format === 'spdx' && spdxType?.[1] !== undefined && spdxType[1] !== version) {
    warnings.push(
      `SBOM ${path} is SPDX ${version} but ${INPUT.sbomPredicateType} says v${spdxType[1]} (${value})`,
    )
  }
  return value
}

// Duck-typed, not `instanceof Error`: errors from Node's built-ins come from another realm under
// Jest (and vm contexts), where `instanceof Error` is false.
function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined
}

function reasonOf(err: unknown): string {
  return typeof err === 'object' && err !== null && 'message' in err
    ? String(err.message)
    : String(err)
}

/**
 * Read and parse one SBOM file. The size is checked with stat first, so a file over 16 MB is
 * refused without being read into memory.
 */
export async function readSbomFile(path: string, options: SbomOptions = {}): Promise<Sbom> {
  const input = options.input ?? INPUT.sbom
  let size: number
  try {
    const info = await stat(path)
    if (!info.isFile()) {
      throw new SignetError('INPUT_INVALID', `input ${input}: ${path} is not a file`, { input })
    }
    size = info.size
  } catch (err) {
    if (err instanceof SignetError) throw err
    const missing = errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR'
    throw new SignetError(
      'INPUT_INVALID',
      missing
        ? `input ${input}: SBOM file ${path} does not exist; check the path (was the SBOM generated in an earlier step?)`
        : `input ${input}: cannot read ${path}: ${reasonOf(err)}`,
      { input, cause: err },
    )
  }
  if (size > SBOM_MAX_BYTES) throw tooLarge(input, path, size)

  let content: Buffer
  try {
    content = await readFile(path)
  } catch (err) {
    throw new SignetError(
      'INPUT_INVALID',
      `input ${input}: cannot read ${path}: ${reasonOf(err)}`,
      { input, cause: err },
    )
  }
  return parseSbom(path, content, options)
}

export interface SbomAssignment {
  /** The image reference as written before '='; undefined means every image. */
  image?: string
  /** A path or glob, relative to the workspace. */
  path: string
}

/**
 * Split the `sbom` input into entries: one per line, or separated by commas. Commas inside
 * `{...}` are part of a glob (`sbom/{app,worker}.json`) and do not separate. A path that itself
 * contains a comma cannot be written.
 */
function splitEntries(value: string): string[] {
  const entries: string[] = []
  let current = ''
  let depth = 0
  for (const ch of value) {
    if (ch === '{') depth++
    if (ch === '}' && depth > 0) depth--
    if (ch === '\n' || (ch === ',' && depth === 0)) {
      entries.push(current)
      current = ''
      depth = 0
    } else {
      current += ch
    }
  }
  entries.push(current)
  return entries.map((e) => e.trim()).filter((e) => e !== '')
}

/**
 * Parse the `sbom` input. Each entry is either `path` (attested to every image) or `image=path`
 * (only to that image, e.g. `ghcr.io/acme/app=sbom-app.json`). Image references can hold ':' and
 * '@' but never '=', so the first '=' splits; `path` may be a glob.
 */
export function parseSbomInput(value: string): SbomAssignment[] {
  return splitEntries(value).map((entry) => {
    const eq = entry.indexOf('=')
    if (eq === -1) return { path: entry }
    const image = entry.slice(0, eq).trim()
    const path = entry.slice(eq + 1).trim()
    if (image === '' || path === '') {
      throw new SignetError(
        'INPUT_INVALID',
        `input ${INPUT.sbom}: "${entry}" has nothing ${image === '' ? 'before' : 'after'} the =; ` +
          'write image=path (e.g. ghcr.io/acme/app=sbom.json), or just the path for every image',
        { input: INPUT.sbom },
      )
    }
    if (/\s/.test(image)) {
      throw new SignetError(
        'INPUT_INVALID',
        `input ${INPUT.sbom}: "${image}" is not an image reference (it contains a space); ` +
          'write one image=path per line',
        { input: INPUT.sbom },
      )
    }
    return { image, path }
  })
}

/**
 * The files a `sbom` path or glob names (see expandPaths), with messages about SBOMs.
 */
export async function expandSbomPaths(pattern: string, cwd: string): Promise<string[]> {
  return expandPaths(pattern, cwd, {
    input: INPUT.sbom,
    noun: 'SBOM file',
    exampleGlob: '*.json',
    hint: ' (was the SBOM generated in an earlier step?)',
  })
}
