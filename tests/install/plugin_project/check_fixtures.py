"""A user's test file for batchemu's pytest plugin: only the plugin's fixtures, no conftest.py.
Run by tests/unit/test_pytest_plugin.py (against this checkout) and by
tests/install/test_pytest_plugin.py (from a fresh venv that installed batchemu as a user
would); never collected by batchemu's own suite (its name is not test_*.py). The tests run in
file order and the second relies on the first.
"""

import os
import time

import boto3

IMAGE = os.environ.get("BATCHEMU_TEST_IMAGE", "batchemu-test/busybox:latest")
SEEN = []


def queue(batch, name="q", managed=False):
    if managed:
        batch.create_compute_environment(
            computeEnvironmentName="ce", type="MANAGED",
            computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "subnets": ["subnet-1"],
                              "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole",
                              "instanceTypes": ["optimal"]})
    else:
        batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    batch.create_job_queue(jobQueueName=name, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])


def test_a_test_creates_resources(batch, batchemu_account):
    queue(batch)
    SEEN.append(batchemu_account)
    assert [q["jobQueueName"] for q in batch.describe_job_queues()["jobQueues"]] == ["q"]


def test_the_next_test_is_in_a_fresh_account(batch, batchemu_account):
    assert SEEN and batchemu_account != SEEN[0]
    assert batch.describe_job_queues()["jobQueues"] == []
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    queue(batch)  # the same names again: no clash with the other test's


def test_a_job_runs_and_its_log_is_read(batchemu, batch, batchemu_account):
    queue(batch, managed=True)
    batch.register_job_definition(
        jobDefinitionName="hello", type="container",
        containerProperties={"image": IMAGE, "command": ["sh", "-c", "echo hello from $AWS_BATCH_JOB_ID"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "64"}]})
    job_id = batch.submit_job(jobName="hello", jobQueue="q", jobDefinition="hello")["jobId"]
    deadline = time.monotonic() + 60
    while True:
        (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
        if job["status"] in ("SUCCEEDED", "FAILED") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    logs = batchemu.client("logs", account=batchemu_account)
    events = logs.get_log_events(logGroupName="/aws/batch/job",
                                 logStreamName=job["container"]["logStreamName"])["events"]
    assert [e["message"] for e in events] == [f"hello from {job_id}"]


def test_code_that_makes_its_own_clients(batchemu, batchemu_env, batchemu_account):
    assert os.environ["AWS_ENDPOINT_URL"] == batchemu.url
    boto3.client("s3").create_bucket(Bucket="from-the-code-under-test")  # reads AWS_* only
    buckets = batchemu.client("s3", account=batchemu_account).list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["from-the-code-under-test"]


def test_reset_empties_the_server(batchemu, batch):
    queue(batch)
    batchemu.reset()
    assert batch.describe_job_queues()["jobQueues"] == []
