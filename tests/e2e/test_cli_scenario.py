"""The AWS Batch getting-started flow through the real `aws` CLI (v1): a compute environment,
a queue, a job definition, a submitted job that runs in a Docker container, and
`describe-jobs` showing it SUCCEEDED with exit code 0. HOME is an empty temporary directory and
the credentials come from the environment, so no user configuration leaks in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import pytest

from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, new_account, own_containers, wait_until

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(shutil.which("aws") is None, reason="the aws CLI is not installed")]


@pytest.fixture(scope="module")
def server():
    client = docker_client()
    with running_server(runner="docker", stop_grace_seconds=2) as server:
        yield server
    wait_until(lambda: not own_containers(client, server.emulator.server_id), 15,
               "the server's containers to be removed")
    client.close()


class Aws:
    def __init__(self, url: str, home):
        self.url = url
        self.env = {"PATH": os.environ["PATH"], "HOME": str(home), "AWS_ACCESS_KEY_ID": new_account(),
                    "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                    "AWS_CONFIG_FILE": str(home / "no-config"),
                    "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"), "AWS_PAGER": ""}

    def __call__(self, *args):
        result = subprocess.run(["aws", "--endpoint-url", self.url, "--output", "json", "batch", *args],
                                env=self.env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else {}


def test_getting_started_flow(server, tmp_path):
    aws = Aws(server.url, tmp_path)
    aws("create-compute-environment", "--compute-environment-name", "first-run-ce", "--type", "MANAGED",
        "--compute-resources", "type=EC2,minvCpus=0,maxvCpus=4,instanceTypes=optimal,subnets=subnet-1,"
                               "securityGroupIds=sg-1,instanceRole=ecsInstanceRole")
    aws("create-job-queue", "--job-queue-name", "first-run-queue", "--priority", "1",
        "--compute-environment-order", "order=1,computeEnvironment=first-run-ce")
    definition = aws("register-job-definition", "--job-definition-name", "first-run-job-definition",
                     "--type", "container", "--container-properties", json.dumps({
                         "image": IMAGE, "command": ["sh", "-c", "echo hello from $AWS_BATCH_JQ_NAME"],
                         "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                  {"type": "MEMORY", "value": "64"}]}))
    assert definition["revision"] == 1
    submitted = aws("submit-job", "--job-name", "first-run-job", "--job-queue", "first-run-queue",
                    "--job-definition", "first-run-job-definition")
    assert submitted["jobName"] == "first-run-job"

    deadline = time.monotonic() + 60
    while True:
        (job,) = aws("describe-jobs", "--jobs", submitted["jobId"])["jobs"]
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert job["status"] == "SUCCEEDED", (job["status"], job.get("statusReason"))
    assert job["container"]["exitCode"] == 0
    assert job["container"]["logStreamName"].startswith("first-run-job-definition/default/")
    assert job["startedAt"] <= job["stoppedAt"]
    listed = aws("list-jobs", "--job-queue", "first-run-queue", "--job-status", "SUCCEEDED")
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [submitted["jobId"]]
