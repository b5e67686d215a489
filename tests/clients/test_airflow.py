"""Airflow's BatchOperator (apache-airflow-providers-amazon, in its own venv made by
scripts/real-clients.sh) against batchemu, unmodified and with its defaults (tags=None sends
`tags: {}`): it submits, waits for completion, prints the job's CloudWatch log lines, and a
failing job makes it raise.

Runs when BATCHEMU_AIRFLOW_PYTHON names that venv's python (real-clients.sh sets it, and CI
runs real-clients.sh); skipped otherwise."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, make_definition, make_queue, new_account

AIRFLOW_PYTHON = os.environ.get("BATCHEMU_AIRFLOW_PYTHON", "")
DRIVER = Path(__file__).with_name("airflow_driver.py")

pytestmark = [pytest.mark.docker,
              pytest.mark.skipif(not AIRFLOW_PYTHON, reason="Airflow's venv is made by scripts/real-clients.sh")]


@pytest.fixture(scope="module")
def server():
    docker_client()
    with running_server(runner="docker", stop_grace_seconds=1) as server:
        yield server


def operator(server, account: str, queue: str, definition: str) -> tuple[dict, str]:
    """(the driver's JSON answer, everything Airflow logged)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", AIRFLOW_HOME=str(Path(os.environ.get("TMPDIR", "/tmp")) / "batchemu-airflow"))
    result = subprocess.run([AIRFLOW_PYTHON, str(DRIVER), queue, definition], env=env, capture_output=True,
                            text=True, timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return json.loads(result.stdout.strip().splitlines()[-1]), output


def test_batch_operator_waits_and_fetches_the_log(server):
    account = new_account()
    batch = server.client("batch", access_key=account)
    make_queue(batch, "airflow", max_vcpus=2)
    make_definition(batch, "hello", ["sh", "-c", 'echo "hello from $AWS_BATCH_JOB_ID"; echo second line'],
                    image=IMAGE)

    answer, output = operator(server, account, "airflow", "hello")

    job_id = answer.get("job_id")
    assert "raised" not in answer and job_id, output
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["status"] == "SUCCEEDED" and job["tags"] == {}
    # The operator's CloudWatch log fetcher printed the job's lines.
    assert f"hello from {job_id}" in output and "second line" in output, output


def test_a_failing_job_makes_the_operator_raise(server):
    account = new_account()
    batch = server.client("batch", access_key=account)
    make_queue(batch, "airflow", max_vcpus=2)
    make_definition(batch, "fails", ["sh", "-c", "echo about to fail; exit 3"], image=IMAGE)

    answer, output = operator(server, account, "airflow", "fails")

    assert answer.get("raised") == "AirflowException", answer
    assert "FAILED" in answer["message"] and answer["job_id"] in answer["message"]
    (job,) = batch.describe_jobs(jobs=[answer["job_id"]])["jobs"]
    assert job["status"] == "FAILED" and job["container"]["exitCode"] == 3
