# Shared helpers of the install scripts (sourced; the sourcing script sets NAME and cds to the
# repository root). Every failure stops with "NAME: FAILED: <what failed>".
say() { printf '%s: %s\n' "$NAME" "$*"; }
die() {
  printf '%s: FAILED: %s\n' "$NAME" "$*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run this script as root, or install the packages by hand)"
  fi
}

# apt-get install, with one apt-get update per script run.
apt_install() {
  say "installing Debian packages: $*"
  if [ -z "${APT_UPDATED:-}" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
      die "apt-get update failed (are Debian's package mirrors reachable?)"
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" ||
    die "apt-get install $* failed"
}

has_py_modules() {
  python3 -c 'import importlib.util, sys
sys.exit(0 if all(importlib.util.find_spec(m) for m in sys.argv[1:]) else 1)' "$@" 2>/dev/null
}

pip_install() {
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip
  fi
  say "installing from PyPI: $*"
  # PIP_BREAK_SYSTEM_PACKAGES: a Debian system Python refuses user installs without it (PEP 668);
  # pyenv's Python (the machines here) ignores it.
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m pip install -q --no-input "$@" ||
    die "pip install $* failed (is PyPI reachable?)"
  if command -v pyenv >/dev/null 2>&1; then pyenv rehash >/dev/null 2>&1 || true; fi
}

# Compilers for the native addon of the Lambda runtime interface client (aws-lambda-ric), which
# scripts/build-lambda-runtime.sh builds into the cache: curl + aws-lambda-cpp with cmake, the
# addon with node-gyp.
ensure_native_build_tools() {
  tools_missing=""
  for item in cmake:/usr/bin/cmake g++:/usr/bin/g++ make:/usr/bin/make; do
    [ -x "${item#*:}" ] || tools_missing="$tools_missing ${item%%:*}"
  done
  if [ -n "$tools_missing" ]; then
    # shellcheck disable=SC2086
    apt_install $tools_missing
  fi
}
