#!/bin/sh
# npm run bench [-- --json]: builds the bundles, then runs bench/run.mjs on Node 22.
set -e
cd "$(dirname "$0")/.."
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "bench: run 'npm run demo' or 'npm install' first (Node 22 comes from node_modules)" >&2; exit 2; }
"$NODE" scripts/build.mjs >&2
exec "$NODE" bench/run.mjs "$@"
