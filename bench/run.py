"""Benchmarks, side by side in one run: batchemu vs moto's server (API) and vs raw `docker run`
(containers). Prints one JSON document to stdout, saves it to bench/results/<UTC time>.json and
a short table to stderr. Timings are reported, never asserted. See bench/README.md.

    python3 bench/run.py [--quick] [--only NAME[,NAME...]] [--results-dir DIR]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
import moto  # noqa: E402

import batchemu  # noqa: E402
from bench import api, containers, servers  # noqa: E402

API_NAMES = ("submit", "describe", "list", "memory")
DOCKER_NAMES = ("latency", "makespan")
NAMES = API_NAMES + DOCKER_NAMES

# Sample sizes: the full run, and --quick (a smoke run in well under a minute).
FULL = {"submit_total": 400, "submit_rounds": 4, "submit_warmup": 20, "describe_calls": 60,
        "list_jobs": 2000, "listings": 25, "latency_samples": 15, "makespan_jobs": 40, "makespan_runs": 3}
QUICK = {"submit_total": 40, "submit_rounds": 1, "submit_warmup": 3, "describe_calls": 10,
         "list_jobs": 200, "listings": 5, "latency_samples": 3, "makespan_jobs": 8, "makespan_runs": 1}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="batchemu benchmarks (JSON to stdout, table to stderr)")
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run, not figures")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(NAMES)}")
    parser.add_argument("--results-dir", default=str(Path(__file__).resolve().parent / "results"),
                        help="where the JSON document is saved (default bench/results)")
    args = parser.parse_args(argv)
    args.selected = [n.strip() for n in args.only.split(",")] if args.only else list(NAMES)
    unknown = [n for n in args.selected if n not in NAMES]
    if unknown:
        parser.error(f"unknown measurement(s) {unknown}; choose from {', '.join(NAMES)}")
    return args


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "docker_server": servers.docker_server_version(), "load_average_start": _load(),
            "batchemu": batchemu.__version__, "moto": moto.__version__, "boto3": boto3.__version__}


def _load():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def run_api(selected: list, size: dict) -> dict:
    """Both servers up for the whole API phase; each measurement runs the same calls on both,
    and on a stub replaying batchemu's answers (the client floor), started for it alone; first
    with boto3 (the figure), then with the thin client (its "thin_client" part)."""
    out = {}
    with servers.start_batchemu("none") as b, servers.start_moto() as m:
        both = {"batchemu": b, "moto": m}
        for server in both.values():
            servers.setup_unmanaged(server, queues=("bench-q", "list-q"))
        idle = {s: both[s].rss_mib() for s in both}
        ids = {}
        if "submit" in selected:
            with servers.start_stub(api.record_submit(b)) as stub:
                for threads in (1, 4):
                    figure = out[f"submit.{threads}_thread{'s' if threads > 1 else ''}"] = api.submit(
                        {**both, api.FLOOR: stub}, threads, size["submit_total"], size["submit_rounds"],
                        size["submit_warmup"], ids)
                    figure["thin_client"] = api.submit({**both, api.FLOOR: stub}, threads, size["submit_total"],
                                                       size["submit_rounds"], size["submit_warmup"], ids,
                                                       kind="thin")
        if "describe" in selected:
            api.ensure_ids(both, ids, 100)
            with servers.start_stub(api.record_describe(b, ids["batchemu"][-100:])) as stub:
                out["describe"] = api.describe({**both, api.FLOOR: stub}, ids, size["describe_calls"])
                out["describe"]["thin_client"] = api.describe({**both, api.FLOOR: stub}, ids,
                                                              size["describe_calls"], kind="thin")
        if "list" in selected or "memory" in selected:
            fill_s = api.fill(both, "list-q", size["list_jobs"])
            with servers.start_stub(api.record_list(b, "list-q")) as stub:
                result = api.listing({**both, api.FLOOR: stub}, "list-q", size["list_jobs"], size["listings"])
                result["thin_client"] = api.listing({**both, api.FLOOR: stub}, "list-q", size["list_jobs"],
                                                    size["listings"], kind="thin")
            result["fill_s"] = fill_s
            if "list" in selected:
                out["list"] = result
        if "memory" in selected:
            stored = {s: len(ids.get(s, [])) for s in both}
            out["memory"] = api.memory(both, idle, size["list_jobs"] + max(stored.values()))
    return out


def run_docker(selected: list, size: dict) -> dict:
    out = {}
    problem = _docker_problem()
    if problem:
        return {name: {"error": problem, "met": False} for name in DOCKER_NAMES if name in selected}
    with servers.start_batchemu("docker") as b:
        servers.setup_managed(b, max_vcpus=4)
        if "latency" in selected:
            out["latency"] = containers.latency(b, size["latency_samples"])
        if "makespan" in selected:
            out["makespan"] = containers.makespan(b, size["makespan_jobs"], size["makespan_runs"])
    return out


def _docker_problem() -> str | None:
    try:
        found = subprocess.run(["docker", "image", "inspect", servers.IMAGE], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"no Docker engine answers: {exc}"
    if found.returncode:
        return (f"image {servers.IMAGE} not found or no engine: {found.stderr.decode().strip()[:200]} "
                "(build it: bash scripts/build-test-image.sh)")
    return None


def table(results: dict) -> str:
    """One line per figure: the headline numbers, the ratio, and for the API figures the server
    CPU ratio and the best ratio any server could get with this client (the client floor)."""
    lines = [f"{'measurement':<17} {'batchemu':>11} {'baseline':>20} {'ratio':>7} {'cpu':>6} {'best':>6}  "
             f"{'target':<44} met"]
    for name, r in results.items():
        if "error" in r:
            lines.append(f"{name:<17} error: {r['error']}")
            continue
        base = r["baseline"]
        ratio = r["ratio"]
        cpu, best = _num(ratio.get("server_cpu")), _num(ratio.get("best_possible"))
        if name == "memory":
            b, m = r["batchemu"], r[base]
            lines.append(f"{name:<17} {_num(b['after_listing_mib'], 'MiB'):>11} "
                         f"{base + ' ' + _num(m['after_listing_mib'], 'MiB'):>20} {_num(ratio['value']):>7} "
                         f"{cpu:>6} {best:>6}  "
                         f"{'(idle ' + _num(b['idle_mib']) + ' vs ' + _num(m['idle_mib']) + ' MiB; no target)':<44} -")
            continue
        lines.append(_row(name, r))
        if "thin_client" in r:
            lines.append(_row("  thin client", r["thin_client"]))
    lines.append("ratio: as the target reads it; cpu: server CPU per call, same direction; best: the ratio a "
                 "server doing no work would get with this client; thin client: the same requests without "
                 "boto3 (bench/README.md)")
    return "\n".join(lines)


def _row(name: str, r: dict) -> str:
    base, ratio = r["baseline"], r["ratio"]
    cpu, best = _num(ratio.get("server_cpu")), _num(ratio.get("best_possible"))
    key = "throughput_per_s" if "threads" in r else "p50"
    unit = "/s" if key == "throughput_per_s" else r["batchemu"]["unit"]
    b, m = r["batchemu"][key], r[base][key]
    return (f"{name:<17} {_num(b, unit):>11} {base + ' ' + _num(m, unit):>20} {_num(ratio['value']):>7} "
            f"{cpu:>6} {best:>6}  {r['target']['text']:<44} {'yes' if r['met'] else 'NO'}")


def _num(x, unit: str = "") -> str:
    if x is None:
        return "-"
    return f"{x:.4g}{(' ' + unit) if unit and not unit.startswith('/') else unit}"


def save(doc: dict, results_dir: str, stem: str) -> Path:
    """Print the document to stdout and save the same text as <results_dir>/<stem>.json."""
    text = json.dumps(doc, indent=2)
    results = Path(results_dir)
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"{stem}.json"
    path.write_text(text + "\n")
    print(text)
    return path


def main(argv=None) -> int:
    args = parse_args(argv)
    size = QUICK if args.quick else FULL
    started = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.perf_counter()
    doc = {"suite": "batchemu-bench", "started_at": started.isoformat(timespec="seconds"),
           "quick": args.quick, "selected": args.selected, "sizes": size, "machine": machine(),
           "measurements": {}}
    if any(n in API_NAMES for n in args.selected):
        doc["measurements"].update(run_api(args.selected, size))
    if any(n in DOCKER_NAMES for n in args.selected):
        doc["measurements"].update(run_docker(args.selected, size))
    doc["machine"]["load_average_end"] = _load()
    doc["duration_s"] = round(time.perf_counter() - t0, 1)
    judged = [r["met"] for r in doc["measurements"].values() if r.get("met") is not None]
    doc["all_met"] = bool(judged) and all(judged)
    path = save(doc, args.results_dir, started.strftime('%Y%m%dT%H%M%SZ'))
    print(table(doc["measurements"]), file=sys.stderr)
    print(f"saved {path} ({doc['duration_s']} s; load average {doc['machine']['load_average_start']} -> "
          f"{doc['machine']['load_average_end']})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
