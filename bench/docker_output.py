"""The Docker runner's live output (runners/docker_output.py) under many running containers:
how long after Docker stamped a line the runner reports it, how long one polling round takes,
and how many Docker requests that costs. Prints one JSON document; asserts nothing.

    python3 bench/docker_output.py [--containers 20] [--seconds 10]

Needs a Docker engine and the test image (bash scripts/build-test-image.sh).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker.api.client  # noqa: E402

from batchemu.runners.base import EXITED, LOG, LaunchSpec  # noqa: E402
from batchemu.runners.docker import DockerRunner  # noqa: E402
from bench.servers import IMAGE  # noqa: E402
from bench.stats import summary  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    requests, lags, exited = [0], [], []
    lock, done = threading.Lock(), threading.Condition()
    original = docker.api.client.APIClient.send

    def send(client, request, **kwargs):
        if "/logs" in request.url:
            with lock:
                requests[0] += 1
        return original(client, request, **kwargs)
    docker.api.client.APIClient.send = send

    def listener(event):
        now = time.time() * 1000
        if event.kind == LOG:
            with lock:
                lags.extend(now - ms for ms, _ in event.lines)
        elif event.kind == EXITED:
            with done:
                exited.append(event)
                done.notify_all()

    runner = DockerRunner("bench-" + secrets.token_hex(4), network="none", remove_on_close=True)
    runner.set_listener(listener)
    lines = int(args.seconds * 10)
    script = f"i=0; while [ $i -lt {lines} ]; do echo line $i; i=$((i+1)); sleep 0.1; done"
    try:
        for n in range(args.containers):
            runner.start(LaunchSpec(job_id=f"bench-{n}", attempt=1, name="bench", image=IMAGE,
                                    command=["sh", "-c", script], environment={}))
        t0 = time.monotonic()
        with done:
            done.wait_for(lambda: len(exited) == args.containers, timeout=args.seconds * 6 + 60)
        elapsed = time.monotonic() - t0
    finally:
        runner.close()
        docker.api.client.APIClient.send = original
    print(json.dumps({
        "suite": "docker_output", "containers": args.containers, "seconds_of_output": args.seconds,
        "exited": len(exited), "lines_reported": len(lags), "lines_written": lines * args.containers,
        "report_lag": summary([lag / 1000 for lag in lags], "s") if lags else None,
        "docker_log_requests_per_s": round(requests[0] / elapsed, 1), "elapsed_s": round(elapsed, 2),
    }, indent=2))


if __name__ == "__main__":
    main()
