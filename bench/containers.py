"""Container measurements: batchemu (`--runner docker`) against raw `docker run --rm` of the same
trivial container (`true` in the test image, network host). Submit-to-SUCCEEDED latency, and
the makespan of many jobs on a 4-vCPU compute environment against 4 `docker run`s at a time.
Samples alternate between the two so machine noise hits both alike.
"""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from bench.servers import IMAGE
from bench.stats import summary, target

RAW = ["docker", "run", "--rm", "--network", "host", IMAGE, "true"]
POLL_LATENCY = 0.005   # DescribeJobs every 5 ms while waiting for one job
POLL_MAKESPAN = 0.02   # DescribeJobs of all ids every 20 ms while waiting for a batch


class JobFailed(RuntimeError):
    pass


def raw_run() -> float:
    t0 = time.perf_counter()
    subprocess.run(RAW, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    return time.perf_counter() - t0


def wait_done(batch, ids: list, poll: float, timeout: float = 600.0) -> None:
    """Until every id is SUCCEEDED; a FAILED job raises with its reason."""
    pending = list(ids)
    deadline = time.perf_counter() + timeout
    while pending:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{len(pending)} jobs not SUCCEEDED after {timeout}s")
        still = []
        for k in range(0, len(pending), 100):
            for job in batch.describe_jobs(jobs=pending[k:k + 100])["jobs"]:
                if job["status"] == "FAILED":
                    raise JobFailed(f"job {job['jobId']} FAILED: {job.get('statusReason')}")
                if job["status"] != "SUCCEEDED":
                    still.append(job["jobId"])
        pending = still
        if pending:
            time.sleep(poll)


def wait_removed(ids: list, timeout: float = 60.0) -> None:
    """Until no container of these jobs exists: batchemu removes them after recording the exit,
    and a removal still running would otherwise slow the raw sample that follows."""
    wanted = set(ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run(["docker", "ps", "-a", "--filter", "label=batchemu.job-id", "--format",
                              '{{.Label "batchemu.job-id"}}'], capture_output=True, text=True, timeout=30)
        if not wanted & set(out.stdout.split()):
            return
        time.sleep(0.05)


def batchemu_latency(batch) -> float:
    t0 = time.perf_counter()
    job_id = batch.submit_job(jobName="latency", jobQueue="bench-q", jobDefinition="bench-jd")["jobId"]
    wait_done(batch, [job_id], POLL_LATENCY)
    seconds = time.perf_counter() - t0
    wait_removed([job_id])
    return seconds


def latency(server, samples: int, warmup: int = 1) -> dict:
    """submit -> SUCCEEDED of one trivial job vs one `docker run --rm`, alternating."""
    batch = server.client()
    times = {"batchemu": [], "raw_docker": []}
    errors = {"batchemu": 0, "raw_docker": 0}
    first = {}
    for i in range(warmup + samples):
        order = ("batchemu", "raw_docker") if i % 2 == 0 else ("raw_docker", "batchemu")
        for s in order:
            try:
                seconds = batchemu_latency(batch) if s == "batchemu" else raw_run()
            except Exception as exc:
                errors[s] += 1
                first.setdefault(s, f"{type(exc).__name__}: {exc}"[:300])
                continue
            if i >= warmup:
                times[s].append(seconds * 1000.0)
    out = {"baseline": "raw_docker", "command": " ".join(RAW), "poll_ms": POLL_LATENCY * 1000}
    for s in times:
        out[s] = {**summary(times[s], "ms"), "errors": errors[s], **({"first_error": first[s]} if s in first else {})}
    b, r = out["batchemu"]["p50"], out["raw_docker"]["p50"]
    diff = round(b - r, 1) if b is not None and r is not None else None
    out["ratio"] = {"value": round(b / r, 3) if b and r else None, "definition": "batchemu p50 / raw p50",
                    "difference_ms": diff}
    out["target"], out["met"] = target(diff, "<=", 50.0, "batchemu p50 <= raw p50 + 50 ms")
    return out


def batchemu_makespan(batch, jobs: int) -> float:
    ids = []
    t0 = time.perf_counter()
    for i in range(jobs):
        ids.append(batch.submit_job(jobName=f"makespan-{i}", jobQueue="bench-q", jobDefinition="bench-jd")["jobId"])
    wait_done(batch, ids, POLL_MAKESPAN)
    seconds = time.perf_counter() - t0
    wait_removed(ids)
    return seconds


def raw_makespan(jobs: int, parallel: int) -> float:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda _: raw_run(), range(jobs)))
    return time.perf_counter() - t0


def makespan(server, jobs: int, runs: int, parallel: int = 4) -> dict:
    """`jobs` trivial 1-vCPU jobs on a maxvCpus=`parallel` CE, first submit to last SUCCEEDED,
    vs `jobs` raw `docker run`s with exactly `parallel` at a time. The ratio compares medians."""
    batch = server.client()
    per_run = []
    times = {"batchemu": [], "raw_docker": []}
    errors = []
    for r in range(runs):
        order = ("batchemu", "raw_docker") if r % 2 == 0 else ("raw_docker", "batchemu")
        row = {}
        for s in order:
            try:
                seconds = batchemu_makespan(batch, jobs) if s == "batchemu" else raw_makespan(jobs, parallel)
            except Exception as exc:
                errors.append(f"{s}: {type(exc).__name__}: {exc}"[:300])
                continue
            row[f"{s}_s"] = round(seconds, 3)
            times[s].append(seconds)
        if len(row) == 2:
            row["ratio"] = round(row["batchemu_s"] / row["raw_docker_s"], 3)
        per_run.append(row)
    out = {"baseline": "raw_docker", "jobs": jobs, "parallel": parallel, "runs": per_run, "errors": errors}
    for s in times:
        out[s] = summary(times[s], "s", digits=3)
    b, r = out["batchemu"]["p50"], out["raw_docker"]["p50"]
    ratio = round(b / r, 3) if b and r else None
    out["ratio"] = {"value": ratio, "definition": "median batchemu makespan / median raw makespan"}
    out["target"], out["met"] = target(ratio, "<=", 1.10, "makespan <= 1.10 x raw 4-at-a-time")
    return out
