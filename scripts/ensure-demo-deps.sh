#!/bin/sh
# Installs what `npm run demo` needs on a fresh clone, and nothing when it is all there:
#   - the npm dependencies (npm ci from package-lock.json), which include Node 22 itself
#     (the npm package `node`, run as node_modules/.bin/node);
#   - moto[server] from PyPI (the local AWS emulator the demo starts).
# Fast when everything is present (no network, well under a second). Each step that fails stops
# the script with a message naming what failed. scripts/ensure-test-deps.sh runs this first.
set -eu
cd "$(dirname "$0")/.."

NAME=${ENSURE_NAME:-ensure-demo-deps}
. scripts/install-lib.sh

# Ranges PyPI packages are installed with (the suite was written against moto 5).
MOTO_REQ='moto[server]>=5.1,<6'

# ---- Node.js + npm (any version: they install Node 22 from the npm registry) ----
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  apt_install nodejs npm
fi

# ok | missing | stale:<why>. Compares package-lock.json with what npm recorded in
# node_modules/.package-lock.json (and package.json with the lock), without touching the network.
npm_state() {
  node -e '
const fs = require("fs");
const read = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
let hidden;
try { hidden = read("node_modules/.package-lock.json").packages || {}; } catch { console.log("missing"); process.exit(0); }
const pkg = read("package.json");
let lock;
try { lock = read("package-lock.json"); } catch { console.log("stale:no package-lock.json"); process.exit(0); }
const root = (lock.packages || {})[""] || {};
for (const field of ["dependencies", "devDependencies"]) {
  for (const [name, spec] of Object.entries(pkg[field] || {})) {
    if ((root[field] || {})[name] !== spec) { console.log(`stale:package.json ${name}@${spec} not in package-lock.json`); process.exit(0); }
  }
}
for (const [path, entry] of Object.entries(lock.packages || {})) {
  if (path === "" || entry.link) continue;
  const have = hidden[path];
  if (!have) {
    if (entry.optional) continue; // other platforms binaries, never installed here
    console.log(`stale:${path} not installed`); process.exit(0);
  }
  if (have.version !== entry.version) { console.log(`stale:${path} ${have.version} installed, lock wants ${entry.version}`); process.exit(0); }
  if (!fs.existsSync(path)) { console.log(`stale:${path} missing on disk`); process.exit(0); }
}
console.log("ok");
' 2>/dev/null || echo "stale:could not read package.json / package-lock.json"
}

state=$(npm_state)
case "$state" in
  ok) ;;
  missing)
    if [ -f package-lock.json ]; then
      say "node_modules missing: npm ci"
      npm ci --no-audit --no-fund || die "npm ci failed (is the npm registry reachable?)"
    else
      say "node_modules missing: npm install"
      npm install --no-audit --no-fund || die "npm install failed (is the npm registry reachable?)"
    fi
    ;;
  *)
    say "npm dependencies out of date (${state#stale:}): npm install"
    npm install --no-audit --no-fund || die "npm install failed (is the npm registry reachable?)"
    ;;
esac

# Node 22 from the npm package `node` (Lambda runtime nodejs22.x; the machine's node may be older).
NODE=node_modules/.bin/node
node_major=$("$NODE" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo none)
case "$node_major" in
  none | '' | *[!0-9]*) die "$NODE does not run: the npm package 'node' (Node 22) did not install; try: rm -rf node_modules && npm ci" ;;
esac
[ "$node_major" -ge 22 ] || die "$NODE is Node $node_major, need >= 22 (package.json devDependency 'node')"

# ---- Python + moto[server] ----
if ! command -v python3 >/dev/null 2>&1; then
  apt_install python3 python3-pip python3-venv
fi
if ! has_py_modules moto flask flask_cors; then
  pip_install "$MOTO_REQ"
  has_py_modules moto flask flask_cors || die "moto[server] installed but python3 cannot import moto/flask/flask_cors"
fi
