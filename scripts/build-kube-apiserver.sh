#!/bin/sh
# Builds and caches everything the Kubernetes test bed (test/bed/) runs, outside the clone, in
#   ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/
#   kube-apiserver-<version>     the real kube-apiserver, built from k8s.io/kubernetes through the
#                                Go module proxy with the wrapper module test/bed/kube-apiserver
#                                (it replaces every k8s.io/<staging> module with its published
#                                v0.<minor>.<patch>; k8s.io/kubernetes itself replaces them with
#                                local paths, so `go install` refuses it). Version = the one that
#                                wrapper's go.mod requires.
#   bed-webhook-<hash>           test/bed/webhook (TokenReview webhook + test CA), keyed by a hash
#                                of its sources
#   eso-crds-<version>/          ESO's CRD manifests (external-secrets.io group), from ESO's Go
#                                module on the proxy (config/crds/bases/)
# Idempotent: when everything is cached it only checks and returns in about a second.
# Prints KEY=path lines on stdout (KUBE_APISERVER, BED_WEBHOOK, ESO_CRDS, ETCD); progress and
# errors go to stderr. Exits non-zero with a message naming what failed.
# First build of kube-apiserver: see docs/testbed.md (about 10-20 minutes on 2 cores).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NAME=build-kube-apiserver
. "$ROOT/scripts/build-lib.sh"

# ESO release whose CRDs the bed installs (serves external-secrets.io/v1; v1beta1 is unserved).
ESO_VERSION=v1.3.2


# ---------------------------------------------------------------- kube-apiserver
MODDIR="$ROOT/test/bed/kube-apiserver"
[ -f "$MODDIR/go.mod" ] || die "$MODDIR/go.mod is missing"
VERSION=$(sed -n 's/^require k8s\.io\/kubernetes \(v[0-9][0-9.]*\)$/\1/p' "$MODDIR/go.mod")
[ -n "$VERSION" ] || die "cannot read the k8s.io/kubernetes version from $MODDIR/go.mod"
KAS="$CACHE/kube-apiserver-$VERSION"
kas_ok() { [ -x "$KAS" ] && "$KAS" --version 2>/dev/null | grep -q "Kubernetes $VERSION\$"; }

if ! kas_ok; then
  lock "kube-apiserver-$VERSION"
  if ! kas_ok; then
    WORK="$CACHE/build/kube-apiserver-$VERSION"
    mkdir -p "$WORK" || die "cannot create $WORK"
    cp "$MODDIR/go.mod" "$WORK/go.mod"
    if [ -f "$MODDIR/go.sum" ]; then cp "$MODDIR/go.sum" "$WORK/go.sum"; fi
    LOG="$CACHE/kube-apiserver-$VERSION.build.log"
    MINOR=$(echo "$VERSION" | cut -d. -f2)
    V=k8s.io/component-base/version
    LDFLAGS="-s -w -X $V.gitVersion=$VERSION -X $V.gitMajor=1 -X $V.gitMinor=$MINOR -X $V.gitTreeState=clean -X $V.buildDate=1970-01-01T00:00:00Z"
    say "building kube-apiserver $VERSION from the Go module proxy (first time: 10-20 minutes on 2 cores; log: $LOG)"
    start=$(date +%s)
    if ! (cd "$WORK" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
      "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$KAS.tmp.$$" k8s.io/kubernetes/cmd/kube-apiserver) >"$LOG" 2>&1; then
      rm -f "$KAS.tmp.$$"
      tail -n 40 "$LOG" >&2
      die "go build k8s.io/kubernetes/cmd/kube-apiserver@$VERSION failed (full log: $LOG)"
    fi
    mv -f "$KAS.tmp.$$" "$KAS"
    kas_ok || die "built $KAS but '$KAS --version' does not report Kubernetes $VERSION"
    say "built kube-apiserver $VERSION in $(($(date +%s) - start)) s: $KAS"
  fi
  unlock
fi

# ---------------------------------------------------------------- bed-webhook
WHDIR="$ROOT/test/bed/webhook"
WHHASH=$(cd "$WHDIR" && for f in $(ls go.mod go.sum *.go 2>/dev/null | LC_ALL=C sort); do
  printf '%s\n' "$f"
  cat "$f"
done | sha256sum | cut -c1-16)
WH="$CACHE/bed-webhook-$WHHASH"
if [ ! -x "$WH" ]; then
  lock "bed-webhook"
  if [ ! -x "$WH" ]; then
    say "building test/bed/webhook"
    if ! (cd "$WHDIR" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 "$GO" build -trimpath -ldflags "-s -w" -o "$WH.tmp.$$" .) >&2; then
      rm -f "$WH.tmp.$$"
      die "go build of test/bed/webhook failed"
    fi
    mv -f "$WH.tmp.$$" "$WH"
    # Older builds of the webhook (other sources) are useless; keep recent ones a while for test
    # runs that may still be starting them.
    find "$CACHE" -maxdepth 1 -type f -name 'bed-webhook-*' ! -name "bed-webhook-$WHHASH" ! -name '*.lock' -mmin +60 -delete 2>/dev/null || true
  fi
  unlock
fi

# ---------------------------------------------------------------- ESO CRDs
CRDS="$CACHE/eso-crds-$ESO_VERSION"
if [ ! -f "$CRDS/.complete" ]; then
  lock "eso-crds"
  if [ ! -f "$CRDS/.complete" ]; then
    say "fetching ESO $ESO_VERSION CRDs from the Go module proxy"
    TMPD=$(mktemp -d)
    # `go mod download` needs a module context for GOFLAGS=-mod=mod; any empty directory works.
    if ! JSON=$(cd "$TMPD" && GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" mod download -json "github.com/external-secrets/external-secrets@$ESO_VERSION"); then
      rm -rf "$TMPD"
      die "go mod download github.com/external-secrets/external-secrets@$ESO_VERSION failed (is the Go module proxy reachable?)"
    fi
    rm -rf "$TMPD"
    DIR=$(printf '%s\n' "$JSON" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$DIR" ] && [ -d "$DIR/config/crds/bases" ] || die "ESO $ESO_VERSION module has no config/crds/bases (got: $DIR)"
    rm -rf "$CRDS.tmp.$$" && mkdir -p "$CRDS.tmp.$$"
    cp "$DIR"/config/crds/bases/external-secrets.io_*.yaml "$CRDS.tmp.$$/" || die "copying ESO CRDs failed"
    chmod u+w "$CRDS.tmp.$$"/*.yaml
    grep -q 'served: true' "$CRDS.tmp.$$/external-secrets.io_externalsecrets.yaml" || die "ESO $ESO_VERSION ExternalSecret CRD serves no version"
    touch "$CRDS.tmp.$$/.complete"
    rm -rf "$CRDS" && mv "$CRDS.tmp.$$" "$CRDS"
  fi
  unlock
fi

# ---------------------------------------------------------------- etcd (Debian etcd-server)
ETCD=$(command -v etcd || true)
[ -n "$ETCD" ] || die "etcd not found: apt-get install -y etcd-server"

echo "KUBE_APISERVER=$KAS"
echo "BED_WEBHOOK=$WH"
echo "ESO_CRDS=$CRDS"
echo "ETCD=$ETCD"
