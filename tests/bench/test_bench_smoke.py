"""Smoke test of the benchmark suite: `bench/run.py --quick --only submit` runs against real
batchemu and moto servers and prints (and saves) a JSON document of the documented shape.
Timings are never asserted: only that each figure is there and well-formed."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STATS = {"n", "p50", "p90", "mean", "unit"}


def test_quick_submit_run_prints_and_saves_the_documented_json(tmp_path):
    run = subprocess.run([sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--only", "submit",
                          "--results-dir", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout)

    (saved,) = tmp_path.glob("*.json")
    assert json.loads(saved.read_text()) == doc
    assert doc["quick"] is True and doc["selected"] == ["submit"]
    assert {"cpu_count", "python", "docker_server", "moto", "boto3"} <= set(doc["machine"])
    assert set(doc["measurements"]) == {"submit.1_thread", "submit.4_threads"}
    for name, figure in doc["measurements"].items():
        assert figure["baseline"] == "moto"
        for system in ("batchemu", "moto", "client_floor"):
            stats = figure[system]
            assert STATS <= set(stats), (name, system)
            assert stats["n"] == doc["sizes"]["submit_total"] and stats["errors"] == 0
            assert stats["p50"] <= stats["p90"] and stats["throughput_per_s"] > 0
        for system in ("batchemu", "moto"):
            assert figure[system]["server_cpu_ms_per_call"] is not None
        assert isinstance(figure["ratio"]["value"], float)
        assert figure["target"] == {"text": "batchemu submits/s >= 3 x moto's", "op": ">=", "value": 3.0}
        assert figure["met"] is (figure["ratio"]["value"] >= 3.0)
        assert figure["client"] == "boto3"
        thin = figure["thin_client"]  # the same measurement without boto3 (bench/thin.py)
        assert thin["client"] == "thin" and thin["threads"] == figure["threads"]
        for system in ("batchemu", "moto", "client_floor"):
            assert thin[system]["n"] == doc["sizes"]["submit_total"] and thin[system]["errors"] == 0
        assert thin["met"] is (thin["ratio"]["value"] >= 3.0)
    assert doc["all_met"] is all(f["met"] for f in doc["measurements"].values())
    assert "submit.1_thread" in run.stderr and "saved" in run.stderr


def test_quick_scale_run_prints_the_documented_json(tmp_path):
    """bench/scale.py --quick: dependants, arrays with DescribeJobs and a kill -9 restart."""
    run = subprocess.run([sys.executable, str(REPO / "bench" / "scale.py"), "--quick", "--results-dir",
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads(run.stdout)
    (saved,) = tmp_path.glob("scale-*.json")
    assert json.loads(saved.read_text()) == doc
    assert doc["suite"] == "batchemu-scale" and doc["quick"] is True
    assert set(doc["trees"]) == {"current"}
    size = doc["sizes"]
    deps = doc["measurements"]["dependants"]["current"]
    assert "error" not in deps, deps
    assert len(deps["checkpoints"]) == size["checkpoints"] + 1
    for point in deps["checkpoints"]:
        for kind in ("dependant", "independent"):
            assert STATS | {"p99"} <= set(point[kind]) and point[kind]["n"] == size["timed_per_checkpoint"]
    assert deps["pending_dependants"] == size["dependants"]
    assert deps["failed_after_terminate"] == size["dependants"] + 1  # the blocker too
    for key in ("p50_growth", "p99_over_p50_at_max", "cpu_growth", "terminate_fails_all_s"):
        assert isinstance(deps[key], (int, float)), key
    arrays = doc["measurements"]["arrays"]["current"]
    assert "error" not in arrays, arrays
    assert arrays["jobs"] == size["arrays"] * (size["array_size"] + 1)
    assert arrays["describe"]["n"] == size["describe_calls"] and arrays["describe"]["wrong_answers"] == 0
    restart = arrays["restart"]
    assert restart["answered_first"] == min(100, size["arrays"] * size["array_size"])
    assert restart["children_kept"] == size["arrays"] * size["array_size"]
    assert restart["serving_s"] > 0 and restart["rss_mib_after_restart"] > 0
