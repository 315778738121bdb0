#!/usr/bin/env bash
# The tests, the demo and the benchmark run on the Node that the `node` dev dependency installs in
# node_modules/.bin (`npm run` puts it first on PATH), at the major .node-version names. On any
# other Node (a system Node 20, say) they stop here with one line instead of failing obscurely.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
want="$(tr -d '[:space:]' <"$root/.node-version")"
node="$root/node_modules/.bin/node"
found="$("$node" --version 2>/dev/null || true)"
if [[ $found != "v$want".* || "$(command -v node)" != "$node" ]]; then
  echo "error: Signet runs on Node $want from node_modules/.bin/node (found: ${found:-none there}, and node on PATH is $(command -v node || echo none) $(node --version 2>/dev/null || true)); run npm install, then npm test / npm run demo" >&2
  exit 1
fi
