"""End to end: the Step Functions workflow example (examples/stepfunctions) on a live server with
the Docker runner: prepare job -> array job over the inputs -> aggregate job, and the same
workflow with an input that makes one array child fail (the Catch runs the report-failure job,
then the execution FAILS). Both executions run at once, once per module; each test checks one
thing a user of the example would look at, with its own boto3 calls."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchemu.runners.docker import engine_available
from batchemu.testing import running_server
from tests import docker_support
from tests.e2e.support import new_account

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "stepfunctions"
IMAGE = "batchemu-examples/thumbnails:latest"  # python3 + boto3; the steps are fetched from S3


def _load_example():
    spec = importlib.util.spec_from_file_location("stepfunctions_workflow_run", EXAMPLE / "run.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def job_image():
    if not engine_available():
        docker_support.unavailable("no Docker engine answers")
    build = subprocess.run(["bash", str(ROOT / "examples" / "thumbnails" / "image" / "build.sh")],
                           capture_output=True, text=True, timeout=1800,
                           env={**os.environ, "THUMBNAILS_IMAGE": IMAGE})
    if build.returncode != 0:
        docker_support.unavailable(f"examples/thumbnails/image/build.sh failed (exit {build.returncode}):\n"
                                   f"{build.stdout[-3000:]}\n{build.stderr[-3000:]}")
    return IMAGE


@pytest.fixture(scope="module")
def runs(job_image):
    """{"ok": (run, described, events), "fail": (...)}, plus the example module and clients."""
    example = _load_example()
    with running_server(runner="docker", job_network="host") as server:
        c = example.clients(server.url, "us-east-1", access_key=new_account(), secret_key="test")
        ok = example.setup(c, 3, image=job_image)
        fail = example.setup(c, 2, fail=True, image=job_image)
        started = {"ok": (ok, example.start(c, ok)), "fail": (fail, example.start(c, fail))}
        done = {}
        for name, (run, execution) in started.items():
            described = example.wait(c, execution, timeout=600)
            done[name] = (run, described, example.history(c, execution))
        yield example, c, done


def body(c, bucket: str, key: str) -> dict:
    return json.loads(c["s3"].get_object(Bucket=bucket, Key=key)["Body"].read())


def test_the_workflow_succeeds_and_its_jobs_wrote_the_summary(runs):
    example, c, done = runs
    run, described, events = done["ok"]
    assert described["status"] == "SUCCEEDED", described
    texts = run["texts"]
    assert body(c, run["bucket"], "results/summary.json") == {
        "files": 3, "words": sum(len(t.split()) for t in texts.values()),
        "lines": sum(len(t.splitlines()) for t in texts.values())}
    output = json.loads(described["output"])
    assert output["prepare"]["Status"] == output["count"]["Status"] == output["aggregate"]["Status"] == "SUCCEEDED"
    assert output["count"]["Children"]["SUCCEEDED"] == 3


def test_the_history_records_each_task_as_aws_does(runs):
    example, c, done = runs
    _, _, events = done["ok"]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionSucceeded"
    per_task = ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded",
                "TaskStateExited"]
    assert kinds[1:-1] == per_task * 3
    assert [e["stateEnteredEventDetails"]["name"] for e in events if e["type"] == "TaskStateEntered"] == [
        "Prepare", "Count", "Aggregate"]
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))


def test_the_array_job_ran_one_child_per_input_with_its_output_in_logs(runs):
    example, c, done = runs
    run, _, events = done["ok"]
    jobs = dict(example.jobs_of(events))
    (parent,) = c["batch"].describe_jobs(jobs=[jobs["Count"]])["jobs"]
    assert parent["arrayProperties"]["size"] == 3 and parent["status"] == "SUCCEEDED"
    children = c["batch"].describe_jobs(jobs=[f"{jobs['Count']}:{i}" for i in range(3)])["jobs"]
    for child in children:
        index = child["arrayProperties"]["index"]
        key = run["inputs"][index]
        words = len(run["texts"][key].split())
        assert f"count: [{index}] {key}: {words} words, " in " ".join(example.log_lines(c, child))
        env = {e["name"]: e["value"] for e in child["container"]["environment"]}
        assert env["BUCKET"] == run["bucket"]
        assert env["MANAGED_BY_AWS"] == "STARTED_BY_STEP_FUNCTIONS"


def test_a_failed_child_fails_the_sync_state_and_the_catch_reports_it(runs):
    example, c, done = runs
    run, described, events = done["fail"]
    assert described["status"] == "FAILED"
    assert described["error"] == "WorkflowFailed"
    kinds = [e["type"] for e in events]
    assert kinds[-2:] == ["FailStateEntered", "ExecutionFailed"]
    failed = next(e for e in events if e["type"] == "TaskFailed")["taskFailedEventDetails"]
    assert failed["error"] == "States.TaskFailed"
    cause = json.loads(failed["cause"])  # the array job, as DescribeJobs shows it
    assert cause["Status"] == "FAILED" and cause["StatusReason"] == "Array Child Job failed"
    assert cause["ArrayProperties"]["StatusSummary"]["FAILED"] == 1
    jobs = dict(example.jobs_of(events))
    assert set(jobs) == {"Prepare", "Count", "ReportFailure"}  # Aggregate never ran
    assert body(c, run["bucket"], "results/failure.json") == {
        "error": "States.TaskFailed", "jobId": jobs["Count"], "jobName": "count",
        "statusReason": "Array Child Job failed", "cause": None}
    with pytest.raises(c["s3"].exceptions.NoSuchKey):
        c["s3"].get_object(Bucket=run["bucket"], Key="results/summary.json")
