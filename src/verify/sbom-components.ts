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

/** Every name in a CycloneDX component tree, however deep: iterative, so no stack to exhaust. */
function cycloneDxNames(components: unknown, out: string[]): void {
  const pending: unknown[] = [components]
  while (pending.length > 0) {
    const list = pending.pop()
    if (!Array.isArray(list)) continue
    for (const c of list as (Named | null)[]) {
      if (typeof c?.name === 'string') {
        out.push(c.name)
        if (typeof c.group === 'string' && c.group !== '') out.push(`${c.group}/${c.name}`)
      }
      pending.push(c?.components)
    }
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
