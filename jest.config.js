/** Jest runs the TypeScript sources through SWC (CommonJS); type checking is `tsc --noEmit`. */

// `npm run test:unit` sets SIGNET_TEST_SCOPE=unit: test/unit alone, in seconds, with no root and no
// network. It skips the global check that every interop judge is installed; the few unit tests that
// call a tool (cosign in keys, cmark-gfm in summary-render) say how to install it when it is absent.
const unitOnly = process.env.SIGNET_TEST_SCOPE === 'unit'

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // @actions/* 3.x are ESM-only: let SWC turn them into CommonJS for the few tests that load them.
  // content-type (3.x) is ESM-only too: @octokit/request imports it. json-with-bigint has a CJS entry.
  // sigstore-js's HTTP stack (make-fetch-happen, @npmcli/agent) requires the ESM-only proxy agents.
  transformIgnorePatterns: [
    'node_modules/(?!(@actions|@octokit|universal-user-agent|before-after-hook|content-type|http-proxy-agent|https-proxy-agent|agent-base|socks-proxy-agent|proxy-agent-negotiate)/)',
  ],
  // @actions/github's exports map has only an `import` condition, which Jest's CommonJS resolver
  // does not match; point it at the file the condition names (SWC then transforms it).
  moduleNameMapper: { '^@actions/github$': '<rootDir>/node_modules/@actions/github/lib/github.js' },
  testMatch: unitOnly ? ['<rootDir>/test/unit/**/*.test.ts'] : ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
  ...(unitOnly ? {} : { globalSetup: '<rootDir>/test/infra/global-setup.ts' }),
}
