#!/usr/bin/env bash
# moto 5.2.1's own Batch test suite (tests/test_batch + tests/test_batch_simple, 95 test
# functions) in moto's server mode against a batchemu started for it (process runner), compared
# with the checked-in list of expected failures (conformance/moto_expected.py).
#   bash scripts/moto-suite.sh                      # both modes: with and without moto's resets
#   BATCHEMU_MOTO_SUITE_MODE=no-reset bash scripts/moto-suite.sh
#   bash scripts/moto-suite.sh --endpoint http://127.0.0.1:8000   # a running batchemu
# Fails when a test not on the list fails; prints tests on the list that now pass.
# moto's sdist (its tests) is downloaded once with pip into ~/.cache/batchemu/moto.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
exec "$PY" -m conformance.moto_suite --mode "${BATCHEMU_MOTO_SUITE_MODE:-both}" "$@"
