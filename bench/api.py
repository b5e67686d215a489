"""API measurements against batchemu (`--runner none`: jobs wait in RUNNABLE) and moto's server
(docker-less: jobs end SUCCEEDED inside SubmitJob): SubmitJob throughput/latency with 1 and 4
client threads, DescribeJobs of 100 ids, ListJobs over stored jobs, server RSS.

Every figure also has: the server's own CPU per call (from /proc, so client cost and machine
noise stay out of it), the client floor (the same boto3 calls against bench/stub.py replaying
batchemu's answers), and the same measurement made again with the thin client (bench/thin.py:
boto3's requests without boto3), under "thin_client". The systems take turns (rounds or single
calls) so noise hits all alike.
"""

from __future__ import annotations

import threading
import time

from bench import servers as srv
from bench import thin
from bench.stats import summary, target

COMPARED = ("batchemu", "moto")
FLOOR = "client_floor"
# The status every stored job is in: batchemu without a runner holds jobs RUNNABLE; moto's
# docker-less Batch marks each job SUCCEEDED before SubmitJob returns. The stub replays
# batchemu's answers.
RESTING_STATUS = {"batchemu": "RUNNABLE", "moto": "SUCCEEDED", FLOOR: "RUNNABLE"}


def make_client(server, kind: str):
    """A Batch client of `kind`: "boto3" (the figures the targets are set in) or "thin"."""
    return server.client() if kind == "boto3" else thin.ThinBatch(server)


class Errors:
    """Counts failed calls per system and keeps the first message, so a result says so."""

    def __init__(self):
        self._lock = threading.Lock()
        self.count: dict = {}
        self.first: dict = {}

    def add(self, system: str, exc: Exception) -> None:
        with self._lock:
            self.count[system] = self.count.get(system, 0) + 1
            self.first.setdefault(system, f"{type(exc).__name__}: {exc}"[:300])

    def of(self, system: str) -> dict:
        out = {"errors": self.count.get(system, 0)}
        if system in self.first:
            out["first_error"] = self.first[system]
        return out


class Cpu:
    """Server CPU seconds spent inside the timed parts, per system."""

    def __init__(self, servers: dict):
        self.servers = servers
        self.used = {s: 0.0 for s in servers}
        self._start = {}

    def start(self, system: str) -> None:
        self._start[system] = self.servers[system].cpu_s()

    def stop(self, system: str) -> None:
        end, begin = self.servers[system].cpu_s(), self._start.pop(system)
        if end is not None and begin is not None:
            self.used[system] += end - begin

    def per_call_ms(self, system: str, calls: int) -> float | None:
        return round(self.used[system] * 1000.0 / calls, 3) if calls else None


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


def wait_settled(system: str, client, queue: str, timeout: float = 300.0) -> float:
    """Wait until no job of `queue` is SUBMITTED (batchemu's scheduler has moved every one on),
    so one server's background work never runs while another is being timed. Returns seconds."""
    if system == FLOOR:
        return 0.0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if not client.list_jobs(jobQueue=queue, jobStatus="SUBMITTED", maxResults=1)["jobSummaryList"]:
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise RuntimeError(f"jobs of {queue} still SUBMITTED after {timeout}s")


def record_submit(batchemu) -> dict:
    """batchemu's SubmitJob answer, for the stub to replay."""
    client = batchemu.client()
    recorder = srv.Recorder(client)
    client.submit_job(jobName="recorded", jobQueue="bench-q", jobDefinition="bench-jd")
    wait_settled("batchemu", client, "bench-q")
    return recorder.responses


def submit(servers: dict, threads: int, total: int, rounds: int, warmup: int, ids: dict,
           kind: str = "boto3") -> dict:
    """SubmitJob with `threads` clients of `kind` (one each), `total` timed submits per system in
    `rounds` rounds, the systems in turn. Throughput = timed submits / summed round wall time;
    server CPU counts each round until batchemu's scheduler has settled its jobs."""
    errors = Errors()
    cpu = Cpu({s: servers[s] for s in COMPARED})
    names = list(servers)
    clients = {s: [make_client(servers[s], kind) for _ in range(threads)] for s in names}
    watchers = {s: servers[s].client() for s in names}
    for s in names:  # warm-up: connections, botocore's model loading, server code paths
        _submit_many(clients[s], warmup, "bench-q", s, errors, [], prefix="warm")
        wait_settled(s, watchers[s], "bench-q")
    lat = {s: [] for s in names}
    wall = {s: 0.0 for s in names}
    settle = {s: 0.0 for s in names}
    per_round = max(1, total // (rounds * threads))
    for r in range(rounds):
        for s in (names if r % 2 == 0 else names[::-1]):
            if s in cpu.used:
                cpu.start(s)
            got, seconds = _submit_many(clients[s], per_round, "bench-q", s, errors, ids.setdefault(s, []))
            settle[s] += wait_settled(s, watchers[s], "bench-q")
            if s in cpu.used:
                cpu.stop(s)
            lat[s] += got
            wall[s] += seconds
    out = {"baseline": "moto", "threads": threads, "client": kind}
    for s in names:
        rate = len(lat[s]) / wall[s] if wall[s] else None
        out[s] = {**summary(lat[s], "ms"), "throughput_per_s": round(rate, 1) if rate else None,
                  "wall_s": round(wall[s], 3), **errors.of(s)}
        if s in cpu.used:
            out[s].update(settle_s=round(settle[s], 3), server_cpu_ms_per_call=cpu.per_call_ms(s, len(lat[s])))
    rate = {s: out[s]["throughput_per_s"] for s in names}
    ratio = _ratio(rate["batchemu"], rate["moto"])
    out["ratio"] = {"value": ratio, "definition": "batchemu submits/s / moto submits/s",
                    "server_cpu": _ratio(out["moto"]["server_cpu_ms_per_call"],
                                         out["batchemu"]["server_cpu_ms_per_call"]),
                    "server_cpu_definition": "moto server CPU per submit / batchemu's (higher: batchemu cheaper)"}
    if FLOOR in rate:
        out["ratio"]["best_possible"] = _ratio(rate[FLOOR], rate["moto"])
        out["ratio"]["best_possible_definition"] = ("client-floor submits/s / moto submits/s: the ratio a "
                                                    "server doing no work at all would get")
    out["target"], out["met"] = target(ratio, ">=", 3.0, "batchemu submits/s >= 3 x moto's")
    return out


def ensure_ids(servers: dict, ids: dict, n: int) -> None:
    """At least n job ids per compared server (from the submit measurement, else submitted here)."""
    errors = Errors()
    for s in COMPARED:
        have = ids.setdefault(s, [])
        if len(have) < n:
            _submit_many([servers[s].client()], n - len(have), "bench-q", s, errors, have, prefix="ids")
            wait_settled(s, servers[s].client(), "bench-q")
    if errors.count:
        raise RuntimeError(f"could not submit jobs for DescribeJobs: {errors.first}")


def record_describe(batchemu, ids: list) -> dict:
    client = batchemu.client()
    recorder = srv.Recorder(client)
    client.describe_jobs(jobs=ids)
    return recorder.responses


def describe(servers: dict, ids: dict, calls: int, warmup: int = 5, kind: str = "boto3") -> dict:
    """DescribeJobs of the same number (100) of ids on each system, one call each in turn."""
    asked = {s: ids["batchemu" if s == FLOOR else s][-100:] for s in servers}

    def call(s, client):
        if kind == "thin":
            return client.describe_count(asked[s]) == len(asked[s])
        return len(client.describe_jobs(jobs=asked[s])["jobs"]) == len(asked[s])

    out = _alternate(servers, call, calls, warmup, kind)
    out["ids_per_call"] = len(asked["batchemu"])
    return _p50_ratio(out, 0.25, "batchemu p50 <= 1/4 of moto's")


def fill(servers: dict, queue: str, n: int, threads: int = 4) -> dict:
    """Store n jobs in `queue` on each compared server (untimed), then wait until batchemu settles."""
    errors = Errors()
    took = {}
    for s in COMPARED:
        clients = [servers[s].client() for _ in range(threads)]
        per = n // threads
        _, seconds = _submit_many(clients, per, queue, s, errors, [], prefix="list")
        rest = n - per * threads
        if rest:
            _submit_many(clients[:1], rest, queue, s, errors, [], prefix="rest")
        took[s] = round(seconds + wait_settled(s, clients[0], queue), 2)
    if errors.count:
        raise RuntimeError(f"could not store {n} jobs: {errors.first}")
    return took


def list_all(client, queue: str, status: str) -> tuple[int, int]:
    """(jobs, pages) of one full listing through boto3's paginator."""
    count = pages = 0
    for page in client.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status):
        count += len(page["jobSummaryList"])
        pages += 1
    return count, pages


def record_list(batchemu, queue: str) -> dict:
    client = batchemu.client()
    recorder = srv.Recorder(client)
    list_all(client, queue, RESTING_STATUS["batchemu"])
    return recorder.responses


def listing(servers: dict, queue: str, stored: int, listings: int, warmup: int = 2, kind: str = "boto3") -> dict:
    """Every page of ListJobs(queue, status) (through boto3's paginator, or the thin client's
    nextToken walk), one listing each in turn."""
    pages = {}

    def call(s, client):
        if kind == "thin":
            count, pages[s] = client.list_all(queue, RESTING_STATUS[s])
        else:
            count, pages[s] = list_all(client, queue, RESTING_STATUS[s])
        return count == stored

    out = _alternate(servers, call, listings, warmup, kind)
    out["stored_jobs"] = stored
    for s in servers:
        out[s].update(status_filter=RESTING_STATUS[s], pages=pages.get(s))
    return _p50_ratio(out, 0.25, "batchemu p50 <= 1/4 of moto's")


def _alternate(servers: dict, call, calls: int, warmup: int, kind: str) -> dict:
    """`call(system, client) -> answer was right` timed on each system in turn."""
    errors = Errors()
    names = list(servers)
    clients = {s: make_client(servers[s], kind) for s in names}
    cpu = Cpu({s: servers[s] for s in COMPARED})
    lat = {s: [] for s in names}
    wrong = {s: 0 for s in names}
    for i in range(warmup + calls):
        for s in (names if i % 2 == 0 else names[::-1]):
            timed = i >= warmup and s in cpu.used
            if timed:
                cpu.start(s)
            t0 = time.perf_counter()
            try:
                right = call(s, clients[s])
            except Exception as exc:
                errors.add(s, exc)
                continue
            finally:
                if timed:
                    cpu.stop(s)
            ms = (time.perf_counter() - t0) * 1000.0
            wrong[s] += not right
            if i >= warmup:
                lat[s].append(ms)
    out = {"baseline": "moto", "client": kind}
    for s in names:
        out[s] = {**summary(lat[s], "ms"), "wrong_answers": wrong[s], **errors.of(s)}
        if s in cpu.used:
            out[s]["server_cpu_ms_per_call"] = cpu.per_call_ms(s, len(lat[s]))
    return out


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def _p50_ratio(out: dict, bound: float, text: str) -> dict:
    ratio = _ratio(out["batchemu"]["p50"], out["moto"]["p50"])
    out["ratio"] = {"value": ratio, "definition": "batchemu p50 / moto p50",
                    "server_cpu": _ratio(out["batchemu"]["server_cpu_ms_per_call"],
                                         out["moto"]["server_cpu_ms_per_call"]),
                    "server_cpu_definition": "batchemu server CPU per call / moto's"}
    if FLOOR in out:
        out["ratio"]["best_possible"] = _ratio(out[FLOOR]["p50"], out["moto"]["p50"])
        out["ratio"]["best_possible_definition"] = ("client-floor p50 / moto p50: the ratio a server "
                                                    "doing no work at all would get")
    out["target"], out["met"] = target(ratio, "<=", bound, text)
    return out


def memory(servers: dict, idle: dict, stored: int) -> dict:
    """Server RSS when idle (set up, no jobs) and after the listing measurement; no target."""
    out = {"baseline": "moto", "unit": "MiB", "stored_jobs_after": stored}
    for s in COMPARED:
        out[s] = {"idle_mib": idle[s], "after_listing_mib": servers[s].rss_mib()}
    out["ratio"] = {"value": _ratio(out["batchemu"]["after_listing_mib"], out["moto"]["after_listing_mib"]),
                    "definition": "batchemu RSS / moto RSS after the listing"}
    out["target"], out["met"] = None, None
    return out
