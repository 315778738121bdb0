/**
 * The banned-package check of `require-attestations` / policy `bannedComponents`: which of the
 * banned names an attested SBOM lists. Pure.
 *
 * CycloneDX: every component, nested ones included, by `name` (and `group/name`). SPDX: every
 * package by `name`. Names compare case-insensitively: a banned `log4j-core` must not slip through
 * as `Log4j-Core`. A statement whose predicate is neither shape lists nothing.
 */

interface Named {
  name?: unknown
  group?: unknown
  components?: unknown
}

function cycloneDxNames(components: unknown, out: string[], depth = 0): void {
  // Nesting is bounded: a hostile SBOM must not exhaust the stack.
  if (!Array.isArray(components) || depth > 64) return
  for (const c of components as Named[]) {
    if (typeof c?.name === 'string') {
      out.push(c.name)
      if (typeof c.group === 'string' && c.group !== '') out.push(`${c.group}/${c.name}`)
    }
    cycloneDxNames(c?.components, out, depth + 1)
  }
}

/** Every component or package name the SBOM predicate of `statement` lists. */
export function sbomComponentNames(statement: unknown): string[] {
  const predicate = (statement as { predicate?: Record<string, unknown> } | undefined)?.predicate
  if (!predicate || typeof predicate !== 'object') return []
  const names: string[] = []
  cycloneDxNames(predicate.components, names)
  if (Array.isArray(predicate.packages)) {
    for (const p of predicate.packages as Named[]) {
      if (typeof p?.name === 'string') names.push(p.name)
    }
  }
  return names
}

/** The banned names (as the policy writes them) that the SBOM lists. */
export function bannedComponentsIn(statement: unknown, banned: string[]): string[] {
  const listed = new Set(sbomComponentNames(statement).map((n) => n.toLowerCase()))
  return banned.filter((b) => listed.has(b.toLowerCase()))
}
