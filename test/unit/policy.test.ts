/**
 * The verify-mode policy module: parsing a realistic policy file, glob and first-match semantics,
 * whole-value identity matching, and an error (with its line) for every way a policy can be wrong.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { isSignetError, SignetError } from '../../src/errors'
import {
  PolicyError,
  extensionMismatch,
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

/**
 * What verify mode passes: a reader of key files relative to a workspace (here the temporary
 * folder). The policy reads no files of its own.
 */
const workspace = {
  readFile: (path: string): string => readFileSync(resolve(dir, path), 'utf8'),
}

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
    parsePolicy(text, 'policy.yml', workspace)
  } catch (err) {
    if (err instanceof PolicyError) return err
    throw err
  }
  throw new Error('expected parsePolicy to throw')
}

/** The PolicyError `parse` throws. */
function policyErrorOf(parse: () => unknown): PolicyError {
  try {
    parse()
  } catch (err) {
    if (err instanceof PolicyError) return err
    throw err
  }
  throw new Error('expected a PolicyError')
}

function keyless(policy: Policy, rule: number, signer = 0): KeylessSigner {
  const s = policy.rules[rule].signers[signer]
  if (s.kind !== 'keyless') throw new Error('not keyless')
  return s
}

describe('a realistic policy file', () => {
  let policy: Policy
  beforeAll(() => {
    policy = parsePolicy(realisticPolicy(), '.github/image-policy.yml', workspace)
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
    const byKey = policyFromInputs({ publicKey: keyPath }, workspace)!
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

// -------------------------------------------------------------------------------------------------
// issue 8.10: a reusable workflow gives every caller the same identity; the caller is pinned by the
// Fulcio extensions Fulcio writes from the token's claims.

const EXT = (n: number): string => `1.3.6.1.4.1.57264.1.${n}`
const without = (extensions: Record<string, string>, oid: string): Record<string, string> =>
  Object.fromEntries(Object.entries(extensions).filter(([k]) => k !== oid))
const PLATFORM_SAN = 'https://github.com/acme/platform/.github/workflows/build.yml@refs/heads/main'
/** What Fulcio writes for acme/app calling acme/platform's reusable workflow on a push to main. */
const CALLER_EXTENSIONS: Record<string, string> = {
  [EXT(2)]: 'push',
  [EXT(3)]: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  [EXT(4)]: 'release',
  [EXT(5)]: 'acme/app',
  [EXT(6)]: 'refs/heads/main',
  [EXT(9)]: PLATFORM_SAN,
  [EXT(11)]: 'github-hosted',
  [EXT(12)]: 'https://github.com/acme/app',
  [EXT(13)]: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
  [EXT(14)]: 'refs/heads/main',
  [EXT(15)]: '700000001',
  [EXT(16)]: 'https://github.com/acme',
  [EXT(17)]: '700000002',
  [EXT(20)]: 'push',
}
/** The same reusable workflow, called from evil/app (a fork, or any repository at all). */
const EVIL_EXTENSIONS: Record<string, string> = {
  ...CALLER_EXTENSIONS,
  [EXT(4)]: 'pwn',
  [EXT(5)]: 'evil/app',
  [EXT(12)]: 'https://github.com/evil/app',
  [EXT(15)]: '666',
  [EXT(16)]: 'https://github.com/evil',
  [EXT(17)]: '667',
}

const signerPolicy = (lines: string): Policy =>
  parsePolicy(
    `rules:\n  - images: '**'\n    signers:\n      - identity: ${PLATFORM_SAN}\n        issuer: ${GITHUB_ISSUER}\n${indent(lines, 8)}\n`,
    'policy.yml',
  )

describe('issue 8.10: pinning the caller of a reusable workflow', () => {
  it('issue 8.10: the identity alone lets any caller of the reusable workflow through', () => {
    const open = policyFromInputs({
      certificateIdentity: PLATFORM_SAN,
      certificateOidcIssuer: GITHUB_ISSUER,
    })!
    const s = open.rules[0].signers[0] as KeylessSigner
    expect(matchesIdentity(s, PLATFORM_SAN, GITHUB_ISSUER).ok).toBe(true)
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBeUndefined()
  })

  it('issue 8.10: certificate-github-workflow-repository refuses another caller of the same identity, as cosign does', () => {
    const policy = policyFromInputs({
      certificateIdentity: PLATFORM_SAN,
      certificateOidcIssuer: GITHUB_ISSUER,
      certificateGithubWorkflow: { repository: 'acme/app' },
    })!
    const s = policy.rules[0].signers[0] as KeylessSigner
    expect(s.extensions).toEqual([
      {
        extension: 5,
        name: 'GitHub workflow repository',
        matcher: { kind: 'exact', value: 'acme/app' },
      },
    ])
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBe(
      'expected GitHub workflow repository acme/app, got evil/app',
    )
    expect(policy.rules[0].source).toBe(
      'inputs (certificate-identity, certificate-github-workflow-repository)',
    )
  })

  it('issue 8.10: each certificate-github-workflow-* input checks its deprecated GitHub extension (.2 to .6), exactly', () => {
    const claims = {
      trigger: 'push',
      sha: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      name: 'release',
      repository: 'acme/app',
      ref: 'refs/heads/main',
    }
    const pinned = (over: Partial<typeof claims>): KeylessSigner =>
      policyFromInputs({
        certificateIdentity: PLATFORM_SAN,
        certificateOidcIssuer: GITHUB_ISSUER,
        certificateGithubWorkflow: { ...claims, ...over },
      })!.rules[0].signers[0] as KeylessSigner
    expect(pinned({}).extensions?.map((e) => e.extension)).toEqual([2, 3, 4, 5, 6])
    expect(extensionMismatch(pinned({}), CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(pinned({ trigger: 'pull_request_target' }), CALLER_EXTENSIONS)).toBe(
      'expected GitHub workflow trigger pull_request_target, got push',
    )
    expect(extensionMismatch(pinned({ sha: 'f'.repeat(40) }), CALLER_EXTENSIONS)).toMatch(
      /^expected GitHub workflow sha f{40}, got a1b2c3d4/,
    )
    expect(extensionMismatch(pinned({ name: 'nightly' }), CALLER_EXTENSIONS)).toBe(
      'expected GitHub workflow name nightly, got release',
    )
    expect(extensionMismatch(pinned({ ref: 'refs/tags/v1' }), CALLER_EXTENSIONS)).toBe(
      'expected GitHub workflow ref refs/tags/v1, got refs/heads/main',
    )
    // Not the URL, not a prefix: cosign compares the raw value with the flag.
    expect(
      extensionMismatch(pinned({ repository: 'https://github.com/acme/app' }), CALLER_EXTENSIONS),
    ).toBe('expected GitHub workflow repository https://github.com/acme/app, got acme/app')
    expect(extensionMismatch(pinned({ repository: 'acme' }), CALLER_EXTENSIONS)).toBeDefined()
    // A certificate without the extension does not match.
    const withoutRepository = without(CALLER_EXTENSIONS, EXT(5))
    expect(extensionMismatch(pinned({}), withoutRepository)).toBe(
      'expected GitHub workflow repository acme/app, got (none)',
    )
  })

  it.each<[string, Parameters<typeof policyFromInputs>[0]]>([
    ['alone', { certificateGithubWorkflow: { repository: 'acme/app' } }],
    [
      'beside a public key only',
      { publicKey: PUBLIC_PEM, certificateGithubWorkflow: { ref: 'refs/heads/main' } },
    ],
  ])(
    'issue 8.10: a certificate-github-workflow-* input %s is refused: it pins a keyless signer',
    (_what, inputs) => {
      let caught: unknown
      try {
        policyFromInputs(inputs)
      } catch (err) {
        caught = err
      }
      expect(isSignetError(caught) && caught.code).toBe('INPUT_INVALID')
      if (!isSignetError(caught)) return
      expect(caught.input).toMatch(/^certificate-github-workflow-(repository|ref)$/)
      expect(caught.message).toMatch(/set certificate-identity/)
    },
  )

  it('issue 8.10: sourceRepository in the policy file refuses another caller, naming both', () => {
    const s = keyless(signerPolicy('sourceRepository: acme/app'), 0)
    expect(s.extensions).toEqual([
      {
        extension: 12,
        name: 'source repository',
        matcher: { kind: 'exact', value: 'acme/app' },
        githubPath: true,
      },
    ])
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBe(
      'expected source repository acme/app, got evil/app',
    )
  })

  it('issue 8.10: sourceRepository also takes the full URL; a URL on another host is shown whole', () => {
    const s = keyless(signerPolicy('sourceRepository: https://github.com/acme/app'), 0)
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBe(
      'expected source repository https://github.com/acme/app, got evil/app',
    )
    const ghes = { ...CALLER_EXTENSIONS, [EXT(12)]: 'https://ghes.example/acme/app' }
    expect(extensionMismatch(keyless(signerPolicy('sourceRepository: acme/app'), 0), ghes)).toBe(
      'expected source repository acme/app, got https://ghes.example/acme/app',
    )
  })

  it('issue 8.10: sourceRepositoryRegexp matches the whole owner/repo (or the whole URL)', () => {
    const s = keyless(signerPolicy('sourceRepositoryRegexp: acme/[a-z-]+'), 0)
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBe(
      'expected source repository matching the regular expression "acme/[a-z-]+" (whole value), got evil/app',
    )
    // Anchored: a repository whose name only contains acme/app is not acme/app.
    const lookalike = { ...CALLER_EXTENSIONS, [EXT(12)]: 'https://github.com/evil/acme/app' }
    expect(extensionMismatch(s, lookalike)).toBeDefined()
    const byURL = keyless(signerPolicy('sourceRepositoryRegexp: https://github\\.com/acme/.+'), 0)
    expect(extensionMismatch(byURL, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(byURL, EVIL_EXTENSIONS)).toBeDefined()
  })

  it.each<[string, string, string]>([
    ['sourceRepositoryOwner: acme', EXT(16), 'expected source repository owner acme, got evil'],
    [
      'sourceRepositoryIdentifier: "700000001"',
      EXT(15),
      'expected source repository identifier 700000001, got 666',
    ],
    [
      'sourceRepositoryOwnerIdentifier: "700000002"',
      EXT(17),
      'expected source repository owner identifier 700000002, got 667',
    ],
  ])('issue 8.10: %s refuses another caller', (line, _ext, reason) => {
    const s = keyless(signerPolicy(line), 0)
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, EVIL_EXTENSIONS)).toBe(reason)
  })

  it.each<[string, number, string, string]>([
    [
      'sourceRef: refs/heads/main',
      14,
      'refs/heads/feature',
      'expected source ref refs/heads/main, got refs/heads/feature',
    ],
    [
      'sourceRefRegexp: refs/heads/(main|release-.+)',
      14,
      'refs/heads/feature',
      'expected source ref matching the regular expression "refs/heads/(main|release-.+)" (whole value), got refs/heads/feature',
    ],
    ['trigger: push', 20, 'pull_request_target', 'expected trigger push, got pull_request_target'],
    [
      `buildSignerURI: ${PLATFORM_SAN}`,
      9,
      'https://github.com/acme/platform/.github/workflows/build.yml@refs/heads/dev',
      `expected build signer URI ${PLATFORM_SAN}, got https://github.com/acme/platform/.github/workflows/build.yml@refs/heads/dev`,
    ],
    [
      'runnerEnvironment: github-hosted',
      11,
      'self-hosted',
      'expected runner environment github-hosted, got self-hosted',
    ],
    [
      'sourceRepositoryDigest: a1b2c3d4e5f60718293a4b5c6d7e8f9012345678',
      13,
      'b'.repeat(40),
      `expected source repository digest a1b2c3d4e5f60718293a4b5c6d7e8f9012345678, got ${'b'.repeat(40)}`,
    ],
  ])('issue 8.10: %s is checked against its extension', (line, n, other, reason) => {
    const s = keyless(signerPolicy(line), 0)
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, { ...CALLER_EXTENSIONS, [EXT(n)]: other })).toBe(reason)
    expect(extensionMismatch(s, without(CALLER_EXTENSIONS, EXT(n)))).toMatch(/, got \(none\)$/)
  })

  it('issue 8.10: every pin must hold; the first that does not is the reason', () => {
    const s = keyless(
      signerPolicy('sourceRepository: acme/app\nsourceRef: refs/heads/main\ntrigger: push'),
      0,
    )
    expect(s.extensions?.map((e) => e.extension)).toEqual([12, 14, 20])
    expect(extensionMismatch(s, CALLER_EXTENSIONS)).toBeUndefined()
    expect(extensionMismatch(s, { ...CALLER_EXTENSIONS, [EXT(20)]: 'workflow_dispatch' })).toBe(
      'expected trigger push, got workflow_dispatch',
    )
  })

  it('issue 8.10: a signer without pins has no extensions field', () => {
    expect(keyless(signerPolicy(''), 0).extensions).toBeUndefined()
  })

  const signerHead = `rules:\n  - images: a\n    signers:\n      - identity: x\n        issuer: y\n`
  it.each<[string, string, number, RegExp]>([
    [
      'a misspelt pin',
      `${signerHead}        sourceRepo: acme/app\n`,
      6,
      /unknown key "sourceRepo" in a signer/,
    ],
    [
      'a cosign flag name in the file',
      `${signerHead}        githubWorkflowRepository: acme/app\n`,
      6,
      /unknown key "githubWorkflowRepository"/,
    ],
    [
      'both sourceRepository and sourceRepositoryRegexp',
      `${signerHead}        sourceRepository: acme/app\n        sourceRepositoryRegexp: acme/.*\n`,
      7,
      /both sourceRepository and sourceRepositoryRegexp/,
    ],
    [
      'a sourceRepository that is neither owner/repo nor a URL',
      `${signerHead}        sourceRepository: github.com/acme/app\n`,
      6,
      /sourceRepository "github\.com\/acme\/app": write owner\/repo/,
    ],
    [
      'a sourceRepositoryOwner with a slash',
      `${signerHead}        sourceRepositoryOwner: acme/app\n`,
      6,
      /write the owner/,
    ],
    [
      'a sourceRefRegexp that does not compile',
      `${signerHead}        sourceRefRegexp: "refs/(tags"\n`,
      6,
      /sourceRefRegexp: invalid regular expression/,
    ],
    ['an empty trigger', `${signerHead}        trigger: ""\n`, 6, /trigger is empty/],
    [
      'a pin on a key signer',
      'rules:\n  - images: a\n    signers:\n      - publicKey: k.pub\n        sourceRepository: acme/app\n',
      5,
      /either a publicKey or a keyless identity/,
    ],
    [
      'a pin without an identity',
      'rules:\n  - images: a\n    signers:\n      - sourceRepository: acme/app\n',
      4,
      /needs identity or identityRegexp/,
    ],
  ])('issue 8.10: %s is refused with its line', (_what, text, line, message) => {
    const err = policyError(text)
    expect(err.code).toBe('POLICY_INVALID')
    expect(err.line).toBe(line)
    expect(err.message).toMatch(new RegExp(`^policy: policy\\.yml:${line}: `))
    expect(err.message).toMatch(message)
  })
})

describe('public keys read through readFile', () => {
  it('parsePolicy reads a publicKey path with the readFile it is given', () => {
    const asked: string[] = []
    const policy = parsePolicy(
      'rules:\n  - images: a\n    signers:\n      - publicKey: keys/at-base.pub\n',
      'policy.yml',
      {
        readFile: (path) => {
          asked.push(path)
          return PUBLIC_PEM
        },
      },
    )
    expect(asked).toEqual(['keys/at-base.pub'])
    expect(policy.rules[0].signers[0]).toMatchObject({ kind: 'key', source: 'keys/at-base.pub' })
  })

  it('policyFromInputs reads public-key with the readFile it is given', () => {
    const asked: string[] = []
    const policy = policyFromInputs(
      { publicKey: 'cosign.pub' },
      {
        readFile: (path) => {
          asked.push(path)
          return PUBLIC_PEM
        },
      },
    )!
    expect(asked).toEqual(['cosign.pub'])
    expect(policy.rules[0].signers[0]).toMatchObject({ kind: 'key', source: 'cosign.pub' })
  })

  it('an error of readFile (a key absent at the base commit) reaches the caller with the policy line', () => {
    const absent = new SignetError(
      'INPUT_INVALID',
      'input policy: keys/new.pub does not exist at policy-ref abc123; add it on the base branch first',
      { input: 'policy' },
    )
    let caught: unknown
    try {
      parsePolicy(
        'rules:\n  - images: a\n    signers:\n      - publicKey: keys/new.pub\n',
        'policy.yml',
        {
          readFile: () => {
            throw absent
          },
        },
      )
    } catch (err) {
      caught = err
    }
    expect(caught).toBeInstanceOf(PolicyError)
    const err = caught as PolicyError
    expect(err.line).toBe(4)
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.message).toMatch(
      /^policy: policy\.yml:4: publicKey: .*does not exist at policy-ref abc123/,
    )
  })

  // A key file that exists relative to the process's working directory (where Jest runs), and
  // the same relative path under a workspace that holds a different key.
  const cwdKeyFile = join(
    __dirname,
    '../fixtures/real-world/containers-image/signature/fixtures/cosign.pub',
  )
  const relativeToCwd = relative(process.cwd(), cwdKeyFile)
  const keyRule = (path: string): string =>
    `rules:\n  - images: a\n    signers:\n      - publicKey: ${path}\n`

  it('issue 10.6: a relative publicKey path is read through the reader, relative to its workspace', () => {
    expect(relativeToCwd.startsWith('..')).toBe(false) // stays inside the temporary folder
    mkdirSync(join(dir, relativeToCwd, '..'), { recursive: true })
    writeFileSync(join(dir, relativeToCwd), PUBLIC_PEM)
    const fromFile = parsePolicy(keyRule(relativeToCwd), 'policy.yml', workspace)
    const fromInputs = policyFromInputs({ publicKey: relativeToCwd }, workspace)!
    for (const signer of [fromFile.rules[0].signers[0], fromInputs.rules[0].signers[0]]) {
      expect(signer).toMatchObject({ kind: 'key', source: relativeToCwd })
      // The workspace's key, not the one at the same path under the process's working directory.
      if (signer.kind === 'key') expect(signer.publicKey.equals(publicKey)).toBe(true)
    }
  })

  it('issue 10.6: without a reader a key path is refused, not read from the working directory', () => {
    expect(readFileSync(relativeToCwd, 'utf8')).toContain('-----BEGIN PUBLIC KEY-----')
    const err = policyErrorOf(() => parsePolicy(keyRule(relativeToCwd), 'policy.yml'))
    expect(err.code).toBe('KEY_INVALID')
    expect(err.input).toBe('policy')
    expect(err.line).toBe(4)
    expect(err.message).toMatch(/^policy: policy\.yml:4: publicKey: .*needs a file reader/)
    expect(err.message).not.toContain(relativeToCwd)

    let caught: unknown
    try {
      policyFromInputs({ publicKey: relativeToCwd })
    } catch (e) {
      caught = e
    }
    expect(isSignetError(caught)).toBe(true)
    expect(caught).toMatchObject({ code: 'KEY_INVALID', input: 'public-key' })
    expect((caught as Error).message).toMatch(/^public-key: .*needs a file reader/)
    // PEM text needs no reader.
    expect(
      parsePolicy(keyRule(JSON.stringify(PUBLIC_PEM)), 'policy.yml').rules[0].signers[0],
    ).toMatchObject({
      kind: 'key',
      source: 'inline PEM',
    })
  })
})

describe('issue 8.8: one name, one image', () => {
  const policy = parsePolicy(
    [
      'unmatched: skip',
      'rules:',
      '  - name: ghcr',
      '    images: ghcr.io/acme/*',
      '    signers: [{ publicKey: "' + PUBLIC_PEM.replace(/\n/g, '\\n') + '" }]',
      '  - name: internal',
      '    images: registry.internal/**',
      '    signers: [{ publicKey: "' + PUBLIC_PEM.replace(/\n/g, '\\n') + '" }]',
      '  - name: hub',
      '    images: registry.hub.docker.com/library/node',
      '    signers: [{ publicKey: "' + PUBLIC_PEM.replace(/\n/g, '\\n') + '" }]',
      '  - name: written with a port',
      '    images: quay.io:443/team/*',
      '    signers: [{ publicKey: "' + PUBLIC_PEM.replace(/\n/g, '\\n') + '" }]',
      '',
    ].join('\n'),
    'policy.yml',
  )

  it.each([
    ['ghcr.io:443/acme/app:1', 'ghcr'],
    ['GHCR.IO/acme/app', 'ghcr'],
    ['registry.internal:80/x/y', 'internal'],
    ['registry.internal:443/x/y', 'internal'],
    ['node:22', 'hub'],
    ['docker.io:443/library/node', 'hub'],
    ['index.docker.io/node', 'hub'],
    ['registry-1.docker.io:443/library/node', 'hub'],
    ['quay.io/team/app', 'written with a port'],
  ])('issue 8.8: a default port or alias cannot move %s out of its rule', (image, rule) => {
    expect(ruleFor(policy, image)?.name).toBe(rule)
  })

  it('issue 8.8: another port is another registry', () => {
    expect(ruleFor(policy, 'ghcr.io:8443/acme/app')).toBeUndefined()
  })
})

describe('issue 9.1: platforms, what covers a platform manifest reached through an index', () => {
  const rule = (platforms?: string): string =>
    [
      'rules:',
      '  - images: ghcr.io/acme/**',
      ...(platforms === undefined ? [] : [`    platforms: ${platforms}`]),
      '    signers:',
      `      - identity: ${RELEASE_SAN}`,
      `        issuer: ${GITHUB_ISSUER}`,
      '',
    ].join('\n')

  it('issue 9.1: a rule without platforms lets the index signature cover them (index-signature)', () => {
    expect(parsePolicy(rule(), 'policy.yml').rules[0].platforms).toBe('index-signature')
  })

  it.each(['index-signature', 'own-signature'])('issue 9.1: platforms: %s is read', (value) => {
    expect(parsePolicy(rule(value), 'policy.yml').rules[0].platforms).toBe(value)
  })

  it.each([
    [
      'an unknown value',
      'own',
      /platforms must be "index-signature" .* or "own-signature" .*, not "own"/,
    ],
    ['another case', 'Own-Signature', /not "Own-Signature"/],
    ['a list', '[own-signature]', /platforms must be a string/],
    ['an empty value', '""', /platforms is empty/],
  ])('issue 9.1: %s is refused with its line', (_label, value, message) => {
    let error: unknown
    try {
      parsePolicy(rule(value), 'policy.yml')
    } catch (err) {
      error = err
    }
    expect(error).toBeInstanceOf(PolicyError)
    expect((error as PolicyError).line).toBe(3)
    expect((error as PolicyError).message).toMatch(/^policy: policy\.yml:3: /)
    expect((error as PolicyError).message).toMatch(message)
  })

  it('issue 9.1: the identity inputs make a rule that lets the index signature cover them', () => {
    const policy = policyFromInputs({
      certificateIdentity: RELEASE_SAN,
      certificateOidcIssuer: GITHUB_ISSUER,
    })
    expect(policy?.rules[0].platforms).toBe('index-signature')
  })
})

describe('issue 10.6: the policy modules are pure', () => {
  const policyDir = join(__dirname, '../../src/policy')
  const sources = readdirSync(policyDir)
    .filter((name) => name.endsWith('.ts'))
    .map((name) => ({ name, text: readFileSync(join(policyDir, name), 'utf8') }))
  /** Every module a source names: `from '…'`, `import('…')`, `require('…')`. */
  const specifiers = (text: string): string[] =>
    [
      ...text.matchAll(
        /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^import\s+)['"]([^'"]+)['"]/gm,
      ),
    ].map((m) => m[1])

  it('finds the modules, and the entry re-exports from them', () => {
    expect(sources.map((s) => s.name)).toContain('policy.ts')
    expect(sources.length).toBeGreaterThan(1)
    expect(specifiers(sources.find((s) => s.name === 'policy.ts')!.text)).toContain('./policy-file')
  })

  it('no module imports the file system, child processes or reads the working directory', () => {
    for (const { name, text } of sources) {
      for (const spec of specifiers(text)) {
        expect({ name, spec }).not.toEqual({
          name,
          spec: expect.stringMatching(/^(?:node:)?(?:fs|fs\/promises|child_process)$/),
        })
      }
      expect({ name, cwd: /process\.(?:cwd|chdir)\b/.test(text) }).toEqual({ name, cwd: false })
    }
  })
})
