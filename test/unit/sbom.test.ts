import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  expandSbomPaths,
  parseSbom,
  parseSbomInput,
  readSbomFile,
  SBOM_MAX_BYTES,
  SBOM_WARN_BYTES,
} from '../../src/formats/sbom'
import { errorOf, asyncErrorOf } from '../infra/expect'

// What `syft ghcr.io/acme/app -o cyclonedx-json` writes (trimmed to one component).
const CYCLONEDX_1_5 = {
  $schema: 'http://cyclonedx.org/schema/bom-1.5.schema.json',
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
  version: 1,
  metadata: {
    timestamp: '2025-06-02T10:15:04Z',
    tools: {
      components: [{ type: 'application', author: 'anchore', name: 'syft', version: '1.26.1' }],
    },
    component: {
      'bom-ref': 'f4f3ea1d5e1c2b7a',
      type: 'container',
      name: 'ghcr.io/acme/app',
      version: `sha256:${'ab'.repeat(32)}`,
    },
  },
  components: [
    {
      'bom-ref': 'pkg:apk/alpine/musl@1.2.5-r9?arch=x86_64&distro=alpine-3.21.3',
      type: 'library',
      publisher: 'Natanael Copa <ncopa@alpinelinux.org>',
      name: 'musl',
      version: '1.2.5-r9',
      licenses: [{ license: { id: 'MIT' } }],
      cpe: 'cpe:2.3:a:musl-libc:musl:1.2.5-r9:*:*:*:*:*:*:*',
      purl: 'pkg:apk/alpine/musl@1.2.5-r9?arch=x86_64&distro=alpine-3.21.3',
      properties: [{ name: 'syft:package:type', value: 'apk' }],
    },
  ],
}

// What `syft ghcr.io/acme/app -o spdx-json` writes (trimmed to one package).
function spdx(version: string) {
  return {
    spdxVersion: `SPDX-${version}`,
    dataLicense: 'CC0-1.0',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: 'ghcr.io/acme/app',
    documentNamespace:
      'https://anchore.com/syft/image/ghcr.io/acme/app-5c4f1a3e-6a0b-4d1f-9d7e-1b2c3d4e5f60',
    creationInfo: {
      licenseListVersion: '3.26',
      creators: ['Organization: Anchore, Inc', 'Tool: syft-1.26.1'],
      created: '2025-06-02T10:15:04Z',
    },
    packages: [
      {
        name: 'musl',
        SPDXID: 'SPDXRef-Package-apk-musl-7c8f0f1b2d3e4a5b',
        versionInfo: '1.2.5-r9',
        supplier: 'Person: Natanael Copa (ncopa@alpinelinux.org)',
        downloadLocation: 'https://musl.libc.org/',
        filesAnalyzed: false,
        licenseConcluded: 'NOASSERTION',
        licenseDeclared: 'MIT',
        copyrightText: 'NOASSERTION',
        externalRefs: [
          {
            referenceCategory: 'PACKAGE-MANAGER',
            referenceType: 'purl',
            referenceLocator: 'pkg:apk/alpine/musl@1.2.5-r9?arch=x86_64&distro=alpine-3.21.3',
          },
        ],
      },
    ],
    relationships: [
      {
        spdxElementId: 'SPDXRef-DOCUMENT',
        relatedSpdxElement: 'SPDXRef-DocumentRoot-Image-ghcr.io-acme-app',
        relationshipType: 'DESCRIBES',
      },
    ],
  }
}

// The module object src/ reads through (SWC's CommonJS looks `readFile` up on it at each call);
// a namespace import would be a copy that a spy on it never sees.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fsModule = (): typeof import('node:fs/promises') => require('node:fs/promises')

const json = (value: unknown): string => JSON.stringify(value, null, 2)

describe('parseSbom', () => {
  it('detects CycloneDX by content and uses the cosign predicate type', () => {
    const text = json(CYCLONEDX_1_5)
    const sbom = parseSbom('app.json', text, {})
    expect(sbom).toEqual({
      path: 'app.json',
      format: 'cyclonedx',
      version: '1.5',
      predicate: CYCLONEDX_1_5,
      predicateType: 'https://cyclonedx.org/bom',
      bytes: Buffer.byteLength(text),
      warnings: [],
    })
  })

  it.each(['2.3', '2.2'])('detects SPDX %s by content', (version) => {
    const sbom = parseSbom('sbom.spdx.json', Buffer.from(json(spdx(version))), {})
    expect(sbom.format).toBe('spdx')
    expect(sbom.version).toBe(version)
    expect(sbom.predicateType).toBe('https://spdx.dev/Document')
    expect(sbom.predicate).toEqual(spdx(version))
  })

  it('accepts a UTF-8 byte-order mark', () => {
    const sbom = parseSbom('bom.json', Buffer.from(`\uFEFF${json(CYCLONEDX_1_5)}`), {})
    expect(sbom.format).toBe('cyclonedx')
  })

  describe('sbom-predicate-type', () => {
    it.each([
      ['https://spdx.dev/Document/v2.3', 'https://spdx.dev/Document/v2.3'],
      ['versioned', 'https://spdx.dev/Document/v2.3'],
      ['Versioned ', 'https://spdx.dev/Document/v2.3'],
      ['unversioned', 'https://spdx.dev/Document'],
      ['', 'https://spdx.dev/Document'],
      ['   ', 'https://spdx.dev/Document'],
      ['https://example.com/sbom/v1', 'https://example.com/sbom/v1'],
    ])('SPDX 2.3 with %j → %s', (override, expected) => {
      const sbom = parseSbom('s.json', json(spdx('2.3')), { predicateTypeOverride: override })
      expect(sbom.predicateType).toBe(expected)
      expect(sbom.warnings).toEqual([])
    })

    it('versioned follows the document: SPDX 2.2 → v2.2', () => {
      const sbom = parseSbom('s.json', json(spdx('2.2')), { predicateTypeOverride: 'versioned' })
      expect(sbom.predicateType).toBe('https://spdx.dev/Document/v2.2')
    })

    it.each(['versioned', 'unversioned'])('CycloneDX keeps its one type with %s', (override) => {
      const sbom = parseSbom('c.json', json(CYCLONEDX_1_5), { predicateTypeOverride: override })
      expect(sbom.predicateType).toBe('https://cyclonedx.org/bom')
    })

    it('warns when the override names the other format or another SPDX version', () => {
      const cdx = parseSbom('c.json', json(CYCLONEDX_1_5), {
        predicateTypeOverride: 'https://spdx.dev/Document/v2.3',
      })
      expect(cdx.predicateType).toBe('https://spdx.dev/Document/v2.3')
      expect(cdx.warnings).toEqual([
        'SBOM c.json is CycloneDX but sbom-predicate-type is the SPDX type https://spdx.dev/Document/v2.3',
      ])
      const spdx22 = parseSbom('s.json', json(spdx('2.2')), {
        predicateTypeOverride: 'https://spdx.dev/Document/v2.3',
      })
      expect(spdx22.warnings).toEqual([
        'SBOM s.json is SPDX 2.2 but sbom-predicate-type says v2.3 (https://spdx.dev/Document/v2.3)',
      ])
      const spdxAsCdx = parseSbom('s.json', json(spdx('2.3')), {
        predicateTypeOverride: 'https://cyclonedx.org/bom',
      })
      expect(spdxAsCdx.warnings).toHaveLength(1)
    })

    it('refuses an override that is neither a URI nor a keyword', () => {
      const err = errorOf(() =>
        parseSbom('s.json', json(spdx('2.3')), { predicateTypeOverride: 'spdxjson' }),
      )
      expect(err.code).toBe('INPUT_INVALID')
      expect(err.input).toBe('sbom-predicate-type')
      expect(err.message).toMatch(/must be a URI .* versioned or unversioned, not "spdxjson"/)
    })
  })

  describe('errors', () => {
    it('invalid JSON names the file and the input', () => {
      const err = errorOf(() => parseSbom('out/sbom.json', '{"bomFormat": "CycloneDX",', {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.input).toBe('sbom')
      expect(err.message).toMatch(/^input sbom: out\/sbom\.json is not valid JSON \(/)
      expect(err.message).toMatch(/give the JSON form of the SBOM/)
      expect(err.stack).toBeDefined()
      expect(err.message).not.toMatch(/\n\s+at /)
    })

    it('uses the input name it is given', () => {
      const err = errorOf(() => parseSbom('p.json', 'nope', { input: 'predicate' }))
      expect(err.input).toBe('predicate')
      expect(err.message).toMatch(/^input predicate: p\.json is not valid JSON/)
    })

    it('an empty file says so', () => {
      const err = errorOf(() => parseSbom('empty.json', ' \n', {}))
      expect(err.message).toBe(
        'input sbom: empty.json is empty; give a CycloneDX or SPDX JSON file',
      )
    })

    it('CycloneDX XML and SPDX tag-value get a hint', () => {
      const xml = errorOf(() =>
        parseSbom(
          'bom.xml',
          '<?xml version="1.0"?><bom xmlns="http://cyclonedx.org/schema/bom/1.5"/>',
          {},
        ),
      )
      expect(xml.message).toMatch(/looks like XML.*cyclonedx-json/)
      const tv = errorOf(() =>
        parseSbom('sbom.spdx', 'SPDXVersion: SPDX-2.3\nDataLicense: CC0-1.0\n', {}),
      )
      expect(tv.message).toMatch(/SPDX tag-value.*spdx-json/)
    })

    it('JSON that is neither CycloneDX nor SPDX says what was expected', () => {
      const err = errorOf(() => parseSbom('x.json', json({ name: 'app', packages: [] }), {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.message).toBe(
        'input sbom: x.json is neither CycloneDX nor SPDX: expected CycloneDX JSON (with "bomFormat": ' +
          '"CycloneDX" and "specVersion") or SPDX 2.2/2.3 JSON (with "spdxVersion" and "SPDXID")',
      )
    })

    it.each([
      [[1, 2], /holds an array/],
      ['"text"', /holds a string/],
      [{ bomFormat: 'SPDX' }, /"bomFormat": "SPDX"; expected CycloneDX JSON/],
      [{ bomFormat: 'CycloneDX' }, /CycloneDX without a valid "specVersion" \(found undefined\)/],
      [{ spdxVersion: 'SPDX-2.3' }, /has "spdxVersion" but no "SPDXID"/],
      [
        {
          schema: {
            url: 'https://raw.githubusercontent.com/anchore/syft/main/schema/json/schema-16.0.34.json',
          },
        },
        /syft's own JSON format/,
      ],
      [{ _type: 'https://in-toto.io/Statement/v1', predicate: {} }, /in-toto statement/],
      [{ '@context': 'https://spdx.org/rdf/3.0.1/spdx-context.jsonld', '@graph': [] }, /SPDX 3/],
    ])('refuses %j', (doc, message) => {
      const text = typeof doc === 'string' ? doc : json(doc)
      const err = errorOf(() => parseSbom('x.json', text, {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.message).toMatch(message)
    })

    it.each(['SPDX-2.1', 'SPDX-3.0', 'spdx-2.3', '2.3'])('refuses SPDX version %s', (version) => {
      const doc = { ...spdx('2.3'), spdxVersion: version }
      const err = errorOf(() => parseSbom('s.json', json(doc), {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.message).toBe(
        `input sbom: s.json is SPDX of version "${version}", which is not supported; ` +
          'give SPDX-2.2 or SPDX-2.3 JSON (e.g. syft -o spdx-json)',
      )
    })
  })

  describe('size limits', () => {
    it('warns above 10 MB (Kyverno) and still parses', () => {
      const doc = {
        ...CYCLONEDX_1_5,
        properties: [{ name: 'pad', value: 'a'.repeat(SBOM_WARN_BYTES) }],
      }
      const sbom = parseSbom('big.json', json(doc), {})
      expect(sbom.bytes).toBeGreaterThan(SBOM_WARN_BYTES)
      expect(sbom.warnings).toEqual([
        'SBOM big.json is 10.0 MB: Kyverno reads no attestation larger than 10 MB, so Kyverno policies will not see this one',
      ])
    })

    it('no warning at exactly 10 MB', () => {
      const base = json(CYCLONEDX_1_5)
      const padded = base + ' '.repeat(SBOM_WARN_BYTES - Buffer.byteLength(base))
      expect(parseSbom('ok.json', padded, {}).warnings).toEqual([])
    })

    it('refuses more than 16 MB before parsing', () => {
      const err = errorOf(() => parseSbom('huge.json', Buffer.alloc(SBOM_MAX_BYTES + 1, 0x20), {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.message).toMatch(
        /^input sbom: refused huge\.json: it is 16\.0 MB, larger than 16 MB/,
      )
    })
  })
})

describe('files', () => {
  let dir: string

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'signet-sbom-'))
    await mkdir(join(dir, 'sbom', 'sub'), { recursive: true })
    await mkdir(join(dir, 'sbom', 'dir.json'))
    await writeFile(join(dir, 'sbom', 'app.json'), json(CYCLONEDX_1_5))
    await writeFile(join(dir, 'sbom', 'worker.json'), json(spdx('2.3')))
    await writeFile(join(dir, 'sbom', 'sub', 'lib.cdx.json'), json(CYCLONEDX_1_5))
    await writeFile(join(dir, 'root.cdx.json'), json(CYCLONEDX_1_5))
    await writeFile(join(dir, 'notes.txt'), 'not an sbom')
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  afterEach(() => {
    jest.restoreAllMocks()
  })

  describe('readSbomFile', () => {
    it('reads and parses a file', async () => {
      const path = join(dir, 'sbom', 'worker.json')
      // The spy sees the module's reads: the "without reading it" test below relies on that.
      const readFile = jest.spyOn(fsModule(), 'readFile')
      const sbom = await readSbomFile(path, { predicateTypeOverride: 'versioned' })
      expect(readFile).toHaveBeenCalledWith(path)
      expect(sbom).toMatchObject({
        path,
        format: 'spdx',
        version: '2.3',
        predicateType: 'https://spdx.dev/Document/v2.3',
      })
    })

    it('a missing file names the input and the path', async () => {
      const path = join(dir, 'missing.json')
      const err = await asyncErrorOf(readSbomFile(path, {}))
      expect(err.code).toBe('INPUT_INVALID')
      expect(err.input).toBe('sbom')
      expect(err.message).toBe(
        `input sbom: SBOM file ${path} does not exist; check the path (was the SBOM generated in an earlier step?)`,
      )
    })

    it('a directory is not a file', async () => {
      const err = await asyncErrorOf(readSbomFile(join(dir, 'sbom'), {}))
      expect(err.message).toMatch(/is not a file$/)
    })

    it('refuses a file over 16 MB from its size, without reading it', async () => {
      const path = join(dir, 'huge.json')
      const handle = await open(path, 'w')
      await handle.truncate(SBOM_MAX_BYTES + 1) // sparse: no 16 MB written to disk
      await handle.close()
      const readFile = jest.spyOn(fsModule(), 'readFile')
      const err = await asyncErrorOf(readSbomFile(path, {}))
      expect(err.code).toBe('SBOM_INVALID')
      expect(err.input).toBe('sbom')
      expect(err.message).toBe(
        `input sbom: refused ${path}: it is 16.0 MB, larger than 16 MB, the most GitHub's attestation ` +
          'API accepts; make the SBOM smaller (e.g. leave out per-file entries) or split it',
      )
      expect(readFile).not.toHaveBeenCalled()
      await rm(path)
    })

    it('warns about a file over 10 MB', async () => {
      const path = join(dir, 'large.json')
      const doc = { ...spdx('2.3'), comment: 'x'.repeat(SBOM_WARN_BYTES + 512 * 1024) }
      await writeFile(path, JSON.stringify(doc))
      const sbom = await readSbomFile(path, {})
      expect(sbom.format).toBe('spdx')
      expect(sbom.warnings).toHaveLength(1)
      expect(sbom.warnings[0]).toMatch(
        /is 10\.5 MB: Kyverno reads no attestation larger than 10 MB/,
      )
      await rm(path)
    })
  })

  describe('expandSbomPaths', () => {
    it('returns an existing plain path as is', async () => {
      expect(await expandSbomPaths('sbom/app.json', dir)).toEqual(['sbom/app.json'])
      const absolute = join(dir, 'root.cdx.json')
      expect(await expandSbomPaths(absolute, dir)).toEqual([absolute])
    })

    it('expands sbom/*.json to files only, sorted', async () => {
      expect(await expandSbomPaths('sbom/*.json', dir)).toEqual([
        'sbom/app.json',
        'sbom/worker.json',
      ])
    })

    it('expands **/*.cdx.json across directories, sorted', async () => {
      expect(await expandSbomPaths('**/*.cdx.json', dir)).toEqual([
        'root.cdx.json',
        'sbom/sub/lib.cdx.json',
      ])
    })

    it('expands ? and {a,b}', async () => {
      expect(await expandSbomPaths('sbom/{app,worker}.json', dir)).toEqual([
        'sbom/app.json',
        'sbom/worker.json',
      ])
      expect(await expandSbomPaths('sbom/ap?.json', dir)).toEqual(['sbom/app.json'])
    })

    it('keeps an absolute pattern absolute', async () => {
      expect(await expandSbomPaths(join(dir, 'sbom', '*.json'), dir)).toEqual([
        join(dir, 'sbom', 'app.json'),
        join(dir, 'sbom', 'worker.json'),
      ])
    })

    it('a pattern that matches nothing names the input and the pattern', async () => {
      const err = await asyncErrorOf(expandSbomPaths('out/*.spdx.json', dir))
      expect(err.code).toBe('INPUT_INVALID')
      expect(err.input).toBe('sbom')
      expect(err.message).toBe(
        `input sbom: "out/*.spdx.json" matches no file (in ${dir}); check the pattern (was the SBOM generated in an earlier step?)`,
      )
    })

    it('a plain path that does not exist is an error', async () => {
      const err = await asyncErrorOf(expandSbomPaths('sbom.cdx.json', dir))
      expect(err.input).toBe('sbom')
      expect(err.message).toMatch(/^input sbom: SBOM file sbom\.cdx\.json does not exist/)
    })

    it('a directory asks for a file or a glob', async () => {
      const err = await asyncErrorOf(expandSbomPaths('sbom/', dir))
      expect(err.message).toBe(
        'input sbom: sbom/ is a directory; name the SBOM file, or a glob such as sbom/*.json',
      )
    })
  })
})

describe('parseSbomInput', () => {
  it('takes one path for every image', () => {
    expect(parseSbomInput('sbom.cdx.json')).toEqual([{ path: 'sbom.cdx.json' }])
  })

  it('takes image=path lines; references keep their : and @', () => {
    const digest = `sha256:${'cd'.repeat(32)}`
    const value = [
      'ghcr.io/acme/app=sbom-app.json',
      '  ghcr.io/acme/worker:1.2 = sbom/worker.spdx.json  ',
      '',
      `localhost:5000/acme/tool@${digest}=tool.json`,
      'shared/*.json',
    ].join('\n')
    expect(parseSbomInput(value)).toEqual([
      { image: 'ghcr.io/acme/app', path: 'sbom-app.json' },
      { image: 'ghcr.io/acme/worker:1.2', path: 'sbom/worker.spdx.json' },
      { image: `localhost:5000/acme/tool@${digest}`, path: 'tool.json' },
      { path: 'shared/*.json' },
    ])
  })

  it('splits on commas too, except inside {} globs', () => {
    expect(parseSbomInput('a.json, b.json,ghcr.io/acme/app=c.json')).toEqual([
      { path: 'a.json' },
      { path: 'b.json' },
      { image: 'ghcr.io/acme/app', path: 'c.json' },
    ])
    expect(parseSbomInput('sbom/{app,worker}.json\r\nother.json')).toEqual([
      { path: 'sbom/{app,worker}.json' },
      { path: 'other.json' },
    ])
  })

  it('splits at the first = only', () => {
    expect(parseSbomInput('ghcr.io/acme/app=out/a=b.json')).toEqual([
      { image: 'ghcr.io/acme/app', path: 'out/a=b.json' },
    ])
  })

  it('an empty input has no entries', () => {
    expect(parseSbomInput(' \n ')).toEqual([])
  })

  it.each([
    ['=sbom.json', /"=sbom\.json" has nothing before the =/],
    ['ghcr.io/acme/app=', /"ghcr\.io\/acme\/app=" has nothing after the =/],
    ['ghcr.io/acme/app ghcr.io/acme/w=s.json', /contains a space/],
  ])('refuses %j', (value, message) => {
    const err = errorOf(() => parseSbomInput(value))
    expect(err.code).toBe('INPUT_INVALID')
    expect(err.input).toBe('sbom')
    expect(err.message).toMatch(message)
  })
})
