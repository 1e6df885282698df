#!/bin/sh
# npm run demo: installs what is missing (Node 22 + npm dependencies, moto), then runs a full
# rotation against an embedded moto server and prints what it did.
set -e
cd "$(dirname "$0")/.."
sh scripts/ensure-demo-deps.sh
NODE=node_modules/.bin/node
"$NODE" scripts/build.mjs
exec "$NODE" dist/demo.mjs "$@"
