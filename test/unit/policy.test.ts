/**
 * The verify-mode policy module: parsing a realistic policy file, glob and first-match semantics,
 * whole-value identity matching, and an error (with its line) for every way a policy can be wrong.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isSignetError } from '../../src/errors'
import {
  PolicyError,
  globToRegExp,
  matchesIdentity,
  parsePolicy,
  policyFromInputs,
  resolvePredicateType,
  ruleFor,
  type KeylessSigner,
  type Policy,
} from '../../src/policy/policy'

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com'
const RELEASE_SAN = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3'

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString()
const indent = (text: string, spaces: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(spaces) + l)
    .join('\n')

let dir: string
let keyPath: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signet-policy-'))
  keyPath = join(dir, 'docker-official.pub')
  writeFileSync(keyPath, PUBLIC_PEM)
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function realisticPolicy(): string {
  return `# .github/image-policy.yml
unmatched: fail
rules:
  - name: our images
    images: ghcr.io/acme/**
    signers:
      - identityRegexp: https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/tags/v.*
        issuer: ${GITHUB_ISSUER}
      - identity: https://github.com/acme/platform/.github/workflows/publish-image.yml@refs/tags/v1
        issuer: ${GITHUB_ISSUER}
    attestations:
      - slsaprovenance
      - type: cyclonedx
        bannedComponents: [log4j-core, event-stream]
  - name: distroless
    images:
      - gcr.io/distroless/*
    signers:
      - identityRegexp: keyless@distroless\\.iam\\.gserviceaccount\\.com
        issuerRegexp: https://accounts\\.google\\.com
  - name: Docker Hub official images
    images: [node, python, docker.io/library/golang]
    signers:
      - publicKey: ${keyPath}
      - publicKey: |
${indent(PUBLIC_PEM, 10)}
`
}

/** The PolicyError parsePolicy throws for `text`. */
function policyError(text: string): PolicyError {
  try {
    parsePolicy(text, 'policy.yml')
  } catch (err) {
    if (err instanceof PolicyError) return err
    throw err
  }
  throw new Error('expected parsePolicy to throw')
}

function keyless(policy: Policy, rule: number, signer = 0): KeylessSigner {
  const s = policy.rules[rule].signers[signer]
  if (s.kind !== 'keyless') throw new Error('not keyless')
  return s
}

describe('a realistic policy file', () => {
  let policy: Policy
  beforeAll(() => {
    policy = parsePolicy(realisticPolicy(), '.github/image-policy.yml')
  })

  it('parses every rule in order', () => {
    expect(policy.unmatched).toBe('fail')
    expect(policy.rules.map((r) => r.name)).toEqual([
      'our images',
      'distroless',
      'Docker Hub official images',
    ])
    expect(policy.rules[0].source).toBe('.github/image-policy.yml:4')
    expect(policy.rules[2].images).toEqual(['node', 'python', 'docker.io/library/golang'])
  })

  it('maps images to their rule', () => {
    expect(ruleFor(policy, `ghcr.io/acme/app@sha256:${'a'.repeat(64)}`)?.name).toBe('our images')
    expect(ruleFor(policy, 'ghcr.io/acme/team/tool:v1')?.name).toBe('our images')
    expect(ruleFor(policy, 'gcr.io/distroless/static-debian12:nonroot')?.name).toBe('distroless')
    expect(ruleFor(policy, 'gcr.io/distroless/nested/static')).toBeUndefined()
    expect(ruleFor(policy, 'node:20')?.name).toBe('Docker Hub official images')
    expect(ruleFor(policy, 'docker.io/library/python:3.12-slim')?.name).toBe(
      'Docker Hub official images',
    )
    expect(ruleFor(policy, 'index.docker.io/library/golang')?.name).toBe(
      'Docker Hub official images',
    )
    expect(ruleFor(policy, 'golang:1.23')?.name).toBe('Docker Hub official images')
    expect(ruleFor(policy, 'evil/node')).toBeUndefined()
    expect(ruleFor(policy, 'ghcr.io/acmecorp/app')).toBeUndefined()
    expect(ruleFor(policy, 'ghcr.io/evil/acme/app')).toBeUndefined()
  })

  it('reads keyless signers, anchored', () => {
    const release = keyless(policy, 0, 0)
    expect(release.identity.kind).toBe('regexp')
    expect(matchesIdentity(release, RELEASE_SAN, GITHUB_ISSUER)).toEqual({ ok: true })
    // cosign's unanchored search would accept the release identity embedded in another value;
    // a branch build does not match the tag-only regexp either.
    expect(
      matchesIdentity(release, `https://evil.example/?x=${RELEASE_SAN}`, GITHUB_ISSUER).ok,
    ).toBe(false)
    expect(
      matchesIdentity(
        release,
        'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
        GITHUB_ISSUER,
      ).ok,
    ).toBe(false)
    // The reusable-workflow identity, exact.
    const platform = keyless(policy, 0, 1)
    expect(platform.identity).toEqual({
      kind: 'exact',
      value: 'https://github.com/acme/platform/.github/workflows/publish-image.yml@refs/tags/v1',
    })
    const distroless = keyless(policy, 1)
    expect(
      matchesIdentity(
        distroless,
        'keyless@distroless.iam.gserviceaccount.com',
        'https://accounts.google.com',
      ),
    ).toEqual({ ok: true })
    expect(
      matchesIdentity(
        distroless,
        'keyless@distroless.iam.gserviceaccount.com.evil.com',
        'https://accounts.google.com',
      ).ok,
    ).toBe(false)
  })

  it('reads attestations, short names resolved', () => {
    expect(policy.rules[0].attestations).toEqual([
      {
        type: 'slsaprovenance',
        predicateTypes: ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2'],
        bannedComponents: [],
      },
      {
        type: 'cyclonedx',
        predicateTypes: ['https://cyclonedx.org/bom'],
        bannedComponents: ['log4j-core', 'event-stream'],
      },
    ])
    expect(policy.rules[1].attestations).toEqual([])
  })

  it('loads public keys from a path and from inline PEM', () => {
    const [fromPath, inline] = policy.rules[2].signers
    expect(fromPath.kind).toBe('key')
    expect(inline.kind).toBe('key')
    if (fromPath.kind !== 'key' || inline.kind !== 'key') return
    expect(fromPath.source).toBe(keyPath)
    expect(inline.source).toBe('inline PEM')
    expect(fromPath.publicKey.equals(publicKey)).toBe(true)
    expect(inline.publicKey.equals(publicKey)).toBe(true)
  })
})

describe('globToRegExp', () => {
  it.each([
    ['ghcr.io/acme/*', 'ghcr.io/acme/app', true],
    ['ghcr.io/acme/*', 'ghcr.io/acme/team/app', false],
    ['ghcr.io/acme/**', 'ghcr.io/acme/team/app', true],
    ['ghcr.io/acme/**', 'ghcr.io/acme', false],
    ['ghcr.io/acme/**', 'ghcr.io/acmecorp/app', false],
    ['ghcr.io/**/app', 'ghcr.io/app', true],
    ['ghcr.io/**/app', 'ghcr.io/a/b/app', true],
    ['ghcr.io/**/app', 'ghcr.io/a/b/myapp', false],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app-web', true],
    ['ghcr.io/acme/app-*', 'ghcr.io/acme/app-web/x', false],
    ['ghcr.io/acme/ap?', 'ghcr.io/acme/api', true],
    ['ghcr.io/acme/ap?', 'ghcr.io/acme/ap/', false],
    ['*.pkg.dev/acme/**', 'europe-docker.pkg.dev/acme/repo/app', true],
    ['ghcr.io/acme/app', 'ghcrXio/acme/app', false],
    ['ghcr.io/acme/app', 'ghcr.io/acme/app2', false],
    ['**', 'anything/at/all', true],
  ])('%s vs %s → %s', (glob, name, expected) => {
    expect(globToRegExp(glob).test(name)).toBe(expected)
  })
})

describe('image patterns and rule order', () => {
  const rule = (images: string, identity: string): string => `  - images: ${images}
    signers:
      - identity: ${identity}
        issuer: ${GITHUB_ISSUER}
`
  it('first matching rule wins', () => {
    const policy = parsePolicy(
      `rules:\n${rule('ghcr.io/acme/special', 'first')}${rule('ghcr.io/acme/**', 'second')}${rule("'**'", 'catch-all')}`,
      'p.yml',
    )
    const identityOf = (image: string) => {
      const s = ruleFor(policy, image)?.signers[0]
      return s?.kind === 'keyless' && s.identity.kind === 'exact' ? s.identity.value : undefined
    }
    expect(identityOf('ghcr.io/acme/special:v1')).toBe('first')
    expect(identityOf('ghcr.io/acme/other')).toBe('second')
    expect(identityOf('quay.io/x/y')).toBe('catch-all')
    expect(identityOf('alpine')).toBe('catch-all')
  })

  it('normalises Docker Hub patterns the way image names are normalised', () => {
    const policy = parsePolicy(
      `rules:\n${rule("['*']", 'official')}${rule('docker.io/bitnami/*', 'bitnami')}${rule("'*/app'", 'any-app')}${rule('localhost:5000/**', 'local')}`,
      'p.yml',
    )
    const idx = (image: string) => {
      const r = ruleFor(policy, image)
      return r ? policy.rules.indexOf(r) : -1
    }
    expect(idx('alpine:3')).toBe(0)
    expect(idx('docker.io/library/alpine')).toBe(0)
    expect(idx('bitnami/redis')).toBe(1)
    expect(idx('ghcr.io/app')).toBe(2)
    expect(idx('localhost:5000/a/b')).toBe(3)
    expect(idx('quay.io/org/app')).toBe(-1)
  })

  it('unmatched: fail is the default; skip is kept', () => {
    expect(parsePolicy(`rules:\n${rule('x', 'y')}`, 'p.yml').unmatched).toBe('fail')
    expect(parsePolicy(`unmatched: skip\nrules:\n${rule('x', 'y')}`, 'p.yml').unmatched).toBe(
      'skip',
    )
  })
})

describe('policy errors name the file and line', () => {
  const signer = `    signers:\n      - identity: x\n        issuer: ${GITHUB_ISSUER}\n`
  it.each<[string, string, number, RegExp]>([
    ['invalid YAML', 'rules:\n  - images: [a\n', 3, /invalid YAML/],
    [
      'a duplicate key',
      `rules:\n  - images: a\n    images: b\n${signer}`,
      3,
      /invalid YAML.*unique/i,
    ],
    [
      'an unknown top-level key',
      `rules:\n  - images: a\n${signer}unmatch: skip\n`,
      6,
      /unknown key "unmatch"/,
    ],
    [
      'an unknown rule key',
      `rules:\n  - images: a\n    image: b\n${signer}`,
      3,
      /unknown key "image" in a rule/,
    ],
    [
      'an unknown signer key',
      'rules:\n  - images: a\n    signers:\n      - identity: x\n        issuer: y\n        subject: z\n',
      6,
      /unknown key "subject" in a signer/,
    ],
    [
      'an unknown attestation key',
      `rules:\n  - images: a\n${signer}    attestations:\n      - type: spdx\n        bannedComponent: [x]\n`,
      8,
      /unknown key "bannedComponent"/,
    ],
    ['a rule without signers', 'rules:\n  - images: a\n', 2, /needs signers/],
    [
      'an empty signers list',
      'rules:\n  - images: a\n    signers: []\n',
      3,
      /signers is an empty list/,
    ],
    ['a rule without images', `rules:\n  - name: x\n${signer}`, 2, /needs images/],
    ['an empty rules list', 'rules: []\n', 1, /rules is an empty list/],
    ['no rules', 'unmatched: skip\n', 1, /needs rules/],
    ['an empty file', '# nothing\n', 1, /empty/],
    [
      'a bad unmatched',
      `unmatched: allow\nrules:\n  - images: a\n${signer}`,
      1,
      /"fail" or "skip"/,
    ],
    [
      'identity without issuer',
      'rules:\n  - images: a\n    signers:\n      - identity: x\n',
      4,
      /needs issuer or issuerRegexp/,
    ],
    [
      'issuer without identity',
      'rules:\n  - images: a\n    signers:\n      - issuer: x\n',
      4,
      /needs identity or identityRegexp/,
    ],
    [
      'both identity and identityRegexp',
      'rules:\n  - images: a\n    signers:\n      - identity: x\n        identityRegexp: y\n        issuer: z\n',
      5,
      /both identity and identityRegexp/,
    ],
    [
      'a regexp that does not compile',
      'rules:\n  - images: a\n    signers:\n      - identityRegexp: "https://github.com/(acme"\n        issuer: z\n',
      4,
      /identityRegexp: invalid regular expression/,
    ],
    [
      'a regexp that would escape its anchors',
      'rules:\n  - images: a\n    signers:\n      - identity: x\n        issuerRegexp: "a)|(.*"\n',
      5,
      /issuerRegexp: invalid regular expression/,
    ],
    [
      'publicKey mixed with identity',
      'rules:\n  - images: a\n    signers:\n      - publicKey: k.pub\n        identity: x\n',
      5,
      /either a publicKey or a keyless identity/,
    ],
    [
      'a non-string identity',
      'rules:\n  - images: a\n    signers:\n      - identity: 42\n        issuer: y\n',
      4,
      /identity must be a string/,
    ],
    ['a pattern with a tag', `rules:\n  - images: [a, 'node:20']\n${signer}`, 2, /drop the tag/],
    [
      'a pattern with a digest',
      `rules:\n  - images:\n      - a@sha256:x\n${signer}`,
      3,
      /drop the digest/,
    ],
    ['an uppercase pattern', `rules:\n  - images: ghcr.io/Acme/*\n${signer}`, 2, /lowercase/],
    [
      'an unknown predicate type',
      `rules:\n  - images: a\n${signer}    attestations:\n      - cyclone\n`,
      7,
      /unknown predicate type "cyclone"/,
    ],
    [
      'bannedComponents on a non-SBOM type',
      `rules:\n  - images: a\n${signer}    attestations:\n      - type: slsaprovenance\n        bannedComponents: [x]\n`,
      8,
      /bannedComponents applies to SBOM attestations/,
    ],
    [
      'attestations not a list',
      `rules:\n  - images: a\n${signer}    attestations: spdx\n`,
      6,
      /must be a list/,
    ],
    ['an alias', `rules:\n  - images: &x a\n    name: *x\n${signer}`, 3, /aliases/],
  ])('%s', (_what, text, line, message) => {
    const err = policyError(text)
    expect(err.code).toBe('POLICY_INVALID')
    expect(err.input).toBe('policy')
    expect(err.file).toBe('policy.yml')
    expect(err.line).toBe(line)
    expect(err.message).toMatch(new RegExp(`^policy: policy\\.yml:${line}: `))
    expect(err.message).toMatch(message)
  })

  it('a publicKey that is not a public key', () => {
    const notKey = join(dir, 'not-a-key.pub')
    writeFileSync(notKey, 'hello\n')
    const err = policyError(
      `rules:\n  - images: a\n    signers:\n      - identity: x\n        issuer: y\n      - publicKey: ${notKey}\n`,
    )
    expect(err.code).toBe('KEY_INVALID')
    expect(err.input).toBe('policy')
    expect(err.line).toBe(6)
    expect(err.message).toMatch(/^policy: policy\.yml:6: publicKey: .*PUBLIC KEY/)
  })

  it('a publicKey path that does not exist', () => {
    const err = policyError(
      `rules:\n  - images: a\n    signers:\n      - publicKey: ${join(dir, 'missing.pub')}\n`,
    )
    expect(err.code).toBe('KEY_INVALID')
    expect(err.line).toBe(4)
  })
})

describe('matchesIdentity', () => {
  const signer = (identity: string, regexp = false): KeylessSigner => {
    const p = parsePolicy(
      `rules:\n  - images: a\n    signers:\n      - ${regexp ? 'identityRegexp' : 'identity'}: '${identity}'\n        issuer: ${GITHUB_ISSUER}\n`,
      'p.yml',
    )
    return keyless(p, 0)
  }

  it('compares exact identities and issuers as whole strings', () => {
    const s = signer(RELEASE_SAN)
    expect(matchesIdentity(s, RELEASE_SAN, GITHUB_ISSUER)).toEqual({ ok: true })
    expect(matchesIdentity(s, `${RELEASE_SAN}x`, GITHUB_ISSUER)).toEqual({
      ok: false,
      reason: `expected identity "${RELEASE_SAN}", got "${RELEASE_SAN}x"`,
    })
    expect(matchesIdentity(s, RELEASE_SAN, `${GITHUB_ISSUER}/acme`)).toEqual({
      ok: false,
      reason: `expected issuer "${GITHUB_ISSUER}", got "${GITHUB_ISSUER}/acme"`,
    })
    const both = matchesIdentity(s, 'a', 'b')
    expect(both.ok).toBe(false)
    if (!both.ok) expect(both.reason).toMatch(/expected identity .*; expected issuer /)
  })

  it('anchors regexps: the whole value must match', () => {
    const s = signer('acme/app', true)
    expect(matchesIdentity(s, 'acme/app', GITHUB_ISSUER).ok).toBe(true)
    // cosign's unanchored MatchString would accept all of these.
    for (const san of ['evil/acme/app', 'acme/app/evil', 'https://github.com/evil/acme/app']) {
      const result = matchesIdentity(s, san, GITHUB_ISSUER)
      expect(result).toEqual({
        ok: false,
        reason: `expected identity matching the regular expression "acme/app" (whole value), got "${san}"`,
      })
    }
  })

  it('a regexp allows only what a whole match allows', () => {
    const s = signer('https://github\\.com/acme/.*', true)
    expect(matchesIdentity(s, RELEASE_SAN, GITHUB_ISSUER).ok).toBe(true)
    // `.*` itself admits anything after the prefix - that is the user's regexp, not a bypass:
    expect(matchesIdentity(s, 'https://github.com/acme/x@evil.com', GITHUB_ISSUER).ok).toBe(true)
    // but nothing before it, and not a look-alike host.
    expect(
      matchesIdentity(s, 'mailto:x@evil.com?https://github.com/acme/x', GITHUB_ISSUER).ok,
    ).toBe(false)
    expect(matchesIdentity(s, 'https://github.com.evil.com/acme/x', GITHUB_ISSUER).ok).toBe(false)
    expect(matchesIdentity(s, 'https://githubXcom/acme/x', GITHUB_ISSUER).ok).toBe(false)
  })

  it('alternation stays anchored', () => {
    const s = signer('a|b', true)
    expect(matchesIdentity(s, 'a', GITHUB_ISSUER).ok).toBe(true)
    expect(matchesIdentity(s, 'xa', GITHUB_ISSUER).ok).toBe(false)
    expect(matchesIdentity(s, 'bx', GITHUB_ISSUER).ok).toBe(false)
  })
})

describe('resolvePredicateType', () => {
  it.each([
    ['cyclonedx', ['https://cyclonedx.org/bom']],
    ['CycloneDX', ['https://cyclonedx.org/bom']],
    [
      'spdx',
      [
        'https://spdx.dev/Document',
        'https://spdx.dev/Document/v2.2',
        'https://spdx.dev/Document/v2.3',
      ],
    ],
    [
      'spdxjson',
      [
        'https://spdx.dev/Document',
        'https://spdx.dev/Document/v2.2',
        'https://spdx.dev/Document/v2.3',
      ],
    ],
    ['slsaprovenance', ['https://slsa.dev/provenance/v1', 'https://slsa.dev/provenance/v0.2']],
    ['slsaprovenance1', ['https://slsa.dev/provenance/v1']],
    ['slsaprovenance02', ['https://slsa.dev/provenance/v0.2']],
    ['vuln', ['https://cosign.sigstore.dev/attestation/vuln/v1']],
    ['openvex', ['https://openvex.dev/ns']],
    ['https://example.com/custom/v1', ['https://example.com/custom/v1']],
    ['https://spdx.dev/Document/v2.3', ['https://spdx.dev/Document/v2.3']],
  ])('%s', (name, expected) => {
    expect(resolvePredicateType(name)).toEqual(expected)
  })

  it('rejects an unknown name, naming the input', () => {
    expect(() => resolvePredicateType('sbom')).toThrow(
      expect.objectContaining({ code: 'INPUT_INVALID', input: 'require-attestations' }),
    )
  })
})

describe('policyFromInputs', () => {
  it('is undefined when no identity, key or attestation input is set', () => {
    expect(policyFromInputs({})).toBeUndefined()
    expect(
      policyFromInputs({ certificateIdentity: '  ', requireAttestations: [''] }),
    ).toBeUndefined()
  })

  it('makes one rule for every image from the identity inputs', () => {
    const policy = policyFromInputs({
      certificateIdentity: RELEASE_SAN,
      certificateOidcIssuer: GITHUB_ISSUER,
      requireAttestations: ['spdx', 'slsaprovenance'],
    })!
    expect(policy.unmatched).toBe('fail')
    expect(policy.rules).toHaveLength(1)
    for (const image of ['alpine', 'ghcr.io/acme/app@sha256:' + 'b'.repeat(64), 'quay.io/a/b/c']) {
      expect(ruleFor(policy, image)).toBe(policy.rules[0])
    }
    const [rule] = policy.rules
    expect(rule.signers).toEqual([
      {
        kind: 'keyless',
        identity: { kind: 'exact', value: RELEASE_SAN },
        issuer: { kind: 'exact', value: GITHUB_ISSUER },
      },
    ])
    expect(rule.attestations.map((a) => a.predicateTypes[0])).toEqual([
      'https://spdx.dev/Document',
      'https://slsa.dev/provenance/v1',
    ])
  })

  it('anchors the regexp inputs', () => {
    const policy = policyFromInputs({
      certificateIdentityRegexp: 'acme/app',
      certificateOidcIssuerRegexp: 'https://token\\.actions\\.githubusercontent\\.com(/[a-z-]+)?',
    })!
    const s = policy.rules[0].signers[0] as KeylessSigner
    expect(matchesIdentity(s, 'acme/app', GITHUB_ISSUER).ok).toBe(true)
    expect(matchesIdentity(s, 'acme/app', `${GITHUB_ISSUER}/acme-corp`).ok).toBe(true)
    expect(matchesIdentity(s, 'evil/acme/app', GITHUB_ISSUER).ok).toBe(false)
    expect(matchesIdentity(s, 'acme/app', `${GITHUB_ISSUER}.evil.com`).ok).toBe(false)
  })

  it('takes a public key, alone or alongside an identity (either passes)', () => {
    const byKey = policyFromInputs({ publicKey: keyPath })!
    expect(byKey.rules[0].signers).toHaveLength(1)
    expect(byKey.rules[0].signers[0]).toMatchObject({ kind: 'key', source: keyPath })
    const both = policyFromInputs({
      publicKey: PUBLIC_PEM,
      certificateIdentity: 'x',
      certificateOidcIssuer: 'y',
    })!
    expect(both.rules[0].signers.map((s) => s.kind)).toEqual(['keyless', 'key'])
  })

  it.each<[string, Parameters<typeof policyFromInputs>[0], string, RegExp]>([
    [
      'identity without issuer',
      { certificateIdentity: 'x' },
      'certificate-oidc-issuer',
      /required/,
    ],
    [
      'regexp identity without issuer',
      { certificateIdentityRegexp: 'x' },
      'certificate-oidc-issuer',
      /required/,
    ],
    ['issuer without identity', { certificateOidcIssuer: 'x' }, 'certificate-identity', /required/],
    [
      'exact and regexp identity',
      { certificateIdentity: 'x', certificateIdentityRegexp: 'y', certificateOidcIssuer: 'z' },
      'certificate-identity-regexp',
      /not both/,
    ],
    [
      'exact and regexp issuer',
      { certificateIdentity: 'x', certificateOidcIssuer: 'y', certificateOidcIssuerRegexp: 'z' },
      'certificate-oidc-issuer-regexp',
      /not both/,
    ],
    [
      'a regexp that does not compile',
      { certificateIdentityRegexp: '(x', certificateOidcIssuer: 'y' },
      'certificate-identity-regexp',
      /invalid regular expression/,
    ],
    [
      'a regexp that would escape its anchors',
      { certificateIdentity: 'x', certificateOidcIssuerRegexp: 'a)|(.*' },
      'certificate-oidc-issuer-regexp',
      /invalid regular expression/,
    ],
    [
      'attestations without a signer',
      { requireAttestations: ['spdx'] },
      'require-attestations',
      /needs a signer/,
    ],
    [
      'an unknown attestation',
      { publicKey: PUBLIC_PEM, requireAttestations: ['sbom'] },
      'require-attestations',
      /unknown predicate type "sbom"/,
    ],
    [
      'a public key that is not one',
      { publicKey: 'not a key at all' },
      'public-key',
      /public-key: /,
    ],
  ])('%s', (_what, inputs, input, message) => {
    let caught: unknown
    try {
      policyFromInputs(inputs)
    } catch (err) {
      caught = err
    }
    expect(isSignetError(caught)).toBe(true)
    if (!isSignetError(caught)) return
    expect(caught.input).toBe(input)
    expect(caught.message).toMatch(new RegExp(`^${input}: `))
    expect(caught.message).toMatch(message)
  })
})
