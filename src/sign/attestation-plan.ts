/**
 * Which attestations a run attaches, read and checked before anything is written: SBOMs (one for
 * every image, or `image=path` lines), SLSA provenance from the run's context, and a custom
 * predicate.
 */
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { SignetError } from '../errors'
import { INPUT, type SignInputs } from '../inputs'
import {
  buildContextFromClaims,
  buildContextFromEnv,
  buildProvenancePredicate,
  SLSA_PROVENANCE_V1,
} from '../formats/provenance'
import { expandSbomPaths, parseSbomInput, readSbomFile } from '../formats/sbom'
import { parseImageReference } from '../registry/reference'
import type { Logger } from '../report/types'
import type { Subject } from '../subjects'
import { predicateDigest } from './existing'

export interface PlannedAttestation {
  predicateType: string
  predicate: unknown
  /** The predicate serialised once, for every image it is attested to. */
  predicateJson: string
  /** How a re-run recognises it already attested (see predicateDigest in ./existing.ts). */
  predicateDigest: string
  /** The input it comes from, for messages: `sbom`, `provenance` or `predicate`. */
  input: string
  /** For the log and the summary: "SBOM sbom.cdx.json (CycloneDX 1.5)". */
  label: string
  /** Only for this image (`registry/repository`, and digest when one was written); else every image. */
  only?: { name: string; digest?: string }
}

export interface PlanOptions {
  cwd: string
  env: NodeJS.ProcessEnv
  log: Logger
  /** The OIDC token's claims, when signing keyless: provenance is built from them, as GitHub does. */
  claims?: () => Promise<Record<string, unknown>>
}

/** True when the attestation applies to the image named `name` with digest `digest`. */
export function appliesTo(attestation: PlannedAttestation, name: string, digest: string): boolean {
  const only = attestation.only
  return !only || (only.name === name && (only.digest === undefined || only.digest === digest))
}

export async function planAttestations(
  inputs: Pick<
    SignInputs,
    'sbom' | 'sbomPredicateType' | 'provenance' | 'predicateType' | 'predicatePath'
  >,
  requested: Subject[],
  options: PlanOptions,
): Promise<PlannedAttestation[]> {
  const planned: PlannedAttestation[] = []

  for (const assignment of inputs.sbom ? parseSbomInput(inputs.sbom) : []) {
    let only: PlannedAttestation['only']
    if (assignment.image !== undefined) {
      const ref = parseImageReference(assignment.image, INPUT.sbom)
      const signed = requested.some(
        (r) =>
          r.name === ref.name &&
          (ref.digest === undefined || r.digest === undefined || r.digest === ref.digest),
      )
      if (!signed) {
        throw new SignetError(
          'INPUT_INVALID',
          `input sbom: "${assignment.image}" is not one of the images being signed; ` +
            'name an image from images or metadata before the =',
          { input: INPUT.sbom },
        )
      }
      only = { name: ref.name, digest: ref.digest }
    }
    for (const path of await expandSbomPaths(assignment.path, options.cwd)) {
      const sbom = await readSbomFile(resolve(options.cwd, path), {
        predicateTypeOverride: inputs.sbomPredicateType,
        input: INPUT.sbom,
      })
      for (const warning of sbom.warnings) options.log.warning(warning)
      planned.push({
        predicateType: sbom.predicateType,
        predicate: sbom.predicate,
        predicateJson: JSON.stringify(sbom.predicate),
        predicateDigest: predicateDigest(sbom.predicate),
        input: INPUT.sbom,
        label: `SBOM ${path} (${sbom.format === 'cyclonedx' ? 'CycloneDX' : 'SPDX'} ${sbom.version})`,
        only,
      })
    }
  }

  if (inputs.provenance) {
    const context = options.claims
      ? buildContextFromClaims(await options.claims(), options.env.GITHUB_SERVER_URL)
      : buildContextFromEnv(options.env)
    const predicate = buildProvenancePredicate(context)
    planned.push({
      predicateType: SLSA_PROVENANCE_V1,
      predicate,
      predicateJson: JSON.stringify(predicate),
      predicateDigest: predicateDigest(predicate),
      input: INPUT.provenance,
      label: 'SLSA v1 provenance',
    })
  }

  if (inputs.predicateType && inputs.predicatePath) {
    const predicate = await readPredicate(resolve(options.cwd, inputs.predicatePath))
    planned.push({
      predicateType: inputs.predicateType,
      predicate,
      predicateJson: JSON.stringify(predicate),
      predicateDigest: predicateDigest(predicate),
      input: INPUT.predicate,
      label: `${inputs.predicateType} (${inputs.predicatePath})`,
    })
  }
  return planned
}

const PREDICATE_MAX_BYTES = 16 * 1024 * 1024

async function readPredicate(path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch {
    throw new SignetError(
      'INPUT_INVALID',
      `input predicate: cannot read ${path}: give the path of a JSON file`,
      {
        input: INPUT.predicate,
      },
    )
  }
  if (Buffer.byteLength(text) > PREDICATE_MAX_BYTES) {
    throw new SignetError('INPUT_INVALID', `input predicate: ${path} is larger than 16 MB`, {
      input: INPUT.predicate,
    })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new SignetError('INPUT_INVALID', `input predicate: ${path} is not valid JSON`, {
      input: INPUT.predicate,
    })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new SignetError('INPUT_INVALID', `input predicate: ${path} must hold a JSON object`, {
      input: INPUT.predicate,
    })
  }
  return value
}
