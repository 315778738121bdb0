/**
 * GitHub's API as the runner offers it: @actions/github's Octokit, whose fetch goes through the
 * runner's proxy (chosen for GITHUB_API_URL when @actions/github loads) and whose user agent
 * carries the run's orchestration id. The core takes it through the GitHubApiFactory seam.
 */
import { getOctokit } from '@actions/github'
import type { GitHubApiFactory } from '../github/api'

export const actionsGitHubApi: GitHubApiFactory = ({ token, ...options }) =>
  getOctokit(token, options)
