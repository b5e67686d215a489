"""Metaflow's AWS Batch integration (metaflow from PyPI, in its own venv made by
scripts/real-clients.sh) runs a flow against batchemu unchanged, configured only through the
environment a Metaflow user sets for AWS: the S3 datastore in batchemu's S3
(METAFLOW_DATASTORE_SYSROOT_S3, METAFLOW_S3_ENDPOINT_URL), a Batch job queue
(METAFLOW_BATCH_JOB_QUEUE), a task role (METAFLOW_ECS_S3_ACCESS_IAM_ROLE), AWS_ENDPOINT_URL and
credentials. The flow (metaflow_flow/squares_flow.py) fans out over two numbers to a `@batch`
step, so Metaflow registers a job definition and submits two Batch jobs; each job downloads the
code package from S3 with boto3, runs the step with the packaged Metaflow and writes its artifact
and logs to S3. Jobs run in batchemu-test/snakemake (Debian's python3 with boto3 and requests,
scripts/build-snakemake-image.sh), on the host's network (batchemu's default), so the
METAFLOW_S3_ENDPOINT_URL the host gives them reaches the same server.

The test asserts what a Metaflow user sees: the run succeeds, the artifacts and the Batch
step's stdout read back through Metaflow's client API (`Flow`, `namespace`), and the Batch
jobs in batchemu (ListJobs/DescribeJobs) SUCCEEDED under Metaflow's job names and tags.

Runs when BATCHEMU_METAFLOW_PYTHON names the venv's python (real-clients.sh sets it, and CI runs
real-clients.sh); skipped otherwise."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.clients.support import client, job_logs
from tests.e2e.support import docker_client, make_queue, new_account

METAFLOW_PYTHON = os.environ.get("BATCHEMU_METAFLOW_PYTHON", "")
FLOW = Path(__file__).with_name("metaflow_flow") / "squares_flow.py"
IMAGE = "batchemu-test/snakemake:latest"  # as the flow's @batch(image=...) names it

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not METAFLOW_PYTHON, reason="Metaflow's venv is made by scripts/real-clients.sh")]

# What the client API reads back, run by the venv's python in the run's directory and env.
READ_BACK = """
import json
from metaflow import Flow, namespace
namespace(None)
run = Flow("SquaresFlow").latest_run
square = list(run["square"])
print(json.dumps({
    "successful": run.successful, "id": run.id, "total": run.data.total,
    "squared": sorted(t.data.squared for t in square),
    "stdout": sorted(t.stdout for t in square),
    "batch_ids": sorted(t.metadata_dict.get("aws-batch-job-id", "") for t in square),
    "task_ids": sorted(t.id for t in square),
}))
"""


@pytest.fixture(scope="module")
def server():
    from batchemu.testing import running_server

    docker_client(IMAGE)
    with running_server(runner="docker") as running:
        yield running


def test_a_flow_runs_its_batch_steps_on_batchemu(server, tmp_path):
    account = new_account()
    batch, s3 = client(server, "batch", account), client(server, "s3", account)
    make_queue(batch, "metaflow", max_vcpus=4)
    s3.create_bucket(Bucket="metaflow-data")
    shutil.copy(FLOW, tmp_path / FLOW.name)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "METAFLOW_"))}
    env.update(
        HOME=str(tmp_path), USER="tester",
        AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x",
        AWS_DEFAULT_REGION="us-east-1",
        METAFLOW_DEFAULT_DATASTORE="s3", METAFLOW_DATASTORE_SYSROOT_S3="s3://metaflow-data/metaflow",
        METAFLOW_S3_ENDPOINT_URL=server.url, METAFLOW_BATCH_JOB_QUEUE="metaflow",
        METAFLOW_ECS_S3_ACCESS_IAM_ROLE=f"arn:aws:iam::{account}:role/metaflow-task",
        METAFLOW_BATCH_EMIT_TAGS="true")
    result = subprocess.run([METAFLOW_PYTHON, FLOW.name, "run"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:] + job_logs(server, account, "metaflow")

    read = subprocess.run([METAFLOW_PYTHON, "-c", READ_BACK], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert read.returncode == 0, read.stderr[-4000:]
    seen = json.loads(read.stdout.strip().splitlines()[-1])
    assert seen["successful"] is True
    assert seen["squared"] == [9, 16] and seen["total"] == 25
    # The Batch step's stdout as Metaflow shows it (its own logs, saved to S3 by the job).
    assert sorted(line for text in seen["stdout"] for line in text.splitlines() if "on batch:" in line) == [
        "squared 3 on batch: 9", "squared 4 on batch: 16"]

    # The two Batch jobs, as batchemu has them.
    summaries = batch.list_jobs(jobQueue="metaflow", jobStatus="SUCCEEDED")["jobSummaryList"]
    assert len(summaries) == 2
    assert sorted(j["jobId"] for j in summaries) == seen["batch_ids"]
    described = batch.describe_jobs(jobs=[j["jobId"] for j in summaries])["jobs"]
    # <user>-<flow>-<run id>-<step>-<task id>-<retry>
    assert sorted(j["jobName"] for j in described) == [
        f"tester-SquaresFlow-{seen['id']}-square-{task}-0" for task in seen["task_ids"]]
    logs = client(server, "logs", account)
    for job in described:
        assert job["status"] == "SUCCEEDED"
        assert job["tags"]["app"] == "metaflow"
        assert job["tags"]["metaflow.flow_name"] == "SquaresFlow"
        assert job["tags"]["metaflow.run_id"] == seen["id"]
        assert job["tags"]["metaflow.step_name"] == "square"
        assert job["container"]["image"] == IMAGE
        assert job["container"]["jobRoleArn"] == f"arn:aws:iam::{account}:role/metaflow-task"
        # The same output in the job's CloudWatch log stream (where Metaflow looks after a crash).
        events = logs.get_log_events(logGroupName="/aws/batch/job",
                                     logStreamName=job["container"]["logStreamName"])["events"]
        assert any("on batch:" in e["message"] for e in events), events[-10:]
