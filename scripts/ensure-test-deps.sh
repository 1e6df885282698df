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
#   Lambda    scripts/build-lambda-runtime.sh: the Runtime Interface Emulator (Go module proxy) and the
#             runtime interface client aws-lambda-ric (version pinned by package-lock.json) with its
#             native addon (Debian cmake g++ make), both cached
#   ESO       scripts/build-eso.sh when present: the External Secrets Operator controller the
#             bed runs, from the Go module proxy, cached like kube-apiserver
#   node      the bed's real node (test/bed/node.ts): Debian containerd runc
#             containernetworking-plugins iptables gcc libc6-dev, then scripts/build-node.sh
#             (kubelet, kube-controller-manager, kube-scheduler, the pause image; cached)
#   LocalStack scripts/build-localstack.sh: localstack-core (PyPI) in a cached virtualenv, Python >= 3.12
set -eu
cd "$(dirname "$0")/.."

NAME=ensure-test-deps
. scripts/install-lib.sh
now_ms() { date +%s%3N; }
started=$(now_ms)

# ---- npm dependencies, Node 22, moto[server] ----
ENSURE_NAME=$NAME sh scripts/ensure-demo-deps.sh || exit 1

# ---- Debian packages (package:file it must provide) ----
APT_WANTED="docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo apache2-utils:/usr/bin/htpasswd etcd-server:/usr/bin/etcd faketime:/usr/bin/faketime openssl:/usr/bin/openssl"
missing=""
for item in $APT_WANTED; do
  pkg=${item%%:*}
  file=${item#*:}
  [ -x "$file" ] || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  # shellcheck disable=SC2086
  apt_install $missing
  for item in $APT_WANTED; do
    [ -x "${item#*:}" ] || die "Debian package ${item%%:*} installed but ${item#*:} is missing"
  done
fi

# ---- Python tools from PyPI: awscli (aws eks get-token as the reference), cfn-lint ----
py_missing=""
if ! has_py_modules awscli cfnlint; then
  has_py_modules awscli || py_missing="$py_missing awscli>=1.36,<2"
  has_py_modules cfnlint || py_missing="$py_missing cfn-lint>=1,<2"
fi
if [ -n "$py_missing" ]; then
  # shellcheck disable=SC2086
  pip_install $py_missing
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

# ---- the real Lambda runtime (test/support/lambda-runtime.ts), built and cached by its own script:
# the Runtime Interface Emulator (Go module proxy) and aws-lambda-ric with its native addon ----
ensure_native_build_tools
sh scripts/build-lambda-runtime.sh >/dev/null || die "scripts/build-lambda-runtime.sh failed"
# ---- the External Secrets Operator controller for the bed's ESO tests (its own cache) ----
if [ -f scripts/build-eso.sh ]; then
  sh scripts/build-eso.sh || die "scripts/build-eso.sh failed"
fi

# ---- the bed's real node: runtime packages, then kubelet/controller-manager/scheduler/pause ----
NODE_APT="containerd:/usr/bin/containerd runc:/usr/sbin/runc containernetworking-plugins:/usr/lib/cni/bridge iptables:/usr/sbin/iptables gcc:/usr/bin/gcc libc6-dev:/usr/lib/x86_64-linux-gnu/libc.a"
node_missing=""
for item in $NODE_APT; do
  [ -e "${item#*:}" ] || node_missing="$node_missing ${item%%:*}"
done
if [ -n "$node_missing" ]; then
  # shellcheck disable=SC2086
  (apt_install $node_missing) || die "installing the node's Debian packages ($node_missing) failed: the node tests (test/node/) need them"
  for item in $NODE_APT; do
    [ -e "${item#*:}" ] || die "Debian package ${item%%:*} installed but ${item#*:} is missing (the node tests need it)"
  done
fi
if [ -f scripts/build-node.sh ]; then
  sh scripts/build-node.sh >/dev/null || die "scripts/build-node.sh failed (kubelet, kube-controller-manager, kube-scheduler or the pause image for the node tests)"
fi

# ---- LocalStack (test/deploy/cfn-deploy.test.ts: the template deployed in a local CloudFormation) ----
# localstack-core in a virtualenv of its own under the cache (Python >= 3.12: pyenv's 3.13/3.12
# when the default python3 is older), with the Lambda runtime-executor plugin of
# test/support/localstack_node_executor (functions run in a local node process: no Docker).
# Cached: a no-op when present. About a minute and ~500 MB the first time.
if [ -f scripts/build-localstack.sh ]; then
  sh scripts/build-localstack.sh >/dev/null || die "scripts/build-localstack.sh failed (LocalStack for the deploy tests)"
fi

say "test dependencies present ($(($(now_ms) - started)) ms)"
