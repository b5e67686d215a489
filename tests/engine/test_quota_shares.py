"""Quota shares in service-job placement (ref §13.4), with a manual clock and a scripted runner:
each share is a queue of its own with its own capacity; LEND_AND_BORROW shares borrow what
LEND shares leave idle, RESERVE shares lend nothing; no preemption."""

import json

import pytest

from tests.engine.harness import Harness


@pytest.fixture()
def h(tmp_path):
    h = Harness()
    h.scheduler.service_jobs.training._root = tmp_path
    h.call("CreateServiceEnvironment", serviceEnvironmentName="se", serviceEnvironmentType="SAGEMAKER_TRAINING",
           capacityLimits=[{"maxCapacity": 8, "capacityUnit": "ml.m5.large"}])
    policy = h.call("CreateSchedulingPolicy", name="quota",
                    quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]
    h.call("CreateJobQueue", jobQueueName="qm", priority=1, schedulingPolicyArn=policy,
           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "se"}])
    return h


def share(h, name, strategy, capacity=4, **sharing):
    return h.call("CreateQuotaShare", quotaShareName=name, jobQueue="qm",
                  capacityLimits=[{"maxCapacity": capacity, "capacityUnit": "ml.m5.large"}],
                  resourceSharingConfiguration={"strategy": strategy, **sharing},
                  preemptionConfiguration={"inSharePreemption": "DISABLED"})["quotaShareArn"]


def submit(h, name, quota_share, instances=2):
    request = {"TrainingJobName": name, "AlgorithmSpecification": {"TrainingImage": "trainer:1"},
               "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances}}
    return h.call("SubmitServiceJob", jobName=name, jobQueue="qm", serviceJobType="SAGEMAKER_TRAINING",
                  serviceRequestPayload=json.dumps(request), quotaShareName=quota_share)["jobId"]


def status(h, job_id):
    return h.call("DescribeServiceJob", jobId=job_id)["status"]


def finish(h, job_id):
    h.runner.run(job_id)
    h.runner.exit(job_id, 0)
    h.tick()


def test_each_share_is_a_queue_of_its_own(h):
    share(h, "a", "RESERVE")
    share(h, "b", "RESERVE")
    a = [submit(h, f"a{i}", "a") for i in range(3)]
    b = submit(h, "b0", "b")
    h.tick()
    # a's third job waits for a's own capacity; it doesn't hold back share b.
    assert [status(h, j) for j in a] == ["STARTING", "STARTING", "RUNNABLE"]
    assert status(h, b) == "STARTING"
    finish(h, a[0])
    assert status(h, a[2]) == "STARTING"


def test_lend_and_borrow_uses_idle_capacity_and_gets_no_preemption(h):
    share(h, "borrower", "LEND_AND_BORROW")          # borrowLimit -1: no limit
    share(h, "lender", "LEND")
    jobs = [submit(h, f"b{i}", "borrower") for i in range(3)]
    h.tick()
    assert [status(h, j) for j in jobs] == ["STARTING"] * 3   # 4 own + 2 borrowed
    lender_job = submit(h, "l0", "lender", instances=4)
    h.tick()
    # Within its quota, but 2 of its 4 instances are out on loan: it waits until they are back.
    assert status(h, lender_job) == "RUNNABLE"
    finish(h, jobs[2])
    assert status(h, lender_job) == "STARTING"


def test_borrow_limit_and_reserve(h):
    share(h, "borrower", "LEND_AND_BORROW", borrowLimit=50)   # may borrow 2 more (50 % of 4)
    share(h, "reserved", "RESERVE")
    jobs = [submit(h, f"b{i}", "borrower") for i in range(3)]
    h.tick()
    # The only idle capacity belongs to a RESERVE share, which lends nothing.
    assert [status(h, j) for j in jobs] == ["STARTING", "STARTING", "RUNNABLE"]


def test_borrow_limit_caps_borrowing_from_a_lender(h):
    share(h, "borrower", "LEND_AND_BORROW", borrowLimit=50)
    share(h, "lender", "LEND")
    jobs = [submit(h, f"b{i}", "borrower") for i in range(4)]
    h.tick()
    assert [status(h, j) for j in jobs] == ["STARTING", "STARTING", "STARTING", "RUNNABLE"]


def test_a_job_bigger_than_its_share_can_ever_get_is_blocked(h):
    share(h, "small", "RESERVE", capacity=2)
    big = submit(h, "big", "small", instances=3)
    h.tick()
    d = h.call("DescribeServiceJob", jobId=big)
    assert d["status"] == "RUNNABLE"
    assert d["statusReason"].startswith("MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED")


def test_deleting_a_share_terminates_its_jobs(h):
    arn = share(h, "a", "RESERVE", capacity=2)
    running = submit(h, "r", "a")
    h.tick()
    waiting = submit(h, "w", "a")
    h.tick()
    h.call("UpdateQuotaShare", quotaShareArn=arn, state="DISABLED")
    h.call("DeleteQuotaShare", quotaShareArn=arn)
    h.tick()
    d = h.call("DescribeServiceJob", jobId=waiting)
    assert d["status"] == "FAILED" and d["statusReason"] == "QuotaShare deleted" and d["isTerminated"]
    assert h.runner.stopped == [(running, 1, 1)]
    h.runner.exit(running, 143)
    h.tick()
    assert h.call("DescribeServiceJob", jobId=running)["statusReason"] == "QuotaShare deleted"


def test_snapshot_shows_quota_share_usage(h):
    share(h, "a", "RESERVE")
    share(h, "b", "RESERVE")
    submit(h, "a0", "a", instances=3)
    submit(h, "b0", "b", instances=1)
    waiting = submit(h, "a1", "a", instances=2)
    h.tick()
    out = h.call("GetJobQueueSnapshot", jobQueue="qm")
    assert out["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "ml.m5.large", "quantity": 4.0}]
    assert out["queueUtilization"]["quotaShareUtilization"]["topCapacityUtilization"] == [
        {"quotaShareName": "a", "capacityUsage": [{"capacityUnit": "ml.m5.large", "quantity": 3.0}]},
        {"quotaShareName": "b", "capacityUsage": [{"capacityUnit": "ml.m5.large", "quantity": 1.0}]}]
    assert list(out["frontOfQuotaShares"]["quotaShares"]) == ["a"]
    assert out["frontOfQuotaShares"]["quotaShares"]["a"][0]["jobArn"].endswith(waiting)


def test_idle_quota_queue_reports_zero_per_instance_type(h):
    out = h.call("GetJobQueueSnapshot", jobQueue="qm")
    assert out["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "ml.m5.large", "quantity": 0.0}]
    assert out["frontOfQueue"]["jobs"] == [] and out["frontOfQuotaShares"]["quotaShares"] == {}
