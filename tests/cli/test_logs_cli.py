"""The real `aws logs` CLI (v1) reading a job's output, the way the README shows it:
get-log-events on /aws/batch/job with the job's logStreamName, filter-log-events (which the
CLI pages through by itself), describe-log-streams, and an error's exit code and text."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from batchemu.testing import running_server
from tests.docker_support import docker_client
from tests.e2e.support import make_definition, make_queue, new_account, wait_done

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory):
    """A process-runner server and a job that printed three lines and SUCCEEDED."""
    with running_server(runner="process", stop_grace_seconds=2) as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "hello", ["sh", "-c", "echo hello; echo ERROR oops; echo bye"],
                        image="ignored:latest")
        job = wait_done(batch, batch.submit_job(jobName="j", jobQueue="q", jobDefinition="hello")["jobId"])
        assert job["status"] == "SUCCEEDED"
        yield server.url, account, job, tmp_path_factory.mktemp("home")


def aws(finished_job, *args):
    url, account, _, home = finished_job
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": account,
           "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(home / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "none"),
           "AWS_PAGER": ""}
    return subprocess.run(["aws", "--endpoint-url", url, "--output", "json", "logs", *args],
                          env=env, capture_output=True, text=True, timeout=120)


def test_get_log_events_of_a_job(finished_job):
    stream = finished_job[2]["container"]["logStreamName"]
    result = aws(finished_job, "get-log-events", "--log-group-name", "/aws/batch/job",
                 "--log-stream-name", stream, "--start-from-head")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert [e["message"] for e in out["events"]] == ["hello", "ERROR oops", "bye"]
    assert out["nextForwardToken"].startswith("f/") and out["nextBackwardToken"].startswith("b/")


def test_filter_and_describe(finished_job):
    stream = finished_job[2]["container"]["logStreamName"]
    result = aws(finished_job, "filter-log-events", "--log-group-name", "/aws/batch/job",
                 "--filter-pattern", "ERROR")
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)["events"]
    assert [(e["logStreamName"], e["message"]) for e in events] == [(stream, "ERROR oops")]
    result = aws(finished_job, "describe-log-streams", "--log-group-name", "/aws/batch/job")
    assert result.returncode == 0, result.stderr
    assert [s["logStreamName"] for s in json.loads(result.stdout)["logStreams"]] == [stream]


def test_unknown_stream_fails_with_the_aws_error(finished_job):
    result = aws(finished_job, "get-log-events", "--log-group-name", "/aws/batch/job",
                 "--log-stream-name", "no/such/stream")
    assert result.returncode == 255  # the aws CLI v1 exit code for a service error
    assert "ResourceNotFoundException" in result.stderr
    assert "The specified log stream does not exist." in result.stderr


@pytest.mark.docker
def test_get_log_events_shows_a_running_docker_jobs_output_before_it_ends(tmp_path):
    """Issue 4's "done when": the CLI reads a RUNNING container's output, then the job ends."""
    docker_client().close()  # fails in CI, skips on a laptop, without an engine or the image
    with running_server(runner="docker", stop_grace_seconds=1) as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "slow", ["sh", "-c", "echo first line; sleep 600"])
        job_id = batch.submit_job(jobName="slow", jobQueue="q", jobDefinition="slow")["jobId"]
        live = (server.url, account, None, tmp_path)
        deadline, messages, job = time.monotonic() + 60, [], None
        while time.monotonic() < deadline and "first line" not in messages:
            job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
            stream = job.get("container", {}).get("logStreamName")
            if job["status"] == "RUNNING" and stream:
                result = aws(live, "get-log-events", "--log-group-name", "/aws/batch/job",
                             "--log-stream-name", stream, "--start-from-head")
                assert result.returncode == 0, result.stderr
                messages = [e["message"] for e in json.loads(result.stdout)["events"]]
            time.sleep(0.2)
        assert "first line" in messages
        # It was still running when the CLI showed its output.
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
        batch.terminate_job(jobId=job_id, reason="seen enough")
        job = wait_done(batch, job_id)
        assert job["status"] == "FAILED" and job["statusReason"] == "seen enough"
