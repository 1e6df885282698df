#!/bin/sh
# Builds and caches the AWS Lambda Runtime Interface Emulator (RIE) that test/support/lambda-runtime.ts
# runs the packaged function under (the real Lambda runtime API: /2018-06-01/runtime/..., the
# invoke endpoint, the function timeout), outside the clone, in
#   ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/aws-lambda-rie-<version>
# from the Go module proxy (`go install <module>/cmd/aws-lambda-rie@<version>`, no replaces).
# Idempotent: when the binary is cached it only checks and returns. One build per machine at a
# time (flock). Prints LAMBDA_RIE=<path> on stdout; progress and errors go to stderr; exits
# non-zero with a message naming what failed.
set -eu
cd "$(dirname "$0")/.."
NAME=build-lambda-rie
say() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() {
  printf '%s: FAILED: %s\n' "$NAME" "$*" >&2
  exit 1
}

MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
VERSION=v0.0.0-20261030222936-bef5c4ba774d

CACHE="${ECR_ROTATOR_CACHE:-${HOME:-/tmp}/.cache/ecr-token-rotator}"
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"

GO=go
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; else die "Go not found (need Go >= 1.22 on PATH or /usr/local/go/bin/go)"; fi
fi

RIE="$CACHE/aws-lambda-rie-$VERSION"
# The RIE has no --version (and runs any argument as the bootstrap command): check the module
# and version Go recorded in the binary instead of running it.
rie_ok() { [ -x "$RIE" ] && "$GO" version -m "$RIE" 2>/dev/null | grep -q "^[[:space:]]*mod[[:space:]]*$MODULE[[:space:]]*$VERSION[[:space:]]"; }

if ! rie_ok; then
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/aws-lambda-rie.lock"
    if ! flock -n 9; then
      say "another process is building the RIE; waiting for it"
      flock 9
    fi
  fi
  if ! rie_ok; then
    WORK=$(mktemp -d "$CACHE/build-rie.XXXXXX") || die "cannot create a build directory in $CACHE"
    LOG="$CACHE/aws-lambda-rie-$VERSION.build.log"
    say "building $MODULE/cmd/aws-lambda-rie@$VERSION from the Go module proxy (log: $LOG)"
    start=$(date +%s)
    # GOFLAGS=-mod=mod: `go install pkg@version` ignores any go.mod around it; set GOBIN so the
    # binary lands in our build directory, not in $GOPATH/bin.
    if ! (cd "$WORK" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$WORK" \
      "$GO" install -trimpath -ldflags "-s -w" "$MODULE/cmd/aws-lambda-rie@$VERSION") >"$LOG" 2>&1; then
      tail -n 40 "$LOG" >&2
      rm -rf "$WORK"
      die "go install $MODULE/cmd/aws-lambda-rie@$VERSION failed (is the Go module proxy reachable? full log: $LOG)"
    fi
    mv -f "$WORK/aws-lambda-rie" "$RIE" || die "the build produced no aws-lambda-rie binary"
    rm -rf "$WORK"
    rie_ok || die "built $RIE but 'go version -m' does not report $MODULE $VERSION in it"
    say "built the RIE in $(($(date +%s) - start)) s: $RIE"
  fi
  exec 9>&- 2>/dev/null || true
fi

echo "LAMBDA_RIE=$RIE"
