#!/usr/bin/env bash
# The one command that installs the test dependencies and runs the whole suite:
#   bash scripts/test.sh [pytest args...]
# Installs the package with its [test] extra, makes sure a Docker engine
# answers (starting one if needed), builds the tiny busybox test image,
# then runs pytest (default options come from pyproject.toml).
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

bash scripts/ensure-docker.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

export BATCHEMU_TEST_IMAGE="${BATCHEMU_TEST_IMAGE:-batchemu-test/busybox:latest}"
export BATCHEMU_REQUIRE_DOCKER=1
bash scripts/build-test-image.sh

exec "$PY" -m pytest "$@"
