#!/usr/bin/env bash
# The client matrix beyond the main run (which uses the newest boto3, the newest aws CLI v1 and
# the newest JS SDK v3, see scripts/clients.sh):
#   1. old clients keep working: the boto3 conformance suite and the model sweep, run with
#      boto3/botocore $BATCHEMU_OLD_BOTO (default 1.43.11; a venv of its own) against a server started from the main env;
#   2. batchemu installs beside a project's current SDK (tests/install/test_coexistence.py), and
#      its pytest plugin serves a user's test file from that venv (tests/install/test_pytest_plugin.py).
#   bash scripts/client-matrix.sh          (PYTHON: the main env's interpreter)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${BATCHEMU_CACHE:-$HOME/.cache/batchemu}"
PY="${PYTHON:-python3}"
OLD_BOTO="${BATCHEMU_OLD_BOTO:-1.43.11}"
OLD="$CACHE/clients-boto3-$OLD_BOTO"

# 1. Old clients against the new server.
if [ ! -x "$OLD/bin/python" ]; then
    "$PY" -m venv "$OLD"
fi
PIP_ROOT_USER_ACTION=ignore "$OLD/bin/python" -m pip install -q "boto3==$OLD_BOTO" "botocore==$OLD_BOTO" "pytest>=8,<10"

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$PY" -m batchemu --port "$PORT" --ephemeral --runner process --log-level WARNING &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $PORT), timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
echo "client matrix: conformance with boto3 $OLD_BOTO against batchemu (botocore $("$PY" -c 'import botocore; print(botocore.__version__)'))"
BATCHEMU_ENDPOINT="http://127.0.0.1:$PORT" PYTHONPATH="$ROOT" "$OLD/bin/python" -m pytest -p no:cacheprovider \
    conformance/test_boto3_*.py conformance/test_model_sweep.py

# 2. Installs beside the user's SDK.
echo "client matrix: install beside the newest boto3; the pytest plugin from that venv"
BATCHEMU_INSTALL_TEST=1 "$PY" -m pytest -p no:cacheprovider tests/install
