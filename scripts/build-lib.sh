# Shared preamble of the cached test-program builds (build-kube-apiserver.sh, build-eso.sh,
# build-lambda-runtime.sh); sourced after the script sets NAME and ROOT. Provides say/die (to
# stderr: stdout carries the scripts' KEY=path lines), CACHE (created), GO, and lock/unlock.
say() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() {
  printf '%s: FAILED: %s\n' "$NAME" "$*" >&2
  exit 1
}

CACHE="${ECR_ROTATOR_CACHE:-${HOME:-/tmp}/.cache/ecr-token-rotator}"
mkdir -p "$CACHE" || die "cannot create the cache directory $CACHE"

GO=go
if ! command -v go >/dev/null 2>&1; then
  if [ -x /usr/local/go/bin/go ]; then GO=/usr/local/go/bin/go; else die "Go not found (need Go >= 1.24 on PATH or /usr/local/go/bin/go)"; fi
fi

# lock NAME: one build of an artifact at a time per machine (test files may start concurrently).
lock() {
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$CACHE/$1.lock"
    if ! flock -n 9; then
      say "another process is building $1; waiting for it"
      flock 9
    fi
  fi
}
unlock() { exec 9>&-; }
