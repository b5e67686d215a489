#!/usr/bin/env bash
# Workflow clients nobody on this project wrote, run against batchemu as their users run them
# (tests/clients/): Airflow's BatchOperator (apache-airflow-providers-amazon), the Snakemake
# AWS Batch executor with S3 storage, and Metaflow's @batch with its S3 datastore. Each client
# gets a venv of its own under ~/.cache/batchemu (made once; pip runs again only when the pinned
# versions below change), the Snakemake job image (Metaflow's jobs run in it too) is built from
# Debian packages (scripts/build-snakemake-image.sh, cached), then pytest runs tests/clients
# from the main env with the venvs named in the environment.
#   bash scripts/real-clients.sh        (PYTHON: the main env's interpreter;
#                                        BATCHEMU_CLIENTS_PYTHON: the clients' venvs' Python, 3.11 or 3.13)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CACHE="${BATCHEMU_CACHE:-$HOME/.cache/batchemu}"
PY="${PYTHON:-python3}"
VENV_PY="${BATCHEMU_CLIENTS_PYTHON:-python3}"
# The newest releases that install here (Dec 2026); bump on purpose.
AIRFLOW=(apache-airflow==3.3.2 apache-airflow-providers-amazon==9.39.0)
SNAKEMAKE=(snakemake==9.27.1 snakemake-executor-plugin-aws-batch==0.2.1 snakemake-storage-plugin-s3==0.3.6)
METAFLOW=(metaflow==2.19.39)
START=$SECONDS

client_venv() {
    # $1: the venv directory; the rest: its requirements. Rebuilt only when they change.
    local dir="$1"; shift
    if [ -x "$dir/bin/python" ] && [ "$(cat "$dir/.batchemu-requirements" 2>/dev/null)" = "$*" ]; then
        return
    fi
    echo "real clients: installing $* into $dir" >&2
    rm -rf "$dir"
    "$VENV_PY" -m venv "$dir"
    PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1 "$dir/bin/python" -m pip install -q "$@"
    echo "$*" >"$dir/.batchemu-requirements"
}

mkdir -p "$CACHE"
# Airflow's install (downloads) runs while Snakemake's venv and job image are made (debootstrap).
client_venv "$CACHE/airflow-venv" "${AIRFLOW[@]}" >"$CACHE/airflow-venv.log" 2>&1 &
AIRFLOW_INSTALL=$!
client_venv "$CACHE/snakemake-venv" "${SNAKEMAKE[@]}"
client_venv "$CACHE/metaflow-venv" "${METAFLOW[@]}"
SNAKEMAKE_PY="$CACHE/snakemake-venv/bin/python" bash scripts/build-snakemake-image.sh
wait "$AIRFLOW_INSTALL" || { tail -n 30 "$CACHE/airflow-venv.log" >&2; echo "real clients: Airflow's install failed" >&2; exit 1; }
echo "real clients: venvs and the job image ready after $((SECONDS - START)) s" >&2

# Airflow's tests beside the others: all mostly wait on their clients' polling.
export BATCHEMU_AIRFLOW_PYTHON="$CACHE/airflow-venv/bin/python" BATCHEMU_SNAKEMAKE_BIN="$CACHE/snakemake-venv/bin"
export BATCHEMU_METAFLOW_PYTHON="$CACHE/metaflow-venv/bin/python"
export BATCHEMU_REQUIRE_DOCKER=1
"$PY" -m pytest -p no:cacheprovider tests/clients/test_airflow.py &
AIRFLOW_TESTS=$!
STATUS=0
"$PY" -m pytest -p no:cacheprovider tests/clients/test_snakemake.py tests/clients/test_metaflow.py || STATUS=$?
wait "$AIRFLOW_TESTS" || STATUS=$?
echo "real clients: done in $((SECONDS - START)) s" >&2
exit "$STATUS"
