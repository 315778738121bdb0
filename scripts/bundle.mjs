// Builds dist/: the action's entry (dist/index.cjs: Signet's own code and the small packages it
// needs to start), the command line's (dist/cli.cjs, the same for the CLI) and, beside them,
// one file per group of large packages that only some runs need (VENDOR_FILES). Node compiles a
// whole file before it runs a line of it, so a package in the entry costs every run its compile
// time; a package in a vendor file is read and compiled when it is first required, by the run
// that needs it (issue 11: start-up to the first request).
//
// One copy of every package in all of dist/: an import of a vendor package from anywhere else
// (the entry, or another vendor file) becomes a small module that asks the vendor file for it, by
// its path under node_modules, so a class (sigstore-js's ASN1Obj, which asn1-patches.ts patches)
// or a module object (internals.ts's sctChecks) is the same wherever it is used. The vendor file
// evaluates a module when it is first asked for, as the entry would have. The build fails if a
// file is bundled into two outputs.
//
//   npm run bundle      (the same as: node scripts/bundle.mjs)
import { build } from 'esbuild'
import { mkdirSync, writeFileSync } from 'node:fs'
import { relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const DIST = resolve(ROOT, 'dist')

/**
 * Which vendor file holds each package (and whatever it depends on that no other group holds):
 * a package not named here goes into the output that imports it.
 */
const VENDOR_FILES = {
  // Signing and verifying: what checks a bundle (both modes, when they first verify or sign).
  'sigstore.cjs': [
    '@sigstore/core',
    '@sigstore/verify',
    '@sigstore/bundle',
    '@sigstore/protobuf-specs',
  ],
  // Talking to Sigstore's services: Fulcio, Rekor, the TSA, TUF (sign mode; verify without a
  // trusted-root). Their HTTP is Signet's (REPLACED).
  'sigstore-services.cjs': ['@sigstore/sign', '@sigstore/tuf', 'sigstore', 'tuf-js'],
  // GitHub's API (github-attestations, attestations stored to GitHub).
  'github.cjs': ['@actions/github', '@octokit/core'],
  // The undici package (Node's fetch is built in): proxy routing (src/net/route.ts, with a proxy
  // variable set) and @actions/http-client.
  'undici.cjs': ['undici'],
  // Policy files.
  'yaml.cjs': ['yaml'],
}

/**
 * Packages left out of every output: a require of one throws, as it would were it not installed.
 * iconv-lite (half a megabyte of code tables) is minipass-fetch's optional dependency for
 * textConverted(), which nothing Signet runs calls; minipass-fetch requires it inside a try.
 */
const LEFT_OUT = ['iconv-lite']

/**
 * Packages bundled as one of Signet's modules instead, which does what Signet needs of them.
 * make-fetch-happen, which sigstore-js's Fulcio, Rekor and TSA clients call, with its HTTP cache,
 * agents and SOCKS support, took a keyless run about 35 ms to load before it could ask Fulcio
 * (issue 11): src/sigstore/sigstore-js-fetch.ts sends those calls over Signet's own HTTP (and
 * jest.config.js maps it the same way, so the tests run what the bundle runs).
 */
const REPLACED = { 'make-fetch-happen': resolve(ROOT, 'src/sigstore/sigstore-js-fetch.ts') }

const COMMON = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'cjs',
  keepNames: true,
  legalComments: 'external',
  logLevel: 'warning',
  metafile: true,
  write: false,
  // Comments and indentation out (names and syntax kept): the entry reads and compiles a quarter
  // less, and a comment's non-ASCII character no longer makes Node hold a file as UTF-16.
  minifyWhitespace: true,
}

/** A resolved file's path under node_modules (`@scope/pkg/dist/x.js`), or undefined. */
function packagePath(file) {
  const parts = file.split(sep)
  const at = parts.indexOf('node_modules')
  return at < 0 ? undefined : parts.slice(at + 1).join('/')
}

/** The vendor file whose group holds a package path: its outermost package decides. */
function vendorOf(path) {
  const parts = path.split('/')
  const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
  return Object.keys(VENDOR_FILES).find((file) => VENDOR_FILES[file].includes(name))
}

/** What each vendor file is asked for (path under node_modules → file), as the builds find out. */
const wanted = Object.fromEntries(Object.keys(VENDOR_FILES).map((file) => [file, new Map()]))

/** Imports of other outputs' packages become requests to their vendor file. */
function vendorPlugin(output) {
  return {
    name: 'signet-vendor-files',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData?.signetVendor) return undefined
        if (LEFT_OUT.includes(args.path)) return { path: args.path, namespace: 'signet-left-out' }
        if (Object.hasOwn(REPLACED, args.path)) return { path: REPLACED[args.path] }
        const found = await b.resolve(args.path, {
          kind: args.kind,
          resolveDir: args.resolveDir,
          importer: args.importer,
          pluginData: { signetVendor: true },
        })
        // Left to esbuild as it is (with its own leniency for an optional package that is absent).
        if (found.errors.length > 0 || found.external || !found.path) return undefined
        const path = packagePath(found.path)
        const file = path && vendorOf(path)
        if (!file || file === output) return found
        wanted[file].set(path, found.path)
        return { path, namespace: 'signet-vendor', pluginData: { file } }
      })
      b.onLoad({ filter: /.*/, namespace: 'signet-left-out' }, (args) => ({
        contents: `throw new Error(${JSON.stringify(`${args.path} is not bundled (scripts/bundle.mjs)`)})`,
        loader: 'js',
      }))
      b.onLoad({ filter: /.*/, namespace: 'signet-vendor' }, (args) => ({
        contents: `module.exports = require(${JSON.stringify(`./${args.pluginData.file}`)})(${JSON.stringify(args.path)})`,
        loader: 'js',
        resolveDir: DIST,
      }))
      b.onResolve({ filter: /^\.\/[\w-]+\.cjs$/ }, (args) =>
        args.namespace === 'signet-vendor' ? { path: args.path, external: true } : undefined,
      )
    },
  }
}

/** The node_modules files an output bundled (its own, not what it asks other files for). */
function bundledFiles(metafile) {
  return Object.keys(metafile.inputs).filter((input) => input.includes('node_modules/'))
}

/** Each entry of dist/: the action's, and the command line's (package.json `bin`). */
const ENTRIES = [
  { from: 'src/index.ts', file: 'index.cjs' },
  { from: 'src/cli/bin.ts', file: 'cli.cjs', banner: '#!/usr/bin/env node' },
]

// Nothing is written until every file is built: dist/ is never half one build, half another.
const outputs = []
const bundled = {}
for (const entry of ENTRIES) {
  const result = await build({
    ...COMMON,
    entryPoints: [resolve(ROOT, entry.from)],
    outfile: resolve(DIST, entry.file),
    ...(entry.banner ? { banner: { js: entry.banner } } : {}),
    plugins: [vendorPlugin(entry.file)],
  })
  outputs.push(...result.outputFiles)
  bundled[entry.file] = bundledFiles(result.metafile)
}

// A vendor file may ask another for packages too: build until every file has what it is asked for.
const built = Object.fromEntries(Object.keys(VENDOR_FILES).map((file) => [file, undefined]))
for (let changed = true; changed;) {
  changed = false
  for (const file of Object.keys(VENDOR_FILES)) {
    const paths = [...wanted[file].keys()].sort()
    if (built[file] && paths.join('\n') === built[file].paths) continue
    changed = true
    // Each module behind a function: evaluated when first asked for, and once (require caches).
    const table = paths
      .map((path) => {
        const from = JSON.stringify(wanted[file].get(path))
        return `  ${JSON.stringify(path)}: () => require(${from}),`
      })
      .join('\n')
    const result = await build({
      ...COMMON,
      stdin: {
        contents: `const modules = {\n${table}\n}\nmodule.exports = (path) => modules[path]()\n`,
        resolveDir: ROOT,
        sourcefile: file,
        loader: 'js',
      },
      outfile: resolve(DIST, file),
      plugins: [vendorPlugin(file)],
    })
    built[file] = { paths: paths.join('\n'), outputFiles: result.outputFiles }
    bundled[file] = bundledFiles(result.metafile)
  }
}
for (const { outputFiles } of Object.values(built)) outputs.push(...outputFiles)

// Two entries are two programs, each with its own copy of what it bundles; a vendor file is
// loaded beside either, so what it holds must be in no other file.
const entryFiles = new Set(ENTRIES.map((entry) => entry.file))
const owner = new Map()
for (const [file, inputs] of Object.entries(bundled)) {
  for (const input of inputs) {
    const other = owner.get(input)
    if (other !== undefined && (!entryFiles.has(other) || !entryFiles.has(file))) {
      throw new Error(
        `${relative(ROOT, input)} is bundled into both dist/${other} and dist/${file}: ` +
          `name its package in one of VENDOR_FILES (scripts/bundle.mjs)`,
      )
    }
    owner.set(input, file)
  }
}

mkdirSync(DIST, { recursive: true })
for (const output of outputs) writeFileSync(output.path, output.contents)
