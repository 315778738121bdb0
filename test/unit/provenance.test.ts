import {
  buildContextFromClaims,
  buildContextFromEnv,
  buildProvenancePredicate,
  SLSA_PROVENANCE_V1,
} from '../../src/formats/provenance'
import { errorOf } from '../infra/expect'

const SHA = '6d2c4e4b8f0a1c3e5d7f9b1a3c5e7d9f1b3a5c7e'

// The claims of a GitHub Actions OIDC token for a push to main (audience and timestamps trimmed).
const CLAIMS = {
  jti: 'b7d9e4b1-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
  sub: 'repo:acme/app:ref:refs/heads/main',
  aud: 'nobody',
  ref: 'refs/heads/main',
  sha: SHA,
  repository: 'acme/app',
  repository_owner: 'acme',
  repository_owner_id: '1234567',
  run_id: '15234567890',
  run_number: '42',
  run_attempt: '2',
  repository_visibility: 'public',
  repository_id: '987654321',
  actor_id: '7654321',
  actor: 'octocat',
  workflow: 'release',
  head_ref: '',
  base_ref: '',
  event_name: 'push',
  ref_protected: 'true',
  ref_type: 'branch',
  workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
  workflow_sha: SHA,
  job_workflow_ref: 'acme/app/.github/workflows/release.yml@refs/heads/main',
  job_workflow_sha: SHA,
  runner_environment: 'github-hosted',
  iss: 'https://token.actions.githubusercontent.com',
}

// The same run as the runner's environment shows it.
const ENV: NodeJS.ProcessEnv = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_REPOSITORY_ID: '987654321',
  GITHUB_REPOSITORY_OWNER: 'acme',
  GITHUB_REPOSITORY_OWNER_ID: '1234567',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_SHA: SHA,
  GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/heads/main',
  GITHUB_EVENT_NAME: 'push',
  RUNNER_ENVIRONMENT: 'github-hosted',
  GITHUB_RUN_ID: '15234567890',
  GITHUB_RUN_ATTEMPT: '2',
  PATH: '/usr/bin',
}

// Byte for byte what actions/attest (toolkit buildSLSAProvenancePredicate) produces for this run.
const EXPECTED = `{
  "buildDefinition": {
    "buildType": "https://actions.github.io/buildtypes/workflow/v1",
    "externalParameters": {
      "workflow": {
        "ref": "refs/heads/main",
        "repository": "https://github.com/acme/app",
        "path": ".github/workflows/release.yml"
      }
    },
    "internalParameters": {
      "github": {
        "event_name": "push",
        "repository_id": "987654321",
        "repository_owner_id": "1234567",
        "runner_environment": "github-hosted"
      }
    },
    "resolvedDependencies": [
      {
        "uri": "git+https://github.com/acme/app@refs/heads/main",
        "digest": {
          "gitCommit": "${SHA}"
        }
      }
    ]
  },
  "runDetails": {
    "builder": {
      "id": "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
    },
    "metadata": {
      "invocationId": "https://github.com/acme/app/actions/runs/15234567890/attempts/2"
    }
  }
}`

describe('provenance from OIDC claims', () => {
  it('builds the predicate GitHub builds, key order included', () => {
    expect(SLSA_PROVENANCE_V1).toBe('https://slsa.dev/provenance/v1')
    const predicate = buildProvenancePredicate(buildContextFromClaims(CLAIMS))
    expect(JSON.stringify(predicate, null, 2)).toBe(EXPECTED)
  })

  it('reads the context from the claims', () => {
    expect(buildContextFromClaims(CLAIMS, undefined)).toEqual({
      serverUrl: 'https://github.com',
      repository: 'acme/app',
      repositoryId: '987654321',
      repositoryOwnerId: '1234567',
      ref: 'refs/heads/main',
      sha: SHA,
      workflowRef: 'acme/app/.github/workflows/release.yml@refs/heads/main',
      jobWorkflowRef: 'acme/app/.github/workflows/release.yml@refs/heads/main',
      eventName: 'push',
      runnerEnvironment: 'github-hosted',
      runId: '15234567890',
      runAttempt: '2',
    })
  })

  it('names the reusable workflow as the builder and keeps tags that contain @', () => {
    const predicate = buildProvenancePredicate(
      buildContextFromClaims({
        ...CLAIMS,
        ref: 'refs/tags/@acme/app@1.2.3',
        event_name: 'release',
        workflow_ref: 'acme/app/.github/workflows/release.yml@refs/tags/@acme/app@1.2.3',
        job_workflow_ref: 'acme/shared/.github/workflows/build-image.yml@refs/tags/v3',
      }),
    )
    expect(predicate.buildDefinition.externalParameters.workflow).toEqual({
      ref: 'refs/tags/@acme/app@1.2.3',
      repository: 'https://github.com/acme/app',
      path: '.github/workflows/release.yml',
    })
    expect(predicate.buildDefinition.resolvedDependencies[0].uri).toBe(
      'git+https://github.com/acme/app@refs/tags/@acme/app@1.2.3',
    )
    expect(predicate.runDetails.builder.id).toBe(
      'https://github.com/acme/shared/.github/workflows/build-image.yml@refs/tags/v3',
    )
  })

  it('uses a GHES or GHE.com server URL (trailing slash dropped)', () => {
    const ghes = buildProvenancePredicate(
      buildContextFromClaims(CLAIMS, 'https://github.example.com/'),
    )
    expect(ghes.buildDefinition.externalParameters.workflow.repository).toBe(
      'https://github.example.com/acme/app',
    )
    expect(ghes.buildDefinition.resolvedDependencies[0].uri).toBe(
      'git+https://github.example.com/acme/app@refs/heads/main',
    )
    expect(ghes.runDetails).toEqual({
      builder: {
        id: 'https://github.example.com/acme/app/.github/workflows/release.yml@refs/heads/main',
      },
      metadata: {
        invocationId: 'https://github.example.com/acme/app/actions/runs/15234567890/attempts/2',
      },
    })
    const ghec = buildContextFromClaims(CLAIMS, 'https://octo.ghe.com')
    expect(ghec.serverUrl).toBe('https://octo.ghe.com')
  })

  it('leaves out optional claims the token does not have', () => {
    const claims: Record<string, unknown> = { ...CLAIMS, run_id: 15234567890 }
    delete claims.repository_id
    delete claims.runner_environment
    const predicate = buildProvenancePredicate(buildContextFromClaims(claims))
    expect(predicate.buildDefinition.internalParameters.github).toEqual({
      event_name: 'push',
      repository_owner_id: '1234567',
    })
    expect(predicate.runDetails.metadata.invocationId).toBe(
      'https://github.com/acme/app/actions/runs/15234567890/attempts/2',
    )
  })

  it('refuses a token without the claims provenance is built from', () => {
    const err = errorOf(() =>
      buildContextFromClaims({ sub: 'repo:acme/app', repository: 'acme/app', sha: '' }),
    )
    expect(err.code).toBe('PROVENANCE_UNAVAILABLE')
    expect(err.input).toBe('provenance')
    expect(err.message).toBe(
      'input provenance: the OIDC token lacks the claims ref, sha, workflow_ref, event_name, run_id, ' +
        "run_attempt that provenance is built from; provenance needs a GitHub Actions token (the workflow's " +
        'id-token: write permission)',
    )
  })
})

describe('provenance from the environment', () => {
  it('builds the same predicate as from the claims', () => {
    const predicate = buildProvenancePredicate(buildContextFromEnv(ENV))
    expect(JSON.stringify(predicate, null, 2)).toBe(EXPECTED)
  })

  it('has no job workflow ref and no default for optional values', () => {
    const env = { ...ENV }
    delete env.GITHUB_REPOSITORY_ID
    delete env.GITHUB_REPOSITORY_OWNER_ID
    delete env.RUNNER_ENVIRONMENT
    delete env.GITHUB_SERVER_URL
    const ctx = buildContextFromEnv(env)
    expect(ctx.jobWorkflowRef).toBeUndefined()
    expect(ctx.serverUrl).toBe('https://github.com')
    const predicate = buildProvenancePredicate(ctx)
    expect(predicate.buildDefinition.internalParameters).toEqual({ github: { event_name: 'push' } })
  })

  it('uses GITHUB_SERVER_URL (GHES)', () => {
    const ctx = buildContextFromEnv({ ...ENV, GITHUB_SERVER_URL: 'https://ghes.acme.internal' })
    const predicate = buildProvenancePredicate(ctx)
    expect(predicate.runDetails.builder.id).toBe(
      'https://ghes.acme.internal/acme/app/.github/workflows/release.yml@refs/heads/main',
    )
  })

  it('outside GitHub Actions says provenance needs to run there', () => {
    const err = errorOf(() => buildContextFromEnv({ PATH: '/usr/bin', HOME: '/root' }))
    expect(err.code).toBe('PROVENANCE_UNAVAILABLE')
    expect(err.input).toBe('provenance')
    expect(err.message).toBe(
      'input provenance: provenance needs to run in GitHub Actions, and GITHUB_REPOSITORY, GITHUB_REF, ' +
        'GITHUB_SHA, GITHUB_WORKFLOW_REF, GITHUB_EVENT_NAME, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT are not set; ' +
        'outside GitHub Actions set provenance: false',
    )
  })

  it('names the one variable missing', () => {
    const err = errorOf(() => buildContextFromEnv({ ...ENV, GITHUB_WORKFLOW_REF: ' ' }))
    expect(err.message).toMatch(/and GITHUB_WORKFLOW_REF is not set;/)
  })
})
