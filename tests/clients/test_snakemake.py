"""The Snakemake AWS Batch executor (snakemake-executor-plugin-aws-batch, in its own venv made by
scripts/real-clients.sh) runs a three-rule workflow against batchemu, unmodified and with its
defaults (it registers a job definition per job with `tags: {}`, submits, polls DescribeJobs,
terminates and deregisters), its files in batchemu's S3 through snakemake-storage-plugin-s3.
Each job runs in batchemu-test/snakemake (scripts/build-snakemake-image.sh: Debian's python3
with the same snakemake), found through AWS_ENDPOINT_URL, which batchemu gives every job.

Test-only workaround: the executor hard-codes `privileged: true` in every job definition, and
this machine's Docker engine cannot start privileged containers ("unable to apply caps:
operation not permitted"). The server here is built with a runner hook (`unprivileged_runner`)
that starts each container with privileged off; batchemu itself keeps `privileged: true` as
asked (the job definition and DescribeJobs say so) and runs it privileged elsewhere.

Runs when BATCHEMU_SNAKEMAKE_BIN names the venv's bin directory (real-clients.sh sets it, and
CI runs real-clients.sh); skipped otherwise."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from batchemu.config import Config
from batchemu.emulator import Emulator
from batchemu.runners import select
from tests.clients.support import client, job_logs
from tests.e2e.support import docker_client, make_queue, new_account

SNAKEMAKE_BIN = os.environ.get("BATCHEMU_SNAKEMAKE_BIN", "")
IMAGE = os.environ.get("SNAKEMAKE_IMAGE", "batchemu-test/snakemake:latest")
WORKFLOW = Path(__file__).with_name("snakemake_workflow")

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not SNAKEMAKE_BIN, reason="Snakemake's venv is made by scripts/real-clients.sh")]


def unprivileged_runner(config, server_id):
    """The configured runner, but every container starts unprivileged (see the docstring)."""
    runner = select.make_runner(config, server_id)
    start = runner.start
    runner.start = lambda spec: start(dataclasses.replace(spec, privileged=False))
    return runner


@pytest.fixture(scope="module")
def server():
    docker_client(IMAGE)
    emulator = Emulator(Config(ephemeral=True, port=0, runner="docker"), make_runner=unprivileged_runner)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


def test_a_workflow_runs_on_batch_with_s3_storage(server, tmp_path):
    account = new_account()
    batch, s3 = client(server, "batch", account), client(server, "s3", account)
    make_queue(batch, "snakemake", max_vcpus=4)
    queue_arn = batch.describe_job_queues(jobQueues=["snakemake"])["jobQueues"][0]["jobQueueArn"]
    s3.create_bucket(Bucket="workflow")
    shutil.copytree(WORKFLOW, tmp_path / "wf")

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "SNAKEMAKE_"))}
    env.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", HOME=str(tmp_path))
    result = subprocess.run(
        [str(Path(SNAKEMAKE_BIN) / "snakemake"), "--executor", "aws-batch", "--jobs", "2",
         "--aws-batch-region", "us-east-1", "--aws-batch-job-queue", queue_arn,
         "--aws-batch-job-role", f"arn:aws:iam::{account}:role/snakemake-job",
         "--default-storage-provider", "s3", "--default-storage-prefix", "s3://workflow/run",
         "--container-image", IMAGE],
        cwd=tmp_path / "wf", env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:] + job_logs(server, account, "snakemake")

    total = s3.get_object(Bucket="workflow", Key="run/total.txt")["Body"].read().decode()
    assert total.strip() == "55"  # 1 + 9 + 25 (odd) + 4 + 16 (even), computed by three Batch jobs
    jobs = batch.list_jobs(jobQueue="snakemake", filters=[{"name": "JOB_NAME", "values": ["snakejob-*"]}])
    summaries = jobs["jobSummaryList"]
    assert sorted(j["jobName"].split("-")[1] for j in summaries) == ["even", "odd", "total"]
    assert {j["status"] for j in summaries} == {"SUCCEEDED"}
    described = batch.describe_jobs(jobs=[j["jobId"] for j in summaries])["jobs"]
    assert all(j["container"]["privileged"] is True for j in described)  # as the executor asked
    # The executor deregistered its job definitions when each job ended.
    assert batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"] == []
