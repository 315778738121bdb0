/**
 * A structural checker for Kubernetes CRD schemas (openAPIV3Schema), for the subset the Kyverno
 * and policy-controller CRDs use: `type` (object, array, string, boolean, integer, number),
 * `properties`, `required`, `enum`, `items`, `additionalProperties`, `minimum`, `not: {required}`
 * and `x-kubernetes-preserve-unknown-fields`. Stricter than the API server in one way on purpose:
 * a field the schema does not name is an error (the API server would prune it silently, and a
 * policy field pruned is a check lost). `default`, `format` and the other `x-kubernetes-*` keys
 * describe nothing a document must meet and are ignored; any other keyword fails loudly, so the
 * checker never passes what it does not understand.
 */
import { readFileSync } from 'node:fs'
import { parse, parseAllDocuments } from 'yaml'

export interface Schema {
  type?: string
  properties?: Record<string, Schema>
  required?: string[]
  enum?: unknown[]
  items?: Schema
  additionalProperties?: Schema | boolean
  minimum?: number
  not?: { required?: string[] }
  'x-kubernetes-preserve-unknown-fields'?: boolean
}

const IGNORED = new Set(['default', 'format', 'x-kubernetes-list-type', 'x-kubernetes-map-type'])
const KNOWN = new Set([
  'type',
  'properties',
  'required',
  'enum',
  'items',
  'additionalProperties',
  'minimum',
  'not',
  'x-kubernetes-preserve-unknown-fields',
  ...IGNORED,
])

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/** Every way `value` fails `schema`, as `path: problem`; empty when it conforms. */
export function schemaErrors(schema: Schema, value: unknown, path = ''): string[] {
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN.has(keyword)) throw new Error(`${path}: the checker does not know "${keyword}"`)
  }
  const at = path || '(root)'
  const errors: string[] = []
  if (schema.type !== undefined) {
    const actual = typeOf(value)
    const ok =
      schema.type === 'number'
        ? actual === 'number' || actual === 'integer'
        : actual === schema.type
    if (!ok) return [`${at}: expected ${schema.type}, got ${actual}`]
  }
  if (schema.enum && !schema.enum.includes(value)) {
    errors.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`)
  }
  if (schema.minimum !== undefined && typeof value === 'number' && value < schema.minimum) {
    errors.push(`${at}: ${value} is below the minimum ${schema.minimum}`)
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => errors.push(...schemaErrors(schema.items!, item, `${path}[${i}]`)))
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const object = value as Record<string, unknown>
    for (const key of schema.required ?? []) {
      if (!(key in object)) errors.push(`${at}: missing required "${key}"`)
    }
    if (schema.not?.required && schema.not.required.every((k) => k in object)) {
      errors.push(`${at}: must not have all of ${schema.not.required.join(', ')}`)
    }
    const preserve = schema['x-kubernetes-preserve-unknown-fields'] === true
    for (const [key, child] of Object.entries(object)) {
      const childPath = path ? `${path}.${key}` : key
      const named = schema.properties?.[key]
      if (named) errors.push(...schemaErrors(named, child, childPath))
      else if (typeof schema.additionalProperties === 'object')
        errors.push(...schemaErrors(schema.additionalProperties, child, childPath))
      else if (!preserve && schema.additionalProperties !== true)
        errors.push(`${childPath}: unknown field`)
    }
  }
  return errors
}

interface Crd {
  spec: {
    group: string
    names: { kind: string }
    versions: { name: string; schema: { openAPIV3Schema: Schema } }[]
  }
}

/**
 * The schema of one version of a vendored CRD, with the root fields every Kubernetes object has
 * (apiVersion, kind, metadata), which a CRD's schema may leave out.
 */
export function crdSchema(
  file: string,
  version: string,
): { apiVersion: string; kind: string; schema: Schema } {
  const crd = parse(readFileSync(file, 'utf8')) as Crd
  const v = crd.spec.versions.find((x) => x.name === version)
  if (!v) throw new Error(`${file} has no version ${version}`)
  const root = v.schema.openAPIV3Schema
  return {
    apiVersion: `${crd.spec.group}/${version}`,
    kind: crd.spec.names.kind,
    schema: {
      ...root,
      properties: {
        apiVersion: { type: 'string' },
        kind: { type: 'string' },
        ...root.properties,
        // The API server checks metadata itself (a CRD may only say `type: object`); the
        // generated policies use these two fields, each as ObjectMeta types them.
        metadata: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            annotations: { type: 'object', additionalProperties: { type: 'string' } },
          },
          required: ['name'],
        },
      },
    },
  }
}

/**
 * Every problem of a YAML text of one or more documents against a CRD version: YAML errors, a
 * wrong apiVersion or kind, and schema errors, each prefixed with the document's index.
 */
export function crdErrors(yamlText: string, crd: ReturnType<typeof crdSchema>): string[] {
  const errors: string[] = []
  parseAllDocuments(yamlText).forEach((doc, i) => {
    if (doc.errors.length > 0) {
      errors.push(...doc.errors.map((e) => `document ${i}: ${e.message}`))
      return
    }
    const value = doc.toJS() as Record<string, unknown>
    if (value.apiVersion !== crd.apiVersion)
      errors.push(`document ${i}: apiVersion ${String(value.apiVersion)}`)
    if (value.kind !== crd.kind) errors.push(`document ${i}: kind ${String(value.kind)}`)
    errors.push(...schemaErrors(crd.schema, value).map((e) => `document ${i}: ${e}`))
  })
  return errors
}
