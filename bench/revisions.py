"""Two revisions of batchemu side by side in one run: the same thin-client calls (SubmitJob with
1 and 4 threads, DescribeJobs of 100 ids, a full ListJobs of 2,000 jobs) against a server started
from each checkout, the revisions taking turns round by round so machine noise hits both alike.
It isolates what a refactor did to the API figures (bench/run.py compares batchemu with moto).

    python3 bench/revisions.py BEFORE_REV [AFTER_REV] [--rounds N]

AFTER_REV defaults to the working tree. Each other revision is checked out with `git worktree`
into a temporary directory (removed at the end). Prints one JSON document; saves it under
bench/results like run.py. Times are reported, never asserted.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import run, servers, thin  # noqa: E402
from bench.stats import summary  # noqa: E402


def checkout(rev: str, into: Path) -> Path:
    subprocess.run(["git", "-C", str(servers.REPO), "worktree", "add", "--detach", "-q", str(into), rev], check=True)
    return into


def start(label: str, tree: Path) -> servers.ServerProcess:
    port = servers.free_port()
    return servers.ServerProcess(label, [sys.executable, "-m", "batchemu", "--port", str(port), "--ephemeral",
                                         "--runner", "none"], port, env={"PYTHONPATH": str(tree)}, cwd=tree)


def settled(server) -> None:
    client = server.client()
    while client.list_jobs(jobQueue="bench-q", jobStatus="SUBMITTED", maxResults=1)["jobSummaryList"]:
        time.sleep(0.05)


def submit_round(server, threads: int, per_thread: int, ids: list) -> tuple[list, float, float]:
    """(latencies ms, wall s, server CPU s) of threads x per_thread SubmitJob calls."""
    clients = [thin.ThinBatch(server) for _ in range(threads)]
    lat = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)

    def work(k):
        barrier.wait()
        for i in range(per_thread):
            t0 = time.perf_counter()
            answer = clients[k].submit_job(jobName=f"r{k}-{i}", jobQueue="bench-q", jobDefinition="bench-jd")
            lat[k].append((time.perf_counter() - t0) * 1000)
            ids.append(answer["jobId"])

    workers = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    cpu0 = server.cpu_s()
    barrier.wait()
    t0 = time.perf_counter()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    settled(server)  # the scheduler's share of a submit is counted too
    cpu = server.cpu_s() - cpu0
    for c in clients:
        c.http.close()
    return [x for part in lat for x in part], wall, cpu


def timed_calls(server, call, n: int) -> tuple[list, float]:
    client = thin.ThinBatch(server)
    cpu0 = server.cpu_s()
    lat = []
    for _ in range(n):
        t0 = time.perf_counter()
        call(client)
        lat.append((time.perf_counter() - t0) * 1000)
    cpu = server.cpu_s() - cpu0
    client.http.close()
    return lat, cpu


def measure(both: dict, rounds: int) -> dict:
    names = list(both)
    out = {}
    ids = {s: [] for s in names}
    for threads in (1, 4):
        lat, wall, cpu, calls = ({s: [] for s in names}, {s: 0.0 for s in names}, {s: 0.0 for s in names},
                                 {s: 0 for s in names})
        for s in names:
            submit_round(both[s], threads, 10, ids[s])  # warm-up
        for r in range(rounds):
            for s in (names if r % 2 == 0 else names[::-1]):
                got, seconds, used = submit_round(both[s], threads, 100 // threads, ids[s])
                lat[s] += got
                wall[s] += seconds
                cpu[s] += used
                calls[s] += len(got)
        out[f"submit.{threads}_thread{'s' if threads > 1 else ''}"] = {
            s: {**summary(lat[s], "ms"), "throughput_per_s": round(calls[s] / wall[s], 1),
                "server_cpu_ms_per_call": round(cpu[s] * 1000 / calls[s], 3)} for s in names}
    for s in names:
        client = both[s].client()
        for i in range(0, 2000, 100):
            for k in range(100):
                client.submit_job(jobName=f"l{i + k}", jobQueue="list-q", jobDefinition="bench-jd")
    for s in names:  # the scheduler has made all 2,000 RUNNABLE
        while thin.ThinBatch(both[s]).list_all("list-q", "RUNNABLE")[0] < 2000:
            time.sleep(0.1)
    def describe(client, s):
        if client.describe_count(ids[s][-100:]) != 100:
            raise RuntimeError(f"{s}: DescribeJobs answered fewer than 100 jobs")

    def listing(client, s):
        if client.list_all("list-q", "RUNNABLE")[0] != 2000:
            raise RuntimeError(f"{s}: ListJobs did not list the 2,000 jobs")

    checks = {"describe_100": (describe, 5 * rounds * 4), "list_2000": (listing, 5 * rounds)}
    for name, (call, n) in checks.items():
        lat, cpu = {s: [] for s in names}, {s: 0.0 for s in names}
        for s in names:
            timed_calls(both[s], lambda c, s=s: call(c, s), 3)  # warm-up
        for r in range(rounds):
            for s in (names if r % 2 == 0 else names[::-1]):
                got, used = timed_calls(both[s], lambda c, s=s: call(c, s), n // rounds)
                lat[s] += got
                cpu[s] += used
        out[name] = {s: {**summary(lat[s], "ms"), "server_cpu_ms_per_call": round(cpu[s] * 1000 / len(lat[s]), 3)}
                     for s in names}
    for figures in out.values():
        before, after = (figures[s] for s in names)
        key = "throughput_per_s" if "throughput_per_s" in before else "p50"
        figures["after_vs_before"] = {key: round(after[key] / before[key], 3),
                                      "server_cpu": round(after["server_cpu_ms_per_call"]
                                                          / before["server_cpu_ms_per_call"], 3)}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after", nargs="?", help="default: the working tree")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    made = []
    with tempfile.TemporaryDirectory(prefix="bench-revs-") as tmp:
        try:
            before = checkout(args.before, Path(tmp) / "before")
            made.append(before)
            if args.after:
                after = checkout(args.after, Path(tmp) / "after")
                made.append(after)
            else:
                after = servers.REPO
            labels = {"before": args.before, "after": args.after or "working tree"}
            with start("before", before) as b, start("after", after) as a:
                for server in (b, a):
                    servers.setup_unmanaged(server, queues=("bench-q", "list-q"))
                figures = measure({"before": b, "after": a}, args.rounds)
        finally:
            for tree in made:
                subprocess.run(["git", "-C", str(servers.REPO), "worktree", "remove", "--force", str(tree)],
                               check=False)
    doc = {"kind": "revisions", "revisions": labels, "machine": run.machine(), "client": "thin",
           "figures": figures}
    run.save(doc, str(Path(__file__).resolve().parent / "results"), "revisions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
