"""Per-request cost of batchemu's HTTP server, before and after a change, in one run: the
server module of a baseline git revision (default: the werkzeug server with keep-alive
overrides that waitress replaced) against the one in the working tree.

    python3 -m bench.http_server [--calls 3000] [--rounds 4] [--baseline-rev REV]

Both serve in a subprocess of this Python on 127.0.0.1; one kept-alive `http.client`
connection sends POST /v1/describecomputeenvironments `{}` (the app's cheapest Batch call) and
then the same request to a WSGI app that answers `{}` at once, which leaves the HTTP server's
own cost. Rounds alternate between the servers. Per workload and server: latency per call
(ms) and the server process's user+system CPU per call (/proc/<pid>/stat, 10 ms ticks, so it
needs thousands of calls). Prints one JSON document; timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import servers as srv  # noqa: E402
from bench.api import _ratio as ratio  # noqa: E402
from bench.stats import summary  # noqa: E402

# The last commit served by werkzeug's ThreadedWSGIServer with batchemu's keep-alive overrides.
WERKZEUG_REV = "eab7560"
WORKLOADS = ("api", "http_only")
HEADERS = {"Content-Type": "application/json",
           "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTEST/20261207/us-east-1/batch/"
                            "aws4_request, SignedHeaders=host, Signature=" + "0" * 64}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="HTTP server cost per request, baseline vs working tree")
    parser.add_argument("--calls", type=int, default=3000, help="calls per server, workload and round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--baseline-rev", default=WERKZEUG_REV, help="git revision whose batchemu/server.py "
                                                                      "is the baseline")
    parser.add_argument("--serve", nargs=3, metavar=("MODULE_FILE", "WORKLOAD", "PORT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def serve(module_file: str, workload: str, port: int) -> None:
    """The subprocess: `module_file`'s Server on `port`, serving the workload's app."""
    import importlib.util

    from batchemu.config import Config
    from batchemu.emulator import Emulator

    spec = importlib.util.spec_from_file_location("server_under_test", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if workload == "api":
        emulator = Emulator(Config(ephemeral=True, port=0, runner="none"))
        emulator.engine.start()
        app = emulator.app
    else:
        def app(environ, start_response):
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
    module.Server(app, "127.0.0.1", port).serve_forever()


def start(name: str, module_file: str, workload: str) -> srv.ServerProcess:
    port = srv.free_port()
    return srv.ServerProcess(name, [sys.executable, "-m", "bench.http_server", "--serve", module_file,
                                    workload, str(port)], port)


def timed_calls(server: srv.ServerProcess, calls: int) -> tuple[list, float]:
    """(latency of each call in ms, server CPU ms per call) over one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        def call():
            conn.request("POST", "/v1/describecomputeenvironments", body=b"{}", headers=HEADERS)
            answer = conn.getresponse()
            body = answer.read()
            if answer.status != 200:
                raise RuntimeError(f"{server.name}: HTTP {answer.status}: {body[:200]!r}")

        for _ in range(50):  # warm up (imports, first connection)
            call()
        latencies = []
        cpu_before = server.cpu_s()
        for _ in range(calls):
            t0 = time.perf_counter()
            call()
            latencies.append((time.perf_counter() - t0) * 1000)
        return latencies, (server.cpu_s() - cpu_before) * 1000 / calls
    finally:
        conn.close()


def measure(files: dict, workload: str, calls: int, rounds: int) -> dict:
    running = {name: start(name, path, workload) for name, path in files.items()}
    try:
        samples = {name: [] for name in files}
        cpu = {name: [] for name in files}
        for r in range(rounds):
            order = list(files) if r % 2 == 0 else list(reversed(files))
            for name in order:
                latencies, cpu_ms = timed_calls(running[name], calls)
                samples[name] += latencies
                cpu[name].append(cpu_ms)
    finally:
        for server in running.values():
            server.stop()
    out = {}
    for name in files:
        out[name] = summary(samples[name], "ms", digits=3)
        out[name]["server_cpu_ms_per_call"] = round(sum(cpu[name]) / len(cpu[name]), 3)
    base, new = out["baseline"], out["current"]
    out["ratio"] = {"p50": ratio(new["p50"], base["p50"]),
                    "server_cpu": ratio(new["server_cpu_ms_per_call"], base["server_cpu_ms_per_call"]),
                    "definition": "current / baseline (lower is cheaper); null when too few calls "
                                  "for the CPU clock's 10 ms ticks"}
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.serve[1], int(args.serve[2]))
        return 0
    baseline_source = subprocess.run(["git", "show", f"{args.baseline_rev}:batchemu/server.py"], cwd=srv.REPO,
                                     capture_output=True, text=True)
    if baseline_source.returncode != 0:
        print(json.dumps({"suite": "http_server", "error": baseline_source.stderr.strip()}))
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline_server.py"
        baseline.write_text(baseline_source.stdout)
        files = {"baseline": str(baseline), "current": str(srv.REPO / "batchemu" / "server.py")}
        started = time.time()
        doc = {"suite": "http_server", "baseline_rev": args.baseline_rev, "calls": args.calls,
               "rounds": args.rounds,
               "measurements": {w: measure(files, w, args.calls, args.rounds) for w in WORKLOADS},
               "duration_s": None}
        doc["duration_s"] = round(time.time() - started, 1)
    print(json.dumps(doc, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
