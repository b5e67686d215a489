"""Jobs talk to the local cloud: a real container gets AWS_ENDPOINT_URL (back at this server as
seen from its network), the job's region and its account as the access key, and can reach the
server with them; a job's own AWS_REGION wins. Output is read back through the Logs API.

Host network (the default) and a user-defined network (server listening on its gateway)."""

from __future__ import annotations

import secrets
import time

import pytest

from batchemu.testing import running_server
from tests import docker_support
from tests.e2e.support import new_account

pytestmark = pytest.mark.docker

IMAGE = docker_support.IMAGE
# The job prints what it was given, then calls a Batch route on the server with its own key in
# a SigV4 Authorization header (as an SDK would; the signature is only checked with
# --verify-signatures).
SCRIPT = ('echo "url=$AWS_ENDPOINT_URL region=$AWS_REGION default=$AWS_DEFAULT_REGION '
          'key=$AWS_ACCESS_KEY_ID"; timeout 5 wget -qO- --header "Content-Type: application/json" '
          '--header "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20240101/'
          '$AWS_REGION/batch/aws4_request, SignedHeaders=host, Signature=0" '
          '--post-data "{}" "$AWS_ENDPOINT_URL/v1/describejobqueues"')


@pytest.fixture(scope="module")
def docker_client():
    client = docker_support.docker_client()
    yield client
    client.close()


def run_job(server, environment=(), timeout: float = 60):
    """Submit SCRIPT in an account of its own; return (account, finished job, output lines)."""
    account = new_account()
    batch = server.client("batch", access_key=account)
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName="calls-home", type="container", containerProperties={
        "image": IMAGE, "command": ["sh", "-c", SCRIPT], "environment": list(environment),
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]})
    job_id = batch.submit_job(jobName="calls-home", jobQueue="q", jobDefinition="calls-home")["jobId"]
    deadline = time.monotonic() + timeout
    while True:
        job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
        if job["status"] in ("SUCCEEDED", "FAILED"):
            break
        assert time.monotonic() < deadline, f"job still {job['status']} after {timeout}s"
        time.sleep(0.1)
    logs = server.client("logs", access_key=account)
    events = logs.get_log_events(logGroupName="/aws/batch/job",
                                 logStreamName=job["container"]["logStreamName"], startFromHead=True)["events"]
    return account, job, [e["message"] for e in events]


@pytest.fixture(scope="module")
def host_server(docker_client):
    with running_server(runner="docker", job_network="host") as server:
        yield server


def test_host_network_job_gets_the_endpoint_and_reaches_the_server(host_server):
    account, job, lines = run_job(host_server)
    assert lines[0] == f"url=http://127.0.0.1:{host_server.port} region=us-east-1 default=us-east-1 key={account}"
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), lines)
    # The call is the job's account's: its own queue came back.
    assert lines[1].startswith('{"jobQueues":') and '"jobQueueName":"q"' in lines[1]


def test_jobs_own_region_wins(host_server):
    _, job, lines = run_job(host_server, environment=[{"name": "AWS_REGION", "value": "ap-south-1"}])
    assert " region=ap-south-1 default=us-east-1 " in lines[0]
    assert job["status"] == "SUCCEEDED", lines


@pytest.fixture()
def user_network(docker_client):
    network = docker_client.networks.create(f"batchemu-test-{secrets.token_hex(4)}", driver="bridge")
    try:
        network.reload()
        yield network.name, network.attrs["IPAM"]["Config"][0]["Gateway"].split("/")[0]
    finally:
        network.remove()


def test_user_defined_network_job_reaches_the_server_on_the_gateway(user_network):
    # The host owns the network's gateway address; a server listening there is reachable from
    # the network's containers even without Docker's iptables rules.
    name, gateway = user_network
    with running_server(runner="docker", job_network=name, host=gateway) as server:
        _, job, lines = run_job(server)
    assert lines[0].startswith(f"url=http://{gateway}:{server.port} ")
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), lines)
    assert lines[1].startswith('{"jobQueues":')
