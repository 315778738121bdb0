// Runs a TypeScript script (the demo, the benchmark) by bundling it with esbuild first, so
// scripts share the test infrastructure's sources without a second TypeScript runtime.
import { build } from 'esbuild'
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'

const [entry, ...args] = process.argv.slice(2)
if (!entry) {
  console.error('usage: node scripts/run-ts.mjs <script.ts> [args...]')
  process.exit(2)
}
const outDir = resolve('.tmp', 'scripts')
mkdirSync(outDir, { recursive: true })
const outfile = join(outDir, basename(entry).replace(/\.ts$/, '.cjs'))
await build({
  entryPoints: [entry],
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  keepNames: true,
  outfile,
  logLevel: 'warning',
})
const node = resolve('node_modules', '.bin', 'node')
const result = spawnSync(node, [outfile, ...args], { stdio: 'inherit' })
process.exit(result.status ?? 1)
