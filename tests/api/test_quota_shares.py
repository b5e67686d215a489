"""Quota shares through real boto3 (ref §13.4): CRUD on a quota-management queue, the rules
around it, SubmitServiceJob's quotaShareName, and frontOfQuotaShares in the snapshot."""

import json
import time

import pytest

from tests.helpers import client_error

SHARING = {"strategy": "LEND_AND_BORROW", "borrowLimit": 200}
PREEMPTION = {"inSharePreemption": "DISABLED"}


def quota_queue(batch, name="qm"):
    batch.create_service_environment(
        serviceEnvironmentName=f"{name}-se", serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 8, "capacityUnit": "ml.m5.large"},
                        {"maxCapacity": 2, "capacityUnit": "ml.p4d.24xlarge"}])
    policy = batch.create_scheduling_policy(name=f"{name}-policy",
                                            quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]
    batch.create_job_queue(jobQueueName=name, priority=1, schedulingPolicyArn=policy,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{name}-se"}])
    return policy


def share(batch, name="team-a", queue="qm", limits=None, **extra):
    extra.setdefault("resourceSharingConfiguration", SHARING)
    extra.setdefault("preemptionConfiguration", PREEMPTION)
    return batch.create_quota_share(quotaShareName=name, jobQueue=queue,
                                    capacityLimits=limits or [{"maxCapacity": 4, "capacityUnit": "ml.m5.large"}],
                                    **extra)


def test_create_describe_list_update(batch):
    quota_queue(batch)
    out = share(batch, tags={"team": "a"})
    arn = out["quotaShareArn"]
    assert out["quotaShareName"] == "team-a"
    assert arn.startswith("arn:aws:batch:us-east-1:") and arn.endswith(":job-queue/qm/quota-share/team-a")
    d = batch.describe_quota_share(quotaShareArn=arn)
    d.pop("ResponseMetadata")
    queue_arn = batch.describe_job_queues(jobQueues=["qm"])["jobQueues"][0]["jobQueueArn"]
    assert d == {"quotaShareName": "team-a", "quotaShareArn": arn, "jobQueueArn": queue_arn,
                 "capacityLimits": [{"maxCapacity": 4, "capacityUnit": "ml.m5.large"}],
                 "resourceSharingConfiguration": SHARING, "preemptionConfiguration": PREEMPTION,
                 "state": "ENABLED", "status": "VALID", "tags": {"team": "a"}}
    share(batch, "team-b", resourceSharingConfiguration={"strategy": "LEND_AND_BORROW"})
    assert batch.describe_quota_share(quotaShareArn=arn.replace("team-a", "team-b"))[
        "resourceSharingConfiguration"] == {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}  # default (model)
    listed = batch.list_quota_shares(jobQueue="qm")["quotaShares"]
    assert [s["quotaShareName"] for s in listed] == ["team-a", "team-b"] and "tags" not in listed[0]
    assert batch.list_quota_shares(jobQueue=queue_arn)["quotaShares"] == listed
    pages = batch.get_paginator("list_quota_shares").paginate(jobQueue="qm", PaginationConfig={"PageSize": 1})
    assert [len(p["quotaShares"]) for p in pages] == [1, 1]
    batch.update_quota_share(quotaShareArn=arn, capacityLimits=[{"maxCapacity": 1, "capacityUnit": "ml.p4d.24xlarge"}],
                             resourceSharingConfiguration={"strategy": "RESERVE"}, state="DISABLED")
    d = batch.describe_quota_share(quotaShareArn=arn)
    assert d["capacityLimits"] == [{"maxCapacity": 1, "capacityUnit": "ml.p4d.24xlarge"}]
    assert d["resourceSharingConfiguration"] == {"strategy": "RESERVE"} and d["state"] == "DISABLED"
    batch.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a", "env": "dev"}


def test_queue_must_be_a_quota_management_queue(batch):
    batch.create_service_environment(serviceEnvironmentName="plain", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                     capacityLimits=[{"maxCapacity": 4, "capacityUnit": "NUM_INSTANCES"}])
    batch.create_job_queue(jobQueueName="fifo", priority=1,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "plain"}])
    assert "isn't a quota management job queue" in client_error(share, batch, queue="fifo")
    assert "JobQueue nope not found." in client_error(share, batch, queue="nope")


@pytest.mark.parametrize("params, text", [
    ({"limits": [{"maxCapacity": 1, "capacityUnit": "ml.c5.xlarge"}]}, "isn't one of the capacity units"),
    ({"limits": [{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}]}, "must be a SageMaker instance type"),
    ({"limits": [{"maxCapacity": 1, "capacityUnit": f"ml.m5.{n}"} for n in
                 ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge")]}, "must list 1 to 5"),
    ({"resourceSharingConfiguration": {"strategy": "RESERVE", "borrowLimit": 10}},
     "borrowLimit can only be set with the LEND_AND_BORROW strategy"),
    ({"resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": -5}},
     "must be -1 (unlimited) or a percentage"),
])
def test_create_rejects_bad_settings(batch, params, text):
    quota_queue(batch)
    assert text in client_error(share, batch, **params)


def test_names_unique_per_queue_and_at_most_20(batch):
    quota_queue(batch)
    for i in range(20):
        share(batch, f"s{i}")
    assert "already exists" in client_error(share, batch, "s0")
    assert "already has 20 quota shares" in client_error(share, batch, "s20")


def test_delete_needs_disabled(batch):
    quota_queue(batch)
    arn = share(batch)["quotaShareArn"]
    assert "disable it with UpdateQuotaShare first" in client_error(batch.delete_quota_share, quotaShareArn=arn)
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    batch.delete_quota_share(quotaShareArn=arn)
    assert "does not exist" in client_error(batch.describe_quota_share, quotaShareArn=arn)
    assert batch.list_quota_shares(jobQueue="qm")["quotaShares"] == []
    assert "takes the ARN of a quota share" in client_error(batch.describe_quota_share, quotaShareArn="team-a")


def payload(instance_type="ml.m5.large", instances=1):
    return json.dumps({"TrainingJobName": "tj", "AlgorithmSpecification": {"TrainingImage": "trainer:1"},
                       "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": instances}})


def submit(batch, name="job", **extra):
    return batch.submit_service_job(jobName=name, jobQueue="qm", serviceJobType="SAGEMAKER_TRAINING",
                                    serviceRequestPayload=payload(), **extra)["jobId"]


def test_submit_service_job_needs_an_enabled_quota_share(batch):
    quota_queue(batch)
    arn = share(batch)["quotaShareArn"]
    assert "quotaShareName is required" in client_error(submit, batch)
    assert "Quota share nope does not exist in job queue qm" in client_error(submit, batch, quotaShareName="nope")
    job = submit(batch, quotaShareName="team-a")
    d = batch.describe_service_job(jobId=job)
    assert d["quotaShareName"] == "team-a"
    assert d["capacityUsage"] == [{"capacityUnit": "ml.m5.large", "quantity": 1.0}]   # per instance type
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    assert "DISABLED quota share" in client_error(submit, batch, quotaShareName="team-a")
    wait_runnable(batch, job)
    listed = batch.list_service_jobs(jobQueue="qm", jobStatus="RUNNABLE",
                                     filters=[{"name": "QUOTA_SHARE_NAME", "values": ["team-a"]}])
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [job]
    other = batch.list_service_jobs(jobQueue="qm", jobStatus="RUNNABLE",
                                    filters=[{"name": "QUOTA_SHARE_NAME", "values": ["team-b"]}])
    assert other["jobSummaryList"] == []


def wait_runnable(batch, job, timeout=10.0):
    deadline = time.monotonic() + timeout
    while batch.describe_service_job(jobId=job)["status"] != "RUNNABLE":
        assert time.monotonic() < deadline, "the service job never became RUNNABLE"
        time.sleep(0.02)


def test_snapshot_front_of_quota_shares(batch):
    quota_queue(batch)
    share(batch, "a")
    share(batch, "b")
    a1 = submit(batch, "a1", quotaShareName="a")
    b1 = submit(batch, "b1", quotaShareName="b")
    a2 = submit(batch, "a2", quotaShareName="a", schedulingPriority=7)
    wait_runnable(batch, a2)
    out = batch.get_job_queue_snapshot(jobQueue="qm")
    front = [j["jobArn"].rsplit("/", 1)[1] for j in out["frontOfQueue"]["jobs"]]
    # Share a's queue is a2 (priority 7) then a1; the shares' heads are served oldest first.
    assert front == [b1, a2, a1]
    heads = out["frontOfQuotaShares"]["quotaShares"]
    assert {name: [j["jobArn"].rsplit("/", 1)[1] for j in jobs] for name, jobs in heads.items()} == {
        "a": [a2], "b": [b1]}
    assert out["queueUtilization"]["quotaShareUtilization"] == {"topCapacityUtilization": []}
