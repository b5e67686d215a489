#!/usr/bin/env bash
# The one command that installs the test dependencies and runs the whole suite:
#   bash scripts/test.sh [pytest args...]
# Installs the package with its [test] extra, prepares the clients (scripts/clients.sh: the
# newest aws CLI v1 in a venv of its own, the newest JS SDK v3), makes sure a Docker engine
# answers (starting one if needed), builds the tiny busybox test image, runs pytest (default
# options come from pyproject.toml), then the rest of the client matrix
# (scripts/client-matrix.sh: old boto3 against the new server; install beside the user's SDK).
# BATCHEMU_CLIENT_MATRIX=0 skips the client matrix. Between the two, moto 5.2.1's own Batch
# suite against batchemu (scripts/moto-suite.sh; BATCHEMU_MOTO_SUITE_MODE picks the modes).
# scripts/ensure-chromium.sh installs headless Chromium for the dashboard's browser tests;
# their screenshots land in $BATCHEMU_ARTEFACTS/ui-screenshots (default build/).
# BATCHEMU_REAL_CLIENTS=0 skips Airflow's and
# Snakemake's runs against batchemu (scripts/real-clients.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PY="${PYTHON:-python3}"
# A system Python marked EXTERNALLY-MANAGED (PEP 668, e.g. Debian's
# /usr/bin/python3 or Homebrew's) refuses `pip install`: use a .venv then.
if "$PY" - <<'PYEOF'
import os, sys, sysconfig
in_venv = sys.prefix != sys.base_prefix
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(0 if (managed and not in_venv) else 1)
PYEOF
then
    if [ ! -x .venv/bin/python ]; then
        echo "test.sh: $PY is externally managed; creating .venv" >&2
        "$PY" -m venv .venv
    fi
    PY="$ROOT/.venv/bin/python"
fi

PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q -e '.[test]'
CLIENTS_BIN="$(PYTHON="$PY" bash scripts/clients.sh)"
export PATH="$CLIENTS_BIN:$PATH"

bash scripts/ensure-docker.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

export BATCHEMU_TEST_IMAGE="${BATCHEMU_TEST_IMAGE:-batchemu-test/busybox:latest}"
export BATCHEMU_REQUIRE_DOCKER=1
bash scripts/build-test-image.sh
bash scripts/ensure-chromium.sh; export BATCHEMU_REQUIRE_BROWSER=1  # the dashboard's browser tests (tests/ui) never skip here
bash scripts/build-lambda-image.sh || echo "test.sh: scripts/build-lambda-image.sh failed; the Lambda tests will fail and say why" >&2
bash scripts/build-image.sh   # batchemu:local for tests/image (cached: a no-op when unchanged)

"$PY" -m pytest "$@"
PYTHON="$PY" bash scripts/moto-suite.sh
[ "${BATCHEMU_REAL_CLIENTS:-1}" = 0 ] || PYTHON="$PY" bash scripts/real-clients.sh  # Airflow, Snakemake, Metaflow (tests/clients)
# The kubernetes runner against a real two-node cluster (built from Debian's source, cached).
PYTHON="$PY" bash scripts/k8s-tests.sh
if [ "${BATCHEMU_CLIENT_MATRIX:-1}" != 0 ]; then
    PYTHON="$PY" bash scripts/client-matrix.sh
fi
