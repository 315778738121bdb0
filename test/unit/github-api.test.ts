/**
 * src/github/ reaches GitHub's API only through the client its caller gives (GitHubApiFactory):
 * the action's is @actions/github's, whose fetch goes through the runner's proxy. These tests give
 * a fake client and check that it is the one used, that nothing replaces its fetch, and that the
 * plain Octokit stands in when no client is given.
 */
import { createHash } from 'node:crypto'
import { octokitApi, type GitHubApiFactory, type GitHubApiOptions } from '../../src/github/api'
import { createGitHubAttestationSource } from '../../src/github/attestation-lookup'
import { GitHubAttestationStore } from '../../src/github/attestation-store'
import { silentLogger } from '../../src/report/types'

const TOKEN = 'ghs_apiSeamToken'
const DIGEST = `sha256:${createHash('sha256').update('api seam').digest('hex')}`

type Call = [unknown, unknown?]

/** A client whose `request` answers with `answer`, and whose own fetch is `clientFetch`. */
function fakeClient(
  answer: (call: Call) => Promise<{ status: number; data: unknown }>,
  clientFetch: typeof fetch = () => Promise.reject(new Error('no fetch expected')),
) {
  const made: GitHubApiOptions[] = []
  const calls: Call[] = []
  const factory: GitHubApiFactory = (options) => {
    made.push(options)
    const request = async (route: unknown, parameters?: unknown) => {
      const call: Call = [route, parameters]
      calls.push(call)
      return { headers: {}, ...(await answer(call)) }
    }
    return {
      request: Object.assign(request, {
        endpoint: { DEFAULTS: { request: { fetch: clientFetch } } },
      }),
    }
  }
  return { factory, made, calls }
}

describe('the GitHub API seam', () => {
  it('stores through the client it is given, built without a request option of its own', async () => {
    const client = fakeClient(async () => ({ status: 201, data: { id: 42 } }))
    const store = new GitHubAttestationStore({
      api: client.factory,
      token: TOKEN,
      repository: 'octo/app',
      apiUrl: 'https://ghe.example/api/v3/',
    })
    const stored = await store.store({ mediaType: 'x' } as never, DIGEST)
    expect(stored).toEqual({ id: 42, url: 'https://ghe.example/octo/app/attestations/42' })
    expect(client.made).toHaveLength(1)
    expect(client.made[0]).toMatchObject({
      token: TOKEN,
      baseUrl: 'https://ghe.example/api/v3',
      userAgent: 'signet',
    })
    // A `request` option would replace the client's (proxy-aware) fetch: Octokit merges shallowly.
    expect(client.made[0]).not.toHaveProperty('request')
    const [route, parameters] = client.calls[0]
    expect(route).toBe('POST /repos/{owner}/{repo}/attestations')
    expect(parameters).toMatchObject({ owner: 'octo', repo: 'app', bundle: { mediaType: 'x' } })
  })

  it("looks up through the client it is given, every byte read by the client's own fetch", async () => {
    const body = JSON.stringify({ attestations: [{ id: 7, bundle: { mediaType: 'b' } }] })
    const fetched: string[] = []
    const clientFetch: typeof fetch = async (input) => {
      fetched.push(input instanceof Request ? input.url : input.toString())
      return new Response(body, { status: 200 })
    }
    // As Octokit does: the request's own fetch (the byte counter) is what it calls.
    const client = fakeClient(async ([options]) => {
      const { url, request } = options as { url: string; request: { fetch: typeof fetch } }
      const response = await request.fetch(url, {})
      return { status: response.status, data: JSON.parse(await response.text()) as unknown }
    }, clientFetch)
    const source = createGitHubAttestationSource({
      api: client.factory,
      token: TOKEN,
      apiUrl: 'https://api.github.com',
      owner: 'octo/app',
      log: silentLogger,
    })
    let charged = 0
    const found = await source.lookup({
      name: 'ghcr.io/octo/app',
      digest: DIGEST,
      required: true,
      charge: (bytes) => {
        charged += bytes
      },
    })
    expect(found.bundles).toEqual([
      { reference: 'github:octo/app/attestations/7', json: { mediaType: 'b' } },
    ])
    expect(fetched).toHaveLength(1)
    expect(fetched[0]).toContain('/repos/octo/app/attestations/')
    expect(charged).toBe(Buffer.byteLength(body))
    expect(client.made[0]).toMatchObject({ token: TOKEN, baseUrl: 'https://api.github.com' })
    expect(client.made[0]).not.toHaveProperty('request')
  })

  it('without a client, a plain Octokit (no runner) does the asking', () => {
    const octokit = octokitApi({
      token: TOKEN,
      baseUrl: 'https://api.github.com',
      userAgent: 'signet',
    })
    expect(typeof octokit.request).toBe('function')
    expect(octokit.request.endpoint.DEFAULTS).toMatchObject({
      baseUrl: 'https://api.github.com',
      headers: { 'user-agent': expect.stringMatching(/^signet /) },
    })
  })
})
