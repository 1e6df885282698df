#!/bin/sh
# Builds and caches the real External Secrets Operator controller the test bed runs
# (startBed({ eso: true }), test/integration/eso-*.test.ts), outside the clone, in
#   ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/
#   eso-<version>-<hash>         the controller (`go build github.com/external-secrets/external-secrets`)
#                                through the Go module proxy with the wrapper module test/bed/eso
#                                (it requires the release and repeats its one replace, the sprig
#                                fork); <hash> = hash of the wrapper's go.mod + go.sum.
#   eso-crds-<version>-all/      that release's CRDs, both groups (external-secrets.io and
#                                generators.external-secrets.io: the controller watches
#                                GeneratorStates), from the same module (config/crds/bases/).
# Version = the one the wrapper's go.mod requires. Idempotent: when cached it only checks and
# returns in well under a second. Prints KEY=path lines on stdout (ESO, ESO_CRDS, ESO_VERSION);
# progress and errors go to stderr. Exits non-zero with a message naming what failed.
# First build: see docs/testbed.md (about 10 minutes of CPU: ~6 minutes on 2 idle cores).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NAME=build-eso
. "$ROOT/scripts/build-lib.sh"


MODDIR="$ROOT/test/bed/eso"
[ -f "$MODDIR/go.mod" ] || die "$MODDIR/go.mod is missing"
[ -f "$MODDIR/go.sum" ] || die "$MODDIR/go.sum is missing (it pins every module the build downloads)"
VERSION=$(sed -n 's/^require github\.com\/external-secrets\/external-secrets \(v[0-9][0-9.]*\)$/\1/p' "$MODDIR/go.mod")
[ -n "$VERSION" ] || die "cannot read the external-secrets version from $MODDIR/go.mod"
HASH=$(cat "$MODDIR/go.mod" "$MODDIR/go.sum" | sha256sum | cut -c1-12)
ESO="$CACHE/eso-$VERSION-$HASH"
# The binary answers --help with its cobra usage ("external-secrets [flags]"); a truncated or
# foreign file does not.
eso_ok() { [ -x "$ESO" ] && "$ESO" --help 2>/dev/null | grep -q 'external-secrets \[flags\]'; }

# ---------------------------------------------------------------- the controller
if ! eso_ok; then
  lock "eso-$VERSION"
  if ! eso_ok; then
    WORK="$CACHE/build/eso-$VERSION"
    mkdir -p "$WORK" || die "cannot create $WORK"
    cp "$MODDIR/go.mod" "$MODDIR/go.sum" "$WORK/"
    LOG="$CACHE/eso-$VERSION.build.log"
    say "building External Secrets Operator $VERSION from the Go module proxy (first time: ~10 min of CPU, about 6 minutes on 2 idle cores; log: $LOG)"
    start=$(date +%s)
    # -mod=readonly: the committed go.sum must cover every module (no silent re-resolution).
    if ! (cd "$WORK" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly CGO_ENABLED=0 \
      "$GO" build -trimpath -ldflags "-s -w" -o "$ESO.tmp.$$" github.com/external-secrets/external-secrets) >"$LOG" 2>&1; then
      rm -f "$ESO.tmp.$$"
      tail -n 40 "$LOG" >&2
      die "go build github.com/external-secrets/external-secrets@$VERSION failed (full log: $LOG)"
    fi
    mv -f "$ESO.tmp.$$" "$ESO"
    eso_ok || die "built $ESO but '$ESO --help' does not look like the ESO controller"
    say "built External Secrets Operator $VERSION in $(($(date +%s) - start)) s: $ESO"
    # Builds of other wrapper contents are useless now; keep recent ones a while for test runs
    # that may still be starting them.
    find "$CACHE" -maxdepth 1 -type f -name "eso-v*" ! -name "eso-$VERSION-$HASH" ! -name '*.lock' ! -name '*.log' -mmin +60 -delete 2>/dev/null || true
  fi
  unlock
fi

# ---------------------------------------------------------------- its CRDs (both groups)
CRDS="$CACHE/eso-crds-$VERSION-all"
if [ ! -f "$CRDS/.complete" ]; then
  lock "eso-crds-$VERSION-all"
  if [ ! -f "$CRDS/.complete" ]; then
    # The module is in the Go module cache after the build; `go mod download` only finds it.
    if ! JSON=$(cd "$MODDIR" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly "$GO" mod download -json "github.com/external-secrets/external-secrets"); then
      die "go mod download github.com/external-secrets/external-secrets@$VERSION failed (is the Go module proxy reachable?)"
    fi
    DIR=$(printf '%s\n' "$JSON" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$DIR" ] && [ -d "$DIR/config/crds/bases" ] || die "ESO $VERSION module has no config/crds/bases (got: $DIR)"
    rm -rf "$CRDS.tmp.$$" && mkdir -p "$CRDS.tmp.$$"
    cp "$DIR"/config/crds/bases/external-secrets.io_*.yaml "$DIR"/config/crds/bases/generators.external-secrets.io_*.yaml "$CRDS.tmp.$$/" ||
      die "copying ESO $VERSION CRDs failed"
    chmod u+w "$CRDS.tmp.$$"/*.yaml
    for kind in externalsecrets clusterexternalsecrets clustersecretstores; do
      grep -q 'name: v1$' "$CRDS.tmp.$$/external-secrets.io_$kind.yaml" || die "ESO $VERSION $kind CRD has no version v1"
    done
    [ -f "$CRDS.tmp.$$/generators.external-secrets.io_generatorstates.yaml" ] || die "ESO $VERSION has no GeneratorState CRD"
    touch "$CRDS.tmp.$$/.complete"
    rm -rf "$CRDS" && mv "$CRDS.tmp.$$" "$CRDS"
  fi
  unlock
fi

echo "ESO=$ESO"
echo "ESO_CRDS=$CRDS"
echo "ESO_VERSION=$VERSION"
