#!/bin/sh
# LocalStack (the local CloudFormation, IAM, Lambda, CloudWatch, Scheduler… that
# test/deploy/cfn-deploy.test.ts deploys the template into), installed once into a virtualenv
# under ${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}/localstack-<version>, together with
# the Lambda runtime-executor plugin of test/support/localstack_node_executor (runs a function's
# handler in a local node process: no Docker). Prints the venv's python on success.
#
# Needs Python >= 3.12 (localstack-core 2026.x fails with a SyntaxError on 3.11): python3.13 /
# python3.12 on PATH, or pyenv's 3.13.x / 3.12.x. Dependencies are pinned to what PyPI served before
# 2026-04 (pip --uploaded-prior-to, pip >= 26.3): newer cbor2 and pyOpenSSL break its start.
set -eu
cd "$(dirname "$0")/.."
NAME=build-localstack
. scripts/install-lib.sh

LOCALSTACK_VERSION=2026.3.0
CACHE=${ECR_ROTATOR_CACHE:-$HOME/.cache/ecr-token-rotator}
VENV="$CACHE/localstack-$LOCALSTACK_VERSION"
PLUGIN=test/support/localstack_node_executor
# The plugin's sources are part of the key: a changed plugin is reinstalled.
PLUGIN_HASH=$(cat "$PLUGIN"/*.py "$PLUGIN"/pyproject.toml | sha256sum | cut -c1-16)
STAMP="$VENV/.ready-$PLUGIN_HASH"

if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

# A Python >= 3.12 that runs (pyenv's shims exist for versions that are not selected: try them).
usable() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
find_python() {
  for candidate in python3.13 python3.12 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13.*/bin/python "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12.*/bin/python; do
    if usable "$candidate"; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

mkdir -p "$CACHE"
exec 9>"$CACHE/localstack.lock"
flock 9
if [ -f "$STAMP" ] && [ -x "$VENV/bin/python" ]; then
  echo "$VENV/bin/python"
  exit 0
fi

started=$(date +%s)
PIP="$VENV/bin/python -m pip --disable-pip-version-check --no-input -q"
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('localstack-core') == '$LOCALSTACK_VERSION' else 1)" >/dev/null 2>&1; then
  PYTHON=$(find_python) ||
    die "LocalStack needs Python >= 3.12 and none was found (looked for python3.13/python3.12 on PATH and pyenv's 3.13.x/3.12.x); install one (e.g. 'pyenv install 3.13') and rerun"
  say "installing localstack-core $LOCALSTACK_VERSION into $VENV (Python: $PYTHON; about a minute, ~500 MB)" >&2
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV" >&2 || die "cannot create a virtualenv with $PYTHON"
  $PIP install 'pip>=26.3' >&2 || die "upgrading pip in $VENV failed (is PyPI reachable?)"
  $PIP install --uploaded-prior-to 2026-04-01T00:00:00Z "localstack-core[runtime]==$LOCALSTACK_VERSION" >&2 ||
    die "pip install localstack-core[runtime]==$LOCALSTACK_VERSION failed (is PyPI reachable?)"
fi
# The runtime-executor plugin, built from a copy (a build leaves build/ and *.egg-info behind).
plugin_copy=$(mktemp -d)
cp "$PLUGIN"/*.py "$PLUGIN"/pyproject.toml "$plugin_copy"/
$PIP install --no-deps --force-reinstall "$plugin_copy" >&2 ||
  die "installing the LocalStack node runtime-executor plugin ($PLUGIN) failed"
rm -rf "$plugin_copy"
"$VENV/bin/python" -c 'import localstack.runtime.main, localstack_node_executor' >&2 ||
  die "LocalStack installed in $VENV but cannot be imported"
touch "$STAMP"
say "LocalStack ready in $(($(date +%s) - started)) s" >&2
echo "$VENV/bin/python"
