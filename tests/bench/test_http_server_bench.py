"""Smoke test of bench/http_server.py: a tiny run (HEAD's server module as the baseline, so it
works in any clone) prints the documented JSON. Timings are never asserted."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_tiny_run_prints_both_workloads_for_both_servers():
    run = subprocess.run([sys.executable, "-m", "bench.http_server", "--calls", "20", "--rounds", "2",
                          "--baseline-rev", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout)
    assert doc["suite"] == "http_server" and doc["baseline_rev"] == "HEAD"
    assert set(doc["measurements"]) == {"api", "http_only"}
    for figure in doc["measurements"].values():
        for server in ("baseline", "current"):
            stats = figure[server]
            assert stats["n"] == 40 and stats["unit"] == "ms"
            assert 0 < stats["p50"] <= stats["p90"]
            assert stats["server_cpu_ms_per_call"] >= 0
        assert {"p50", "server_cpu", "definition"} <= set(figure["ratio"])
