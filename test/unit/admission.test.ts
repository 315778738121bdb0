/**
 * Generated admission policies (src/admission): each checked against the vendored CRD schemas
 * (test/fixtures/crds) and, field by field, against the policy Signet's own verifier enforces:
 * for a matrix of signers, formats, attestation rules and modes, the Kyverno ClusterPolicy and the
 * policy-controller ClusterImagePolicies name exactly the identities, issuers, keys, formats,
 * predicate types and banned names Signet's parsed policy holds, their regexps accept exactly what
 * Signet's accept, and their image patterns send each image to the rule Signet's first match does.
 * Hostile values (YAML syntax, line breaks, Kyverno's `{{ }}`) stay text or are refused.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import {
  admissionFromPolicy,
  admissionFromSigned,
  clusterImagePolicy,
  BANNED_COMPONENT_DEPTH,
  kyvernoPolicy,
  policiesForSignRun,
  signedImagesOf,
  type AdmissionMode,
  type AdmissionSpec,
} from '../../src/admission'
import { isSignetError } from '../../src/errors'
import { bannedComponentsIn } from '../../src/verify/sbom-components'
import jmespath from 'jmespath'
import { matchesString, parsePolicy, ruleFor, type Policy } from '../../src/policy/policy'
import { parseImageReference } from '../../src/registry/reference'
import type { SignOutcome } from '../../src/report/types'
import { crdErrors, crdSchema, schemaErrors } from '../infra/crd-schema'

const CRDS = join(__dirname, '..', 'fixtures', 'crds')
const KYVERNO = crdSchema(join(CRDS, 'kyverno.io_clusterpolicies.excerpt.yaml'), 'v1')
const CIP = crdSchema(join(CRDS, 'policy.sigstore.dev_clusterimagepolicies.yaml'), 'v1beta1')

const GITHUB = 'https://token.actions.githubusercontent.com'
const RELEASE_SAN = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.3'
const RELEASE_RE = 'https://github\\.com/acme/[^/]+/\\.github/workflows/release\\.yml@refs/tags/v.*'
const pem = (): string =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .publicKey.export({ type: 'spki', format: 'pem' })
    .toString()
const KEY_PEM = pem()
const indent = (text: string, spaces: number): string =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(spaces) + l)
    .join('\n')

// ---- The matrix ------------------------------------------------------------------------------

const SIGNERS: Record<string, string> = {
  'keyless exact': `      - identity: ${RELEASE_SAN}\n        issuer: ${GITHUB}\n`,
  'keyless regexp': `      - identityRegexp: '${RELEASE_RE}'\n        issuerRegexp: 'https://(token\\.actions\\.githubusercontent\\.com|gitlab\\.com)'\n`,
  key: `      - publicKey: |\n${indent(KEY_PEM, 10)}\n`,
  'keyless or key': `      - identity: ${RELEASE_SAN}\n        issuer: ${GITHUB}\n      - publicKey: |\n${indent(KEY_PEM, 10)}\n`,
}
const ATTESTATIONS: Record<string, string> = {
  none: '',
  sbom: '    attestations: [cyclonedx]\n',
  'sbom and provenance': '    attestations: [cyclonedx, slsaprovenance]\n',
  'banned packages':
    '    attestations:\n      - type: cyclonedx\n        bannedComponents: [log4j-core, Commons-Text, org.example/left-pad]\n',
}
const FORMATS = ['legacy', 'bundle', 'both'] as const
const MODES: AdmissionMode[] = ['audit', 'enforce']

function policyText(signers: string, attestations: string): string {
  return (
    'rules:\n' +
    '  - name: our images\n' +
    '    images: [ghcr.io/acme/**, node]\n' +
    `    signers:\n${signers}` +
    attestations +
    '  - name: everything else\n' +
    "    images: '**'\n" +
    `    signers:\n      - identity: https://github.com/acme/base/.github/workflows/b.yml@refs/heads/main\n        issuer: ${GITHUB}\n`
  )
}

const cases = Object.entries(SIGNERS).flatMap(([signer, signers]) =>
  Object.entries(ATTESTATIONS).flatMap(([attestation, attestations]) =>
    FORMATS.flatMap((format) =>
      MODES.map((mode) => ({
        signer,
        attestation,
        format,
        mode,
        text: policyText(signers, attestations),
      })),
    ),
  ),
)

// ---- What a generated policy names, read back from its YAML ---------------------------------

interface Named {
  identities: string[]
  issuers: string[]
  keys: string[]
  predicateTypes: string[]
  banned: string[]
}

/** `^(?:x)$` back to `x`: the generated regexps are Signet's, anchored. */
function unanchor(re: string): string {
  const m = /^\^\(\?:([\s\S]*)\)\$$/.exec(re)
  if (!m) throw new Error(`not anchored as Signet matches: ${re}`)
  return m[1]
}
const keyText = (text: string): string =>
  createPublicKey(text).export({ type: 'spki', format: 'der' }).toString('base64')
const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort()

function namedByPolicy(rule: Policy['rules'][number]): Named {
  const named: Named = { identities: [], issuers: [], keys: [], predicateTypes: [], banned: [] }
  for (const s of rule.signers) {
    if (s.kind === 'key') {
      named.keys.push(s.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'))
    } else {
      named.identities.push(s.identity.kind === 'exact' ? s.identity.value : s.identity.source)
      named.issuers.push(s.issuer.kind === 'exact' ? s.issuer.value : s.issuer.source)
    }
  }
  for (const a of rule.attestations) {
    // Neither controller can say "one of these types": the first is required.
    named.predicateTypes.push(a.predicateTypes[0])
    named.banned.push(...a.bannedComponents.map((b) => b.toLowerCase()))
  }
  return normalise(named)
}

function normalise(n: Named): Named {
  return {
    identities: sorted(n.identities),
    issuers: sorted(n.issuers),
    keys: sorted(n.keys),
    predicateTypes: sorted(n.predicateTypes),
    banned: sorted(n.banned),
  }
}

type Obj = Record<string, unknown>
const field = (o: unknown, ...path: (string | number)[]): unknown =>
  path.reduce<unknown>((v, k) => (v as Obj | undefined)?.[k as string], o)

function namedByKyvernoEntry(entry: Obj): Named {
  const named: Named = { identities: [], issuers: [], keys: [], predicateTypes: [], banned: [] }
  const attestorsOf = (o: Obj): Obj[] =>
    ((o.attestors as Obj[]) ?? []).flatMap((set) => set.entries as Obj[])
  const signerSets: string[] = []
  const collect = (entries: Obj[]): string => {
    const ids: string[] = []
    for (const e of entries) {
      const keyless = e.keyless as Obj | undefined
      const keys = e.keys as Obj | undefined
      if (keyless) {
        const id = (keyless.subject as string) ?? unanchor(keyless.subjectRegExp as string)
        const issuer = (keyless.issuer as string) ?? unanchor(keyless.issuerRegExp as string)
        named.identities.push(id)
        named.issuers.push(issuer)
        ids.push(`${id} ${issuer}`)
      }
      if (keys) {
        named.keys.push(keyText(keys.publicKeys as string))
        ids.push(keyText(keys.publicKeys as string))
      }
    }
    return JSON.stringify(ids.sort())
  }
  signerSets.push(collect(attestorsOf(entry)))
  for (const a of (entry.attestations as Obj[]) ?? []) {
    named.predicateTypes.push(a.type as string)
    // Attestations are signed by the same signers as the image, as in Signet.
    signerSets.push(collect(attestorsOf(a)))
    for (const c of (a.conditions as Obj[]) ?? []) {
      for (const cond of (c.all as Obj[]) ?? []) {
        if (cond.operator === 'AllNotIn') named.banned.push(...(cond.value as string[]))
      }
    }
  }
  expect(new Set(signerSets).size).toBe(1)
  return normalise(named)
}

function namedByCip(doc: Obj): Named {
  const named: Named = { identities: [], issuers: [], keys: [], predicateTypes: [], banned: [] }
  const types = new Set<string>()
  for (const a of field(doc, 'spec', 'authorities') as Obj[]) {
    for (const id of (field(a, 'keyless', 'identities') as Obj[] | undefined) ?? []) {
      named.identities.push((id.subject as string) ?? unanchor(id.subjectRegExp as string))
      named.issuers.push((id.issuer as string) ?? unanchor(id.issuerRegExp as string))
    }
    const data = field(a, 'key', 'data') as string | undefined
    if (data) named.keys.push(keyText(data))
    const mine = ((a.attestations as Obj[]) ?? []).map((x) => x.predicateType as string)
    // Every authority (signer) requires the same attestations, as the rule does.
    if (types.size > 0) expect(sorted(mine)).toEqual(sorted(types))
    for (const t of mine) types.add(t)
  }
  named.predicateTypes.push(...types)
  return normalise(named)
}

// ---- The matrix, checked ---------------------------------------------------------------------

describe('admission policies from a Signet policy file: the matrix', () => {
  test.each(cases)(
    '$signer, $attestation, $format, $mode',
    ({ text, format, mode, attestation }) => {
      const policy = parsePolicy(text, 'policy.yml')
      const spec = admissionFromPolicy(policy, { signatureFormat: format })

      const kyverno = kyvernoPolicy(spec, { mode })
      expect(crdErrors(kyverno.yaml, KYVERNO)).toEqual([])
      const k = parse(kyverno.yaml) as Obj
      const rules = field(k, 'spec', 'rules') as Obj[]
      expect(rules).toHaveLength(policy.rules.length)
      policy.rules.forEach((rule, i) => {
        const entries = rules[i].verifyImages as Obj[]
        expect(entries).toHaveLength(1)
        const entry = entries[0]
        expect(namedByKyvernoEntry(entry)).toEqual(namedByPolicy(rule))
        // The format written decides where Kyverno looks.
        expect(entry.type).toBe(format === 'bundle' ? 'SigstoreBundle' : 'Cosign')
        // Any one signer suffices, as in Signet.
        expect((entry.attestors as Obj[]).map((a) => a.count)).toEqual([1])
        expect(entry.failureAction).toBe(mode === 'enforce' ? 'Enforce' : 'Audit')
        // Kyverno refuses mutateDigest in Audit mode; in Enforce mode the verified digest is pinned.
        expect(entry.mutateDigest).toBe(mode === 'enforce')
        expect(entry.verifyDigest).toBe(mode === 'enforce')
        expect(entry.required).toBe(true)
      })
      expect(field(k, 'spec', 'validationFailureAction')).toBe(
        mode === 'enforce' ? 'Enforce' : 'Audit',
      )

      if (attestation === 'banned packages') {
        // policy-controller has no banned-package check without CUE or Rego: refused, not dropped.
        expect(() => clusterImagePolicy(spec, { mode })).toThrow(/bannedComponents/)
        return
      }
      const cip = clusterImagePolicy(spec, { mode })
      expect(crdErrors(cip.yaml, CIP)).toEqual([])
      const docs = parseAllDocuments(cip.yaml).map((d) => d.toJS() as Obj)
      expect(docs).toHaveLength(policy.rules.length)
      policy.rules.forEach((rule, i) => {
        expect(namedByCip(docs[i])).toEqual(namedByPolicy(rule))
        expect(field(docs[i], 'spec', 'mode')).toBe(mode === 'enforce' ? 'enforce' : 'warn')
        // One authority per signer: any one passes a ClusterImagePolicy, as a rule's signers.
        expect(field(docs[i], 'spec', 'authorities')).toHaveLength(rule.signers.length)
      })
      expect(new Set(docs.map((d) => field(d, 'metadata', 'name'))).size).toBe(docs.length)
      if (format === 'bundle')
        expect(cip.notes.join('\n')).toMatch(/reads the \.sig\/\.att tags only/)
    },
  )
})

describe('regexps accept exactly what Signet accepts', () => {
  const text = policyText(SIGNERS['keyless regexp'], '')
  const policy = parsePolicy(text, 'policy.yml')
  const spec = admissionFromPolicy(policy, { signatureFormat: 'legacy' })
  const entry = field(
    parse(kyvernoPolicy(spec, { mode: 'enforce' }).yaml),
    'spec',
    'rules',
    0,
    'verifyImages',
    0,
  ) as Obj
  const keyless = field(entry, 'attestors', 0, 'entries', 0, 'keyless') as Obj
  const identity = field(
    parseAllDocuments(clusterImagePolicy(spec, { mode: 'enforce' }).yaml)[0].toJS(),
    'spec',
    'authorities',
    0,
    'keyless',
    'identities',
    0,
  ) as Obj
  const signer = policy.rules[0].signers[0]
  if (signer.kind !== 'keyless') throw new Error('keyless expected')

  // cosign (hence both controllers) searches unanchored; Go's RE2 and JavaScript agree on this
  // syntax, so JavaScript's unanchored search stands in for theirs.
  test.each([
    RELEASE_SAN,
    'https://github.com/acme/other/.github/workflows/release.yml@refs/tags/v9',
    `${RELEASE_SAN}/../../evil`,
    `https://evil.example/?${RELEASE_SAN}`,
    'https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main',
    'https://githubXcom/acme/app/.github/workflows/release.yml@refs/tags/v1',
    `${RELEASE_SAN}\nhttps://evil`,
  ])('identity %j', (san) => {
    const signet = matchesString(signer.identity, san)
    expect(new RegExp(keyless.subjectRegExp as string).test(san)).toBe(signet)
    expect(new RegExp(identity.subjectRegExp as string).test(san)).toBe(signet)
  })

  test.each([GITHUB, 'https://gitlab.com', 'https://gitlab.com.evil', `x${GITHUB}`])(
    'issuer %j',
    (issuer) => {
      const signet = matchesString(signer.issuer, issuer)
      expect(new RegExp(keyless.issuerRegExp as string).test(issuer)).toBe(signet)
      expect(new RegExp(identity.issuerRegExp as string).test(issuer)).toBe(signet)
    },
  )

  test('a regexp Go reads otherwise is refused, not passed on', () => {
    for (const re of [
      'https://github\\.com/(?!evil).*',
      '(a)\\1',
      'caf\\u00e9',
      '[^]*',
      'a\\z',
      '\\x{41}',
      '[[:alpha:]]+',
      '\\Qa.b\\E',
    ]) {
      const p = parsePolicy(
        `unmatched: skip\nrules:\n  - images: x.io/a\n    signers:\n      - identityRegexp: '${re}'\n        issuer: ${GITHUB}\n`,
        'p.yml',
      )
      const s = admissionFromPolicy(p, { signatureFormat: 'legacy' })
      expect(() => kyvernoPolicy(s, { mode: 'audit' })).toThrow(
        expect.objectContaining({ code: 'ADMISSION_UNSUPPORTED' }),
      )
      expect(() => clusterImagePolicy(s, { mode: 'audit' })).toThrow(/RE2/)
    }
  })
})

// ---- Images: each controller sends an image where Signet's first matching rule does ----------

/** Kyverno's name for an image (pkg/utils/image/infos.go) and its wildcard match. */
function kyvernoName(image: string): string {
  const i = image.indexOf('/')
  const first = i === -1 ? '' : image.slice(0, i)
  const full =
    i === -1 || (!/[.:]/.test(first) && first !== 'localhost') ? `docker.io/${image}` : image
  const at = full.indexOf('@')
  const body = at === -1 ? full : full.slice(0, at)
  const digest = at === -1 ? '' : full.slice(at)
  const slash = body.indexOf('/')
  const registry = body.slice(0, slash)
  let rest = body.slice(slash + 1)
  const colon = rest.lastIndexOf(':')
  let tag = ''
  if (colon !== -1) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  const path = rest.includes('/') ? rest : `library/${rest}`
  return digest ? `${registry}/${path}${digest}` : `${registry}/${path}:${tag || 'latest'}`
}
/** go-wildcard v2's Match (kyverno's ext/wildcard): `*` any run, `?` and `.` any one character. */
const wildcard = (pattern: string, text: string): boolean =>
  new RegExp(
    `^${[...pattern].map((c) => (c === '*' ? '[\\s\\S]*' : c === '?' || c === '.' ? '[\\s\\S]' : c.replace(/[+^${}()|[\]\\]/g, '\\$&'))).join('')}$`,
  ).test(text)

/** policy-controller's glob (pkg/apis/glob/glob.go) against go-containerregistry's name. */
function cipMatches(glob: string, image: string): boolean {
  const re = new RegExp(
    `^${glob.replace(/\./g, '\\.').replace(/\*\*/g, '#').replace(/\*/g, '[^/]*').replace(/#/g, '.*')}$`,
  )
  const ref = parseImageReference(image)
  const name = ref.digest ? `${ref.name}@${ref.digest}` : `${ref.name}:${ref.tag ?? 'latest'}`
  return re.test(name)
}

describe('image patterns', () => {
  const policy = parsePolicy(
    'unmatched: skip\nrules:\n' +
      [
        'ghcr.io/acme/app',
        'ghcr.io/acme/**/base',
        'node',
        'bitnami/*',
        'quay.io/team/img?',
        '**/tools',
      ]
        .map(
          (p, i) =>
            `  - name: r${i}\n    images: '${p}'\n    signers:\n      - identity: id${i}@example.com\n        issuer: https://issuer.example\n`,
        )
        .join(''),
    'p.yml',
  )
  const spec = admissionFromPolicy(policy, { signatureFormat: 'legacy' })
  const kyverno = kyvernoPolicy(spec, { mode: 'enforce' })
  const kRules = (field(parse(kyverno.yaml), 'spec', 'rules') as Obj[]).map(
    (r) => field(r, 'verifyImages', 0) as Obj,
  )
  const cipDocs = parseAllDocuments(clusterImagePolicy(spec, { mode: 'enforce' }).yaml).map(
    (d) => d.toJS() as Obj,
  )
  const D = `sha256:${'a'.repeat(64)}`

  test.each([
    'ghcr.io/acme/app:v1',
    `ghcr.io/acme/app@${D}`,
    `ghcr.io/acme/app:v1@${D}`,
    'ghcr.io/acme/base:1',
    'ghcr.io/acme/x/y/base:1',
    'node',
    'node:20',
    'docker.io/library/node:20',
    'index.docker.io/library/node:20',
    `library/node@${D}`,
    'bitnami/redis:7',
    'quay.io/team/img1:x',
    'example.com/a/b/tools:1',
    'ghcr.io/acme/other:1',
    'ghcr.io/acme/app-two:1',
    'quay.io/team/img12:x',
  ])('%s', (image) => {
    const signetRule = ruleFor(policy, image)
    const expected = signetRule ? policy.rules.indexOf(signetRule) : -1
    // Kyverno: the rules that apply (matched and not skipped) must include Signet's, and any
    // other that applies must come from a broader translation (noted), never replace it.
    const name = kyvernoName(image)
    const applies = kRules
      .map((r, i) => ({ i, r }))
      .filter(({ r }) => (r.imageReferences as string[]).some((p) => wildcard(p, name)))
      .filter(
        ({ r }) =>
          !((r.skipImageReferences as string[] | undefined) ?? []).some((p) => wildcard(p, name)),
      )
      .map(({ i }) => i)
    if (expected >= 0) expect(applies).toContain(expected)
    // policy-controller: every ClusterImagePolicy whose globs match applies.
    const cipApplies = cipDocs
      .map((d, i) => ({
        i,
        globs: (field(d, 'spec', 'images') as Obj[]).map((g) => g.glob as string),
      }))
      .filter(({ globs }) => globs.some((g) => cipMatches(g, image)))
      .map(({ i }) => i)
    if (expected >= 0) expect(cipApplies).toContain(expected)
    // Any other Kyverno rule that applies must be one whose translation is broader (noted):
    // stricter, never in place of Signet's.
    for (const extra of applies.filter((i) => i !== expected)) {
      expect(['r3', 'r4']).toContain(policy.rules[extra].name)
    }
  })

  test('exact repositories translate exactly in Kyverno, and the broader ones are noted', () => {
    expect(kRules[0].imageReferences).toEqual(['ghcr.io/acme/app:*', 'ghcr.io/acme/app@*'])
    expect(kRules[2].imageReferences).toContain('docker.io/library/node:*')
    expect(kRules[2].imageReferences).toContain('index.docker.io/library/node@*')
    // `a/**/b` also matches `a/b`: both spellings.
    expect(kRules[1].imageReferences).toEqual(
      expect.arrayContaining(['ghcr.io/acme/*/base:*', 'ghcr.io/acme/base:*']),
    )
    expect(kyverno.notes.join('\n')).toMatch(/rule 4 \(r3\).*Kyverno's \* also matches "\/"/)
    expect(kyverno.notes.join('\n')).not.toMatch(/rule 1 \(r0\)/)
    // go-wildcard's `.` is any one character: said, since it can route an image to an earlier rule.
    expect(kyverno.notes.join('\n')).toMatch(
      /reads "\." in an image reference as any one character/,
    )
    // Later rules skip what earlier exact ones cover: the first match decides.
    expect(kRules[1].skipImageReferences).toEqual(kRules[0].imageReferences)
  })
})

// ---- From a sign run ------------------------------------------------------------------------

function signOutcome(overrides: Partial<SignOutcome> = {}): SignOutcome {
  const record = { format: 'legacy' as const, reference: 'r' }
  return {
    mode: 'sign',
    results: [
      {
        image: 'ghcr.io/acme/app:v1',
        digest: `sha256:${'1'.repeat(64)}`,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        signed: true,
        signatures: [record],
        attestations: [
          { ...record, predicateType: 'https://slsa.dev/provenance/v1' },
          { ...record, predicateType: 'https://cyclonedx.org/bom' },
        ],
      },
      {
        image: 'ghcr.io/acme/app:v1',
        digest: `sha256:${'2'.repeat(64)}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        parent: `sha256:${'1'.repeat(64)}`,
        platform: 'linux/amd64',
        signed: true,
        signatures: [record],
        attestations: [],
      },
      {
        image: 'ghcr.io/acme/tool:v1',
        digest: `sha256:${'3'.repeat(64)}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        signed: true,
        signatures: [record],
        attestations: [],
      },
      {
        image: 'alpine:3',
        digest: `sha256:${'4'.repeat(64)}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        signed: false,
        signatures: [],
        attestations: [],
        error: 'denied',
      },
    ],
    signed: false,
    bundleCount: 0,
    keyless: true,
    identity: {
      subject: RELEASE_SAN,
      issuer: GITHUB,
      extensions: {},
      notBefore: new Date(0),
      notAfter: new Date(0),
    },
    verifyCommand: '',
    signatureFormat: 'both',
    customInstance: false,
    tlog: true,
    timestamped: false,
    errors: [],
    ...overrides,
  }
}

describe('admission policies from what a sign run wrote', () => {
  test('keyless: the certificate identity and issuer exactly, each image with its attestations', () => {
    const spec = admissionFromSigned(signedImagesOf(signOutcome()))
    expect(spec).toEqual<AdmissionSpec>({
      rules: [
        {
          images: ['ghcr.io/acme/app'],
          signers: [
            { kind: 'keyless', identity: { exact: RELEASE_SAN }, issuer: { exact: GITHUB } },
          ],
          attestations: [
            { predicateTypes: ['https://cyclonedx.org/bom'], bannedComponents: [] },
            { predicateTypes: ['https://slsa.dev/provenance/v1'], bannedComponents: [] },
          ],
        },
        {
          images: ['ghcr.io/acme/tool'],
          signers: [
            { kind: 'keyless', identity: { exact: RELEASE_SAN }, issuer: { exact: GITHUB } },
          ],
          attestations: [],
        },
      ],
      signatureFormat: 'both',
      transparencyLog: true,
    })
    const kyverno = kyvernoPolicy(spec, { mode: 'audit' })
    expect(crdErrors(kyverno.yaml, KYVERNO)).toEqual([])
    const keyless = field(
      parse(kyverno.yaml),
      'spec',
      'rules',
      0,
      'verifyImages',
      0,
      'attestors',
      0,
      'entries',
      0,
      'keyless',
    )
    expect(keyless).toEqual({
      subject: RELEASE_SAN,
      issuer: GITHUB,
      rekor: { url: 'https://rekor.sigstore.dev' },
    })
    expect(crdErrors(clusterImagePolicy(spec, { mode: 'audit' }).yaml, CIP)).toEqual([])
  })

  test('by key without a Rekor entry: the public key, and no log or SCT asked for', () => {
    const spec = admissionFromSigned(
      signedImagesOf(
        signOutcome({
          keyless: false,
          identity: undefined,
          publicKeyPem: KEY_PEM,
          tlog: false,
          signatureFormat: 'bundle',
        }),
      ),
    )
    const kyverno = kyvernoPolicy(spec, { mode: 'enforce' })
    expect(crdErrors(kyverno.yaml, KYVERNO)).toEqual([])
    const entry = field(parse(kyverno.yaml), 'spec', 'rules', 0, 'verifyImages', 0) as Obj
    expect(entry.type).toBe('SigstoreBundle')
    const keys = field(entry, 'attestors', 0, 'entries', 0, 'keys') as Obj
    expect(keyText(keys.publicKeys as string)).toBe(keyText(KEY_PEM))
    expect(keys.rekor).toEqual({ ignoreTlog: true })
    expect(keys.ctlog).toEqual({ ignoreSCT: true })
    const cip = clusterImagePolicy(spec, { mode: 'enforce' })
    expect(crdErrors(cip.yaml, CIP)).toEqual([])
    expect(cip.notes.join('\n')).toMatch(/tlog: false are refused/)
  })

  test('a repository signed twice requires only the attestations every image of it got', () => {
    const outcome = signOutcome()
    outcome.results.push({
      ...outcome.results[0],
      image: 'ghcr.io/acme/app:latest',
      attestations: [outcome.results[0].attestations[0]],
    })
    const spec = admissionFromSigned(signedImagesOf(outcome))
    const app = spec.rules.find((r) => r.images.includes('ghcr.io/acme/app'))
    expect(app?.attestations.map((a) => a.predicateTypes)).toEqual([
      ['https://slsa.dev/provenance/v1'],
    ])
  })
})

test('signatures stored in another repository: Kyverno repository, policy-controller source', () => {
  const spec = admissionFromSigned(
    signedImagesOf(signOutcome({ signatureRepository: 'registry.example.com/signatures' })),
  )
  const k = kyvernoPolicy(spec, { mode: 'enforce' })
  expect(crdErrors(k.yaml, KYVERNO)).toEqual([])
  expect(field(parse(k.yaml), 'spec', 'rules', 0, 'verifyImages', 0, 'repository')).toBe(
    'registry.example.com/signatures',
  )
  const c = clusterImagePolicy(spec, { mode: 'enforce' })
  expect(crdErrors(c.yaml, CIP)).toEqual([])
  for (const doc of parseAllDocuments(c.yaml)) {
    expect(field(doc.toJS(), 'spec', 'authorities', 0, 'source')).toEqual([
      { oci: 'registry.example.com/signatures' },
    ])
  }
})

test("a policy rule's signatureRepository overrides the input's, per rule", () => {
  const policy = parsePolicy(
    'rules:\n' +
      `  - images: registry.example.com/strict/**\n    signatureRepository: registry.example.com/signatures\n    signers:\n      - identity: a@b.c\n        issuer: ${GITHUB}\n` +
      `  - images: '**'\n    signers:\n      - identity: a@b.c\n        issuer: ${GITHUB}\n`,
    'p.yml',
  )
  const spec = admissionFromPolicy(policy, {
    signatureFormat: 'legacy',
    signatureRepository: 'ghcr.io/acme/sigs',
  })
  const rules = field(parse(kyvernoPolicy(spec, { mode: 'audit' }).yaml), 'spec', 'rules') as Obj[]
  expect(rules.map((r) => field(r, 'verifyImages', 0, 'repository'))).toEqual([
    'registry.example.com/signatures',
    'ghcr.io/acme/sigs',
  ])
  const docs = parseAllDocuments(clusterImagePolicy(spec, { mode: 'audit' }).yaml)
  expect(docs.map((d) => field(d.toJS(), 'spec', 'authorities', 0, 'source', 0, 'oci'))).toEqual([
    'registry.example.com/signatures',
    'ghcr.io/acme/sigs',
  ])
})

describe('policiesForSignRun: what the action offers after signing', () => {
  test('both policies, audit mode, for a run that signed every image', () => {
    const outcome = { ...signOutcome(), signed: true, customInstance: true }
    outcome.results = outcome.results.filter((r) => r.signed)
    const policies = policiesForSignRun(outcome, 'audit')
    expect(policies.problems).toEqual([])
    expect(policies.kyverno?.mode).toBe('audit')
    expect(crdErrors(policies.kyverno?.yaml ?? '', KYVERNO)).toEqual([])
    expect(crdErrors(policies.clusterImagePolicy?.yaml ?? '', CIP)).toEqual([])
    // Another Sigstore instance needs its trust root at the controller: said in both.
    expect(policies.kyverno?.notes.join('\n')).toMatch(/trust root/)
    expect(policies.clusterImagePolicy?.notes.join('\n')).toMatch(/trust root/)
  })

  test('none for a run that did not sign every image', () => {
    expect(policiesForSignRun(signOutcome(), 'audit')).toEqual({ problems: [] })
  })

  test('a Kyverno variable in the identity costs the Kyverno policy only, with the reason', () => {
    const outcome = signOutcome({ signed: true })
    outcome.results = outcome.results.filter((r) => r.signed)
    outcome.identity = { ...outcome.identity!, subject: 'https://x/{{ request.object }}' }
    const policies = policiesForSignRun(outcome, 'enforce')
    expect(policies.kyverno).toBeUndefined()
    expect(policies.problems).toEqual([expect.stringMatching(/\{\{/)])
    expect(policies.clusterImagePolicy?.mode).toBe('enforce')
  })

  test('a certificate without an issuer, or a run with neither identity nor key: one reason', () => {
    const noIssuer = signOutcome({ signed: true })
    noIssuer.results = noIssuer.results.filter((r) => r.signed)
    noIssuer.identity = { ...noIssuer.identity!, issuer: undefined }
    expect(policiesForSignRun(noIssuer, 'audit')).toEqual({
      problems: [expect.stringMatching(/no OIDC issuer/)],
    })
    const nothing = { ...noIssuer, keyless: false, identity: undefined }
    expect(policiesForSignRun(nothing, 'audit').problems).toEqual([
      expect.stringMatching(/neither a certificate identity nor a public key/),
    ])
  })
})

// ---- Banned packages -------------------------------------------------------------------------

describe('banned packages', () => {
  const text = policyText(SIGNERS['keyless exact'], ATTESTATIONS['banned packages'])
  const spec = admissionFromPolicy(parsePolicy(text, 'p.yml'), { signatureFormat: 'legacy' })
  const conditions = field(
    parse(kyvernoPolicy(spec, { mode: 'enforce' }).yaml),
    'spec',
    'rules',
    0,
    'verifyImages',
    0,
    'attestations',
    0,
    'conditions',
  ) as Obj[]

  test('the names, lower-cased, are the values of an AllNotIn condition over every component name', () => {
    const [names, depth] = conditions[0].all as Obj[]
    expect(names.operator).toBe('AllNotIn')
    expect(names.value).toEqual(['log4j-core', 'commons-text', 'org.example/left-pad'])
    const key = names.key as string
    expect(key).toMatch(/^\{\{ .* \}\}$/)
    // Top-level and nested CycloneDX components, group/name, SPDX packages; compared lower-case.
    for (const part of [
      'components[].name',
      'components[].components[].name',
      "join('/', [group, name])",
      'packages[].name',
      'map(&to_lower(@), @)',
    ]) {
      expect(key).toContain(part)
    }
    // Deeper than the condition looks is refused, not passed.
    expect(depth).toMatchObject({ operator: 'Equals', value: 0 })
  })

  /**
   * The condition run as Kyverno runs it (JMESPath on the attestation's predicate; Kyverno's own
   * `to_lower` applied in JavaScript, as jmespath.js has no custom functions), against Signet's
   * verdict on the same SBOM (bannedComponentsIn). AllNotIn passes when no listed name is a
   * value; the second condition passes when nothing nests deeper than the first looks.
   */
  function kyvernoPasses(predicate: unknown): boolean {
    const [names, depth] = conditions[0].all as Obj[]
    const expression = (key: unknown): string => (key as string).replace(/^\{\{ | \}\}$/g, '')
    const listed = (
      jmespath.search(
        predicate,
        expression(names.key).replace(/ \| map\(&to_lower\(@\), @\)$/, ''),
      ) as string[]
    ).map((n) => n.toLowerCase())
    const banned = names.value as string[]
    return (
      !listed.some((n) => banned.includes(n)) &&
      jmespath.search(predicate, expression(depth.key)) === depth.value
    )
  }
  const nest = (levels: number, leaf: Obj): Obj =>
    levels === 1 ? leaf : { name: `level-${levels}`, components: [nest(levels - 1, leaf)] }

  test.each<[string, Obj]>([
    ['a clean SBOM', { components: [{ name: 'left-pad' }, { name: 'lodash', group: 'npm' }] }],
    ['a banned name, other case', { components: [{ name: 'Log4J-Core' }] }],
    ['a banned name nested three deep', { components: [nest(3, { name: 'commons-text' })] }],
    ['a banned name six deep', { components: [nest(6, { name: 'log4j-core' })] }],
    ['a banned group/name', { components: [{ group: 'org.example', name: 'left-pad' }] }],
    ['the same name in another group', { components: [{ group: 'org.other', name: 'left-pad' }] }],
    ['an SPDX package', { packages: [{ name: 'COMMONS-TEXT' }, { name: 'zlib' }] }],
    ['no components at all', {}],
    ['names that are not strings', { components: [{ name: 7 }, { group: 'g', name: null }, null] }],
    ['an empty group', { components: [{ group: '', name: 'fine' }] }],
  ])('%s: Kyverno and Signet agree', (_what, predicate) => {
    const banned = ['log4j-core', 'Commons-Text', 'org.example/left-pad']
    const signet = bannedComponentsIn({ predicate }, banned).length === 0
    expect(kyvernoPasses(predicate)).toBe(signet)
  })

  test('an SBOM nesting deeper than the condition looks is refused (Signet checks it)', () => {
    const clean = { components: [nest(BANNED_COMPONENT_DEPTH + 1, { name: 'fine' })] }
    expect(bannedComponentsIn({ predicate: clean }, ['log4j-core'])).toEqual([])
    expect(kyvernoPasses(clean)).toBe(false)
  })

  test('a banned name with a Kyverno wildcard is refused', () => {
    const wild = admissionFromPolicy(
      parsePolicy(
        policyText(
          SIGNERS['keyless exact'],
          '    attestations:\n      - type: cyclonedx\n        bannedComponents: [log4j*]\n',
        ),
        'p.yml',
      ),
      { signatureFormat: 'legacy' },
    )
    expect(() => kyvernoPolicy(wild, { mode: 'audit' })).toThrow(/wildcards/)
  })
})

// ---- Refusals and hostile values ------------------------------------------------------------

describe('what cannot be said is refused', () => {
  test('a signer pinning Fulcio extensions', () => {
    const p = parsePolicy(
      `rules:\n  - images: '**'\n    signers:\n      - identityRegexp: '.*'\n        issuer: ${GITHUB}\n        sourceRepository: acme/app\n`,
      'p.yml',
    )
    expect(() => admissionFromPolicy(p, { signatureFormat: 'legacy' })).toThrow(/source repository/)
  })

  test('unmatched: fail without a catch-all rule, unless accepted', () => {
    const p = parsePolicy(
      `rules:\n  - images: x.io/a\n    signers:\n      - identity: a@b.c\n        issuer: ${GITHUB}\n`,
      'p.yml',
    )
    let err: unknown
    try {
      admissionFromPolicy(p, { signatureFormat: 'legacy' })
    } catch (e) {
      err = e
    }
    expect(isSignetError(err) && err.code).toBe('ADMISSION_UNSUPPORTED')
    expect(() =>
      admissionFromPolicy(p, { signatureFormat: 'legacy', admitUnmatched: true }),
    ).not.toThrow()
  })
})

describe('hostile values stay text', () => {
  const hostile = [
    'a: b\nkind: Namespace',
    "x' # comment\n- keys: {publicKeys: evil}",
    '"quoted" | folded > &anchor *alias !!tag %directive',
    '---\napiVersion: v1',
    'line\rbreak\u2028sep\u0085nel',
    '$(echo PWNED) `echo PWNED`',
  ]
  const spec = (identity: string, image = 'ghcr.io/acme/app'): AdmissionSpec => ({
    rules: [
      {
        images: [image],
        signers: [{ kind: 'keyless', identity: { exact: identity }, issuer: { exact: identity } }],
        attestations: [],
      },
    ],
    signatureFormat: 'legacy',
    transparencyLog: true,
  })

  test.each(hostile)('%j round-trips in both, adding nothing', (value) => {
    const k = kyvernoPolicy(spec(value), { mode: 'enforce', name: value })
    expect(crdErrors(k.yaml, KYVERNO)).toEqual([])
    expect(
      field(
        parse(k.yaml),
        'spec',
        'rules',
        0,
        'verifyImages',
        0,
        'attestors',
        0,
        'entries',
        0,
        'keyless',
      ),
    ).toEqual({
      subject: value,
      issuer: value,
      rekor: { url: 'https://rekor.sigstore.dev' },
    })
    // The name is reduced to a DNS label.
    expect(field(parse(k.yaml), 'metadata', 'name')).toMatch(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
    const c = clusterImagePolicy(spec(value), { mode: 'enforce', name: value })
    const docs = parseAllDocuments(c.yaml)
    expect(docs).toHaveLength(1)
    expect(crdErrors(c.yaml, CIP)).toEqual([])
    expect(field(docs[0].toJS(), 'spec', 'authorities', 0, 'keyless', 'identities', 0)).toEqual({
      issuer: value,
      subject: value,
    })
  })

  test.each(['{{ request.object.metadata.name }}', 'x{{y}}'])(
    'Kyverno refuses %j (a variable it would substitute); policy-controller keeps it as text',
    (value) => {
      expect(() => kyvernoPolicy(spec(value), { mode: 'audit' })).toThrow(
        expect.objectContaining({
          code: 'ADMISSION_UNSUPPORTED',
          message: expect.stringMatching(/\{\{/),
        }),
      )
      expect(() => kyvernoPolicy(spec('a@b.c'), { mode: 'audit', name: value })).toThrow(/\{\{/)
      const c = clusterImagePolicy(spec(value), { mode: 'audit' })
      expect(
        field(
          parseAllDocuments(c.yaml)[0].toJS(),
          'spec',
          'authorities',
          0,
          'keyless',
          'identities',
          0,
          'subject',
        ),
      ).toBe(value)
    },
  )

  test('an image pattern no glob can hold is refused', () => {
    expect(() => clusterImagePolicy(spec('a@b.c', 'ghcr.io/acme/a+b'), { mode: 'audit' })).toThrow(
      /glob/,
    )
  })
})

describe('the schema checker itself', () => {
  const good = kyvernoPolicy(
    admissionFromPolicy(parsePolicy(policyText(SIGNERS.key, ''), 'p.yml'), {
      signatureFormat: 'legacy',
    }),
    { mode: 'enforce' },
  ).yaml

  test.each([
    [
      'an unknown field',
      (p: Obj) => ((field(p, 'spec', 'rules', 0, 'verifyImages', 0) as Obj).typo = true),
      /verifyImages\[0\]\.typo: unknown field/,
    ],
    [
      'a value outside the enum',
      (p: Obj) => ((field(p, 'spec', 'rules', 0, 'verifyImages', 0) as Obj).type = 'Notation'),
      /is not one of/,
    ],
    [
      'a wrong type',
      (p: Obj) => ((field(p, 'spec', 'rules', 0, 'verifyImages', 0) as Obj).mutateDigest = 'yes'),
      /expected boolean/,
    ],
    [
      'a missing required field',
      (p: Obj) => delete (field(p, 'spec', 'rules', 0) as Obj).match,
      /missing required "match"/,
    ],
    [
      'a count below its minimum',
      (p: Obj) =>
        ((field(p, 'spec', 'rules', 0, 'verifyImages', 0, 'attestors', 0) as Obj).count = 0),
      /below the minimum/,
    ],
  ])('finds %s', (_what, mutate, message) => {
    const policy = parse(good) as Obj
    mutate(policy)
    expect(schemaErrors(KYVERNO.schema, policy).join('\n')).toMatch(message)
  })
})
