// Types of plan.cjs for the tests that require it (the workflow runs the .cjs as it is).
export declare class PlanError extends Error {
  readonly input: string
}
export declare function versionTags(version: string): string[]
export declare function imageTags(options: { version: string; sha: string }): string[]
export declare function imageName(options: { image: string; repository: string }): string
export declare function platformMatrix(options: { platforms: string; runners: string }): {
  include: { platform: string; runner: string; slug: string }[]
}
export declare function plan(env: Record<string, string | undefined>): {
  image: string
  registry: string
  tags: string
  'sha-tag': string
  matrix: string
}
