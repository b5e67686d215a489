"""A multi-node job across a server restart, on Docker: its nodes keep running, are re-attached,
and a node that calls the server (AWS_ENDPOINT_URL = host.docker.internal on its job's network,
forwarded to the server on the loopback) reaches it again after the restart, for a single-
container node and a task node (ecsProperties) alike."""

from __future__ import annotations

import pytest

from tests.e2e.support import IMAGE, describe, docker_client, new_account, wait_done, wait_until
from tests.e2e.test_restart import ServerProcess

pytestmark = pytest.mark.docker

# Waits for the marker the test writes once the server is back, then calls the server's API
# (any signed-looking call: describe the job queues of its own account).
CALL = ('echo begin; until [ -e /tmp/go ]; do sleep 0.2; done; timeout 10 wget -qO- '
        '--header "Content-Type: application/json" --header "Authorization: AWS4-HMAC-SHA256 '
        'Credential=$AWS_ACCESS_KEY_ID/20240101/$AWS_REGION/batch/aws4_request, SignedHeaders=host, '
        'Signature=0" --post-data "{}" "$AWS_ENDPOINT_URL/v1/describejobqueues" > /tmp/answer '
        '&& grep -q jobQueueName /tmp/answer && echo reached')
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]


@pytest.mark.parametrize("kind", ["container", "ecsProperties"])
def test_a_node_reaches_the_server_again_after_a_restart(tmp_path, kind):
    docker = docker_client()
    servers, job_id = [], None
    try:
        first = ServerProcess(tmp_path / "data", tmp_path / "server.log")
        servers.append(first)
        account = new_account()
        batch = first.client(account)
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
            "type": "EC2", "minvCpus": 0, "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
            "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]})
        batch.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        main = {"image": IMAGE, "command": ["sh", "-c", CALL], "resourceRequirements": RES}
        if kind == "container":
            ranges = [{"targetNodes": "0:", "container": main}]
        else:
            ranges = [{"targetNodes": "0:", "ecsProperties": {"taskProperties": [
                {"containers": [dict(main, name="main")]}]}}]
        batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
            "numNodes": 2, "mainNode": 0, "nodeRangeProperties": ranges})
        job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
        wait_until(lambda: describe(batch, job_id)["status"] == "RUNNING", 90, "the job to run")
        wait_until(lambda: len(main_containers(docker, job_id)) == 2, 30, "both nodes' containers")
        before = sorted(c.id for c in main_containers(docker, job_id))
        first.kill()                               # SIGKILL: the forwarders go with the process
        second = ServerProcess(tmp_path / "data", tmp_path / "server.log", port=first.port)
        servers.append(second)
        batch = second.client(account)
        wait_until(lambda: describe(batch, f"{job_id}#0")["status"] == "RUNNING", 30, "the main node re-attached")
        assert sorted(c.id for c in main_containers(docker, job_id)) == before   # re-attached, not started again
        for container in main_containers(docker, job_id):
            container.exec_run(["touch", "/tmp/go"])
        job = wait_done(batch, job_id, timeout=90)
        main = describe(batch, f"{job_id}#0")
        where = main["container"] if kind == "container" else main["ecsProperties"]["taskProperties"][0]["containers"][0]
        logs = second.client(account, "logs").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=where["logStreamName"], startFromHead=True)["events"]
        assert [e["message"] for e in logs] == ["begin", "reached"], second.log.read_text()[-2000:]
        assert job["status"] == "SUCCEEDED" and len(job["attempts"]) == 1, job.get("statusReason")
        wait_until(lambda: not job_containers(docker, job_id), 30, "every container of the job to be removed")
    finally:
        for server in servers:
            server.kill()
        if job_id:                                 # a failed run leaves nothing behind either
            for container in job_containers(docker, job_id):
                container.remove(force=True)
            for network in docker.networks.list(names=[f"batchemu-{job_id}-1"]):
                network.remove()


def job_containers(docker, job_id: str) -> list:
    """Every container (any state) of this job's nodes: holders, members, single containers."""
    # sparse: the list's own labels, no inspect of each (one may be removed meanwhile)
    found = docker.containers.list(all=True, sparse=True, filters={"label": "batchemu.server"})
    return [c for c in found if job_id in str(c.attrs.get("Labels"))]


def main_containers(docker, job_id: str) -> list:
    """The containers running a node's main program (not task holders), of this job."""
    found = docker.containers.list(sparse=True, filters={"label": "batchemu.server", "status": "running"})
    return [c for c in found if job_id in str(c.attrs.get("Labels"))
            and (c.attrs.get("Labels") or {}).get("batchemu.task-member", "main") == "main"]
