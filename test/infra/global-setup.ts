/**
 * Interop tests are never skipped: if a judge is missing the whole run fails, pointing at the
 * installer (which `npm test` runs first).
 */
import { hasTool, ToolName } from './tools'

export default async function globalSetup(): Promise<void> {
  const required: ToolName[] = ['cosign3', 'cosign2', 'crane']
  const missing = required.filter((t) => !hasTool(t))
  if (missing.length > 0) {
    throw new Error(`missing test tools: ${missing.join(', ')}; run scripts/install-test-tools.sh`)
  }
  const major = Number(process.versions.node.split('.')[0])
  if (major < 24)
    throw new Error(`tests run on Node 24 (found ${process.version}); run them with npm test`)
}
