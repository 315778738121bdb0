import {
  parseKeyValues,
  parseList,
  parseNameValues,
  readInputs,
  secretValues,
  type Inputs,
} from '../../src/inputs'
import { parseBuildMetadata, requestedImages } from '../../src/subjects'
import { errorOf } from '../infra/expect'

const DIGEST = `sha256:${'1f'.repeat(32)}`

function getter(values: Record<string, string>) {
  return (name: string): string => values[name] ?? ''
}

/** The inputs of one mode: each mode's fields are typed on its own (issue 10.6). */
function ofMode<M extends Inputs['mode']>(inputs: Inputs, mode: M): Extract<Inputs, { mode: M }> {
  if (inputs.mode !== mode) throw new Error(`expected ${mode} inputs, got ${inputs.mode}`)
  return inputs as Extract<Inputs, { mode: M }>
}

describe('readInputs', () => {
  it('applies the documented defaults', () => {
    const inputs = readInputs(getter({ images: `ghcr.io/acme/app@${DIGEST}` }))
    expect(inputs).toMatchObject({
      mode: 'sign',
      recursive: true,
      signatureFormat: 'both',
      tlog: true,
      summary: true,
      fulcioURL: 'https://fulcio.sigstore.dev',
      rekorURL: 'https://rekor.sigstore.dev',
      annotations: {},
      plainHttp: [],
    })
    expect(inputs.images).toEqual([`ghcr.io/acme/app@${DIGEST}`])
  })

  it.each([
    ['mode', 'publish', /mode must be one of sign, verify/],
    ['signature-format', 'sigstore', /signature-format must be one of legacy, bundle, both/],
    ['recursive', 'yes', /recursive must be true or false/],
    ['fulcio-url', 'not a url', /fulcio-url is not a URL/],
    ['annotations', 'novalue', /annotations: "novalue" is not a key=value pair/],
  ])('names the input at fault: %s=%s', (name, value, message) => {
    const err = errorOf(() => readInputs(getter({ images: 'x', [name]: value })))
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.input).toBe(name)
    expect(err.message).toMatch(message)
  })

  it('issue 12.1: reads retry-timeout as a Go duration, 10 minutes by default', () => {
    expect(readInputs(getter({ images: 'x' })).retryTimeoutMs).toBe(600_000)
    const cases: Array<[string, number]> = [
      ['10m', 600_000],
      ['90s', 90_000],
      ['1h30m', 5_400_000],
      ['1.5m', 90_000],
      ['500ms', 500],
      ['45', 45_000],
      ['0', 0],
    ]
    for (const [text, ms] of cases) {
      expect(readInputs(getter({ images: 'x', 'retry-timeout': text })).retryTimeoutMs).toBe(ms)
    }
    for (const bad of ['ten minutes', '10 m', '-1m', '10d', 'm', '7h']) {
      const err = errorOf(() => readInputs(getter({ images: 'x', 'retry-timeout': bad })))
      expect([err.code, err.input]).toEqual(['INPUT_INVALID', 'retry-timeout'])
      expect(err.message).toMatch(/must be a duration such as 10m/)
    }
  })

  it('issue 12.4: reads signature-repository as a repository, in both modes', () => {
    expect(readInputs(getter({ images: 'x' })).signatureRepository).toBeUndefined()
    const sign = readInputs(
      getter({ images: 'x', 'signature-repository': 'GHCR.io:443/acme/sigs' }),
    )
    expect(sign.signatureRepository).toMatchObject({ registry: 'ghcr.io', repository: 'acme/sigs' })
    const verify = readInputs(
      getter({ mode: 'verify', images: 'x', 'signature-repository': 'localhost:5000/sigs' }),
    )
    expect(verify.signatureRepository).toMatchObject({
      registry: 'localhost:5000',
      repository: 'sigs',
    })
    for (const bad of ['ghcr.io/acme/sigs:latest', `ghcr.io/acme/sigs@${DIGEST}`, 'https://x/y']) {
      const err = errorOf(() => readInputs(getter({ images: 'x', 'signature-repository': bad })))
      expect(err.input).toBe('signature-repository')
      expect(['INPUT_INVALID', 'IMAGE_REFERENCE_INVALID']).toContain(err.code)
    }
  })

  it('issue 13.3: admission-mode is audit by default, enforce on request, sign mode only', () => {
    expect(ofMode(readInputs(getter({ images: 'x' })), 'sign').admissionMode).toBe('audit')
    expect(
      ofMode(readInputs(getter({ images: 'x', 'admission-mode': 'enforce' })), 'sign')
        .admissionMode,
    ).toBe('enforce')
    expect(errorOf(() => readInputs(getter({ images: 'x', 'admission-mode': 'deny' }))).input).toBe(
      'admission-mode',
    )
    const inVerify = errorOf(() =>
      readInputs(getter({ mode: 'verify', images: 'x', 'admission-mode': 'enforce' })),
    )
    expect(inVerify.message).toMatch(/admission-mode is not used in mode: verify/)
  })

  it('needs tsa-url for keyless signing without the transparency log', () => {
    const err = errorOf(() => readInputs(getter({ images: 'x', tlog: 'false' })))
    expect(err.input).toBe('tlog')
    expect(err.message).toMatch(/tsa-url/)
    expect(
      readInputs(
        getter({ images: 'x', tlog: 'false', 'tsa-url': 'http://127.0.0.1:1/api/v1/timestamp' }),
      ).tlog,
    ).toBe(false)
    expect(readInputs(getter({ images: 'x', tlog: 'false', key: 'k' })).tlog).toBe(false)
  })

  it('refuses inputs of the other mode, rather than ignoring them', () => {
    const inSign = errorOf(() => readInputs(getter({ images: 'x', policy: 'p.yml' })))
    expect([inSign.input, inSign.message]).toEqual([
      'policy',
      'input policy is not used in mode: sign: remove it, or set mode: verify',
    ])
    const key = errorOf(() => readInputs(getter({ mode: 'verify', images: 'x', key: 'k.pem' })))
    expect(key.input).toBe('key')
    expect(key.message).toMatch(/give the public key in public-key/)
    expect(errorOf(() => readInputs(getter({ mode: 'verify', sbom: 's.json' }))).input).toBe('sbom')
  })

  it('reads the verify inputs', () => {
    const inputs = readInputs(
      getter({
        mode: 'verify',
        images: 'a@sha256:' + 'a'.repeat(64),
        dockerfile: 'Dockerfile\nsvc/*/Dockerfile',
        'certificate-identity-regexp': 'https://github\\.com/acme/.*',
        'certificate-oidc-issuer': 'https://token.actions.githubusercontent.com',
        'require-attestations': 'cyclonedx, slsaprovenance',
        'trusted-root': 'root.json',
        enforce: 'false',
        tlog: 'false',
      }),
    )
    expect(inputs).toMatchObject({
      mode: 'verify',
      dockerfiles: ['Dockerfile', 'svc/*/Dockerfile'],
      certificateIdentityRegexp: 'https://github\\.com/acme/.*',
      certificateOidcIssuer: 'https://token.actions.githubusercontent.com',
      requireAttestations: ['cyclonedx', 'slsaprovenance'],
      trustedRoot: 'root.json',
      enforce: false,
      // In verify mode tlog: false is not the keyless-needs-a-TSA mistake of sign mode.
      tlog: false,
    })
    expect(errorOf(() => readInputs(getter({ mode: 'verify', enforce: 'no' }))).input).toBe(
      'enforce',
    )
  })

  it('wants a custom attestation whole: a URI predicate-type and a predicate path', () => {
    const both = ofMode(
      readInputs(
        getter({ images: 'x', 'predicate-type': 'https://example.com/p/v1', predicate: 'p.json' }),
      ),
      'sign',
    )
    expect([both.predicateType, both.predicatePath]).toEqual(['https://example.com/p/v1', 'p.json'])
    expect(errorOf(() => readInputs(getter({ images: 'x', predicate: 'p.json' }))).input).toBe(
      'predicate-type',
    )
    expect(
      errorOf(() =>
        readInputs(getter({ images: 'x', predicate: 'p.json', 'predicate-type': '  ' })),
      ).input,
    ).toBe('predicate-type')
    expect(
      errorOf(() => readInputs(getter({ images: 'x', 'predicate-type': 'https://e.com/p' }))).input,
    ).toBe('predicate')
    expect(
      errorOf(() =>
        readInputs(getter({ images: 'x', predicate: 'p.json', 'predicate-type': 'vuln' })),
      ).message,
    ).toMatch(/must be a URI/)
    const flags = ofMode(
      readInputs(getter({ images: 'x', provenance: 'true', 'github-attestations': 'true' })),
      'sign',
    )
    expect([flags.provenance, flags.githubAttestations]).toEqual([true, true])
  })

  it('issue 10.6: gives each mode its own inputs, and the common ones to both', () => {
    const sign = readInputs(getter({ images: 'x' }))
    expect(sign.mode).toBe('sign')
    expect(Object.keys(sign)).toEqual(
      expect.arrayContaining(['images', 'tlog', 'signatureFormat', 'fulcioURL', 'provenance']),
    )
    for (const verifyOnly of ['policy', 'dockerfiles', 'enforce', 'certificateGithubWorkflow'])
      expect(sign).not.toHaveProperty(verifyOnly)
    const verify = readInputs(getter({ mode: 'verify', images: 'x' }))
    expect(Object.keys(verify)).toEqual(
      expect.arrayContaining(['images', 'tlog', 'dockerfiles', 'enforce', 'requireAttestations']),
    )
    for (const signOnly of ['key', 'signatureFormat', 'fulcioURL', 'annotations', 'provenance'])
      expect(verify).not.toHaveProperty(signOnly)
  })

  it('issue 10.6: still refuses a bad value of an input with a default in the other mode', () => {
    // action.yml gives these defaults, so they always arrive set and cannot be refused as the
    // other mode's: a bad value fails either mode, as it did before the inputs were split.
    const format = errorOf(() =>
      readInputs(getter({ mode: 'verify', 'signature-format': 'sigstore' })),
    )
    expect(format.input).toBe('signature-format')
    expect(errorOf(() => readInputs(getter({ images: 'x', enforce: 'no' }))).input).toBe('enforce')
  })

  it('reads the inputs of the mode it is given, and refuses a mode input that says otherwise', () => {
    expect(readInputs(getter({ images: 'x' }), 'verify').mode).toBe('verify')
    expect(readInputs(getter({ mode: 'sign', images: 'x' }), 'sign').mode).toBe('sign')
    const err = errorOf(() => readInputs(getter({ mode: 'sign', images: 'x' }), 'verify'))
    expect([err.input, err.message]).toEqual(['mode', 'input mode must be verify here, not "sign"'])
  })

  it('wants registry username and password together', () => {
    expect(errorOf(() => readInputs(getter({ images: 'x', 'registry-username': 'u' }))).input).toBe(
      'registry-password',
    )
  })

  it('parses lists and key=value pairs', () => {
    expect(parseList('a, b\n\nc,')).toEqual(['a', 'b', 'c'])
    expect(parseKeyValues('team=core\nurl=https://x/y?a=b', 'annotations')).toEqual({
      team: 'core',
      url: 'https://x/y?a=b',
    })
  })

  it('lists secrets to mask, line by line for a PEM key', () => {
    const pem =
      '-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabcdefghijklmnop\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----'
    const secrets = secretValues(
      getter({ key: pem, 'key-password': 'hunter22', 'github-token': 'ghs_x' }),
    )
    expect(secrets).toEqual(expect.arrayContaining(['hunter22', 'ghs_x', pem, 'abcdefghijklmnop']))
    expect(secretValues(getter({ key: './cosign.key' }))).toEqual([])
  })
})

describe('requested images', () => {
  // issue 9.2 changed this: a tagged name took no digest and was resolved; it now takes `digest`.
  it('uses digests as written, gives bare and tagged names the digest input, keeps tags without it', () => {
    const images = requestedImages({
      images: [`ghcr.io/acme/app@${DIGEST}`, 'ghcr.io/acme/other', 'localhost:5000/x:v1'],
      digest: DIGEST,
    })
    expect(images.map((i) => [i.registry, i.repository, i.digest, i.tag])).toEqual([
      ['ghcr.io', 'acme/app', DIGEST, undefined],
      ['ghcr.io', 'acme/other', DIGEST, undefined],
      ['localhost:5000', 'x', DIGEST, undefined],
    ])
    const [tagged] = requestedImages({ images: ['localhost:5000/x:v1'] }, {})
    expect([tagged.tag, tagged.digest]).toEqual(['v1', undefined])
  })

  it('refuses a bare name without a digest, a malformed digest and no images at all', () => {
    expect(errorOf(() => requestedImages({ images: ['ghcr.io/acme/app'] })).code).toBe(
      'IMAGE_REFERENCE_INVALID',
    )
    const bad = errorOf(() => requestedImages({ images: ['ghcr.io/acme/app@sha256:abc'] }))
    expect(bad.code).toBe('DIGEST_INVALID')
    expect(bad.input).toBe('images')
    expect(errorOf(() => requestedImages({ images: ['x'], digest: 'sha256:zz' })).input).toBe(
      'digest',
    )
    const none = errorOf(() => requestedImages({ images: [] }, {}))
    expect(none.code).toBe('NO_IMAGES')
  })

  it('refuses an unparsable reference', () => {
    const err = errorOf(() => requestedImages({ images: ['Ghcr.io/ACME/App:!!'] }))
    expect(err.code).toBe('IMAGE_REFERENCE_INVALID')
    expect(err.input).toBe('images')
  })
})

describe('build metadata', () => {
  it('reads docker/build-push-action metadata (comma-separated names, one digest)', () => {
    const images = parseBuildMetadata(
      JSON.stringify({
        'buildx.build.ref': 'builder/builder0/abc',
        'containerimage.digest': DIGEST,
        'image.name': 'ghcr.io/acme/app:sha-1,ghcr.io/acme/app:latest,docker.io/acme/app:latest',
      }),
    )
    expect(images.map((i) => `${i.name}@${i.digest}`)).toEqual([
      `ghcr.io/acme/app@${DIGEST}`,
      `ghcr.io/acme/app@${DIGEST}`,
      `index.docker.io/acme/app@${DIGEST}`,
    ])
  })

  it('reads docker/bake-action metadata keyed by target', () => {
    const other = `sha256:${'2e'.repeat(32)}`
    const images = parseBuildMetadata(
      JSON.stringify({
        api: { 'containerimage.digest': DIGEST, 'image.name': 'ghcr.io/acme/api:1' },
        web: { 'containerimage.digest': other, 'image.name': 'ghcr.io/acme/web:1' },
      }),
    )
    expect(images.map((i) => `${i.repository}@${i.digest}`)).toEqual([
      `acme/api@${DIGEST}`,
      `acme/web@${other}`,
    ])
  })

  it.each([
    ['not json {', /not JSON/],
    ['[]', /must be a JSON object/],
    ['{}', /names no image/],
    [
      JSON.stringify({ 'image.name': 'ghcr.io/acme/app:1' }),
      /no containerimage.digest.*push: true/,
    ],
  ])('refuses %s', (text, message) => {
    const err = errorOf(() => parseBuildMetadata(text))
    expect(err.code).toBe('METADATA_INVALID')
    expect(err.input).toBe('metadata')
    expect(err.message).toMatch(message)
  })
})

describe('build-args and build-contexts (as docker/build-push-action takes them)', () => {
  it('keeps everything after the first = of a build arg, commas included', () => {
    expect(
      parseNameValues('BASE=ghcr.io/acme/base:1\nLIST=a,b=c\n\nEMPTY=', 'build-args', false),
    ).toEqual({
      BASE: 'ghcr.io/acme/base:1',
      LIST: 'a,b=c',
      EMPTY: '',
    })
  })

  it('reads contexts one per line or comma-separated; the last of a name wins', () => {
    expect(
      parseNameValues(
        'alpine=docker-image://alpine@sha256:aa, src=./src\nalpine=./local',
        'build-contexts',
        true,
      ),
    ).toEqual({ alpine: './local', src: './src' })
  })

  it.each(['=value', 'NOVALUE', 'TWO WORDS=x'])('refuses %s naming the input', (entry) => {
    const err = errorOf(() => parseNameValues(entry, 'build-args', false))
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.input).toBe('build-args')
  })

  it('reads them, the GitHub claims and policy-ref in verify mode only', () => {
    const inputs = ofMode(
      readInputs(
        getter({
          mode: 'verify',
          'build-args': 'X=1',
          'build-contexts': 'base=docker-image://ghcr.io/acme/base:1',
          'certificate-github-workflow-repository': 'acme/app',
          'policy-ref': 'abc',
        }),
      ),
      'verify',
    )
    expect(inputs.buildArgs).toEqual({ X: '1' })
    expect(inputs.buildContexts).toEqual({ base: 'docker-image://ghcr.io/acme/base:1' })
    expect(inputs.certificateGithubWorkflow.repository).toBe('acme/app')
    expect(inputs.policyRef).toBe('abc')
    const err = errorOf(() => readInputs(getter({ 'build-args': 'X=1' })))
    expect(err.input).toBe('build-args')
  })
})
