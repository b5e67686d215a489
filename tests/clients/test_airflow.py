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


def start_operator(server, account: str, queue: str, definition: str, home: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "AIRFLOW"))}
    # Each its own AIRFLOW_HOME: Airflow writes its airflow.cfg there on first use.
    env.update(AWS_ENDPOINT_URL=server.url, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="x",
               AWS_DEFAULT_REGION="us-east-1", AIRFLOW_HOME=str(home))
    return subprocess.Popen([AIRFLOW_PYTHON, str(DRIVER), queue, definition], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def runs(server, tmp_path_factory) -> dict:
    """Both operators at once, each in an account of its own (the hook polls every 1-10 s, its
    default, so running them side by side halves the wait): name -> (batch client, the
    driver's JSON answer, everything Airflow logged)."""
    scripts = {"hello": ["sh", "-c", 'echo "hello from $AWS_BATCH_JOB_ID"; echo second line'],
               "fails": ["sh", "-c", "echo about to fail; exit 3"]}
    started = {}
    for name, command in scripts.items():
        account = new_account()
        batch = server.client("batch", access_key=account)
        make_queue(batch, "airflow", max_vcpus=2)
        make_definition(batch, name, command, image=IMAGE)
        started[name] = (batch, start_operator(server, account, "airflow", name,
                                               tmp_path_factory.mktemp(f"airflow-home-{name}")))
    results = {}
    for name, (batch, process) in started.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
        results[name] = (batch, json.loads(output.strip().splitlines()[-1]), output)
    return results


def test_batch_operator_waits_and_fetches_the_log(runs):
    batch, answer, output = runs["hello"]
    job_id = answer.get("job_id")
    assert "raised" not in answer and job_id, output
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert job["status"] == "SUCCEEDED" and job["tags"] == {}
    # The operator's CloudWatch log fetcher printed the job's lines.
    assert f"hello from {job_id}" in output and "second line" in output, output


def test_a_failing_job_makes_the_operator_raise(runs):
    batch, answer, output = runs["fails"]
    assert answer.get("raised") == "AirflowException", output
    assert "FAILED" in answer["message"] and answer["job_id"] in answer["message"]
    (job,) = batch.describe_jobs(jobs=[answer["job_id"]])["jobs"]
    assert job["status"] == "FAILED" and job["container"]["exitCode"] == 3
