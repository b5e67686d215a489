"""The ECS agent's environment in job containers (issue 15): AWS_EXECUTION_ENV and the task
metadata endpoint (ECS_CONTAINER_METADATA_URI_V4, and v3's ECS_CONTAINER_METADATA_URI), served
by batchemu and read from inside the job, whose documents agree with DescribeJobs (TaskARN,
log stream). With the process runner (the test reads the URL the job printed) and, marked
docker, from a real container with busybox's wget."""

from __future__ import annotations

import json
import time
import uuid

import pytest
import requests

from batchemu.testing import running_server
from tests import docker_support
from tests.e2e.support import new_account

RESOURCES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]


def run_job(server, script: str, name="meta", timeout: float = 60, platform="EC2"):
    """Submit `sh -c script` in an account of its own; (account, finished job, output lines)."""
    account = new_account()
    batch = server.client("batch", access_key=account)
    batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties={
        "image": docker_support.IMAGE, "command": ["sh", "-c", script], "resourceRequirements": RESOURCES})
    job_id = batch.submit_job(jobName=name, jobQueue="q", jobDefinition=name)["jobId"]
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


def check_documents(job: dict, task: dict, container: dict, region="us-east-1"):
    """What tools read, as DescribeJobs says it."""
    assert task["TaskARN"] == job["container"]["taskArn"]
    assert task["Family"] == job["jobDefinition"].rsplit("/", 1)[1].split(":")[0]
    assert task["Revision"] == "1" and task["LaunchType"] == "EC2"
    assert task["Limits"] == {"CPU": 1, "Memory": 64}
    assert task["Cluster"].startswith(f"arn:aws:ecs:{region}:") and task["AvailabilityZone"].startswith(region)
    # Read one after the other: StartedAt may appear in between (the engine records RUNNING).
    (in_task,) = task["Containers"]
    assert {k: v for k, v in in_task.items() if k != "StartedAt"} == {
        k: v for k, v in container.items() if k != "StartedAt"}
    assert container["Name"] == "default" and container["Image"] == docker_support.IMAGE
    assert container["Limits"] == {"CPU": 1024, "Memory": 64}
    assert container["LogDriver"] == "awslogs"
    assert container["LogOptions"] == {"awslogs-group": "/aws/batch/job", "awslogs-region": region,
                                       "awslogs-stream": job["container"]["logStreamName"]}
    assert container["KnownStatus"] == "RUNNING"
    assert container["Networks"] == [{"NetworkMode": "host", "IPv4Addresses": ["127.0.0.1"]}]
    assert container["Labels"]["com.amazonaws.ecs.task-arn"] == task["TaskARN"]


# -- the process runner: the job prints its environment, the test reads the endpoint -------------

@pytest.fixture(scope="module")
def process_server():
    with running_server(runner="process") as server:
        yield server


def test_process_job_gets_the_agent_environment_and_its_own_metadata(process_server):
    script = ('echo "$AWS_EXECUTION_ENV"; echo "$ECS_CONTAINER_METADATA_URI_V4"; '
              'echo "$ECS_CONTAINER_METADATA_URI"; sleep 1')
    _, job, lines = run_job(process_server, script)
    assert job["status"] == "SUCCEEDED", lines
    execution_env, v4, v3 = lines[:3]
    assert execution_env == "AWS_ECS_EC2"
    assert v4.startswith(f"{process_server.url}/batchemu/ecs-metadata/v4/{job['jobId']}.1.")
    assert v3 == v4.replace("/v4/", "/v3/")
    # Unsigned, as from inside a task on AWS; the job has ended, so the task is STOPPED now.
    task = requests.get(f"{v4}/task", timeout=5).json()
    container = requests.get(v4, timeout=5).json()
    assert task["KnownStatus"] == "STOPPED" and container["KnownStatus"] == "STOPPED"
    assert task["TaskARN"] == job["container"]["taskArn"]
    assert container["LogOptions"]["awslogs-stream"] == job["container"]["logStreamName"]
    assert requests.get(f"{v3}/task", timeout=5).json() == task
    assert requests.get(f"{v4}/stats", timeout=5).status_code == 200
    assert list(requests.get(f"{v4}/task/stats", timeout=5).json()) == [container["DockerId"]]


def test_a_token_opens_only_its_own_task(process_server):
    _, job, lines = run_job(process_server, 'echo "$ECS_CONTAINER_METADATA_URI_V4"', name="other")
    v4 = lines[0]
    base, token = v4.rsplit("/", 1)
    job_id, attempt, mac = token.split(".")
    tampered = [f"{base}/{job_id}.{attempt}.{'0' * 32}",                     # wrong MAC
                f"{base}/{job_id}.2.{mac}",                                   # another attempt
                f"{base}/{uuid.uuid4()}.1.{mac}",                             # another job
                f"{base}/{token}x", f"{base}/{token.upper()}",              # not the pattern
                f"{base}/{token}.main",                                       # no task member here
                f"{base}/{token}/env", f"{base.replace('/v4', '/v9')}/{token}"]
    for url in tampered:
        answer = requests.get(url, timeout=5)
        assert answer.status_code == 404, url
        assert job_id not in answer.text
    assert requests.post(v4, timeout=5).status_code == 405
    # The Host guard still applies: a page on another host cannot read it through DNS rebinding.
    assert requests.get(v4, headers={"Host": "evil.example"}, timeout=5).status_code == 403


def test_metadata_needs_no_signature_with_verify_signatures():
    with running_server(runner="process", verify_signatures=True, credentials="AKIDOPERATOR:test") as server:
        batch = server.client("batch", access_key="AKIDOPERATOR")
        batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        batch.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        batch.register_job_definition(jobDefinitionName="m", type="container", containerProperties={
            "image": "x", "command": ["sh", "-c", 'echo "$ECS_CONTAINER_METADATA_URI_V4"'],
            "resourceRequirements": RESOURCES})
        job_id = batch.submit_job(jobName="m", jobQueue="q", jobDefinition="m")["jobId"]
        deadline = time.monotonic() + 30
        while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] not in ("SUCCEEDED", "FAILED"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        stream = job["container"]["logStreamName"]
        lines = [e["message"] for e in server.client("logs", access_key="AKIDOPERATOR").get_log_events(
            logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]]
        task = requests.get(f"{lines[0]}/task", timeout=5)
        assert task.status_code == 200 and task.json()["TaskARN"] == job["container"]["taskArn"]
        # Anything else still needs a signature.
        assert requests.post(f"{server.url}/v1/describejobqueues", json={}, timeout=5).status_code == 403


# -- a real container reads it with wget ---------------------------------------------------------

@pytest.mark.docker
def test_docker_job_reads_its_task_metadata_from_inside():
    client = docker_support.docker_client()
    client.close()
    script = ('echo "$AWS_EXECUTION_ENV"; wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"; echo; '
              'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4"; echo; wget -qO- "$ECS_CONTAINER_METADATA_URI/task"; echo')
    with running_server(runner="docker", job_network="host") as server:
        _, job, lines = run_job(server, script, name="meta-docker")
    assert job["status"] == "SUCCEEDED", (job.get("statusReason"), lines)
    assert lines[0] == "AWS_ECS_EC2"
    task, container, v3_task = (json.loads(line) for line in lines[1:4])
    check_documents(job, task, container)
    assert v3_task["TaskARN"] == task["TaskARN"]
    assert container["DockerName"] == f"batchemu-meta-docker-{job['jobId']}"


@pytest.mark.docker
def test_each_container_of_an_ecs_task_reads_its_own_document():
    # ecsProperties: two containers in one task; each gets its own URI, the task document lists
    # both, with their own log streams (as DescribeJobs shows them).
    client = docker_support.docker_client()
    client.close()
    script = ('echo "$AWS_EXECUTION_ENV"; wget -qO- "$ECS_CONTAINER_METADATA_URI_V4"; echo; '
              'wget -qO- "$ECS_CONTAINER_METADATA_URI_V4/task"; echo')
    account = new_account()
    with running_server(runner="docker", job_network="host", task_holder_image=docker_support.IMAGE) as server:
        batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
        batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
        batch.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        batch.register_job_definition(jobDefinitionName="pair", type="container", ecsProperties={
            "taskProperties": [{"containers": [
                {"name": name, "image": docker_support.IMAGE, "command": ["sh", "-c", script],
                 "resourceRequirements": RESOURCES} for name in ("main", "side")]}]})
        job_id = batch.submit_job(jobName="pair", jobQueue="q", jobDefinition="pair")["jobId"]
        deadline = time.monotonic() + 60
        while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] not in ("SUCCEEDED", "FAILED"):
            assert time.monotonic() < deadline, job["status"]
            time.sleep(0.1)
        described = job["ecsProperties"]["taskProperties"][0]
        streams = {c["name"]: c["logStreamName"] for c in described["containers"]}
        for name in ("main", "side"):
            out = [e["message"] for e in logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=streams[name],
                                                             startFromHead=True)["events"]]
            assert job["status"] == "SUCCEEDED" and out[0] == "AWS_ECS_EC2", (job.get("statusReason"), out)
            container, task = json.loads(out[1]), json.loads(out[2])
            assert container["Name"] == name
            assert container["LogOptions"]["awslogs-stream"] == streams[name]
            assert task["TaskARN"] == described["taskArn"]
            assert {c["Name"]: c["LogOptions"]["awslogs-stream"] for c in task["Containers"]} == streams


def test_a_managed_instances_job_reads_its_metadata(process_server):
    # ECS Managed Instances: a single-container ecsProperties task whose container has a name;
    # its URI is the task's (no container suffix), and the document shows its log stream.
    from tests.api.test_managed_instances import MI, wait_valid
    account = new_account()
    batch = process_server.client("batch", access_key=account)
    batch.create_compute_environment(computeEnvironmentName="mi", type="MANAGED", computeResources=MI)
    wait_valid(batch, "mi")
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "mi"}])
    batch.register_job_definition(jobDefinitionName="mi", type="container", platformCapabilities=["MANAGED_INSTANCES"],
                                  ecsProperties={"taskProperties": [{"containers": [
                                      {"name": "main", "image": "busybox", "resourceRequirements": RESOURCES,
                                       "command": ["sh", "-c", 'echo "$ECS_CONTAINER_METADATA_URI_V4"']}]}]})
    job_id = batch.submit_job(jobName="mi", jobQueue="q", jobDefinition="mi")["jobId"]
    deadline = time.monotonic() + 30
    while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline, job["status"]
        time.sleep(0.05)
    (shown,) = job["ecsProperties"]["taskProperties"]
    stream = shown["containers"][0]["logStreamName"]
    out = process_server.client("logs", access_key=account).get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]
    uri = out[0]["message"]
    assert uri.endswith(f"/v4/{job_id}.1." + uri.rsplit(".", 1)[1]) and len(uri.rsplit(".", 1)[1]) == 32
    container = requests.get(uri, timeout=5).json()
    assert container["LogOptions"]["awslogs-stream"] == stream
    assert requests.get(f"{uri}/task", timeout=5).json()["TaskARN"] == shown["taskArn"]
