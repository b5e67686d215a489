"""GetJobQueueSnapshot through real boto3 (ref §13.5). The server runs no jobs (runner none),
so submitted jobs wait in RUNNABLE: the front of the queue is all of them, in dispatch order.
How the front follows the scheduler's real dispatch order is tested in tests/engine."""

import time

import pytest
from botocore.exceptions import ClientError

EC2 = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}


def setup(batch, **queue):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=EC2)
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}], **queue)
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties={
        "image": "busybox", "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]})


def wait_runnable(batch, job_ids, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        statuses = {d["status"] for d in batch.describe_jobs(jobs=job_ids)["jobs"]}
        if statuses == {"RUNNABLE"}:
            return
        assert time.monotonic() < deadline, f"jobs still {statuses}"
        time.sleep(0.02)


def test_fifo_queue_snapshot(batch):
    setup(batch)
    before = int(time.time() * 1000)
    ids = [batch.submit_job(jobName=f"j{i}", jobQueue="q", jobDefinition="jd")["jobId"] for i in range(3)]
    wait_runnable(batch, ids)
    after = int(time.time() * 1000)
    queue_arn = batch.describe_job_queues(jobQueues=["q"])["jobQueues"][0]["jobQueueArn"]
    for ident in ("q", queue_arn):
        out = batch.get_job_queue_snapshot(jobQueue=ident)
        jobs = out["frontOfQueue"]["jobs"]
        assert [j["jobArn"].rsplit("/", 1)[1] for j in jobs] == ids        # submission order
        assert all(j["jobArn"].endswith(f":job/{i}") for j, i in zip(jobs, ids))
        times = [j["earliestTimeAtPosition"] for j in jobs]
        assert times == sorted(times) and before <= times[0] and times[-1] <= after
        assert out["frontOfQueue"]["lastUpdatedAt"] >= after
        util = out["queueUtilization"]
        assert util["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 0.0}]
        assert "fairshareUtilization" not in util and "frontOfQuotaShares" not in out


def test_fair_share_queue_snapshot(batch):
    policy = batch.create_scheduling_policy(name="fs", fairsharePolicy={"shareDistribution": [
        {"shareIdentifier": "a"}, {"shareIdentifier": "b", "weightFactor": 0.5}]})["arn"]
    setup(batch, schedulingPolicyArn=policy)
    a1 = batch.submit_job(jobName="a1", jobQueue="q", jobDefinition="jd", shareIdentifier="a")["jobId"]
    a2 = batch.submit_job(jobName="a2", jobQueue="q", jobDefinition="jd", shareIdentifier="a",
                          schedulingPriorityOverride=9)["jobId"]
    b1 = batch.submit_job(jobName="b1", jobQueue="q", jobDefinition="jd", shareIdentifier="b")["jobId"]
    wait_runnable(batch, [a1, a2, b1])
    out = batch.get_job_queue_snapshot(jobQueue="q")
    # a's head is a2 (priority 9); a2 then b1 (b's usage 0 < a's 1); then a1.
    assert [j["jobArn"].rsplit("/", 1)[1] for j in out["frontOfQueue"]["jobs"]] == [a2, b1, a1]
    assert out["queueUtilization"]["fairshareUtilization"] == {"activeShareCount": 0,
                                                               "topCapacityUtilization": []}


def test_unknown_queue(batch):
    with pytest.raises(ClientError) as exc:
        batch.get_job_queue_snapshot(jobQueue="nope")
    assert exc.value.response["Error"]["Code"] == "ClientException"
    assert exc.value.response["Error"]["Message"] == "JobQueue nope not found."
