#!/usr/bin/env bash
# The kubernetes-marked tests against a real two-node cluster: build (cached) and start it
# with scripts/k8s-cluster.sh, run `pytest -m kubernetes`, and always take it down again.
#   PYTHON=.venv/bin/python bash scripts/k8s-tests.sh [pytest args...]
# BATCHEMU_KUBERNETES=0 skips it all (e.g. a machine without root or cgroup v1).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ "${BATCHEMU_KUBERNETES:-1}" = 0 ] && { echo "k8s-tests: skipped (BATCHEMU_KUBERNETES=0)" >&2; exit 0; }
PY="${PYTHON:-python3}"
t0=$SECONDS
bash scripts/k8s-cluster.sh build
echo "k8s-tests: build took $((SECONDS - t0)) s" >&2
trap 'bash scripts/k8s-cluster.sh down' EXIT
bash scripts/k8s-cluster.sh up
BATCHEMU_REQUIRE_KUBERNETES=1 BATCHEMU_TEST_KUBECONFIG=/tmp/batchemu-k8s/kubeconfig \
    "$PY" -m pytest -m kubernetes tests/e2e/test_kubernetes_cluster.py "$@"
echo "k8s-tests: all took $((SECONDS - t0)) s" >&2
