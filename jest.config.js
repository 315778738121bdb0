/** Jest runs the TypeScript sources through SWC (CommonJS); type checking is `tsc --noEmit`. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // @actions/* 3.x are ESM-only: let SWC turn them into CommonJS for the few tests that load them.
  // content-type (3.x) is ESM-only too: @octokit/request imports it. json-with-bigint has a CJS entry.
  transformIgnorePatterns: ['node_modules/(?!(@actions|@octokit|universal-user-agent|before-after-hook|content-type|http-proxy-agent|https-proxy-agent|agent-base)/)'],
  // @actions/github's exports map has only an `import` condition, which Jest's CommonJS resolver
  // does not match; point it at the file the condition names (SWC then transforms it).
  moduleNameMapper: { '^@actions/github$': '<rootDir>/node_modules/@actions/github/lib/github.js' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/infra/global-setup.ts',
}
