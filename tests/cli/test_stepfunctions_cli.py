"""The README's Step Functions commands with the real `aws` CLI (v1): create-state-machine
with a submitJob.sync task, start-execution, describe-execution, get-execution-history and
stop-execution (which terminates the job). Jobs run as host processes (the process runner)."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from batchemu.testing import running_server
from tests.cli.test_aws_cli import EC2_SHORTHAND, Aws
from tests.e2e.support import new_account

pytestmark = pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")

TRUST = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
         '{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}')


@pytest.fixture(scope="module")
def url():
    with running_server(runner="process", stop_grace_seconds=1) as server:
        yield server.url


@pytest.fixture()
def aws(url, tmp_path):
    aws = Aws(url, tmp_path, new_account())
    aws("create-compute-environment", "--compute-environment-name", "ce", "--type", "MANAGED",
        "--compute-resources", EC2_SHORTHAND)
    aws("create-job-queue", "--job-queue-name", "my-queue", "--priority", "1",
        "--compute-environment-order", "order=1,computeEnvironment=ce")
    aws("register-job-definition", "--job-definition-name", "my-def", "--type", "container",
        "--container-properties", json.dumps({
            "image": "ignored:latest", "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}))
    aws.run("iam", "create-role", "--role-name", "states", "--assume-role-policy-document", TRUST)
    return aws


def create(aws, name: str, command: list) -> str:
    definition = {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "End": True,
        "Parameters": {"JobName": "hello", "JobQueue": "my-queue", "JobDefinition": "my-def",
                       "ContainerOverrides": {"Command": command}}}}}
    return aws.run("stepfunctions", "create-state-machine", "--name", name, "--definition", json.dumps(definition),
                   "--role-arn", f"arn:aws:iam::{aws.account}:role/states")["stateMachineArn"]


def until_done(aws, execution: str) -> dict:
    deadline = time.monotonic() + 30
    while True:
        described = aws.run("stepfunctions", "describe-execution", "--execution-arn", execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            return described
        time.sleep(0.3)


def test_a_sync_job_runs_and_the_history_shows_it(aws):
    machine = create(aws, "one-job", ["echo", "hello from Step Functions"])
    assert machine == f"arn:aws:states:us-east-1:{aws.account}:stateMachine:one-job"
    execution = aws.run("stepfunctions", "start-execution", "--name", "run-1",
                        "--state-machine-arn", machine)["executionArn"]
    assert execution == f"arn:aws:states:us-east-1:{aws.account}:execution:one-job:run-1"
    described = until_done(aws, execution)
    assert described["status"] == "SUCCEEDED"
    job = json.loads(described["output"])
    assert job["Status"] == "SUCCEEDED" and job["Container"]["Command"] == ["echo", "hello from Step Functions"]
    types = aws.run("stepfunctions", "get-execution-history", "--execution-arn", execution,
                    "--query", "events[].type")
    assert types == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                     "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"]


def test_stop_execution_terminates_the_job(aws):
    machine = create(aws, "long-job", ["sleep", "30"])
    execution = aws.run("stepfunctions", "start-execution", "--name", "run-1",
                        "--state-machine-arn", machine)["executionArn"]
    deadline, job_id = time.monotonic() + 20, None
    while job_id is None and time.monotonic() < deadline:
        jobs = aws("list-jobs", "--job-queue", "my-queue", "--job-status", "RUNNING")["jobSummaryList"]
        job_id = jobs[0]["jobId"] if jobs else None
        time.sleep(0.2)
    assert job_id, "the job never ran"
    aws.run("stepfunctions", "stop-execution", "--execution-arn", execution)
    assert until_done(aws, execution)["status"] == "ABORTED"
    deadline = time.monotonic() + 15
    while (job := aws("describe-jobs", "--jobs", job_id)["jobs"][0])["status"] != "FAILED":
        assert time.monotonic() < deadline, job["status"]
        time.sleep(0.2)
    assert job["statusReason"] == "Step Functions execution stopped"
