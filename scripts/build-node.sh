#!/bin/sh
# Builds and caches what the test bed's real node (test/bed/node.ts, `npm run testbed -- --node`)
# runs, outside the clone, in ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/:
#   kubelet-<version>                  the real kubelet, kube-controller-manager and
#   kube-controller-manager-<version>  kube-scheduler, built from k8s.io/kubernetes through the Go
#   kube-scheduler-<version>           module proxy with the same wrapper module and flags as the
#                                      bed's kube-apiserver (test/bed/kube-apiserver, whose go.mod
#                                      names the version), so all four are the same version
#   pause-<version>/                   the sandbox ("pause") image as an OCI image layout: the
#                                      static binary built with `gcc -static` from
#                                      build/pause/linux/pause.c of that k8s.io/kubernetes module;
#                                      nothing is pulled from a registry
# The Debian packages (containerd, runc, containernetworking-plugins, iptables) are installed by
# scripts/ensure-test-deps.sh. Idempotent: when all is cached it checks and returns in about a
# second. Prints KEY=path lines on stdout (KUBELET, KUBE_CONTROLLER_MANAGER, KUBE_SCHEDULER,
# PAUSE_OCI); progress and errors go to stderr. First build times: docs/testbed.md.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
NAME=build-node
. "$ROOT/scripts/build-lib.sh"

MODDIR="$ROOT/test/bed/kube-apiserver"
[ -f "$MODDIR/go.mod" ] || die "$MODDIR/go.mod is missing"
VERSION=$(sed -n 's/^require k8s\.io\/kubernetes \(v[0-9][0-9.]*\)$/\1/p' "$MODDIR/go.mod")
[ -n "$VERSION" ] || die "cannot read the k8s.io/kubernetes version from $MODDIR/go.mod"
MINOR=$(echo "$VERSION" | cut -d. -f2)
V=k8s.io/component-base/version
LDFLAGS="-s -w -X $V.gitVersion=$VERSION -X $V.gitMajor=1 -X $V.gitMinor=$MINOR -X $V.gitTreeState=clean -X $V.buildDate=1970-01-01T00:00:00Z"

bin_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -q "Kubernetes $VERSION\$"; }

# build_component NAME: go build k8s.io/kubernetes/cmd/NAME into $CACHE/NAME-$VERSION.
build_component() {
  comp=$1
  out="$CACHE/$comp-$VERSION"
  if bin_ok "$out"; then return 0; fi
  lock "$comp-$VERSION"
  if ! bin_ok "$out"; then
    WORK="$CACHE/build/node-$VERSION"
    mkdir -p "$WORK" || die "cannot create $WORK"
    cp "$MODDIR/go.mod" "$WORK/go.mod"
    if [ -f "$MODDIR/go.sum" ]; then cp "$MODDIR/go.sum" "$WORK/go.sum"; fi
    log="$CACHE/$comp-$VERSION.build.log"
    say "building $comp $VERSION from the Go module proxy (first time: minutes on 2 cores; log: $log)"
    start=$(date +%s)
    if ! (cd "$WORK" && GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0 \
      "$GO" build -trimpath -ldflags "$LDFLAGS" -o "$out.tmp.$$" "k8s.io/kubernetes/cmd/$comp") >"$log" 2>&1; then
      rm -f "$out.tmp.$$"
      tail -n 40 "$log" >&2
      unlock
      die "go build k8s.io/kubernetes/cmd/$comp@$VERSION failed (full log: $log)"
    fi
    mv -f "$out.tmp.$$" "$out"
    bin_ok "$out" || die "built $out but '$out --version' does not report Kubernetes $VERSION"
    say "built $comp $VERSION in $(($(date +%s) - start)) s: $out"
  fi
  unlock
}

build_component kubelet
build_component kube-controller-manager
build_component kube-scheduler

# ---------------------------------------------------------------- pause image (OCI layout)
PAUSE="$CACHE/pause-$VERSION"
if [ ! -f "$PAUSE/.complete" ]; then
  lock "pause-$VERSION"
  if [ ! -f "$PAUSE/.complete" ]; then
    command -v gcc >/dev/null 2>&1 || die "gcc not found (apt-get install -y gcc libc6-dev): it builds the pause image"
    SRC=$(cd "$CACHE/build" && mkdir -p "node-$VERSION" && cd "node-$VERSION" && cp "$MODDIR/go.mod" go.mod &&
      { [ ! -f "$MODDIR/go.sum" ] || cp "$MODDIR/go.sum" go.sum; } &&
      GOTOOLCHAIN=local GOFLAGS=-mod=mod "$GO" list -m -f '{{.Dir}}' k8s.io/kubernetes) ||
      die "cannot locate the k8s.io/kubernetes $VERSION module (is the Go module proxy reachable?)"
    [ -f "$SRC/build/pause/linux/pause.c" ] || die "$SRC/build/pause/linux/pause.c is missing"
    say "building the pause image from $SRC/build/pause/linux/pause.c"
    T="$PAUSE.tmp.$$"
    rm -rf "$T" && mkdir -p "$T/rootfs" "$T/oci/blobs/sha256"
    gcc -Os -Wall -Werror -static -DVERSION="$VERSION" -o "$T/rootfs/pause" "$SRC/build/pause/linux/pause.c" ||
      die "gcc -static pause.c failed (static libc: apt-get install -y libc6-dev)"
    strip "$T/rootfs/pause" 2>/dev/null || true
    # One layer (a tar of /pause, reproducible), its config and manifest, by hand.
    (cd "$T/rootfs" && tar --owner=0 --group=0 --numeric-owner --mtime=@0 -cf "$T/layer.tar" pause)
    gzip -n -9 -c "$T/layer.tar" >"$T/layer.tar.gz"
    diff_id=$(sha256sum "$T/layer.tar" | cut -d' ' -f1)
    layer=$(sha256sum "$T/layer.tar.gz" | cut -d' ' -f1)
    layer_size=$(wc -c <"$T/layer.tar.gz")
    cp "$T/layer.tar.gz" "$T/oci/blobs/sha256/$layer"
    printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"gcc -static build/pause/linux/pause.c (k8s.io/kubernetes %s)"}]}' \
      "$diff_id" "$VERSION" >"$T/config.json"
    config=$(sha256sum "$T/config.json" | cut -d' ' -f1)
    config_size=$(wc -c <"$T/config.json")
    cp "$T/config.json" "$T/oci/blobs/sha256/$config"
    printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
      "$config" "$config_size" "$layer" "$layer_size" >"$T/manifest.json"
    manifest=$(sha256sum "$T/manifest.json" | cut -d' ' -f1)
    manifest_size=$(wc -c <"$T/manifest.json")
    cp "$T/manifest.json" "$T/oci/blobs/sha256/$manifest"
    printf '{"imageLayoutVersion":"1.0.0"}' >"$T/oci/oci-layout"
    printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
      "$manifest" "$manifest_size" "$VERSION" >"$T/oci/index.json"
    rm -rf "$T/rootfs" "$T/layer.tar" "$T/layer.tar.gz" "$T/config.json" "$T/manifest.json"
    touch "$T/.complete"
    rm -rf "$PAUSE" && mv "$T" "$PAUSE"
  fi
  unlock
fi

echo "KUBELET=$CACHE/kubelet-$VERSION"
echo "KUBE_CONTROLLER_MANAGER=$CACHE/kube-controller-manager-$VERSION"
echo "KUBE_SCHEDULER=$CACHE/kube-scheduler-$VERSION"
echo "PAUSE_OCI=$PAUSE/oci:$VERSION"
