"""Shared pieces of the end-to-end tests: the Docker-required check, resource setup through
boto3, waits that poll DescribeJobs every 50 ms up to a deadline, and reading a job's output
back from the stored log events. No sleeps outside those polls."""

from __future__ import annotations

import socket
import time
import uuid

from batchemu.store.logs import LogTables
from tests.docker_support import IMAGE, docker_client  # noqa: F401 (re-exported to the e2e tests)

LOG_GROUP = "/aws/batch/job"
POLL = 0.05
CE_RESOURCES = {"type": "EC2", "minvCpus": 0, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
                "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}


def new_account() -> str:
    """A fresh 12-digit access key: the server makes it the account, so tests never meet."""
    return str(uuid.uuid4().int % 10**12).zfill(12)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_queue(batch, name: str, max_vcpus: int, priority: int = 1, ce: str | None = None) -> str:
    """A queue named `name` on its own CE (or on `ce`, when given); returns the CE name."""
    if ce is None:
        ce = name + "-ce"
        batch.create_compute_environment(computeEnvironmentName=ce, type="MANAGED",
                                         computeResources=dict(CE_RESOURCES, maxvCpus=max_vcpus))
    batch.create_job_queue(jobQueueName=name, priority=priority,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
    return ce


def make_definition(batch, name: str, command: list, vcpus: str = "1", memory: str = "64",
                    image: str = IMAGE, **container) -> str:
    props = {"image": image, "command": command,
             "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": memory}],
             **container}
    batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=props)
    return name


def describe(batch, job_id: str) -> dict:
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    return job


def wait_for(batch, job_id: str, predicate, timeout: float, what: str = "the condition") -> dict:
    """Poll DescribeJobs every 50 ms until predicate(job) holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = describe(batch, job_id)
        if predicate(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} did not reach {what} within {timeout}s; it is "
                                 f"{job['status']} ({job.get('statusReason')})")
        time.sleep(POLL)


def wait_status(batch, job_id: str, status: str, timeout: float = 30) -> dict:
    return wait_for(batch, job_id, lambda j: j["status"] == status, timeout, status)


def wait_done(batch, job_id: str, timeout: float = 30) -> dict:
    return wait_for(batch, job_id, lambda j: j["status"] in ("SUCCEEDED", "FAILED"), timeout,
                    "SUCCEEDED or FAILED")


def wait_until(check, timeout: float, what: str):
    """Poll `check()` every 50 ms until it returns something truthy; return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL)


def output(store, account: str, job: dict, region: str = "us-east-1") -> list:
    """The text lines the job's latest attempt wrote, as stored for CloudWatch Logs."""
    stream = job["container"]["logStreamName"]
    return [text for _, text in LogTables(store).read(account, region, LOG_GROUP, stream)]


def own_containers(client, server_id: str, job_id: str | None = None) -> list:
    from batchemu.runners.docker import LABEL_JOB, LABEL_SERVER

    labels = [f"{LABEL_SERVER}={server_id}"] + ([f"{LABEL_JOB}={job_id}"] if job_id else [])
    # sparse: no inspect per container, which would race with the runner removing it.
    return client.containers.list(all=True, sparse=True, filters={"label": labels})
