/**
 * SLSA v1 build provenance for the run, in the shape GitHub's artifact attestations use (the
 * GitHub Actions workflow buildType, https://actions.github.io/buildtypes/workflow/v1), so that
 * `gh attestation verify` and policies written for actions/attest read ours the same way.
 *
 * Keyless signing builds it from the OIDC token's claims, as actions/attest does: the token is
 * signed by GitHub, so the claims are what the run really was. Key signing has no token and
 * falls back to the runner's environment variables.
 *
 * Pure: no network, no @actions/core.
 */
import { SignetError } from '../errors'
import { INPUT } from '../inputs'

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'

export interface BuildContext {
  /** `https://github.com`, or the GHES / GHE.com (data residency) server, without a trailing '/'. */
  serverUrl: string
  /** owner/repo */
  repository: string
  repositoryId?: string
  repositoryOwnerId?: string
  /** The git ref the run is for, e.g. refs/heads/main. */
  ref: string
  sha: string
  /** owner/repo/.github/workflows/x.yml@ref: the workflow the run started. */
  workflowRef: string
  /** Same form; differs from workflowRef when the job runs in a reusable workflow. */
  jobWorkflowRef?: string
  eventName: string
  /** `github-hosted` or `self-hosted`. */
  runnerEnvironment?: string
  runId: string
  runAttempt: string
}

export interface SlsaProvenanceV1 {
  buildDefinition: {
    buildType: string
    externalParameters: { workflow: { ref: string; repository: string; path: string } }
    internalParameters: {
      github: {
        event_name: string
        repository_id?: string
        repository_owner_id?: string
        runner_environment?: string
      }
    }
    resolvedDependencies: { uri: string; digest: { gitCommit: string } }[]
  }
  runDetails: {
    builder: { id: string }
    metadata: { invocationId: string }
  }
}

const DEFAULT_SERVER_URL = 'https://github.com'

function unavailable(message: string): SignetError {
  return new SignetError('PROVENANCE_UNAVAILABLE', `input ${INPUT.provenance}: ${message}`, {
    input: INPUT.provenance,
  })
}

function normaliseServerUrl(serverUrl: string | undefined): string {
  const value = serverUrl?.trim() ?? ''
  return (value === '' ? DEFAULT_SERVER_URL : value).replace(/\/+$/, '')
}

/** Claims are strings in GitHub's tokens; numbers are accepted in case a token says 42, not "42". */
function claim(claims: Record<string, unknown>, name: string): string | undefined {
  const value = claims[name]
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return typeof value === 'string' && value !== '' ? value : undefined
}

const REQUIRED_CLAIMS = [
  'repository',
  'ref',
  'sha',
  'workflow_ref',
  'event_name',
  'run_id',
  'run_attempt',
] as const

/**
 * The context from the workflow's OIDC token claims. `serverUrl` is GITHUB_SERVER_URL (the token
 * does not carry it); undefined or empty means github.com.
 */
export function buildContextFromClaims(
  claims: Record<string, unknown>,
  serverUrl: string | undefined = DEFAULT_SERVER_URL,
): BuildContext {
  const missing = REQUIRED_CLAIMS.filter((name) => claim(claims, name) === undefined)
  if (missing.length > 0) {
    throw unavailable(
      `the OIDC token lacks the claims ${missing.join(', ')} that provenance is built from; ` +
        "provenance needs a GitHub Actions token (the workflow's id-token: write permission)",
    )
  }
  const get = (name: string): string => claim(claims, name) ?? ''
  return {
    serverUrl: normaliseServerUrl(serverUrl),
    repository: get('repository'),
    repositoryId: claim(claims, 'repository_id'),
    repositoryOwnerId: claim(claims, 'repository_owner_id'),
    ref: get('ref'),
    sha: get('sha'),
    workflowRef: get('workflow_ref'),
    jobWorkflowRef: claim(claims, 'job_workflow_ref'),
    eventName: get('event_name'),
    runnerEnvironment: claim(claims, 'runner_environment'),
    runId: get('run_id'),
    runAttempt: get('run_attempt'),
  }
}

const REQUIRED_ENV = [
  'GITHUB_REPOSITORY',
  'GITHUB_REF',
  'GITHUB_SHA',
  'GITHUB_WORKFLOW_REF',
  'GITHUB_EVENT_NAME',
  'GITHUB_RUN_ID',
  'GITHUB_RUN_ATTEMPT',
] as const

/**
 * The context from the runner's environment, for key signing (no OIDC token). The environment
 * has no job_workflow_ref, so in a reusable workflow the builder id names the calling workflow.
 */
export function buildContextFromEnv(env: NodeJS.ProcessEnv): BuildContext {
  const value = (name: string): string | undefined => {
    const v = env[name]?.trim()
    return v === undefined || v === '' ? undefined : v
  }
  const missing = REQUIRED_ENV.filter((name) => value(name) === undefined)
  if (missing.length > 0) {
    throw unavailable(
      `provenance needs to run in GitHub Actions, and ${missing.join(', ')} ` +
        `${missing.length === 1 ? 'is' : 'are'} not set; outside GitHub Actions set provenance: false`,
    )
  }
  const get = (name: string): string => value(name) ?? ''
  return {
    serverUrl: normaliseServerUrl(env.GITHUB_SERVER_URL),
    repository: get('GITHUB_REPOSITORY'),
    repositoryId: value('GITHUB_REPOSITORY_ID'),
    repositoryOwnerId: value('GITHUB_REPOSITORY_OWNER_ID'),
    ref: get('GITHUB_REF'),
    sha: get('GITHUB_SHA'),
    workflowRef: get('GITHUB_WORKFLOW_REF'),
    eventName: get('GITHUB_EVENT_NAME'),
    runnerEnvironment: value('RUNNER_ENVIRONMENT'),
    runId: get('GITHUB_RUN_ID'),
    runAttempt: get('GITHUB_RUN_ATTEMPT'),
  }
}

/**
 * Split `owner/repo/.github/workflows/x.yml@ref` into path and ref. The ref is everything after
 * the first '@' after the path: tags may contain '@' (changesets' `pkg@1.2.3`).
 */
function splitWorkflowRef(workflowRef: string, repository: string): { path: string; ref: string } {
  let rest: string
  if (workflowRef.toLowerCase().startsWith(`${repository.toLowerCase()}/`)) {
    rest = workflowRef.slice(repository.length + 1)
  } else {
    // Not prefixed by the repository as we know it: the first two segments are still owner/repo.
    rest = workflowRef.split('/').slice(2).join('/')
  }
  const at = rest.indexOf('@')
  return at === -1 ? { path: rest, ref: '' } : { path: rest.slice(0, at), ref: rest.slice(at + 1) }
}

/** The SLSA v1 predicate (the statement's `predicate`; its type is SLSA_PROVENANCE_V1). */
export function buildProvenancePredicate(ctx: BuildContext): SlsaProvenanceV1 {
  const server = normaliseServerUrl(ctx.serverUrl)
  const workflow = splitWorkflowRef(ctx.workflowRef, ctx.repository)
  // Unknown values are left out rather than written as empty strings a policy might match.
  const github: SlsaProvenanceV1['buildDefinition']['internalParameters']['github'] = {
    event_name: ctx.eventName,
  }
  if (ctx.repositoryId !== undefined) github.repository_id = ctx.repositoryId
  if (ctx.repositoryOwnerId !== undefined) github.repository_owner_id = ctx.repositoryOwnerId
  if (ctx.runnerEnvironment !== undefined) github.runner_environment = ctx.runnerEnvironment

  return {
    buildDefinition: {
      buildType: GITHUB_WORKFLOW_BUILD_TYPE,
      externalParameters: {
        workflow: {
          ref: workflow.ref,
          repository: `${server}/${ctx.repository}`,
          path: workflow.path,
        },
      },
      internalParameters: { github },
      resolvedDependencies: [
        {
          uri: `git+${server}/${ctx.repository}@${ctx.ref}`,
          digest: { gitCommit: ctx.sha },
        },
      ],
    },
    runDetails: {
      builder: { id: `${server}/${ctx.jobWorkflowRef ?? ctx.workflowRef}` },
      metadata: {
        invocationId: `${server}/${ctx.repository}/actions/runs/${ctx.runId}/attempts/${ctx.runAttempt}`,
      },
    },
  }
}
