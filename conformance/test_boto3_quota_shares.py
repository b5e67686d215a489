"""Quota shares through boto3, written from the AWS documentation (ref §13.4): a share in a
quota-management queue (SAGEMAKER_TRAINING, a quotaSharePolicy, capacity counted per instance
type), described, listed, updated, disabled and deleted.
"""

from __future__ import annotations

from conformance.harness import client_error, unique, wait_for, wait_settled
from conformance.registry import covers
from conformance.world import QUOTA_INSTANCE_TYPE, World


@covers("boto3", "CreateQuotaShare", "DescribeQuotaShare", "ListQuotaShares", "UpdateQuotaShare",
        "DeleteQuotaShare")
def test_quota_share_lifecycle(batch, account):
    w = World(batch)
    queue = w.service_queue("quota-queue", quota_management=True)
    name = unique("share")
    limits = [{"maxCapacity": 2, "capacityUnit": QUOTA_INSTANCE_TYPE}]
    out = batch.create_quota_share(quotaShareName=name, jobQueue=queue, capacityLimits=limits,
                                   resourceSharingConfiguration={"strategy": "LEND_AND_BORROW", "borrowLimit": 50},
                                   preemptionConfiguration={"inSharePreemption": "DISABLED"},
                                   tags={"team": "vision"})
    arn = f"arn:aws:batch:us-east-1:{account}:job-queue/{queue}/quota-share/{name}"  # ref §2.1
    assert (out["quotaShareName"], out["quotaShareArn"]) == (name, arn)

    share = wait_settled(lambda: batch.describe_quota_share(quotaShareArn=arn), what="the quota share")
    assert share["status"] == "VALID" and share["state"] == "ENABLED"  # ENABLED is the default
    assert share["jobQueueArn"] == f"arn:aws:batch:us-east-1:{account}:job-queue/{queue}"
    assert share["capacityLimits"] == limits
    assert share["resourceSharingConfiguration"] == {"strategy": "LEND_AND_BORROW", "borrowLimit": 50}
    assert share["preemptionConfiguration"] == {"inSharePreemption": "DISABLED"}
    assert share["tags"] == {"team": "vision"}

    second = batch.create_quota_share(quotaShareName=unique("share"), jobQueue=queue, capacityLimits=limits,
                                      resourceSharingConfiguration={"strategy": "RESERVE"},
                                      preemptionConfiguration={"inSharePreemption": "ENABLED"})["quotaShareArn"]
    listed = batch.list_quota_shares(jobQueue=queue)["quotaShares"]
    assert sorted(s["quotaShareArn"] for s in listed) == sorted([arn, second])

    batch.update_quota_share(quotaShareArn=arn, capacityLimits=[{"maxCapacity": 3, "capacityUnit": QUOTA_INSTANCE_TYPE}])
    share = wait_settled(lambda: batch.describe_quota_share(quotaShareArn=arn), what="the quota share")
    assert share["capacityLimits"] == [{"maxCapacity": 3, "capacityUnit": QUOTA_INSTANCE_TYPE}]

    # ref §13.4: a share must be DISABLED before it is deleted.
    client_error(batch.delete_quota_share, quotaShareArn=arn)
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    assert wait_settled(lambda: batch.describe_quota_share(quotaShareArn=arn), what="the quota share")["state"] == "DISABLED"
    batch.delete_quota_share(quotaShareArn=arn)
    wait_for(lambda: [s["quotaShareArn"] for s in batch.list_quota_shares(jobQueue=queue)["quotaShares"]],
             lambda arns: arns == [second], what="the deleted share to leave the list")
