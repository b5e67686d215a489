"""API measurements against batchemu (`--runner none`: jobs wait in RUNNABLE) and moto's server
(docker-less: jobs end SUCCEEDED inside SubmitJob): SubmitJob throughput/latency with 1 and 4
client threads, DescribeJobs of 100 ids, ListJobs over stored jobs, server RSS. The two servers
take turns (interleaved rounds or calls) so machine noise hits both alike.
"""

from __future__ import annotations

import threading
import time

from bench.stats import summary, target

SYSTEMS = ("batchemu", "moto")
# The status every stored job is in: batchemu without a runner holds jobs RUNNABLE; moto's
# docker-less Batch marks each job SUCCEEDED before SubmitJob returns.
RESTING_STATUS = {"batchemu": "RUNNABLE", "moto": "SUCCEEDED"}


class Errors:
    """Counts failed calls per system and keeps the first message, so a result says so."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count = {s: 0 for s in SYSTEMS}
        self.first = {}

    def add(self, system: str, exc: Exception) -> None:
        with self._lock:
            self.count[system] += 1
            self.first.setdefault(system, f"{type(exc).__name__}: {exc}"[:300])

    def of(self, system: str) -> dict:
        return {"errors": self.count[system], **({"first_error": self.first[system]} if system in self.first else {})}


def _submit_many(clients: list, per_client: int, queue: str, system: str, errors: Errors, ids: list,
                 prefix: str = "bench") -> tuple[list, float]:
    """Each client on its own thread submits `per_client` jobs; returns (latencies ms, wall s)
    measured from the moment all threads are released until the last call returns."""
    latencies = [[] for _ in clients]
    barrier = threading.Barrier(len(clients) + 1)

    def work(k):
        client, out = clients[k], latencies[k]
        barrier.wait()
        for i in range(per_client):
            t0 = time.perf_counter()
            try:
                job = client.submit_job(jobName=f"{prefix}-{k}-{i}", jobQueue=queue, jobDefinition="bench-jd")
                ids.append(job["jobId"])
            except Exception as exc:
                errors.add(system, exc)
                continue
            out.append((time.perf_counter() - t0) * 1000.0)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(clients))]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return [x for part in latencies for x in part], wall


def wait_settled(client, queue: str, timeout: float = 300.0) -> float:
    """Wait until no job of `queue` is SUBMITTED (batchemu's scheduler has moved every one on),
    so one server's background work never runs while the other is being timed. Returns seconds."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if not client.list_jobs(jobQueue=queue, jobStatus="SUBMITTED", maxResults=1)["jobSummaryList"]:
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise RuntimeError(f"jobs of {queue} still SUBMITTED after {timeout}s")


def submit(servers: dict, threads: int, total: int, rounds: int, warmup: int, ids: dict) -> dict:
    """SubmitJob with `threads` boto3 clients (one each), `total` timed submits per server in
    `rounds` alternating rounds. Throughput = timed submits / summed round wall time."""
    errors = Errors()
    clients = {s: [servers[s].client() for _ in range(threads)] for s in SYSTEMS}
    for s in SYSTEMS:  # warm-up: connections, botocore's model loading, server code paths
        _submit_many(clients[s], warmup, "bench-q", s, errors, [], prefix="warm")
        wait_settled(clients[s][0], "bench-q")
    lat = {s: [] for s in SYSTEMS}
    wall = {s: 0.0 for s in SYSTEMS}
    settle = {s: 0.0 for s in SYSTEMS}
    per_round = max(1, total // (rounds * threads))
    for r in range(rounds):
        order = SYSTEMS if r % 2 == 0 else SYSTEMS[::-1]
        for s in order:
            got, seconds = _submit_many(clients[s], per_round, "bench-q", s, errors, ids.setdefault(s, []))
            lat[s] += got
            wall[s] += seconds
            settle[s] += wait_settled(clients[s][0], "bench-q")
    out = {"baseline": "moto", "threads": threads}
    for s in SYSTEMS:
        rate = len(lat[s]) / wall[s] if wall[s] else None
        out[s] = {**summary(lat[s], "ms"), "throughput_per_s": round(rate, 1) if rate else None,
                  "wall_s": round(wall[s], 3), "settle_s": round(settle[s], 3), **errors.of(s)}
    b, m = out["batchemu"]["throughput_per_s"], out["moto"]["throughput_per_s"]
    ratio = round(b / m, 2) if b and m else None
    out["ratio"] = {"value": ratio, "definition": "batchemu submits/s / moto submits/s"}
    out["target"], out["met"] = target(ratio, ">=", 3.0, "batchemu submits/s >= 3 x moto's")
    return out


def ensure_ids(servers: dict, ids: dict, n: int) -> None:
    """At least n job ids per server (from the submit measurement, else submitted here)."""
    errors = Errors()
    for s in SYSTEMS:
        have = ids.setdefault(s, [])
        if len(have) < n:
            _submit_many([servers[s].client()], n - len(have), "bench-q", s, errors, have, prefix="ids")
            wait_settled(servers[s].client(), "bench-q")
    if any(errors.count.values()):
        raise RuntimeError(f"could not submit jobs for DescribeJobs: {errors.first}")


def describe(servers: dict, ids: dict, calls: int, warmup: int = 5) -> dict:
    """DescribeJobs of the same number (100) of ids on both, calls alternating between servers."""
    errors = Errors()
    clients = {s: servers[s].client() for s in SYSTEMS}
    asked = {s: ids[s][-100:] for s in SYSTEMS}
    lat = {s: [] for s in SYSTEMS}
    wrong = {s: 0 for s in SYSTEMS}
    for i in range(warmup + calls):
        for s in (SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]):
            t0 = time.perf_counter()
            try:
                got = clients[s].describe_jobs(jobs=asked[s])["jobs"]
            except Exception as exc:
                errors.add(s, exc)
                continue
            ms = (time.perf_counter() - t0) * 1000.0
            if len(got) != len(asked[s]):
                wrong[s] += 1
            if i >= warmup:
                lat[s].append(ms)
    out = {"baseline": "moto", "ids_per_call": len(asked["batchemu"])}
    for s in SYSTEMS:
        out[s] = {**summary(lat[s], "ms"), "wrong_answers": wrong[s], **errors.of(s)}
    return _p50_ratio(out, 0.25, "batchemu p50 <= 1/4 of moto's p50")


def fill(servers: dict, queue: str, n: int, threads: int = 4) -> dict:
    """Store n jobs in `queue` on each server (untimed), then wait until batchemu settles."""
    errors = Errors()
    took = {}
    for s in SYSTEMS:
        clients = [servers[s].client() for _ in range(threads)]
        per = n // threads
        _, seconds = _submit_many(clients, per, queue, s, errors, [], prefix="list")
        rest = n - per * threads
        if rest:
            _submit_many(clients[:1], rest, queue, s, errors, [], prefix="rest")
        took[s] = round(seconds + wait_settled(clients[0], queue), 2)
    if any(errors.count.values()):
        raise RuntimeError(f"could not store {n} jobs: {errors.first}")
    return took


def list_all(client, queue: str, status: str) -> int:
    count = 0
    for page in client.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
        count += len(page["jobSummaryList"])
    return count


def listing(servers: dict, queue: str, stored: int, listings: int, warmup: int = 2) -> dict:
    """Every page of ListJobs(queue, status) through boto3's paginator, alternating servers."""
    errors = Errors()
    clients = {s: servers[s].client() for s in SYSTEMS}
    lat = {s: [] for s in SYSTEMS}
    wrong = {s: 0 for s in SYSTEMS}
    pages = {}
    for i in range(warmup + listings):
        for s in (SYSTEMS if i % 2 == 0 else SYSTEMS[::-1]):
            t0 = time.perf_counter()
            try:
                count = list_all(clients[s], queue, RESTING_STATUS[s])
            except Exception as exc:
                errors.add(s, exc)
                continue
            ms = (time.perf_counter() - t0) * 1000.0
            wrong[s] += count != stored
            if i >= warmup:
                lat[s].append(ms)
    for s in SYSTEMS:
        pages[s] = sum(1 for _ in clients[s].get_paginator("list_jobs").paginate(
            jobQueue=queue, jobStatus=RESTING_STATUS[s]))
    out = {"baseline": "moto", "stored_jobs": stored}
    for s in SYSTEMS:
        out[s] = {**summary(lat[s], "ms"), "status_filter": RESTING_STATUS[s], "pages": pages[s],
                  "wrong_counts": wrong[s], **errors.of(s)}
    return _p50_ratio(out, 0.25, "batchemu p50 <= 1/4 of moto's p50")


def _p50_ratio(out: dict, bound: float, text: str) -> dict:
    b, m = out["batchemu"]["p50"], out["moto"]["p50"]
    ratio = round(b / m, 3) if b and m else None
    out["ratio"] = {"value": ratio, "definition": "batchemu p50 / moto p50"}
    out["target"], out["met"] = target(ratio, "<=", bound, text)
    return out


def memory(servers: dict, idle: dict, stored: int) -> dict:
    """Server RSS when idle (set up, no jobs) and after the listing measurement; no target."""
    out = {"baseline": "moto", "unit": "MiB", "stored_jobs_after": stored}
    for s in SYSTEMS:
        out[s] = {"idle_mib": idle[s], "after_listing_mib": servers[s].rss_mib()}
    b, m = out["batchemu"]["after_listing_mib"], out["moto"]["after_listing_mib"]
    out["ratio"] = {"value": round(b / m, 2) if b and m else None,
                    "definition": "batchemu RSS / moto RSS after the listing"}
    out["target"], out["met"] = None, None
    return out
