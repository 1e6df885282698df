#!/bin/sh
# Installs everything `npm test` needs on a fresh machine (Debian 12, root), and nothing when it
# is all there: it checks first and installs only what is missing, saying what it installs.
# Runs as `pretest` of `npm test` and from .ci/run. Any failed step stops it with a message naming
# what failed. See docs/development.md for what comes from where.
#
#   npm       dependencies (incl. Node 22 as the npm package `node`)   via scripts/ensure-demo-deps.sh
#   PyPI      moto[server] (via ensure-demo-deps.sh), awscli, cfn-lint
#   Debian    docker-registry skopeo apache2-utils etcd-server faketime openssl
#   Go        checked (on the image); Go modules of test/support/eso-template from the Go proxy,
#             and that program built once into ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}
#   kube      scripts/build-kube-apiserver.sh when present (it caches its binary)
set -eu
cd "$(dirname "$0")/.."

NAME=ensure-test-deps
say() { printf '%s: %s\n' "$NAME" "$*"; }
die() {
  printf '%s: FAILED: %s\n' "$NAME" "$*" >&2
  exit 1
}
now_ms() { date +%s%3N; }
started=$(now_ms)

# ---- npm dependencies, Node 22, moto[server] ----
ENSURE_NAME=$NAME sh scripts/ensure-demo-deps.sh || exit 1

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run this script as root, or install the packages by hand)"
  fi
}

# ---- Debian packages (package:file it must provide) ----
APT_WANTED="docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo apache2-utils:/usr/bin/htpasswd etcd-server:/usr/bin/etcd faketime:/usr/bin/faketime openssl:/usr/bin/openssl"
missing=""
for item in $APT_WANTED; do
  pkg=${item%%:*}
  file=${item#*:}
  [ -x "$file" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  say "installing Debian packages:$missing"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
    die "apt-get update failed (are Debian's package mirrors reachable?)"
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing ||
    die "apt-get install$missing failed"
  for item in $APT_WANTED; do
    [ -x "${item#*:}" ] || die "Debian package ${item%%:*} installed but ${item#*:} is missing"
  done
fi

# ---- Python tools from PyPI: awscli (aws eks get-token as the reference), cfn-lint ----
has_py_modules() {
  python3 -c 'import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)' "$@" 2>/dev/null
}
py_missing=""
if ! has_py_modules awscli cfnlint; then
  has_py_modules awscli || py_missing="$py_missing awscli>=1.36,<2"
  has_py_modules cfnlint || py_missing="$py_missing cfn-lint>=1,<2"
fi
if [ -n "$py_missing" ]; then
  say "installing from PyPI:$py_missing"
  # shellcheck disable=SC2086
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install -q --no-input $py_missing ||
    die "pip install$py_missing failed (is PyPI reachable?)"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
  has_py_modules awscli cfnlint || die "awscli/cfn-lint installed but python3 cannot import them"
fi
command -v aws >/dev/null 2>&1 || say "note: 'aws' is not on PATH; use 'python3 -m awscli'"
command -v cfn-lint >/dev/null 2>&1 || say "note: 'cfn-lint' is not on PATH; use 'python3 -m cfnlint'"

# ---- Go (on the image; Debian's golang-go 1.19 is too old for the test programs) ----
GO=go
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then
    GO=/usr/local/go/bin/go
    PATH="/usr/local/go/bin:$PATH"
    export PATH
  else
    die "Go not found (need Go >= 1.22 on PATH or at /usr/local/go/bin/go; it builds the ESO template program and kube-apiserver)"
  fi
fi
go_version=$($GO env GOVERSION 2>/dev/null || echo unknown)
case "$go_version" in
  go1.2[2-9]* | go1.[3-9][0-9]* | go[2-9]*) ;;
  *) die "Go $go_version is too old or unusable (need >= 1.22)" ;;
esac
# The Go modules of the ESO template program (test/support/eso-template): from the Go module
# proxy into the Go module cache; a no-op when they are there.
(cd test/support/eso-template && GOTOOLCHAIN=local GOFLAGS=-mod=readonly $GO mod download) ||
  die "downloading the Go modules of test/support/eso-template failed (is the Go module proxy reachable?)"

# Build the ESO template program once into the cache (test/support/eso-template.ts keys it by a
# hash of its sources), so test files running in parallel never build it concurrently.
node_modules/.bin/node --experimental-strip-types --no-warnings -e '
import("./test/support/eso-template.ts").then(async (m) => {
  const fs = await import("node:fs");
  const path = m.esoTemplateBinaryPath();
  if (fs.existsSync(path)) return;
  console.log(`ensure-test-deps: building the ESO template program (Go) into ${path}`);
  await m.ensureEsoTemplateBinary();
}).catch((e) => { console.error(e.message); process.exit(1); });
' || die "building the ESO template program (test/support/eso-template) failed"

command -v kubectl >/dev/null 2>&1 || say "note: kubectl not found (it is on the machine image; the Kubernetes test bed needs it)"

# ---- kube-apiserver for the Kubernetes test bed (built and cached by its own script) ----
if [ -f scripts/build-kube-apiserver.sh ]; then
  sh scripts/build-kube-apiserver.sh || die "scripts/build-kube-apiserver.sh failed"
fi

say "test dependencies present ($(($(now_ms) - started)) ms)"
