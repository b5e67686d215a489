"""End to end: the scheduled-job example (examples/scheduled) on a server with --time-scale 60
and the Docker runner: `rate(1 minute)` fires about every second, each firing submits a real
job whose output names the event that started it; an EventBridge Scheduler schedule does too."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchemu.testing import running_server
from tests import docker_support

pytestmark = pytest.mark.docker
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scheduled" / "run.py"


@pytest.fixture(scope="module")
def server():
    docker_support.docker_client()  # skips (fails in CI) without an engine and the test image
    with running_server(runner="docker", job_network="host", time_scale=60) as s:
        yield s


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("scheduled_run", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rate_rule_submits_a_job_every_scaled_minute(server, example):
    c = example.clients(server.url, "us-east-1")
    r = example.setup(c, docker_support.IMAGE, "t1")
    started = time.time() * 1000
    rule = example.schedule_rule(c, r, "rate(1 minute)")
    jobs = example.finished_jobs(c, r, f"{r['name']}-from-rule", 2, timeout=60)
    c["events"].disable_rule(Name=rule)
    assert [j["status"] for j in jobs] == ["SUCCEEDED", "SUCCEEDED"], [j.get("statusReason") for j in jobs]
    first, second = (j["createdAt"] for j in jobs)
    assert 500 <= first - started <= 2500, first - started    # one scaled minute: about 1 s
    assert 500 <= second - first <= 2000, second - first
    rule_arn = c["events"].describe_rule(Name=rule)["Arn"]
    for job in jobs:
        assert job["parameters"]["source"] == rule_arn
        [line, done] = example.log_lines(c, job)
        assert re.fullmatch(rf"scheduled run: event time \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ from {re.escape(rule_arn)}",
                            line), line
        assert done == f"job {job['jobId']} done"


def test_run_py_with_the_scheduler_as_the_readme_runs_it(server):
    done = subprocess.run([sys.executable, str(EXAMPLE), "--endpoint-url", server.url, "--runs", "1",
                           "--scheduler", "--image", docker_support.IMAGE, "--timeout", "60"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"-from-rule \S+: SUCCEEDED", done.stdout), done.stdout
    assert re.search(r"-from-scheduler \S+: SUCCEEDED", done.stdout), done.stdout
    assert "scheduled run: event time (scheduler) from scheduled-" in done.stdout, done.stdout
