#!/usr/bin/env bash
# Prepares the clients the test suite talks to the server with, beside (never inside) the
# Python env that runs batchemu, and prints the directory to put first on PATH:
#   export PATH="$(bash scripts/clients.sh):$PATH"
#
# - The aws CLI v1, newest release, in a venv of its own: each awscli release pins botocore
#   exactly (an older model than batchemu needs), so it cannot share batchemu's env. Only its
#   `aws` entry point goes on PATH (the venv's python must not shadow the suite's).
# - @aws-sdk/client-batch, newest release, into conformance/js/node_modules (the lock file
#   records the last release we checked in; CI always tests the newest).
# Venvs and wheels are cached under ${BATCHEMU_CACHE:-~/.cache/batchemu}.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${BATCHEMU_CACHE:-$HOME/.cache/batchemu}"
PY="${PYTHON:-python3}"
mkdir -p "$CACHE/bin"

if [ ! -x "$CACHE/awscli/bin/aws" ]; then
    "$PY" -m venv "$CACHE/awscli" >&2
fi
PIP_ROOT_USER_ACTION=ignore "$CACHE/awscli/bin/python" -m pip install -q -U awscli >&2
ln -sf "$CACHE/awscli/bin/aws" "$CACHE/bin/aws"

if command -v npm >/dev/null 2>&1; then
    (cd "$ROOT/conformance/js" && npm install --no-audit --no-fund --no-save \
        @aws-sdk/client-batch@latest >&2)
fi

echo "$CACHE/bin"
