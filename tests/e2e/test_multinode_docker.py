"""Multi-node parallel jobs in real containers (ref §12): three nodes on a network of the job's
own, the workers send data to the main node's address over TCP (busybox nc), the job's result is
the main node's, and the other nodes are stopped when the main node exits."""

from __future__ import annotations

import secrets
import time

import pytest

from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, new_account, wait_done, wait_for

pytestmark = pytest.mark.docker

# The main node takes one connection per worker and prints what it got.
MAIN = ('echo "main index=$AWS_BATCH_JOB_NODE_INDEX of=$AWS_BATCH_JOB_NUM_NODES '
        'main=$AWS_BATCH_JOB_MAIN_NODE_INDEX addr=${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-unset}"; '
        'for i in 1 2; do nc -l -p 5000; done; exit ${MAIN_EXIT:-0}')
# A worker retries until the main node listens. Its message is in a file, not piped from echo:
# busybox nc quits when the other side ends first (the listener's stdin is empty), and a pipe's
# writer may not have written yet then.
WORKER = ('echo to=$AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS; echo hello-from-$AWS_BATCH_JOB_NODE_INDEX > /tmp/m; '
          'for i in $(seq 1 100); do nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 < /tmp/m && exit 0; '
          'sleep 0.1; done; exit 1')


@pytest.fixture(scope="module")
def server():
    docker_client().close()  # skips (or fails in CI) without an engine and the test image
    with running_server(runner="docker", stop_grace_seconds=1) as running:
        yield running


def node(command: str, vcpus: str = "1") -> dict:
    return {"image": IMAGE, "command": ["sh", "-c", command],
            "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": "64"}]}


def setup(server, main: str, worker: str):
    account = new_account()
    batch = server.client("batch", access_key=account)
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
        "type": "EC2", "minvCpus": 0, "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
        "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]})
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
        "numNodes": 3, "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0:0", "container": node(main)},
                                {"targetNodes": "1:", "container": node(worker)}]})
    return account, batch


def output(server, account: str, stream: str) -> list:
    logs = server.client("logs", access_key=account)
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
    return [e["message"] for e in events]


def test_workers_talk_to_the_main_node_over_tcp_and_the_job_is_the_main_nodes(server):
    account, batch = setup(server, MAIN, WORKER)
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    job = wait_done(batch, job_id, timeout=60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["nodeProperties"]["numNodes"] == 3 and job["attempts"][0]["container"]["exitCode"] == 0

    main = batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]
    lines = output(server, account, main["container"]["logStreamName"])
    assert lines[0] == "main index=0 of=3 main=0 addr=unset"  # no address of its own (ref §6.9)
    assert sorted(lines[1:]) == ["hello-from-1", "hello-from-2"]

    second = wait_done(batch, f"{job_id}#1", timeout=30)  # its exit may be recorded after the main's
    wait_done(batch, f"{job_id}#2", timeout=30)
    assert second["nodeDetails"] == {"nodeIndex": 1, "isMainNode": False}
    assert second["status"] == "SUCCEEDED"
    # Told the main node's address (ref §6.9), which DescribeJobs shows on the main node (ref §12).
    address = main["container"]["networkInterfaces"][0]["privateIpv4Address"]
    assert output(server, account, second["container"]["logStreamName"])[0] == f"to={address}"
    assert second["container"]["logStreamName"] != main["container"]["logStreamName"]  # a stream per node

    listed = batch.list_jobs(multiNodeJobId=job_id, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted((j["jobId"], j["nodeProperties"]["nodeIndex"], j["nodeProperties"]["isMainNode"])
                  for j in listed) == [(f"{job_id}#0", 0, True), (f"{job_id}#1", 1, False),
                                       (f"{job_id}#2", 2, False)]


def test_the_main_nodes_exit_ends_the_job_and_stops_the_others(server):
    # The workers would sleep for five minutes; the main node fails at once.
    account, batch = setup(server, "sleep 1; exit 1", "sleep 300")
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    started = time.monotonic()
    job = wait_done(batch, job_id, timeout=60)
    assert (job["status"], job["attempts"][0]["container"]["exitCode"]) == ("FAILED", 1)
    for index in (1, 2):
        wait_for(batch, f"{job_id}#{index}", lambda j: j["status"] == "FAILED", 30, "FAILED (stopped)")
    assert time.monotonic() - started < 30  # stopped, not left to sleep


def test_a_worker_failure_does_not_fail_a_job_whose_main_node_succeeds(server):
    account, batch = setup(server, "sleep 2; exit 0", "exit 3")
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    job = wait_done(batch, job_id, timeout=60)
    assert job["status"] == "SUCCEEDED"
    worker = wait_done(batch, f"{job_id}#2", timeout=30)
    assert (worker["status"], worker["container"]["exitCode"]) == ("FAILED", 3)


def test_a_node_reaches_the_server_on_its_own_network_with_the_server_on_the_loopback(server):
    # The server listens on 127.0.0.1 with jobs on the host's network (the defaults): a node on
    # its job's bridge network calls it as host.docker.internal, forwarded by the Docker runner.
    call = ('echo "url=$AWS_ENDPOINT_URL"; timeout 5 wget -qO- --header "Content-Type: application/json" '
            '--header "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20240101/'
            '$AWS_REGION/batch/aws4_request, SignedHeaders=host, Signature=0" '
            '--post-data "{}" "$AWS_ENDPOINT_URL/v1/describejobqueues"')
    account, batch = setup(server, call, "exit 0")
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    job = wait_done(batch, job_id, timeout=60)
    main = batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]
    lines = output(server, account, main["container"]["logStreamName"])
    assert job["status"] == "SUCCEEDED", lines
    assert lines[0] == f"url=http://host.docker.internal:{server.port}"
    assert '"jobQueueName":"q"' in "".join(lines[1:]).replace(" ", "")  # its own account's queue


def test_on_a_user_defined_job_network_nodes_are_on_it_too_and_reach_the_server_there():
    client = docker_client()
    network = client.networks.create(f"batchemu-test-{secrets.token_hex(4)}", driver="bridge")
    try:
        network.reload()
        gateway = network.attrs["IPAM"]["Config"][0]["Gateway"].split("/")[0]
        with running_server(runner="docker", job_network=network.name, host=gateway, stop_grace_seconds=1) as other:
            call = ('echo "url=$AWS_ENDPOINT_URL"; timeout 5 wget -qO- --header "Content-Type: application/json" '
                    '--header "Authorization: AWS4-HMAC-SHA256 Credential=$AWS_ACCESS_KEY_ID/20240101/'
                    '$AWS_REGION/batch/aws4_request, SignedHeaders=host, Signature=0" '
                    '--post-data "{}" "$AWS_ENDPOINT_URL/v1/describejobqueues" && ' + MAIN)
            account, batch = setup(other, call, WORKER)
            job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
            job = wait_done(batch, job_id, timeout=60)
            main = batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]
            lines = output(other, account, main["container"]["logStreamName"])
        assert job["status"] == "SUCCEEDED", lines
        assert lines[0] == f"url=http://{gateway}:{other.port}"  # the URL of any job on that network
        assert '"jobQueueName":"q"' in lines[1].replace(" ", "")
        hellos = sorted(line for line in lines if line.startswith("hello-from-"))
        assert hellos == ["hello-from-1", "hello-from-2"]  # and the workers reached the main node
    finally:
        network.remove()
        client.close()


def test_a_node_reads_its_own_task_metadata(server):
    """Each node is an ECS task on AWS: its ECS_CONTAINER_METADATA_URI_V4 (a node id holds "#",
    sent as %23) answers with the node's own task document. The workers send what they read to
    the main node, so the job cannot end before they have."""
    read = ('wget -qO /tmp/m "$ECS_CONTAINER_METADATA_URI_V4/task"; echo >> /tmp/m; echo $AWS_EXECUTION_ENV >> /tmp/m; '
            'cat /tmp/m; for i in $(seq 1 100); do nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 < /tmp/m '
            '&& exit 0; sleep 0.1; done; exit 1')
    account, batch = setup(server, MAIN, read)
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    assert wait_done(batch, job_id, timeout=60)["status"] == "SUCCEEDED"
    worker = wait_done(batch, f"{job_id}#1", timeout=30)
    lines = output(server, account, worker["container"]["logStreamName"])
    assert '"TaskARN": "' + worker["container"]["taskArn"] + '"' in lines[0].replace('":"', '": "'), lines
    assert lines[-1] == "AWS_ECS_EC2"
