"""A running Docker job's output through the Logs API: requests never call Docker (the runner's
own threads read the container and the engine stores what they report), the output is
complete and in order once the job ends, and a server restart while the job runs neither loses
nor repeats a line."""

from __future__ import annotations

import threading
import time

import docker.api.client
import pytest

from batchemu.testing import running_server
from tests.e2e.support import docker_client, make_definition, make_queue, new_account, wait_done, wait_for, wait_until

pytestmark = pytest.mark.docker

JOB_GROUP = "/aws/batch/job"
# 40 numbered lines, one every 0.1 s, so a job is read while it writes.
COUNT = 40
NUMBERED = f"i=0; while [ $i -lt {COUNT} ]; do echo line $i; i=$((i+1)); sleep 0.1; done"
EXPECTED = [f"line {i}" for i in range(COUNT)]


def messages(response) -> list:
    return [e["message"] for e in response["events"]]


def read_all(logs, stream: str) -> list:
    token, lines = None, []
    while True:
        kwargs = {"nextToken": token} if token else {}
        out = logs.get_log_events(logGroupName=JOB_GROUP, logStreamName=stream, startFromHead=True, **kwargs)
        lines += messages(out)
        if out["nextForwardToken"] == token:
            return lines
        token = out["nextForwardToken"]


def start_numbered(server, account: str):
    """Submit the NUMBERED job and wait until it runs: (batch, logs, job id, its log stream)."""
    batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
    make_queue(batch, "q", max_vcpus=2)
    make_definition(batch, "numbered", ["sh", "-c", NUMBERED])
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="numbered")["jobId"]
    job = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
    return batch, logs, job_id, job["container"]["logStreamName"]


class DockerCalls:
    """Every HTTP request any docker SDK client in this process sends, with the name of the
    thread that sent it, while `recording`."""

    def __init__(self, monkeypatch):
        self.recording = False
        self.threads = []
        original = docker.api.client.APIClient.send

        def send(client, request, **kwargs):
            if self.recording:
                self.threads.append(threading.current_thread().name)
            return original(client, request, **kwargs)
        monkeypatch.setattr(docker.api.client.APIClient, "send", send)


def test_reading_a_running_jobs_output_never_calls_docker_from_a_request(monkeypatch):
    docker_client().close()  # skips (or fails under BATCHEMU_REQUIRE_DOCKER=1) without an engine
    calls = DockerCalls(monkeypatch)
    with running_server(runner="docker", stop_grace_seconds=1) as server:
        batch, logs, job_id, stream = start_numbered(server, new_account())
        calls.recording = True
        seen = wait_until(lambda: messages(logs.get_log_events(logGroupName=JOB_GROUP, logStreamName=stream,
                                                               startFromHead=True)), 20, "a first line")
        for _ in range(10):
            logs.get_log_events(logGroupName=JOB_GROUP, logStreamName=stream)
            logs.filter_log_events(logGroupName=JOB_GROUP, filterPattern="line")
        calls.recording = False
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
        assert seen == EXPECTED[:len(seen)]
        # Docker was asked (the runner reads the container while the requests ran), but only
        # from the runner's own threads: none from a request thread (waitress-*).
        assert calls.threads and all(name.startswith("batchemu-docker-") for name in calls.threads), \
            sorted(set(calls.threads))
        assert wait_done(batch, job_id, timeout=60)["status"] == "SUCCEEDED"
        assert read_all(logs, stream) == EXPECTED


def test_a_restart_while_a_docker_job_runs_neither_loses_nor_repeats_a_line(tmp_path):
    docker_client().close()
    account = new_account()
    with running_server(runner="docker", data_dir=tmp_path, stop_grace_seconds=1) as server:
        batch, logs, job_id, stream = start_numbered(server, account)
        before = wait_until(lambda: (lines := read_all(logs, stream)) and len(lines) >= 5 and lines, 20,
                            "five lines")
    assert before == EXPECTED[:len(before)] and len(before) < COUNT
    time.sleep(0.5)  # the container writes on while no server is watching it
    with running_server(runner="docker", data_dir=tmp_path, stop_grace_seconds=1) as server:
        batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
        assert wait_done(batch, job_id, timeout=60)["status"] == "SUCCEEDED"
        assert read_all(logs, stream) == EXPECTED
