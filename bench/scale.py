"""Scale benchmarks (issue 12, items 16-18): batchemu alone, against itself at growing sizes,
judged by ratios inside one run. Prints one JSON document to stdout (and saves it like run.py).

    python3 bench/scale.py [--quick] [--only dependants,arrays] [--compare-with SRC_DIR]

- `dependants`: SubmitJob latency of jobs that depend on one blocker, measured at growing
  numbers of pending dependants, beside independent submits at the same moments; then the time
  from TerminateJob on the blocker until every dependant is FAILED.
- `arrays`: a store of arrays (10 x 10,000 children in the full run): DescribeJobs of 100
  random child ids; then kill -9 and a restart on the same data dir: seconds until the new
  server answers, RSS before the kill and after the restart.

`--compare-with DIR` runs every scenario also against the batchemu package in DIR (e.g. an
export of an older commit: `git archive <commit> | tar -x -C DIR`), the two taking turns
scenario by scenario in the same run, so "before" and "after" see the same machine. Timed
calls go through the thin client (bench/thin.py); set-up and polling through boto3.
Timings are reported, never asserted (tests/bench/test_bench_smoke.py checks the shape).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers as srv  # noqa: E402
from bench import thin  # noqa: E402
from bench.run import save  # noqa: E402
from bench.stats import percentile, summary  # noqa: E402

NAMES = ("dependants", "arrays")
FULL = {"dependants": 10_000, "checkpoints": 5, "timed_per_checkpoint": 200, "arrays": 10,
        "array_size": 10_000, "describe_calls": 200, "describe_ids": 100}
QUICK = {"dependants": 300, "checkpoints": 2, "timed_per_checkpoint": 30, "arrays": 2,
         "array_size": 200, "describe_calls": 20, "describe_ids": 100}


def start(src: Path, data_dir: str | None = None) -> srv.ServerProcess:
    """batchemu from the package in `src`, runner none (jobs wait RUNNABLE), on a free port."""
    port = srv.free_port()
    state = ["--data-dir", data_dir] if data_dir else ["--ephemeral"]
    return srv.ServerProcess("batchemu", [sys.executable, "-m", "batchemu", "--port", str(port), "--runner",
                                          "none", *state], port,
                             env={"PYTHONPATH": str(src), "BATCHEMU_LOG_LEVEL": "WARNING"}, cwd=src)


def _stats(samples: list) -> dict:
    out = summary(samples, "ms", 3)
    out["p99"] = None if not samples else round(percentile(samples, 99), 3)
    return out


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def _wait(predicate, timeout: float, what: str, step: float = 0.02) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if predicate():
            return time.perf_counter() - t0
        time.sleep(step)
    raise RuntimeError(f"{what}: not done after {timeout} s")


def _none_in(client, status: str, **where) -> bool:
    return not client.list_jobs(jobStatus=status, maxResults=1, **where)["jobSummaryList"]


def _count(client, status: str, **where) -> int:
    pages = client.get_paginator("list_jobs").paginate(jobStatus=status, **where)
    return sum(len(p["jobSummaryList"]) for p in pages)


def _quiet(server, seconds: float = 0.5, timeout: float = 120.0) -> None:
    """Wait until the server spent no CPU for `seconds` (its scheduler has caught up)."""
    last = server.cpu_s()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        time.sleep(seconds)
        now = server.cpu_s()
        if now == last:
            return
        last = now


# -- dependants (item 16) --------------------------------------------------------------------

def dependants(src: Path, size: dict) -> dict:
    """Submits timed at each checkpoint of pending dependants: one dependant, one independent
    job, in turn; between checkpoints dependants are added untimed. Then the blocker (RUNNABLE
    forever: no runner) is terminated and the fan-out timed."""
    total, steps, per = size["dependants"], size["checkpoints"], size["timed_per_checkpoint"]
    with start(src) as server:
        srv.setup_unmanaged(server)
        client, fast = server.client(), thin.ThinBatch(server)
        blocker = client.submit_job(jobName="blocker", jobQueue="bench-q", jobDefinition="bench-jd")["jobId"]
        dep = {"jobQueue": "bench-q", "jobDefinition": "bench-jd", "dependsOn": [{"jobId": blocker}]}
        free = {"jobQueue": "bench-q", "jobDefinition": "bench-jd"}
        for i in range(20):  # warm-up
            fast.submit_job(jobName=f"warm-{i}", **(dep if i % 2 else free))
        _wait(lambda: _none_in(client, "SUBMITTED", jobQueue="bench-q"), 120, "warm-up settles")
        stored, points = 10, []
        cpu0 = server.cpu_s()
        for step in range(steps + 1):
            target = round(total * step / steps) - per  # the timed dependants bring it to the checkpoint
            while stored < target:
                fast.submit_job(jobName=f"fill-{stored}", **dep)
                stored += 1
            _wait(lambda: _none_in(client, "SUBMITTED", jobQueue="bench-q"), 600, "fill settles")
            lat = {"dependant": [], "independent": []}
            c0 = server.cpu_s()
            for i in range(per):
                for kind, params in (("dependant", dep), ("independent", free))[::(1 if i % 2 else -1)]:
                    t0 = time.perf_counter()
                    fast.submit_job(jobName=f"{kind}-{step}-{i}", **params)
                    lat[kind].append((time.perf_counter() - t0) * 1000.0)
            _wait(lambda: _none_in(client, "SUBMITTED", jobQueue="bench-q"), 600, "timed submits settle")
            stored += per
            points.append({"pending_dependants": stored, "dependant": _stats(lat["dependant"]),
                           "independent": _stats(lat["independent"]),
                           "server_cpu_ms_per_submit": round((server.cpu_s() - c0) * 1000.0 / (2 * per), 3)})
        build_cpu = server.cpu_s() - cpu0
        pending = _count(client, "PENDING", jobQueue="bench-q")
        t0 = time.perf_counter()
        client.terminate_job(jobId=blocker, reason="bench")
        fail_s = _wait(lambda: _none_in(client, "PENDING", jobQueue="bench-q"), 600, "dependants fail", 0.01)
        failed = _count(client, "FAILED", jobQueue="bench-q")
        rss = server.rss_mib()
    first, last = points[0], points[-1]
    return {"pending_dependants": pending, "checkpoints": points,
            "build_server_cpu_s": round(build_cpu, 2),
            "p50_growth": _ratio(last["dependant"]["p50"], first["dependant"]["p50"]),
            "p50_vs_independent_at_max": _ratio(last["dependant"]["p50"], last["independent"]["p50"]),
            "p99_over_p50_at_max": _ratio(last["dependant"]["p99"], last["dependant"]["p50"]),
            "cpu_growth": _ratio(last["server_cpu_ms_per_submit"], first["server_cpu_ms_per_submit"]),
            "terminate_fails_all_s": round(fail_s, 3), "failed_after_terminate": failed,
            "rss_mib_end": rss}


# -- arrays, DescribeJobs and restart (items 17, 18) -----------------------------------------

def arrays(src: Path, size: dict) -> dict:
    n, per = size["arrays"], size["array_size"]
    data = tempfile.mkdtemp(prefix="bench-scale-")
    try:
        server = start(src, data)
        try:
            srv.setup_unmanaged(server)
            client, fast = server.client(), thin.ThinBatch(server)
            t0 = time.perf_counter()
            parents = [client.submit_job(jobName=f"array-{i}", jobQueue="bench-q", jobDefinition="bench-jd",
                                         arrayProperties={"size": per})["jobId"] for i in range(n)]
            for p in parents:
                _wait(lambda: _none_in(client, "SUBMITTED", jobQueue="bench-q")
                      and _none_in(client, "PENDING", arrayJobId=p), 900, "children RUNNABLE", 0.2)
            build_s = time.perf_counter() - t0
            _quiet(server)
            rng = random.Random(12)
            children = [f"{p}:{i}" for p in parents for i in range(per)]
            for _ in range(5):  # warm-up
                fast.describe_count(rng.sample(children, size["describe_ids"]))
            lat, wrong = [], 0
            c0 = server.cpu_s()
            for _ in range(size["describe_calls"]):
                asked = rng.sample(children, size["describe_ids"])
                t1 = time.perf_counter()
                got = fast.describe_count(asked)
                lat.append((time.perf_counter() - t1) * 1000.0)
                wrong += got != len(asked)
            describe_cpu = (server.cpu_s() - c0) * 1000.0 / size["describe_calls"]
            _quiet(server)
            rss_before = server.rss_mib()
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(30)
        finally:
            server.stop()
        t0 = time.perf_counter()
        again = start(src, data)
        try:
            probe = thin.ThinBatch(again)
            sample = children[:: max(1, len(children) // 100)][:100]
            answered = probe.describe_count(sample)  # the first answer: serving
            serving_s = time.perf_counter() - t0
            rss_serving = again.rss_mib()
            _quiet(again)
            rss_after = again.rss_mib()
            kept = sum(_count(again.client(), "RUNNABLE", arrayJobId=p) for p in parents)
        finally:
            again.stop()
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return {"jobs": n * per + n, "build_s": round(build_s, 1),
            "describe": {**_stats(lat), "ids_per_call": size["describe_ids"], "wrong_answers": wrong,
                         "server_cpu_ms_per_call": round(describe_cpu, 3)},
            "restart": {"serving_s": round(serving_s, 3), "answered_first": answered,
                        "rss_mib_before_kill": rss_before, "rss_mib_serving": rss_serving,
                        "rss_mib_after_restart": rss_after,
                        "rss_ratio": _ratio(rss_after, rss_before), "children_kept": kept}}


SCENARIOS = {"dependants": dependants, "arrays": arrays}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="batchemu scale benchmarks (JSON to stdout)")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not figures")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(NAMES)}")
    parser.add_argument("--compare-with", help="also run each scenario against the batchemu in this directory")
    parser.add_argument("--results-dir", default=str(Path(__file__).resolve().parent / "results"))
    args = parser.parse_args(argv)
    selected = [s.strip() for s in args.only.split(",")] if args.only else list(NAMES)
    if set(selected) - set(NAMES):
        parser.error(f"choose from {', '.join(NAMES)}")
    size = QUICK if args.quick else FULL
    trees = {"current": srv.REPO}
    if args.compare_with:
        trees["compared"] = Path(args.compare_with).resolve()
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    doc = {"suite": "batchemu-scale", "started_at": started.isoformat(timespec="seconds"), "quick": args.quick,
           "selected": selected, "sizes": size, "trees": {k: str(v) for k, v in trees.items()},
           "machine": {"cpu_count": os.cpu_count(), "python": sys.version.split()[0],
                       "load_average_start": [round(x, 2) for x in os.getloadavg()]},
           "measurements": {}}
    for name in selected:
        for label in (list(trees) if len(doc["measurements"]) % 2 == 0 else list(trees)[::-1]):
            try:
                result = SCENARIOS[name](trees[label], size)
            except Exception as exc:  # reported, so the other figures still come out
                result = {"error": f"{type(exc).__name__}: {exc}"[:500]}
            doc["measurements"].setdefault(name, {})[label] = result
            print(f"{name} [{label}]: {json.dumps(result)[:400]}", file=sys.stderr, flush=True)
    doc["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    doc["duration_s"] = round(time.perf_counter() - t0, 1)
    path = save(doc, args.results_dir, f"scale-{started.strftime('%Y%m%dT%H%M%SZ')}")
    print(f"saved {path} ({doc['duration_s']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
