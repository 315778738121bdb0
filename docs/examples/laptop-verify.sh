# Check the base images a Dockerfile pulls against the team's policy, from a laptop (docker login
# credentials are read from ~/.docker/config.json, as docker and cosign read them).
npx --yes github:acme/signet#0123456789abcdef0123456789abcdef01234567 verify \
  --dockerfile Dockerfile --policy .github/image-policy.yml

# Check one image signed by the GitLab pipeline above, and print the results as JSON.
npx --yes github:acme/signet#0123456789abcdef0123456789abcdef01234567 verify \
  --images registry.gitlab.com/acme/app:1.4.2 \
  --certificate-identity 'https://gitlab.com/acme/app//.gitlab-ci.yml@refs/heads/main' \
  --certificate-oidc-issuer https://gitlab.com --require-attestations cyclonedx --output json
