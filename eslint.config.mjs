import tseslint from 'typescript-eslint'

// sigstore-js below its public API is reached from src/sigstore/internals.ts alone: the packages
// it reaches are pinned for it, and that one file says why each internal is needed.
const SIGSTORE_INTERNALS = {
  group: ['@sigstore/*/dist/*', '@sigstore/*/*.json'],
  message:
    "sigstore-js's internals: import them from src/sigstore/internals.ts (and say there why the public API does not suffice).",
}

// The runner is reached from the action's front door alone (src/index.ts, src/action/): the core
// takes inputs, a logger, a registry factory and a GitHub client through interfaces, so a second
// front door (a CLI) can drive it (issue 10.8).
const RUNNER = {
  group: ['@actions/core', '@actions/core/*', '@actions/github', '@actions/github/*'],
  message:
    'the runner belongs to the front door: bind it in src/action/ and hand the core an interface (Logger, GitHubApiFactory, a registry factory, the outcome).',
}

const restrictedImports = (patterns) => ({ 'no-restricted-imports': ['error', { patterns }] })

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tmp/**', 'coverage/**', '*.js', '*.mjs', 'scripts/*.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/explicit-function-return-type': ['error', { allowExpressions: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
    },
  },
  // One no-restricted-imports per file (a later config replaces the rule, it does not add to it):
  // every file gets both fences, and each fence's own place is let through its fence alone.
  { rules: restrictedImports([SIGSTORE_INTERNALS, RUNNER]) },
  { files: ['src/sigstore/internals.ts'], rules: restrictedImports([RUNNER]) },
  { files: ['src/index.ts', 'src/action/**'], rules: restrictedImports([SIGSTORE_INTERNALS]) },
  // The publish workflow's plan script is plain CommonJS, run by whatever Node a runner has (its
  // types are in plan.d.cts): linted without type information.
  {
    files: ['scripts/workflow/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['test/**', 'bench/**', 'scripts/**'],
    rules: {
      '@typescript-eslint/explicit-function-return-type': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/require-await': 'off',
    },
  },
)
