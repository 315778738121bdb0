/**
 * The banned-package check on attested SBOMs (src/verify/sbom-components.ts): which banned names a
 * CycloneDX or SPDX predicate lists.
 */
import { bannedComponentsIn, sbomComponentNames } from '../../src/verify/sbom-components'
import { CYCLONEDX, SPDX } from '../infra/sboms'

const statement = (predicate: unknown): unknown => ({
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'ghcr.io/acme/app', digest: { sha256: 'a'.repeat(64) } }],
  predicateType: 'https://cyclonedx.org/bom',
  predicate,
})

interface Component {
  type: string
  name: string
  group?: string
  components?: Component[]
}

/** A CycloneDX predicate whose component tree is `depth` levels deep, `name` at the bottom. */
function deepCycloneDx(depth: number, name: string): unknown {
  let bottom: Component = { type: 'library', name }
  for (let i = depth - 1; i >= 1; i--) {
    bottom = { type: 'library', name: `level-${i}`, components: [bottom] }
  }
  return { bomFormat: 'CycloneDX', specVersion: '1.5', components: [bottom] }
}

describe('CycloneDX', () => {
  const bom = {
    ...CYCLONEDX,
    components: [
      ...CYCLONEDX.components,
      {
        type: 'library',
        group: 'org.apache.logging.log4j',
        name: 'log4j-core',
        version: '2.14.1',
        components: [
          { type: 'library', name: 'shaded-commons', components: [{ type: 'file', name: 'jndi' }] },
        ],
      },
    ],
  }

  it('lists top-level and nested components, and group/name for a component with a group', () => {
    expect(sbomComponentNames(statement(bom))).toEqual([
      'openssl',
      'zlib',
      'log4j-core',
      'org.apache.logging.log4j/log4j-core',
      'shaded-commons',
      'jndi',
    ])
  })

  it('finds a banned top-level component', () => {
    expect(bannedComponentsIn(statement(bom), ['zlib', 'curl'])).toEqual(['zlib'])
  })

  it('finds a banned component nested two levels down', () => {
    expect(bannedComponentsIn(statement(bom), ['jndi'])).toEqual(['jndi'])
  })

  it('finds a banned component by its name alone or by group/name', () => {
    expect(
      bannedComponentsIn(statement(bom), ['log4j-core', 'org.apache.logging.log4j/log4j-core']),
    ).toEqual(['log4j-core', 'org.apache.logging.log4j/log4j-core'])
  })

  it('does not match a group/name whose group differs', () => {
    expect(bannedComponentsIn(statement(bom), ['com.example/log4j-core'])).toEqual([])
  })

  it('matches case-insensitively and reports the banned name as the policy writes it', () => {
    expect(
      bannedComponentsIn(statement(bom), [
        'Log4J-Core',
        'OPENSSL',
        'ORG.apache.logging.log4j/LOG4J-core',
      ]),
    ).toEqual(['Log4J-Core', 'OPENSSL', 'ORG.apache.logging.log4j/LOG4J-core'])
  })

  it('matches a component whose name differs in case from the banned name', () => {
    const shouting = { components: [{ type: 'library', name: 'Log4j-Core' }] }
    expect(bannedComponentsIn(statement(shouting), ['log4j-core'])).toEqual(['log4j-core'])
  })

  it('lists nothing banned when the SBOM holds none of the names', () => {
    expect(bannedComponentsIn(statement(bom), ['curl', 'log4j'])).toEqual([])
  })

  it('skips components without a string name and components that are not objects', () => {
    const odd = {
      components: [null, 42, 'zlib', { name: 7 }, { type: 'library', components: [{ name: 'x' }] }],
    }
    expect(sbomComponentNames(statement(odd))).toEqual(['x'])
  })

  it('reads 10 000 levels of nesting without exhausting the stack', () => {
    const bom = deepCycloneDx(10_000, 'log4j-core')
    expect(() => bannedComponentsIn(statement(bom), ['log4j-core'])).not.toThrow()
    expect(bannedComponentsIn(statement(bom), ['level-1', 'level-3'])).toEqual([
      'level-1',
      'level-3',
    ])
  })

  it('finds a banned component 60 levels down (within the nesting bound)', () => {
    expect(bannedComponentsIn(statement(deepCycloneDx(60, 'log4j-core')), ['log4j-core'])).toEqual([
      'log4j-core',
    ])
  })

  // Depth must not hide a component: an early version stopped reading at 65 levels (fail-open).
  it('finds a banned component 100 levels down (nesting beyond the bound must not hide it)', () => {
    expect(bannedComponentsIn(statement(deepCycloneDx(100, 'log4j-core')), ['log4j-core'])).toEqual(
      ['log4j-core'],
    )
  })
})

describe('SPDX', () => {
  const doc = {
    ...SPDX,
    packages: [
      ...SPDX.packages,
      { SPDXID: 'SPDXRef-Package-log4j', name: 'log4j-core', versionInfo: '2.14.1' },
      { SPDXID: 'SPDXRef-Package-noname', versionInfo: '1' },
    ],
  }

  it('lists every package by name', () => {
    expect(sbomComponentNames(statement(doc))).toEqual(['openssl', 'log4j-core'])
  })

  it('finds a banned package, case-insensitively', () => {
    expect(bannedComponentsIn(statement(doc), ['LOG4J-CORE', 'curl'])).toEqual(['LOG4J-CORE'])
  })
})

describe('predicates of neither kind', () => {
  it.each([
    ['a SLSA provenance predicate', statement({ buildDefinition: { buildType: 'x' } })],
    ['a predicate that is a string', statement('log4j-core')],
    [
      'a predicate whose components is an object',
      statement({ components: { name: 'log4j-core' } }),
    ],
    ['a statement without a predicate', { _type: 'https://in-toto.io/Statement/v1' }],
    ['no statement', undefined],
    ['null', null],
  ])('lists nothing for %s', (_what, value) => {
    expect(sbomComponentNames(value)).toEqual([])
    expect(bannedComponentsIn(value, ['log4j-core'])).toEqual([])
  })
})
