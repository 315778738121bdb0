/** Jest runs the TypeScript sources through SWC (CommonJS); type checking is `tsc --noEmit`. */
module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.(t|j)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // @actions/* 3.x are ESM-only: let SWC turn them into CommonJS for the few tests that load them.
  transformIgnorePatterns: ['node_modules/(?!(@actions|@octokit|universal-user-agent|before-after-hook|http-proxy-agent|https-proxy-agent|agent-base)/)'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 120000,
  maxWorkers: 2,
  globalSetup: '<rootDir>/test/infra/global-setup.ts',
}
