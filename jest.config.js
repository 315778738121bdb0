/** Jest runs the TypeScript sources through SWC (CommonJS); type checking is `tsc --noEmit`. */

// What every project shares: how TypeScript and the ESM-only packages are loaded.
const shared = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // @actions/* 3.x are ESM-only: let SWC turn them into CommonJS for the few tests that load them.
  // content-type (3.x) is ESM-only too: @octokit/request imports it. json-with-bigint has a CJS entry.
  transformIgnorePatterns: [
    'node_modules/(?!(@actions|@octokit|universal-user-agent|before-after-hook|content-type)/)',
  ],
  moduleNameMapper: {
    // @actions/github's exports map has only an `import` condition, which Jest's CommonJS resolver
    // does not match; point it at the file the condition names (SWC then transforms it).
    '^@actions/github$': '<rootDir>/node_modules/@actions/github/lib/github.js',
    // sigstore-js's HTTP goes over Signet's, as in the bundle (scripts/bundle.mjs, REPLACED).
    '^make-fetch-happen$': '<rootDir>/src/sigstore/sigstore-js-fetch.ts',
  },
}

// The projects that run real tools (cosign v3 and v2, crane, Debian's docker-registry) first check
// that every judge is installed, so a missing tool fails the run instead of skipping a suite. Jest
// runs a project's globalSetup only when one of its tests is selected: `npm run test:unit` needs no
// root and no network; the few unit tests that call a tool (cosign in keys, cmark-gfm in
// summary-render) say how to install it when it is absent.
const judged = { globalSetup: '<rootDir>/test/infra/global-setup.ts' }

// One project a kind of test, each with its script (`npm run test:unit`, `test:integration`,
// `test:interop`, `test:action`); `npm test` runs them all. The scripts end with
// `--passWithNoTests=false` (Jest's default) because --selectProjects takes every word after it as
// a project name: so `npm run test:unit -- test/unit/keys.test.ts` runs that file.
module.exports = {
  // Global, not per project: jest-circus reads the timeout from the global config only.
  testTimeout: 120000,
  maxWorkers: 2,
  // `npm run test:coverage` measures what the unit tests cover of src/. The pure modules (formats,
  // policy, report, the Dockerfile reader, inputs, references) have thresholds a little under what
  // they measured when these were set (issue 10), so a change that leaves new code untested shows;
  // the runner-facing modules are covered end to end by the other projects, which this does not run.
  collectCoverageFrom: ['<rootDir>/src/**/*.ts'],
  coverageThreshold: {
    './src/formats/': { statements: 96, branches: 91, functions: 99, lines: 97 },
    './src/policy/': { statements: 95, branches: 91, functions: 99, lines: 98 },
    './src/report/': { statements: 92, branches: 81, functions: 93, lines: 92 },
    './src/subjects/dockerfile.ts': { statements: 85, branches: 79, functions: 97, lines: 88 },
    './src/inputs.ts': { statements: 97, branches: 94, functions: 99, lines: 97 },
    './src/registry/reference.ts': { statements: 97, branches: 97, functions: 99, lines: 99 },
  },
  projects: [
    // Modules alone, with in-process fakes: no root, no network, no tool but cosign and cmark-gfm.
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    // Signet's clients against the servers in test/infra, and those servers' own tests.
    {
      ...shared,
      ...judged,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts', '<rootDir>/test/infra/*.test.ts'],
    },
    // What Signet writes, judged by real cosign v3 and v2; what they write, verified by Signet.
    {
      ...shared,
      ...judged,
      displayName: 'interop',
      testMatch: ['<rootDir>/test/interop/**/*.test.ts'],
    },
    // The bundled action run as the runner runs it: inputs, outputs, summary, exit status.
    {
      ...shared,
      ...judged,
      displayName: 'action',
      testMatch: ['<rootDir>/test/action/**/*.test.ts'],
    },
  ],
}
