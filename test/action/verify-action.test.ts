/**
 * Verify mode run as the runner runs it (dist/ through runAction), with no id-token: images signed
 * by Signet in a real registry, Dockerfiles, policies, attestations, audit mode, bad input and the
 * report. What cosign writes, and real published signatures, are in test/interop/verify*.test.ts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { VerifyImageResult } from '../../src/verify/run'
import { runAction, type ActionRun } from '../infra/action-runner'
import { startTestRegistry, type TestRegistry } from '../infra/docker-registry'
import {
  oidcEnv,
  pushFreshImage,
  standInInputs,
  writeSigningKey,
  type PushedImage,
} from '../infra/harness'
import { CYCLONEDX } from '../infra/sboms'
import { startSigstoreStandIn, type SigstoreStandIn } from '../infra/sigstore-standin'
import { expectOneError } from '../infra/expect'

let registry: TestRegistry
let sigstore: SigstoreStandIn
let dir: string
let keyPath: string
let pubPath: string
let otherPubPath: string
let sbomPath: string

/** Signed keyless in both formats, with a CycloneDX SBOM. */
let keyless: PushedImage
/** Signed by key, legacy only. */
let keyed: PushedImage
let unsigned: PushedImage
/** An index of two platforms, signed recursively. */
let index: PushedImage
/** An index signed without its platform manifests. */
let indexTopOnly: PushedImage

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signet-verify-action-'))
  ;[registry, sigstore] = await Promise.all([
    startTestRegistry('distribution'),
    startSigstoreStandIn({ dir }),
  ])
  ;({ keyPath, pubPath } = writeSigningKey(dir, 'test', 'pw'))
  ;({ pubPath: otherPubPath } = writeSigningKey(dir, 'other', 'pw'))
  sbomPath = join(dir, 'sbom.cdx.json')
  writeFileSync(sbomPath, JSON.stringify(CYCLONEDX))

  const push = (options: { platforms?: string[] } = {}) =>
    pushFreshImage(registry.host, 'verify/app', options)
  ;[keyless, keyed, unsigned, index, indexTopOnly] = await Promise.all([
    push(),
    push(),
    push(),
    push({ platforms: ['linux/amd64', 'linux/arm64'] }),
    push({ platforms: ['linux/amd64', 'linux/arm64'] }),
  ])
  const services = standInInputs(sigstore, registry.host)
  const signs = await Promise.all([
    runAction({ images: keyless.ref, sbom: sbomPath, ...services }, oidcEnv(sigstore)),
    runAction(
      {
        images: keyed.ref,
        key: keyPath,
        'key-password': 'pw',
        'signature-format': 'legacy',
        ...services,
      },
      {},
    ),
    runAction({ images: index.ref, ...services }, oidcEnv(sigstore)),
    runAction({ images: indexTopOnly.ref, recursive: 'false', ...services }, oidcEnv(sigstore)),
  ])
  for (const run of signs) expect(run.errors).toEqual([])
})

afterAll(async () => {
  await Promise.all([registry?.stop(), sigstore?.stop()])
})

/** The stand-in's identity, its trusted root, the local registry. */
function trusting(extra: Record<string, string> = {}): Record<string, string> {
  return {
    mode: 'verify',
    'trusted-root': sigstore.trustedRootPath,
    'plain-http': registry.host,
    'certificate-identity': sigstore.identity.subject,
    'certificate-oidc-issuer': sigstore.identity.issuer,
    ...extra,
  }
}

function results(run: ActionRun): VerifyImageResult[] {
  return JSON.parse(run.outputs.results ?? '[]') as VerifyImageResult[]
}

describe('images signed by Signet', () => {
  it('issue 9.2: with nothing named, the tags metadata-action exported take digest and are not resolved', async () => {
    const run = await runAction(trusting({ digest: keyless.image.digest }), {
      DOCKER_METADATA_OUTPUT_JSON: JSON.stringify({
        tags: [`${keyless.name}:never-pushed`, `${keyless.name}:also-never-pushed`],
        labels: {},
      }),
    })
    expect(run.errors).toEqual([])
    expect(results(run).map((r) => [r.digest, r.verdict])).toEqual([
      [keyless.image.digest, 'verified'],
    ])
  })

  it('verifies a keyless signature in both formats, with no id-token, and says who signed', async () => {
    const run = await runAction(trusting({ images: keyless.ref }))
    expect(run.errors).toEqual([])
    expect(run.exitCode).toBe(0)
    expect(run.outputs.verified).toBe('true')
    const [r] = results(run)
    expect(r).toMatchObject({
      image: keyless.ref,
      digest: keyless.image.digest,
      verified: true,
      verdict: 'verified',
      signer: {
        identity: sigstore.identity.subject,
        issuer: sigstore.identity.issuer,
        repository: expect.stringMatching(/^https:\/\/github\.com\//) as string,
      },
    })
    expect(r.rekorLogIndex).toEqual(expect.any(Number))
    // Signed in both formats; the bundle (cosign v3's choice) is read first and decides, and the
    // .sig/.att tags are not read (issue 11: two requests an image), which the result says.
    expect(r.signatures.map((s) => [s.format, s.verified, s.checked])).toEqual([
      ['bundle', true, undefined],
    ])
    expect(r.unread).toBe(
      "cosign's .sig and .att tags not read: this image verified without them, and its rule needs nothing more",
    )
    // The SBOM attestation bundle is listed; no rule requires it, so it is not checked.
    expect(r.attestations.map((a) => [a.predicateType, a.format, a.checked])).toEqual([
      ['https://cyclonedx.org/bom', 'bundle', false],
    ])
    expect(run.summary).toContain('1 of 1 image(s) verified')
    expect(run.summary).toContain('✅ verified')
  })

  it('turns away another identity, naming the image and what was expected', async () => {
    const other = `${sigstore.identity.subject}-not`
    const run = await runAction(trusting({ images: keyless.ref, 'certificate-identity': other }))
    expect(run.exitCode).toBe(1)
    expect(run.outputs.verified).toBe('false')
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toContain(keyless.ref)
    expect(results(run)[0].reason).toContain(`expected identity "${other}"`)
    expect(results(run)[0].reason).toContain(`got ${sigstore.identity.subject}`)
  })

  it('turns away another issuer, also when a regexp matches only part of it', async () => {
    const partial = await runAction(
      trusting({
        images: keyless.ref,
        'certificate-oidc-issuer': '',
        // An unanchored search would accept this; Signet matches the whole value.
        'certificate-oidc-issuer-regexp': sigstore.identity.issuer.slice(0, 12),
      }),
    )
    expect(partial.outputs.verified).toBe('false')
    expect(results(partial)[0].reason).toMatch(/expected issuer matching the regular expression/)
  })

  it('reports only, and exits 0, in audit mode (enforce: false)', async () => {
    const run = await runAction(trusting({ images: unsigned.ref, enforce: 'false' }))
    expect(run.exitCode).toBe(0)
    expect(run.errors).toEqual([])
    expect(run.outputs.verified).toBe('false')
    expect(run.stdout).toMatch(
      /::warning::\(audit mode\) .*is not verified: expected a signature, got none/,
    )
    expect(run.summary).toContain('audit mode')
  })

  it('verifies a key signature with public-key, and turns away another key', async () => {
    const ok = await runAction(
      trusting({
        images: keyed.ref,
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
        'public-key': pubPath,
      }),
    )
    expect(ok.errors).toEqual([])
    expect(results(ok)[0]).toMatchObject({ verified: true, signer: { publicKey: true } })
    const bad = await runAction(
      trusting({
        images: keyed.ref,
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
        'public-key': otherPubPath,
      }),
    )
    expect(bad.exitCode).toBe(1)
    expect(results(bad)[0].reason).toMatch(/signature verification failed/)
  })

  it('wants a Rekor entry for a key signature unless tlog: false says otherwise, and warns', async () => {
    const offLog = await pushFreshImage(registry.host, 'verify/nolog')
    const sign = await runAction({
      images: offLog.ref,
      key: keyPath,
      'key-password': 'pw',
      tlog: 'false',
      ...standInInputs(sigstore, registry.host),
    })
    expect(sign.errors).toEqual([])
    const byKey = {
      'certificate-identity': '',
      'certificate-oidc-issuer': '',
      'public-key': pubPath,
    }
    const strict = await runAction(trusting({ images: offLog.ref, ...byKey }))
    expect(strict.outputs.verified).toBe('false')
    expect(results(strict)[0].reason).toMatch(/tlog|transparency|log/i)
    const lenient = await runAction(trusting({ images: offLog.ref, ...byKey, tlog: 'false' }))
    expect(lenient.errors).toEqual([])
    expect(lenient.outputs.verified).toBe('true')
    expect(lenient.stdout).toMatch(/::warning::tlog: false — key-signed signatures are accepted/)
    expect(lenient.summary).toContain('[!WARNING]')
  })

  it('does not take a key signature for a keyless signer, nor the reverse', async () => {
    const run = await runAction(
      trusting({ images: `${keyed.ref}\n${keyless.ref}`, 'public-key': pubPath }),
    )
    // One rule, two signers: either may sign each image.
    expect(results(run).map((r) => r.verified)).toEqual([true, true])
    const keyOnly = await runAction(
      trusting({
        images: keyless.ref,
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
        'public-key': pubPath,
      }),
    )
    expect(results(keyOnly)[0].verified).toBe(false)
  })

  it('verifies each platform manifest of an index (recursive), or only the index', async () => {
    const all = await runAction(trusting({ images: index.ref }))
    expect(all.errors).toEqual([])
    expect(results(all).map((r) => [r.platform ?? 'index', r.verified, r.coveredBy])).toEqual([
      ['index', true, 'own signature'],
      ['linux/amd64', true, 'own signature'],
      ['linux/arm64', true, 'own signature'],
    ])
    const topOnly = await runAction(trusting({ images: indexTopOnly.ref, recursive: 'false' }))
    expect(topOnly.outputs.verified).toBe('true')
    expect(results(topOnly)).toHaveLength(1)
  })

  it('issue 9.1: an index signed without its platform manifests is verified, each platform covered by the index signature', async () => {
    const run = await runAction(trusting({ images: indexTopOnly.ref }))
    expect(run.errors).toEqual([])
    expect(run.outputs.verified).toBe('true')
    expect(results(run).map((r) => [r.platform ?? 'index', r.verdict, r.coveredBy])).toEqual([
      ['index', 'verified', 'own signature'],
      ['linux/amd64', 'verified', 'index signature'],
      ['linux/arm64', 'verified', 'index signature'],
    ])
    for (const platform of results(run).slice(1)) {
      expect(platform.signer?.identity).toBe(sigstore.identity.subject)
      expect(platform.parent).toBe(indexTopOnly.image.digest)
    }
    expect(run.stdout).toMatch(/\(linux\/arm64\): covered by its index's signature/)
  })

  it('issue 9.1: a platform manifest named by its own digest needs its own signature', async () => {
    const platform = `${indexTopOnly.name}@${indexTopOnly.image.children[0].digest}`
    const run = await runAction(trusting({ images: platform }))
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => [r.verdict, r.coveredBy, r.reason])).toEqual([
      ['failed', undefined, expect.stringMatching(/^expected a signature, got none/)],
    ])
  })

  it("issue 9.1: a platform whose index's signature does not verify needs its own, and fails without", async () => {
    const other = await runAction(
      trusting({ images: indexTopOnly.ref, 'certificate-identity': 'https://example.com/other' }),
    )
    expect(other.exitCode).toBe(1)
    expect(results(other).map((r) => [r.platform ?? 'index', r.verdict])).toEqual([
      ['index', 'failed'],
      ['linux/amd64', 'failed'],
      ['linux/arm64', 'failed'],
    ])
    expect(results(other)[1].reason).toMatch(
      /^expected a signature, got none.*; nor does the index's signature cover it \(it did not verify\)$/,
    )
  })

  it('asks platform manifests for their signature only: attestations describe the named image', async () => {
    const attested = await pushFreshImage(registry.host, 'verify/attested', {
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const sign = await runAction(
      { images: attested.ref, sbom: sbomPath, ...standInInputs(sigstore, registry.host) },
      oidcEnv(sigstore),
    )
    expect(sign.errors).toEqual([])
    const run = await runAction(
      trusting({ images: attested.ref, 'require-attestations': 'cyclonedx' }),
    )
    expect(run.errors).toEqual([])
    expect(results(run).map((r) => [r.platform ?? 'index', r.verified])).toEqual([
      ['index', true],
      ['linux/amd64', true],
      ['linux/arm64', true],
    ])
  })

  it('resolves a tag to its digest, with a warning', async () => {
    const tagged = await pushFreshImage(registry.host, 'verify/tagged', { tag: 'v1' })
    await runAction(
      { images: tagged.ref, ...standInInputs(sigstore, registry.host) },
      oidcEnv(sigstore),
    )
    const run = await runAction(trusting({ images: `${tagged.name}:v1` }))
    expect(run.outputs.verified).toBe('true')
    expect(results(run)[0].digest).toBe(tagged.image.digest)
    expect(run.stdout).toMatch(/::warning::.*is a tag; verifying the digest it points to now/)
  })

  it('fails an image that is not in the registry, and still reports the others', async () => {
    const missing = `${registry.host}/verify/none@sha256:${'0'.repeat(64)}`
    const run = await runAction(trusting({ images: `${missing}\n${keyless.ref}` }))
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => [r.verdict, r.reason])).toEqual([
      ['failed', expect.stringMatching(/^expected the image in its registry, got not found/)],
      ['verified', undefined],
    ])
  })
})

/** A policy of one rule: the stand-in's identity, and a CycloneDX SBOM without `banned`. */
function bannedPolicy(banned: string): string {
  return [
    'rules:',
    `  - images: ${registry.host}/verify/**`,
    '    signers:',
    `      - identity: ${sigstore.identity.subject}`,
    `        issuer: ${sigstore.identity.issuer}`,
    '    attestations:',
    '      - type: cyclonedx',
    `        bannedComponents: [${banned}]`,
    '',
  ].join('\n')
}

describe('attestations', () => {
  it('issue 11: reads the .att tag too when a rule bans components, though a bundle verified first', async () => {
    // A clean SBOM as a bundle, the one naming OpenSSL only in cosign's legacy .att tag.
    const mixed = await pushFreshImage(registry.host, 'verify/app')
    const cleanPath = join(dir, 'clean.cdx.json')
    const clean = { ...CYCLONEDX, components: CYCLONEDX.components.slice(1) }
    writeFileSync(cleanPath, JSON.stringify(clean))
    const services = standInInputs(sigstore, registry.host)
    const signs = await Promise.all([
      runAction(
        { images: mixed.ref, sbom: cleanPath, 'signature-format': 'bundle', ...services },
        oidcEnv(sigstore),
      ),
      runAction(
        { images: mixed.ref, sbom: sbomPath, 'signature-format': 'legacy', ...services },
        oidcEnv(sigstore),
      ),
    ])
    for (const run of signs) expect(run.errors).toEqual([])
    const workspace = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(join(workspace, 'banned.yml'), bannedPolicy('OpenSSL'))
    const banned = await runAction(
      {
        ...trusting({ images: mixed.ref }),
        policy: 'banned.yml',
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
      },
      {},
      { cwd: workspace },
    )
    expect(banned.exitCode).toBe(1)
    expect(results(banned)[0].reason).toBe(
      'expected no banned components in the cyclonedx SBOM, got OpenSSL',
    )
    expect(results(banned)[0].unread).toBeUndefined()
    // Without the ban the bundle decides, and the legacy tags are not read.
    const required = await runAction(
      trusting({ images: mixed.ref, 'require-attestations': 'cyclonedx' }),
    )
    expect(required.errors).toEqual([])
    expect(results(required)[0].attestations.map((a) => [a.format, a.verified])).toEqual([
      ['bundle', true],
    ])
  })

  it('issue 11: reads the .sig tag when the bundles do not verify the image', async () => {
    // Keyless in both formats, checked against a key: the bundle fails, the .sig is read and fails.
    const run = await runAction(
      trusting({
        images: keyless.ref,
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
        'public-key': pubPath,
      }),
    )
    expect(run.exitCode).toBe(1)
    const [r] = results(run)
    expect(r.signatures.map((s) => s.format)).toEqual(['bundle', 'legacy'])
    expect(r.unread).toBeUndefined()
  })

  it('requires a verified attestation of each named type', async () => {
    const ok = await runAction(
      trusting({ images: keyless.ref, 'require-attestations': 'cyclonedx' }),
    )
    expect(ok.errors).toEqual([])
    const missing = await runAction(
      trusting({ images: keyless.ref, 'require-attestations': 'spdx' }),
    )
    expect(missing.exitCode).toBe(1)
    expect(results(missing)[0].reason).toBe('expected a spdx attestation, got none')
    // Present but from a signer the rule does not trust.
    const untrusted = await runAction(
      trusting({
        images: keyless.ref,
        'certificate-identity': '',
        'certificate-oidc-issuer': '',
        'public-key': pubPath,
        'require-attestations': 'cyclonedx',
      }),
    )
    expect(untrusted.outputs.verified).toBe('false')
  })

  it('fails an SBOM that lists a banned component (policy bannedComponents)', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(join(workspace, 'banned.yml'), bannedPolicy('OpenSSL'))
    writeFileSync(join(workspace, 'fine.yml'), bannedPolicy('log4j-core'))
    const base = {
      mode: 'verify',
      'trusted-root': sigstore.trustedRootPath,
      'plain-http': registry.host,
      images: keyless.ref,
    }
    const banned = await runAction({ ...base, policy: 'banned.yml' }, {}, { cwd: workspace })
    expect(banned.exitCode).toBe(1)
    expect(results(banned)[0].reason).toBe(
      'expected no banned components in the cyclonedx SBOM, got OpenSSL',
    )
    const fine = await runAction({ ...base, policy: 'fine.yml' }, {}, { cwd: workspace })
    expect(fine.outputs.verified).toBe('true')
  })
})

describe('Dockerfile base images', () => {
  let workspace: string

  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    mkdirSync(join(workspace, 'svc'))
    writeFileSync(
      join(workspace, 'Dockerfile'),
      [
        `ARG REGISTRY=${registry.host}`,
        `FROM \${REGISTRY}/${keyless.repo.repository}@${keyless.image.digest} AS base`,
        'RUN true',
        'FROM base AS again',
        'FROM scratch',
        `FROM ${unsigned.ref}`,
        '',
      ].join('\n'),
    )
    writeFileSync(join(workspace, 'svc', 'Dockerfile'), `FROM ${keyed.ref}\n`)
  })

  it('verifies every FROM image and puts an error on each failing line', async () => {
    const run = await runAction(
      trusting({ dockerfile: 'Dockerfile', 'public-key': pubPath }),
      {},
      { cwd: workspace },
    )
    expect(run.exitCode).toBe(1)
    expect(results(run).map((r) => [r.dockerfile, r.verdict])).toEqual([
      [{ file: 'Dockerfile', line: 2, use: 'FROM' }, 'verified'],
      [{ file: 'Dockerfile', line: 6, use: 'FROM' }, 'failed'],
    ])
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/^::error file=Dockerfile,line=6::/)
    expect(run.errors[0]).toContain('expected a signature, got none')
  })

  it('honours FROM --platform: the index and that platform only', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(
      join(dir, 'Dockerfile'),
      `FROM --platform=linux/arm64 ${index.ref}\nFROM --platform=linux/s390x ${index.ref}\n`,
    )
    const run = await runAction(trusting({ dockerfile: 'Dockerfile' }), {}, { cwd: dir })
    expect(results(run).map((r) => [r.dockerfile?.line, r.platform ?? 'index', r.verdict])).toEqual(
      [
        [1, 'index', 'verified'],
        [1, 'linux/arm64', 'verified'],
        [2, 'index', 'failed'],
      ],
    )
    expect(results(run)[2].reason).toBe('expected a linux/s390x manifest in the index, got none')
    expect(run.errors).toEqual([expect.stringMatching(/^::error file=Dockerfile,line=2::/)])
  })

  it('issue 9.1: FROM --platform of an index signed without its platforms: covered by the index signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(join(dir, 'Dockerfile'), `FROM --platform=linux/amd64 ${indexTopOnly.ref}\n`)
    const run = await runAction(trusting({ dockerfile: 'Dockerfile' }), {}, { cwd: dir })
    expect(run.errors).toEqual([])
    expect(results(run).map((r) => [r.platform ?? 'index', r.verdict, r.coveredBy])).toEqual([
      ['index', 'verified', 'own signature'],
      ['linux/amd64', 'verified', 'index signature'],
    ])
  })

  it('takes globs, and warns instead of failing in audit mode', async () => {
    const run = await runAction(
      trusting({ dockerfile: '**/Dockerfile', 'public-key': pubPath, enforce: 'false' }),
      {},
      { cwd: workspace },
    )
    expect(run.exitCode).toBe(0)
    expect(
      results(run).map((r) => `${r.dockerfile?.file}:${r.dockerfile?.line}:${r.verdict}`),
    ).toEqual(['Dockerfile:2:verified', 'Dockerfile:6:failed', 'svc/Dockerfile:1:verified'])
    expect(run.stdout).toMatch(/::warning file=Dockerfile,line=6::\(audit mode\)/)
  })
})

describe('policy files', () => {
  let workspace: string

  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(
      join(workspace, 'policy.yml'),
      [
        'unmatched: skip',
        'rules:',
        `  - name: keyless apps`,
        `    images: ${registry.host}/${keyless.repo.repository}`,
        '    signers:',
        `      - identityRegexp: ${sigstore.identity.subject.replace(/[.]/g, '\\.')}`,
        `        issuer: ${sigstore.identity.issuer}`,
        `  - images: ${registry.host}/${keyed.repo.repository}`,
        '    signers:',
        `      - publicKey: ${pubPath}`,
        '',
      ].join('\n'),
    )
  })

  it('applies the first matching rule, and skips what no rule matches when told to', async () => {
    const base = {
      mode: 'verify',
      'trusted-root': sigstore.trustedRootPath,
      'plain-http': registry.host,
    }
    const run = await runAction(
      { ...base, policy: 'policy.yml', images: [keyless.ref, keyed.ref, unsigned.ref].join('\n') },
      {},
      { cwd: workspace },
    )
    expect(run.errors).toEqual([])
    expect(run.outputs.verified).toBe('true')
    expect(results(run).map((r) => [r.verdict, r.rule])).toEqual([
      ['verified', 'keyless apps'],
      ['verified', expect.stringContaining('policy.yml')],
      ['skipped', undefined],
    ])
  })
})

describe('bad input: one ::error:: naming the input, exit 1', () => {
  let workspace: string
  const someone = { 'certificate-identity': 'a', 'certificate-oidc-issuer': 'b' }

  beforeAll(() => {
    workspace = mkdtempSync(join(tmpdir(), 'signet-ws-'))
    writeFileSync(join(workspace, 'broken.yml'), 'rules:\n  - images: [a\n')
    writeFileSync(
      join(workspace, 'typo.yml'),
      'rules:\n  - images: a\n    signer:\n      - publicKey: x\n',
    )
    writeFileSync(join(workspace, 'not-a-key.pub'), 'hello\n')
    writeFileSync(join(workspace, 'Dockerfile.noarg'), 'ARG BASE\nFROM $BASE\n')
    writeFileSync(join(workspace, 'Dockerfile.bad'), 'FROM alpine\nFROM --platform linux/amd64\n')
  })

  it.each([
    [
      'a policy file and identity inputs at once',
      {
        images: 'a:1',
        policy: 'typo.yml',
        'certificate-identity': 'a',
        'certificate-oidc-issuer': 'b',
      },
      'policy',
      /two ways to say whom to trust/,
    ],
    [
      'no policy and no identity',
      { images: 'a@sha256:' + 'a'.repeat(64) },
      'policy',
      /whom to trust/,
    ],
    [
      'an identity regexp that does not compile',
      { images: 'a:1', 'certificate-identity-regexp': 'a(', 'certificate-oidc-issuer': 'i' },
      'certificate-identity-regexp',
      /invalid regular expression/,
    ],
    [
      'a public key that is not a key',
      { images: 'a:1', 'public-key': 'not-a-key.pub' },
      'public-key',
      /PEM/,
    ],
    [
      'a policy that is not YAML',
      { images: 'a:1', policy: 'broken.yml' },
      'policy',
      /broken\.yml:\d+/,
    ],
    [
      'a policy with an unknown key',
      { images: 'a:1', policy: 'typo.yml' },
      'policy',
      /typo\.yml:3.*signer/,
    ],
    [
      'a FROM whose ARG has no value',
      { dockerfile: 'Dockerfile.noarg', ...someone },
      'dockerfile',
      /Dockerfile\.noarg:2/,
    ],
    [
      'an unparsable FROM line',
      { dockerfile: 'Dockerfile.bad', ...someone },
      'dockerfile',
      /Dockerfile\.bad:2/,
    ],
    [
      'a Dockerfile that is not there',
      {
        dockerfile: 'nope/Dockerfile',
        'certificate-identity': 'a',
        'certificate-oidc-issuer': 'b',
      },
      'dockerfile',
      /does not exist/,
    ],
  ])('%s', async (_what, inputs, input, message) => {
    const run = await runAction({ mode: 'verify', ...inputs }, {}, { cwd: workspace })
    expectOneError(run, input, message)
    expect(run.outputs.verified).toBe('false')
  })

  it('puts a Dockerfile error on its line', async () => {
    const run = await runAction(
      {
        mode: 'verify',
        dockerfile: 'Dockerfile.noarg',
        'certificate-identity': 'a',
        'certificate-oidc-issuer': 'b',
      },
      {},
      { cwd: workspace },
    )
    expect(run.errors).toHaveLength(1)
    expect(run.errors[0]).toMatch(/^::error file=Dockerfile\.noarg,line=2::/)
  })
})
