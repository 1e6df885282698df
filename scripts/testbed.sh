#!/bin/sh
# `npm run testbed`: the Kubernetes test bed (real kube-apiserver + etcd, EKS token webhook, RBAC,
# ESO CRDs, fault proxy) and a moto server, for manual exploration. Prints KUBECONFIG=<path>
# (admin) and MOTO_URL=<url> once ready; runs until interrupted (Ctrl-C), then cleans up.
# On a fresh machine it first installs what it needs, as `npm test` does (scripts/ensure-test-deps.sh:
# npm packages, moto, etcd-server, the kube-apiserver build; each checked first, so ~1 s when all
# is there).
# Runs test/bed/cli.ts on Node 22 (node_modules/.bin/node) from an esbuild bundle.
# Arguments are passed on: npm run testbed -- --no-rbac | --rbac FILE | --cluster NAME | --eso | --node
# (--eso: also the real External Secrets Operator controller, scripts/build-eso.sh, on moto;
# --node: also a real node, scripts/build-node.sh and test/bed/node.ts).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
die() {
  printf 'testbed: FAILED: %s\n' "$*" >&2
  exit 1
}

sh scripts/ensure-test-deps.sh || die "installing what the test bed needs failed (see above)"

NODE="$ROOT/node_modules/.bin/node"
ESBUILD="$ROOT/node_modules/.bin/esbuild"
[ -x "$NODE" ] || die "node_modules/.bin/node (Node 22) is missing: run npm install"
[ -x "$ESBUILD" ] || die "node_modules/.bin/esbuild is missing: run npm install"
command -v kubectl >/dev/null 2>&1 || die "kubectl not found on PATH (it comes with the machine image; install it from https://dl.k8s.io)"

sh scripts/build-kube-apiserver.sh >/dev/null || die "building the test bed's programs failed (see above)"
for a in "$@"; do
  if [ "$a" = "--eso" ]; then
    sh scripts/build-eso.sh >/dev/null || die "building the External Secrets Operator controller failed (see above)"
  fi
  if [ "$a" = "--node" ]; then
    sh scripts/build-node.sh >/dev/null || die "building the node's programs failed (see above)"
  fi
done

OUT=$(mktemp -d "${TMPDIR:-/tmp}/testbed-cli-XXXXXX")
trap 'rm -rf "$OUT"' EXIT
trap 'rm -rf "$OUT"; exit 130' INT TERM HUP
"$ESBUILD" test/bed/cli.ts --bundle --platform=node --format=esm --target=node22 \
  --outfile="$OUT/testbed.mjs" --log-level=warning \
  "--banner:js=import{createRequire as __cr}from'module';const require=__cr(import.meta.url);" ||
  die "bundling test/bed/cli.ts failed"

# Not exec: the EXIT trap removes the bundle afterwards. Signals reach the node process (same
# process group); it stops the bed and moto and exits.
ECR_ROTATOR_ROOT="$ROOT" "$NODE" "$OUT/testbed.mjs" "$@"
