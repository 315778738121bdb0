/**
 * The local demo: a real registry and a Sigstore stand-in on loopback, a small image pushed,
 * signed keyless and by key by the bundled action run as the runner runs it, verified by the
 * action's verify mode, the job summaries printed, and the result checked with cosign v3 and v2
 * where they are installed.
 *
 *   npm install && npm run demo
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPairSync } from 'node:crypto'
import { RegistryClient } from '../src/registry/client'
import { anonymousCredentials } from '../src/registry/credentials'
import { encryptCosignKey } from '../src/sigstore/keys'
import { runAction, type ActionRun } from '../test/infra/action-runner'
import { startTestRegistry } from '../test/infra/docker-registry'
import { pushTestImage } from '../test/infra/images'
import { CYCLONEDX } from '../test/infra/sboms'
import { startSigstoreStandIn } from '../test/infra/sigstore-standin'
import { hasTool, runToolAsync, type ToolName } from '../test/infra/tools'

function heading(text: string): void {
  console.log(`\n\x1b[1m== ${text}\x1b[0m`)
}

/**
 * The job summary as a terminal can read it: cmark-gfm (installed with the test tools, the same
 * renderer the summary tests use) renders the GitHub-flavoured markdown to plain text, so the
 * character references that keep others' text inert show as the characters they stand for.
 * The markdown as written when cmark-gfm is not there.
 */
function summaryText(markdown: string): string {
  const rendered = spawnSync('cmark-gfm', ['-e', 'table', '-e', 'autolink', '-t', 'plaintext'], {
    input: markdown,
    encoding: 'utf8',
  })
  return rendered.status === 0 && rendered.stdout ? rendered.stdout : markdown
}

function show(run: ActionRun): void {
  for (const line of run.stdout.split('\n')) {
    if (/^::(set-output|add-mask|endgroup)/.test(line) || line === '') continue
    // The runner shows ::group:: as a fold; show its title.
    console.log(line.startsWith('::group::') ? `  ▸ ${line.slice(9)}` : `    ${line}`)
  }
  heading('Job summary (as text; the runner renders the markdown)')
  console.log(summaryText(run.summary))
  if (run.exitCode !== 0)
    throw new Error(`the action failed (exit ${run.exitCode}): ${run.errors.join('; ')}`)
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'signet-demo-'))
  heading('Starting a registry and the Sigstore stand-in on loopback')
  const registry = await startTestRegistry('distribution')
  const sigstore = await startSigstoreStandIn({ dir })
  console.log(`  registry: ${registry.host} (${registry.kind})`)
  console.log(`  sigstore stand-in: ${sigstore.url}`)
  try {
    const client = new RegistryClient({
      credentials: anonymousCredentials,
      plainHttp: [registry.host],
    })
    const repo = { registry: registry.host, repository: 'demo/app' }
    const image = await pushTestImage(client, repo, {
      tag: 'v1',
      platforms: ['linux/amd64', 'linux/arm64'],
    })
    const ref = `${registry.host}/demo/app@${image.digest}`
    console.log(`  pushed ${ref} (an index of ${image.children.length} platforms)`)

    const common = {
      images: ref,
      'plain-http': registry.host,
      'fulcio-url': sigstore.fulcioURL,
      'rekor-url': sigstore.rekorURL,
    }
    heading(
      'Signing keyless (GitHub OIDC token → Fulcio → Rekor), both formats, with an SBOM and provenance',
    )
    const sbomPath = join(dir, 'sbom.cdx.json')
    writeFileSync(sbomPath, JSON.stringify(CYCLONEDX, null, 2))
    const keyless = await runAction(
      { ...common, sbom: sbomPath, provenance: 'true' },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: sigstore.oidc.requestURL,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: sigstore.oidc.requestToken,
      },
    )
    show(keyless)

    heading('Signing with a cosign key, legacy format')
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const keyPath = join(dir, 'cosign.key')
    const pubPath = join(dir, 'cosign.pub')
    writeFileSync(keyPath, encryptCosignKey(privateKey, 'demo-password'))
    writeFileSync(pubPath, publicKey.export({ format: 'pem', type: 'spki' }))
    const keyed = await runAction({
      ...common,
      key: keyPath,
      'key-password': 'demo-password',
      'signature-format': 'legacy',
    })
    show(keyed)

    heading(
      'Verifying with Signet (mode: verify, no id-token): keyless signer or the key, SBOM required',
    )
    const verified = await runAction({
      mode: 'verify',
      images: ref,
      'plain-http': registry.host,
      'trusted-root': sigstore.trustedRootPath,
      'certificate-identity': keyless.outputs['certificate-identity'] ?? '',
      'certificate-oidc-issuer': keyless.outputs['certificate-oidc-issuer'] ?? '',
      'require-attestations': 'cyclonedx',
    })
    show(verified)
    if (verified.outputs.verified !== 'true') throw new Error('Signet did not verify the image')

    heading('Checking with real cosign')
    const identity = [
      '--certificate-identity',
      keyless.outputs['certificate-identity'],
      '--certificate-oidc-issuer',
      keyless.outputs['certificate-oidc-issuer'],
    ]
    const insecure = ['--allow-insecure-registry', '--allow-http-registry']
    const checks: [ToolName, string, string[], NodeJS.ProcessEnv?][] = [
      [
        'cosign3',
        'keyless bundle',
        ['verify', ...insecure, '--trusted-root', sigstore.trustedRootPath, ...identity, ref],
      ],
      ['cosign2', 'keyless .sig', ['verify', ...insecure, ...identity, ref], sigstore.cosignV2Env],
      [
        'cosign3',
        'key .sig',
        [
          'verify',
          ...insecure,
          '--key',
          pubPath,
          '--new-bundle-format=false',
          '--trusted-root',
          sigstore.trustedRootPath,
          ref,
        ],
      ],
      ['cosign2', 'key .sig', ['verify', ...insecure, '--key', pubPath, ref], sigstore.cosignV2Env],
      [
        'cosign3',
        'SBOM bundle',
        [
          'verify-attestation',
          '--type',
          'cyclonedx',
          ...insecure,
          '--trusted-root',
          sigstore.trustedRootPath,
          ...identity,
          ref,
        ],
      ],
      [
        'cosign2',
        'SBOM .att',
        ['verify-attestation', '--type', 'cyclonedx', ...insecure, ...identity, ref],
        sigstore.cosignV2Env,
      ],
      [
        'cosign2',
        'provenance .att',
        ['verify-attestation', '--type', 'slsaprovenance1', ...insecure, ...identity, ref],
        sigstore.cosignV2Env,
      ],
    ]
    let failures = 0
    for (const [tool, what, args, env] of checks) {
      if (!hasTool(tool)) {
        console.log(`  ${tool}: not installed (scripts/install-test-tools.sh installs it); skipped`)
        continue
      }
      try {
        await runToolAsync(tool, args, { env: { ...env, SIGSTORE_REKOR_URL: sigstore.rekorURL } })
        console.log(`  ✅ ${tool} ${args[0]} (${what}) accepts ${ref}`)
      } catch (err) {
        failures++
        console.log(
          `  ❌ ${tool} verify (${what}): ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`,
        )
      }
    }
    if (failures > 0) throw new Error(`${failures} cosign check(s) failed`)
    heading('Done')
  } finally {
    await sigstore.stop()
    await registry.stop()
  }
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`)
  process.exit(1)
})
