"""POST /moto-api/reset and POST /batchemu/reset (README "Reset between tests"): Batch state in
every account (resources, jobs, logs) and moto's services back to empty, running jobs killed and
their containers removed; allowed on an ephemeral server, on a durable data dir only with
--allow-reset; behind the Host/Origin guard like every route."""

from __future__ import annotations

import http.client
import json
import os

import pytest

from batchemu.runners.docker_create import LABEL_SERVER
from batchemu.testing import running_server
from tests.e2e.support import (IMAGE, docker_client, make_definition, make_queue, new_account,
                               wait_done, wait_status, wait_until)


def post(server, path: str, headers: dict | None = None, method: str = "POST"):
    """(status, decoded JSON body) of an unsigned request, as moto's harness sends it."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.request(method, path, headers={"Host": "localhost", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def fill(server, account: str) -> dict:
    """Something of every kind in `account`: Batch resources and a job, a log group, an S3
    bucket and an SQS queue in moto."""
    batch = server.client("batch", access_key=account)
    make_queue(batch, "q", max_vcpus=1)
    make_definition(batch, "d", ["true"])
    batch.create_scheduling_policy(name="p", fairsharePolicy={"shareDecaySeconds": 0})
    batch.submit_job(jobName="j", jobQueue="q", jobDefinition="d")
    server.client("logs", access_key=account).create_log_group(logGroupName="mine")
    server.client("s3", access_key=account).create_bucket(Bucket=f"b-{account}")
    server.client("sqs", access_key=account).create_queue(QueueName="work")
    return listing(server, account)


def listing(server, account: str) -> dict:
    batch = server.client("batch", access_key=account)
    return {
        "ces": batch.describe_compute_environments()["computeEnvironments"],
        "queues": batch.describe_job_queues()["jobQueues"],
        "definitions": batch.describe_job_definitions()["jobDefinitions"],
        "policies": batch.list_scheduling_policies()["schedulingPolicies"],
        "jobs": batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"]
        if batch.describe_job_queues(jobQueues=["q"])["jobQueues"] else [],
        "log groups": server.client("logs", access_key=account).describe_log_groups()["logGroups"],
        "buckets": server.client("s3", access_key=account).list_buckets()["Buckets"],
        "sqs": server.client("sqs", access_key=account).list_queues().get("QueueUrls", []),
    }


@pytest.mark.parametrize("path", ["/moto-api/reset", "/batchemu/reset"])
def test_reset_empties_every_account_and_moto(path):
    with running_server() as server:
        accounts = [new_account(), new_account()]
        for account in accounts:
            assert all(fill(server, account).values())
        server_id = server.emulator.server_id

        assert post(server, path) == (200, {"status": "ok"})  # moto's own answer

        for account in accounts:
            assert not any(listing(server, account).values()), listing(server, account)
        assert server.emulator.server_id == server_id  # the server itself is the same one
        # The same names can be created again at once.
        assert all(fill(server, accounts[0]).values())


def test_jobs_run_after_a_reset_and_running_processes_are_killed(tmp_path):
    """A job running under the process runner is killed by the reset; the engine carries on:
    a job submitted afterwards runs to the end."""
    pid_file = tmp_path / "pid"
    with running_server(runner="process") as server:
        batch = server.client("batch", access_key=new_account())
        make_queue(batch, "q", max_vcpus=1)
        make_definition(batch, "long", ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 600"])
        job_id = batch.submit_job(jobName="long", jobQueue="q", jobDefinition="long")["jobId"]
        wait_status(batch, job_id, "RUNNING")
        pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), 10, "the pid"))

        assert post(server, "/batchemu/reset") == (200, {"status": "ok"})

        assert not _alive(pid)
        make_queue(batch, "q", max_vcpus=1)
        make_definition(batch, "quick", ["echo", "after the reset"])
        after = batch.submit_job(jobName="quick", jobQueue="q", jobDefinition="quick")["jobId"]
        assert wait_done(batch, after)["status"] == "SUCCEEDED"
        assert batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"][0]["jobId"] == after


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie not reaped yet is gone for our purposes
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.docker
def test_reset_removes_running_containers():
    client = docker_client()
    with running_server(runner="docker", stop_grace_seconds=30) as server:
        own = {"label": f"{LABEL_SERVER}={server.emulator.server_id}"}
        batch = server.client("batch", access_key=new_account())
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "long", ["sleep", "600"], image=IMAGE)
        jobs = [batch.submit_job(jobName=f"long{i}", jobQueue="q", jobDefinition="long")["jobId"] for i in (1, 2)]
        for job_id in jobs:
            wait_status(batch, job_id, "RUNNING")
        assert len(client.containers.list(all=True, filters=own)) == 2

        assert post(server, "/moto-api/reset") == (200, {"status": "ok"})

        # Gone when the reset answers: killed at once (no 30 s grace) and removed.
        assert client.containers.list(all=True, filters=own) == []
        assert batch.describe_jobs(jobs=jobs)["jobs"] == []


def test_a_durable_data_dir_is_reset_only_with_allow_reset(tmp_path):
    account = new_account()
    with running_server(data_dir=tmp_path / "data") as server:
        batch = server.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=1)
        for path in ("/moto-api/reset", "/batchemu/reset"):
            status, body = post(server, path)
            assert status == 403
            assert "--allow-reset" in body["message"] and str(tmp_path / "data") in body["message"]
        assert [c["computeEnvironmentName"] for c in batch.describe_compute_environments()["computeEnvironments"]] == ["q-ce"]

    with running_server(data_dir=tmp_path / "data", allow_reset=True) as server:
        batch = server.client("batch", access_key=account)
        assert batch.describe_compute_environments()["computeEnvironments"]  # kept across the restart
        assert post(server, "/batchemu/reset") == (200, {"status": "ok"})
        assert batch.describe_compute_environments()["computeEnvironments"] == []
    with running_server(data_dir=tmp_path / "data") as server:  # and the reset was durable
        assert server.client("batch", access_key=account).describe_compute_environments()["computeEnvironments"] == []


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},              # a web page's fetch()
    {"Host": "evil.example"},                        # a DNS-rebinding page
    {"Sec-Fetch-Site": "cross-site"},                # a page's form or link, no Origin
])
def test_the_guard_refuses_a_web_page(headers):
    with running_server() as server:
        account = new_account()
        make_queue(server.client("batch", access_key=account), "q", max_vcpus=1)
        for path in ("/moto-api/reset", "/batchemu/reset"):
            status, body = post(server, path, headers)
            assert status == 403 and body["__type"] == "AccessDeniedException", body
        assert server.client("batch", access_key=account).describe_job_queues()["jobQueues"]


def test_only_post_resets():
    with running_server() as server:
        account = new_account()
        make_queue(server.client("batch", access_key=account), "q", max_vcpus=1)
        status, body = post(server, "/moto-api/reset", method="GET")
        assert status == 405 and "use POST" in body["message"]
        assert server.client("batch", access_key=account).describe_job_queues()["jobQueues"]


def test_the_cli_option(tmp_path):
    from batchemu.cli import config_from_args, parse_args

    assert config_from_args(parse_args(["--allow-reset", "--data-dir", str(tmp_path)])).allow_reset
    assert not config_from_args(parse_args(["--data-dir", str(tmp_path)])).allow_reset
