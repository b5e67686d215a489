"""Failure injection and --time-scale end to end, with real containers (README "Failure
injection", "Time scale"): a Spot reclaim that an `onStatusReason: "Host EC2*"` RETRY rule
retries (and that fails the job, with no exit code, without the rule), a Fargate Spot
interruption (with its container's exit code), a lost instance that takes every job on it and only those, an image whose pulls
fail, and a 60-second attempt timeout observed in about a second with time scale 60."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from batchemu.testing import running_server
from tests.e2e.support import (IMAGE, docker_client, make_definition, new_account, own_containers, wait_done,
                               wait_status)
from tests.raw_client import RawClient

pytestmark = pytest.mark.docker

TIME_SCALE = 60
SPOT = {"type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED", "minvCpus": 0, "maxvCpus": 8,
        "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole",
        "instanceTypes": ["optimal"]}
EC2 = dict(SPOT, type="EC2", allocationStrategy="BEST_FIT")
FARGATE_SPOT = {"type": "FARGATE_SPOT", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
# Sleeps on the first attempt (until its host goes), succeeds on the next.
FIRST_ATTEMPT_SLEEPS = ["sh", "-c", 'if [ "$AWS_BATCH_JOB_ATTEMPT" = 1 ]; then sleep 300; fi; echo attempt '
                        '$AWS_BATCH_JOB_ATTEMPT done']
HOST_EC2_RETRY = {"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"},
                                                    {"onReason": "*", "action": "EXIT"}]}


@pytest.fixture(scope="module")
def client():
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def server(client):
    with running_server(runner="docker", time_scale=TIME_SCALE) as server:
        yield server
    for container in own_containers(client, server.emulator.server_id):
        container.remove(force=True)


class Account:
    def __init__(self, server):
        self.id = new_account()
        self.batch = server.client("batch", access_key=self.id)
        self.raw = RawClient(server.port, access_key=self.id)

    def queue(self, name: str, resources: dict) -> None:
        self.batch.create_compute_environment(computeEnvironmentName=name + "-ce", type="MANAGED",
                                              computeResources=resources)
        self.batch.create_job_queue(jobQueueName=name, priority=1,
                                    computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name + "-ce"}])

    def fault(self, action: str, **body) -> dict:
        status, _, answer = self.raw.request("POST", f"/batchemu/faults/{action}", body,
                                             headers={"Host": "localhost"})
        assert status == 200, answer
        return answer


@pytest.fixture()
def acct(server):
    return Account(server)


def submit(acct, queue, definition, **kwargs) -> str:
    return acct.batch.submit_job(jobName="j", jobQueue=queue, jobDefinition=definition, **kwargs)["jobId"]


def test_spot_reclaim_is_retried_by_a_host_ec2_rule_and_a_later_attempt_succeeds(acct):
    acct.queue("spot", SPOT)
    make_definition(acct.batch, "sleeper", FIRST_ATTEMPT_SLEEPS)
    job_id = submit(acct, "spot", "sleeper", retryStrategy=HOST_EC2_RETRY)
    running = wait_status(acct.batch, job_id, "RUNNING")
    answer = acct.fault("reclaim-spot", computeEnvironment="spot-ce")
    (ended,) = answer["jobs"]
    instance = ended["instanceId"]
    assert ended["jobId"] == job_id and instance.startswith("i-")
    assert ended["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    job = wait_done(acct.batch, job_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    first, second = job["attempts"]
    assert first["statusReason"] == f"Host EC2 (instance {instance}) terminated."
    assert "exitCode" not in first["container"]  # AWS reports no exit code for a lost host
    assert first["container"]["containerInstanceArn"] == running["container"]["containerInstanceArn"]
    assert second["container"]["exitCode"] == 0
    # the reclaimed instance is gone: the retry ran on another one
    assert second["container"]["containerInstanceArn"] != first["container"]["containerInstanceArn"]


def test_spot_reclaim_without_a_rule_fails_the_job_with_no_exit_code(acct):
    acct.queue("spot", SPOT)
    make_definition(acct.batch, "sleeper", FIRST_ATTEMPT_SLEEPS)
    job_id = submit(acct, "spot", "sleeper")
    wait_status(acct.batch, job_id, "RUNNING")
    (ended,) = acct.fault("reclaim-spot", jobId=job_id)["jobs"]
    job = wait_done(acct.batch, job_id)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == f"Host EC2 (instance {ended['instanceId']}) terminated."
    assert "exitCode" not in job["container"]
    (attempt,) = job["attempts"]
    assert "exitCode" not in attempt["container"]
    assert attempt["statusReason"] == job["statusReason"]


def test_an_exit_rule_on_the_host_reason_ends_the_job_at_once(acct):
    acct.queue("spot", SPOT)
    make_definition(acct.batch, "sleeper", FIRST_ATTEMPT_SLEEPS)
    strategy = {"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "EXIT"}]}
    job_id = submit(acct, "spot", "sleeper", retryStrategy=strategy)
    wait_status(acct.batch, job_id, "RUNNING")
    acct.fault("reclaim-spot")
    job = wait_done(acct.batch, job_id)
    assert job["status"] == "FAILED" and len(job["attempts"]) == 1
    assert job["statusReason"].startswith("Host EC2 (instance i-")


def test_fargate_spot_interruption(acct):
    acct.queue("fspot", FARGATE_SPOT)
    acct.batch.register_job_definition(
        jobDefinitionName="fsleeper", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": IMAGE, "command": FIRST_ATTEMPT_SLEEPS,
                             "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                             "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                                      {"type": "MEMORY", "value": "512"}]})
    strategy = {"attempts": 2, "evaluateOnExit": [{"onStatusReason": "Your Spot Task*", "action": "RETRY"}]}
    retried = submit(acct, "fspot", "fsleeper", retryStrategy=strategy)
    failed = submit(acct, "fspot", "fsleeper")
    for job_id in (retried, failed):
        wait_status(acct.batch, job_id, "RUNNING")
    answer = acct.fault("reclaim-spot")
    assert sorted(e["jobId"] for e in answer["jobs"]) == sorted([retried, failed])
    assert all("instanceId" not in e for e in answer["jobs"])  # Fargate tasks have no instance
    job = wait_done(acct.batch, failed)
    assert job["status"] == "FAILED" and job["statusReason"] == "Your Spot Task was interrupted."
    # ECS stops a Fargate Spot task (SIGTERM, SIGKILL after the grace): its exit code stands;
    # the shell running `sleep` ignores SIGTERM
    assert job["container"]["exitCode"] == 137 and "containerInstanceArn" not in job["container"]
    job = wait_done(acct.batch, retried)
    assert job["status"] == "SUCCEEDED"
    assert job["attempts"][0]["statusReason"] == "Your Spot Task was interrupted."


def test_reclaim_spot_refuses_on_demand_capacity(acct):
    acct.queue("ondemand", EC2)
    status, _, answer = acct.raw.request("POST", "/batchemu/faults/reclaim-spot",
                                         {"computeEnvironment": "ondemand-ce"}, headers={"Host": "localhost"})
    assert status == 400 and answer["__type"] == "ClientException"
    assert "computeEnvironment ondemand-ce is of type EC2" in answer["message"]


def test_a_lost_instance_ends_every_job_on_it_and_no_other(acct):
    """Four 1-vCPU jobs fill one simulated 4-vCPU instance (and share its container-instance
    ARN), a fifth gets another; losing the first instance ends the first four only."""
    acct.queue("ec2", EC2)
    make_definition(acct.batch, "small", ["sleep", "300"])
    ids = [submit(acct, "ec2", "small") for _ in range(5)]
    jobs = [wait_status(acct.batch, job_id, "RUNNING") for job_id in ids]
    arns = [job["container"]["containerInstanceArn"] for job in jobs]
    assert len(set(arns[:4])) == 1 and arns[4] != arns[0]
    assert arns[0].startswith("arn:aws:ecs:us-east-1:") and ":container-instance/" in arns[0]
    answer = acct.fault("lose-instance", jobId=ids[0])
    instance = answer["instanceId"]
    assert sorted(e["jobId"] for e in answer["jobs"]) == sorted(ids[:4])
    for job_id in ids[:4]:
        job = wait_done(acct.batch, job_id)
        assert job["status"] == "FAILED"
        assert job["statusReason"] == f"Host EC2 (instance {instance}) terminated."
        assert "exitCode" not in job["container"]
        assert job["attempts"][0]["container"]["containerInstanceArn"] == arns[0]
    (survivor,) = acct.batch.describe_jobs(jobs=[ids[4]])["jobs"]
    assert survivor["status"] == "RUNNING"
    # the other instance can be lost by naming its CE: the oldest instance running a job
    answer = acct.fault("lose-instance", computeEnvironment="ec2-ce")
    assert [e["jobId"] for e in answer["jobs"]] == [ids[4]] and answer["instanceId"] != instance
    assert wait_done(acct.batch, ids[4])["status"] == "FAILED"


def test_pulls_of_a_named_image_fail_until_cleared(acct):
    acct.queue("ec2", EC2)
    make_definition(acct.batch, "hello", ["echo", "hello"])
    answer = acct.fault("fail-pulls", image=IMAGE)
    repository = IMAGE.split(":")[0]
    assert answer["reason"].startswith(f"CannotPullContainerError: Error response from daemon: pull access "
                                       f"denied for {repository}, repository does not exist")
    job = wait_done(acct.batch, submit(acct, "ec2", "hello"))
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Task failed to start"
    assert job["container"]["reason"] == answer["reason"]
    assert "exitCode" not in job["container"]
    status, _, listed = acct.raw.request("GET", "/batchemu/faults", headers={"Host": "localhost"})
    assert status == 200 and listed == {"failingPulls": [{"image": IMAGE, "reason": answer["reason"]}]}
    assert acct.fault("clear-pulls") == {"cleared": [IMAGE]}
    assert wait_done(acct.batch, submit(acct, "ec2", "hello"))["status"] == "SUCCEEDED"


def test_pull_failures_are_per_account(server, acct):
    other = Account(server)
    other.fault("fail-pulls", image=IMAGE)
    acct.queue("ec2", EC2)
    make_definition(acct.batch, "hello", ["echo", "hello"])
    assert wait_done(acct.batch, submit(acct, "ec2", "hello"))["status"] == "SUCCEEDED"


def test_a_60_second_timeout_takes_about_a_second_at_time_scale_60(acct):
    acct.queue("ec2", EC2)
    make_definition(acct.batch, "forever", ["sleep", "300"])
    job_id = submit(acct, "ec2", "forever", timeout={"attemptDurationSeconds": 60})
    started = time.monotonic()
    job = wait_done(acct.batch, job_id, timeout=20)
    took = time.monotonic() - started
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    ran = (job["stoppedAt"] - job["startedAt"]) / 1000  # real clock time, not scaled
    assert 0.9 <= ran < 4, ran
    assert took < 6, took


def test_the_cli_reclaims_spot_capacity(server, acct):
    acct.queue("spot", SPOT)
    make_definition(acct.batch, "sleeper", FIRST_ATTEMPT_SLEEPS)
    job_id = submit(acct, "spot", "sleeper", retryStrategy=HOST_EC2_RETRY)
    wait_status(acct.batch, job_id, "RUNNING")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=acct.id, AWS_SECRET_ACCESS_KEY="x", AWS_REGION="us-east-1")
    env.pop("AWS_PROFILE", None)
    done = subprocess.run([sys.executable, "-m", "batchemu", "fault", "reclaim-spot", "--endpoint", server.url,
                           "--job-id", job_id], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    (ended,) = json.loads(done.stdout)["jobs"]
    assert ended["jobId"] == job_id
    job = wait_done(acct.batch, job_id)
    assert job["status"] == "SUCCEEDED" and len(job["attempts"]) == 2
    # a refused fault: the CLI says why and exits 1
    done = subprocess.run([sys.executable, "-m", "batchemu", "fault", "lose-instance", "--endpoint", server.url,
                           "--compute-environment", "nope"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 1 and "computeEnvironment nope does not exist" in done.stderr
