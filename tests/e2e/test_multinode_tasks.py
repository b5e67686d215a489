"""Multi-node parallel jobs whose node ranges are ecsProperties tasks or eksProperties pods, in
real containers (ref §12; model: NodeRangeProperty): each node is a task of several containers
on the job's own network, the workers reach the main node's address (its task's namespace) over
TCP, every container gets the node variables (ref §6.9), a node shows its containers' exit codes,
and a lost instance (README "Failure injection") ends a node and the job's attempt with the host's
reason, retried by a `Host EC2*` rule."""

from __future__ import annotations

import pytest

from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, new_account, wait_done, wait_for
from tests.raw_client import RawClient

pytestmark = pytest.mark.docker

CE = {"type": "EC2", "minvCpus": 0, "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
      "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]
# The main node's essential container takes one connection and prints it; a worker's essential
# container sends its index to the main node's address (retrying until it listens). A
# non-essential sidecar in each task prints the node variables it got.
MAIN = 'nc -l -p 5000'
WORKER = ('echo hello-from-$AWS_BATCH_JOB_NODE_INDEX > /tmp/m; for i in $(seq 1 100); do '
          'nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 < /tmp/m && exit 0; sleep 0.1; done; exit 1')
SIDECAR = ('echo "side $AWS_BATCH_JOB_NODE_INDEX/$AWS_BATCH_JOB_NUM_NODES main=$AWS_BATCH_JOB_MAIN_NODE_INDEX '
           'addr=${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-unset}"; exit 3')


@pytest.fixture(scope="module")
def server():
    docker_client().close()  # skips (or fails in CI) without an engine and the test image
    with running_server(runner="docker", stop_grace_seconds=1) as running:
        yield running


def account(server):
    acct = new_account()
    batch = server.client("batch", access_key=acct)
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE)
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    return acct, batch


def task(command: str) -> dict:
    return {"taskProperties": [{"containers": [
        {"name": "work", "image": IMAGE, "command": ["sh", "-c", command], "resourceRequirements": RES},
        {"name": "side", "image": IMAGE, "command": ["sh", "-c", SIDECAR], "essential": False,
         "resourceRequirements": RES}]}]}


def stream_lines(server, acct: str, stream: str) -> list:
    logs = server.client("logs", access_key=acct)
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
    return [e["message"] for e in events]


def test_ecs_task_nodes_talk_over_tcp_and_show_their_containers_exit_codes(server):
    acct, batch = account(server)
    batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
        "numNodes": 2, "mainNode": 0,
        "nodeRangeProperties": [{"targetNodes": "0:0", "ecsProperties": task(MAIN)},
                                {"targetNodes": "1:", "ecsProperties": task(WORKER)}]})
    job_id = batch.submit_job(jobName="mnp", jobQueue="q", jobDefinition="mnp")["jobId"]
    job = wait_done(batch, job_id, timeout=60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["attempts"][0]["container"]["exitCode"] == 0

    worker = wait_done(batch, f"{job_id}#1", timeout=30)
    assert worker["status"] == "SUCCEEDED" and worker["nodeDetails"] == {"nodeIndex": 1, "isMainNode": False}
    containers = worker["ecsProperties"]["taskProperties"][0]["containers"]
    assert [(c["name"], c["exitCode"]) for c in containers] == [("work", 0), ("side", 3)]
    attempt = worker["attempts"][0]["taskProperties"][0]["containers"]
    assert [(c["name"], c["exitCode"]) for c in attempt] == [("work", 0), ("side", 3)]

    main = batch.describe_jobs(jobs=[f"{job_id}#0"])["jobs"][0]
    main_containers = {c["name"]: c for c in main["ecsProperties"]["taskProperties"][0]["containers"]}
    assert stream_lines(server, acct, main_containers["work"]["logStreamName"]) == ["hello-from-1"]
    assert stream_lines(server, acct, main_containers["side"]["logStreamName"]) == ["side 0/2 main=0 addr=unset"]
    # The worker's containers were told the main node's address, the one its task shows (ref §12).
    address = main_containers["work"]["networkInterfaces"][0]["privateIpv4Address"]
    assert stream_lines(server, acct, containers[1]["logStreamName"]) == [f"side 1/2 main=0 addr={address}"]


def test_eks_pod_nodes_run_their_init_container_first_and_succeed(server):
    acct, batch = account(server)

    def pod(command: str) -> dict:
        return {"podProperties": {
            "initContainers": [{"name": "init", "image": IMAGE, "command": ["sh", "-c"],
                                "args": ["echo ready-$AWS_BATCH_JOB_NODE_INDEX > /work/ready"],
                                "volumeMounts": [{"name": "w", "mountPath": "/work"}]}],
            "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c"], "args": [command],
                            "volumeMounts": [{"name": "w", "mountPath": "/work"}],
                            "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}],
            "volumes": [{"name": "w", "emptyDir": {}}]}}

    batch.register_job_definition(jobDefinitionName="pods", type="multinode", nodeProperties={
        "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
            {"targetNodes": "0:0", "eksProperties": pod("cat /work/ready; nc -l -p 5000")},
            {"targetNodes": "1:", "eksProperties": pod("cat /work/ready > /tmp/m; " + WORKER.split("; ", 1)[1])}]})
    job_id = batch.submit_job(jobName="pods", jobQueue="q", jobDefinition="pods")["jobId"]
    job = wait_done(batch, job_id, timeout=60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    worker = wait_done(batch, f"{job_id}#1", timeout=30)
    assert worker["status"] == "SUCCEEDED"
    (attempt,) = worker["eksAttempts"]
    assert [(c["name"], c["exitCode"]) for c in attempt["initContainers"]] == [("init", 0)]
    assert [(c["name"], c["exitCode"]) for c in attempt["containers"]] == [("main", 0)]
    assert attempt["podName"].startswith("aws-batch.")


def test_a_lost_instance_ends_the_jobs_attempt_and_a_host_ec2_rule_retries_it(server):
    acct, batch = account(server)
    raw = RawClient(server.port, access_key=acct)
    sleeper = {"image": IMAGE, "command": ["sh", "-c", "sleep 300"], "resourceRequirements": RES}
    batch.register_job_definition(
        jobDefinitionName="lost", type="multinode",
        retryStrategy={"attempts": 2, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                                                         {"onReason": "*", "action": "EXIT"}]},
        nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [
            {"targetNodes": "0:0", "container": sleeper},
            {"targetNodes": "1:", "ecsProperties": {"taskProperties": [{"containers": [
                dict(sleeper, name="work")]}]}}]})
    job_id = batch.submit_job(jobName="lost", jobQueue="q", jobDefinition="lost")["jobId"]
    # The nodes exist once the job is STARTING (made in the same transaction); not before.
    wait_for(batch, job_id, lambda j: j["status"] in ("STARTING", "RUNNING"), 60)
    wait_for(batch, f"{job_id}#1", lambda j: j["status"] == "RUNNING", 60)
    main, worker = batch.describe_jobs(jobs=[f"{job_id}#0", f"{job_id}#1"])["jobs"]
    # Each node has an instance of its own (AWS runs one node per instance).
    assert main["container"]["containerInstanceArn"] != \
        worker["ecsProperties"]["taskProperties"][0]["containerInstanceArn"]

    status, _, answer = raw.request("POST", "/batchemu/faults/lose-instance", {"jobId": f"{job_id}#1"},
                                    headers={"Host": "localhost"})
    assert status == 200, answer
    reason = f"Host EC2 (instance {answer['instanceId']}) terminated."
    assert sorted(e["jobId"] for e in answer["jobs"]) == sorted([job_id, f"{job_id}#1"])
    # The whole attempt failed with the host's reason and was retried: a new attempt runs, its
    # nodes started again; the lost node's own first attempt shows the host's end, no exit code.
    job = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING" and len(j["attempts"]) == 1, 60)
    assert job["attempts"][0]["statusReason"] == reason
    assert "exitCode" not in job["attempts"][0]["container"]
    lost = wait_for(batch, f"{job_id}#1", lambda j: len(j["attempts"]) == 1, 30)
    assert lost["attempts"][0]["statusReason"] == reason
    assert [c.get("exitCode") for c in lost["attempts"][0]["taskProperties"][0]["containers"]] == [None]
    wait_for(batch, f"{job_id}#0", lambda j: j["status"] == "RUNNING" and len(j["attempts"]) == 1, 30)

    # Losing the main node's instance now (by the job's id) ends the second attempt: no retry left.
    status, _, answer = raw.request("POST", "/batchemu/faults/lose-instance", {"jobId": job_id},
                                    headers={"Host": "localhost"})
    assert status == 200, answer
    job = wait_done(batch, job_id, timeout=30)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == f"Host EC2 (instance {answer['instanceId']}) terminated."
    assert len(job["attempts"]) == 2
