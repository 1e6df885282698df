#!/bin/sh
# Builds and caches the real Lambda runtime that test/support/lambda-runtime.ts runs the packaged
# function under, outside the clone, in ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/:
#   aws-lambda-rie-<version>        the AWS Lambda Runtime Interface Emulator (the invoke endpoint,
#                                   the Runtime API, the function timeout), from the Go module proxy
#                                   (`go install <module>/cmd/aws-lambda-rie@<version>`, no replaces)
#   aws-lambda-ric-<version>-<arch>/  AWS's Node.js runtime interface client (index.mjs + its native
#                                   addon rapid-client.node), the version package-lock.json pins for
#                                   the devDependency aws-lambda-ric: `npm pack` from the registry,
#                                   integrity checked against the lock, built with the package's own
#                                   scripts (curl + aws-lambda-cpp with cmake, the addon with node-gyp).
#                                   Built here, not by npm's install scripts in node_modules (package.json
#                                   allowScripts denies them): `npm ci` needs no compiler, and
#                                   concurrent or pruning npm runs on a shared node_modules cannot break it.
# Idempotent: when both are cached it only checks and returns. One build of each per machine at a
# time (flock). Prints LAMBDA_RIE=<path> and LAMBDA_RIC=<dir> on stdout; progress and errors go to
# stderr; exits non-zero with a message naming what failed.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NAME=build-lambda-runtime
. "$ROOT/scripts/build-lib.sh"

RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d

# ---------------------------------------------------------------- RIE
RIE="$CACHE/aws-lambda-rie-$RIE_VERSION"
# The RIE has no --version (and runs any argument as the bootstrap command): check the module
# and version Go recorded in the binary instead of running it.
rie_ok() { [ -x "$RIE" ] && "$GO" version -m "$RIE" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*$RIE_MODULE[[:space:]]*$RIE_VERSION[[:space:]]"; }

if ! rie_ok; then
  lock aws-lambda-rie
  if ! rie_ok; then
    WORK=$(mktemp -d "$CACHE/build-rie.XXXXXX") || die "cannot create a build directory in $CACHE"
    LOG="$CACHE/aws-lambda-rie-$RIE_VERSION.build.log"
    say "building $RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION from the Go module proxy (log: $LOG)"
    start=$(date +%s)
    # `go install pkg@version` ignores any go.mod around it; GOBIN puts the binary in WORK.
    if ! (cd "$WORK" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$WORK" \
      "$GO" install -trimpath -ldflags "-s -w" "$RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION") >"$LOG" 2>&1; then
      tail -n 40 "$LOG" >&2
      rm -rf "$WORK"
      die "go install $RIE_MODULE/cmd/aws-lambda-rie@$RIE_VERSION failed (is the Go module proxy reachable? full log: $LOG)"
    fi
    mv -f "$WORK/aws-lambda-rie" "$RIE" || die "the build produced no aws-lambda-rie binary"
    rm -rf "$WORK"
    rie_ok || die "built $RIE but 'go version -m' does not report $RIE_MODULE $RIE_VERSION in it"
    say "built the RIE in $(($(date +%s) - start)) s: $RIE"
  fi
  unlock
fi

# ---------------------------------------------------------------- aws-lambda-ric
# Version and integrity as package-lock.json pins them (Node: any version can read JSON).
NODE="$ROOT/node_modules/.bin/node"
[ -x "$NODE" ] || NODE=$(command -v node) || die "node not found (run npm ci)"
PIN=$("$NODE" -e '
const lock = JSON.parse(require("fs").readFileSync("package-lock.json", "utf8"));
const p = (lock.packages || {})["node_modules/aws-lambda-ric"];
if (!p || !p.version || !p.integrity) process.exit(1);
console.log(p.version + " " + p.integrity);
') || die "package-lock.json pins no aws-lambda-ric (devDependency) with an integrity"
RIC_VERSION=${PIN%% *}
RIC_INTEGRITY=${PIN#* }
ARCH=$(uname -m)
RIC="$CACHE/aws-lambda-ric-$RIC_VERSION-$ARCH"
ric_ok() { [ -f "$RIC/.complete" ] && [ -s "$RIC/rapid-client.node" ] && [ -f "$RIC/index.mjs" ]; }

if ! ric_ok; then
  lock aws-lambda-ric
  if ! ric_ok; then
    for tool in cmake g++ make; do
      command -v "$tool" >/dev/null 2>&1 || die "$tool not found: it builds aws-lambda-ric's native addon (apt-get install -y cmake g++ make; scripts/ensure-test-deps.sh does it)"
    done
    # node-gyp: npm's own copy (every npm bundles it).
    NPM_DIR=$(dirname "$(readlink -f "$(command -v npm)")")/..
    NODE_GYP="$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js"
    [ -f "$NODE_GYP" ] || die "node-gyp not found at $NODE_GYP (it comes with npm)"
    # Node headers for node-gyp, from a local Node installation (the addon uses N-API, which
    # is ABI-stable across Node versions, so any local Node >= 18 headers build it for Node 22).
    NODEDIR=""
    for dir in "$(dirname "$(dirname "$(readlink -f "$("$NODE" -p process.execPath)")")")" /usr /usr/local; do
      if [ -f "$dir/include/node/common.gypi" ] && [ -f "$dir/include/node/node_api.h" ]; then
        NODEDIR=$dir
        break
      fi
    done
    [ -n "$NODEDIR" ] || die "no Node.js headers found (include/node/common.gypi next to node, in /usr or /usr/local): apt-get install -y libnode-dev"

    WORK=$(mktemp -d "$CACHE/build-ric.XXXXXX") || die "cannot create a build directory in $CACHE"
    LOG="$CACHE/aws-lambda-ric-$RIC_VERSION.build.log"
    say "building aws-lambda-ric $RIC_VERSION (npm pack, then its native addon: curl, aws-lambda-cpp, node-gyp; log: $LOG)"
    start=$(date +%s)
    fail() {
      tail -n 40 "$LOG" >&2
      rm -rf "$WORK"
      die "$1 (full log: $LOG)"
    }
    (cd "$WORK" && npm pack --json "aws-lambda-ric@$RIC_VERSION") >"$WORK/pack.json" 2>"$LOG" || fail "npm pack aws-lambda-ric@$RIC_VERSION failed (is the npm registry reachable?)"
    "$NODE" -e '
const [info] = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (info.integrity !== process.argv[2]) { console.error(`integrity ${info.integrity} != package-lock.json ${process.argv[2]}`); process.exit(1); }
' "$WORK/pack.json" "$RIC_INTEGRITY" 2>>"$LOG" || fail "the packed aws-lambda-ric does not match package-lock.json's integrity"
    mkdir -p "$WORK/src" && tar -xzf "$WORK/aws-lambda-ric-$RIC_VERSION.tgz" -C "$WORK/src" 2>>"$LOG" || fail "cannot unpack aws-lambda-ric-$RIC_VERSION.tgz"
    PKG="$WORK/src/package"
    # Its runtime dependencies (node-addon-api for the addon's headers), no scripts.
    (cd "$PKG" && npm install --omit=dev --ignore-scripts --no-audit --no-fund --no-package-lock) >>"$LOG" 2>&1 ||
      fail "npm install of aws-lambda-ric's own dependencies failed"
    # The package's own preinstall step: curl and aws-lambda-cpp into deps/artifacts.
    (cd "$PKG" && sh scripts/preinstall.sh) >>"$LOG" 2>&1 || fail "aws-lambda-ric's scripts/preinstall.sh (curl, aws-lambda-cpp) failed"
    # Its postinstall step without npm: node-gyp against the local headers.
    (cd "$PKG" && DEPS_PREFIX="$PKG/deps/artifacts" "$NODE" "$NODE_GYP" rebuild --directory=src/native --nodedir="$NODEDIR") >>"$LOG" 2>&1 ||
      fail "node-gyp rebuild of aws-lambda-ric's addon failed"
    [ -s "$PKG/src/native/build/Release/rapid-client.node" ] || fail "node-gyp produced no rapid-client.node"
    OUT="$WORK/out"
    mkdir -p "$OUT"
    cp "$PKG/index.mjs" "$PKG/package.json" "$PKG/src/native/build/Release/rapid-client.node" "$OUT/" || fail "cannot copy the built runtime client"
    touch "$OUT/.complete"
    rm -rf "$RIC" && mv "$OUT" "$RIC" || fail "cannot move the runtime client to $RIC"
    rm -rf "$WORK"
    ric_ok || die "built $RIC but it is incomplete"
    say "built aws-lambda-ric $RIC_VERSION in $(($(date +%s) - start)) s: $RIC"
  fi
  unlock
fi

echo "LAMBDA_RIE=$RIE"
echo "LAMBDA_RIC=$RIC"
