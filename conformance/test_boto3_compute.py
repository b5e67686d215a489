"""Compute environments and job queues through boto3, beyond AWS's examples: the rules that
decide whether a delete or submit is accepted, "does not exist" for updates of missing
resources (what Terraform relies on), empty results for unknown names, and pagination.
"""

from __future__ import annotations

from conformance.harness import client_error, unique, wait_gone, wait_settled
from conformance.registry import covers
from conformance.world import EC2_RESOURCES, World


def describe_ce(batch, name):
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return found[0] if found else None


def describe_queue(batch, name):
    found = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return found[0] if found else None


@covers("boto3", "CreateComputeEnvironment", "UpdateComputeEnvironment", "DeleteComputeEnvironment",
        "CreateJobQueue", "UpdateJobQueue", "DeleteJobQueue", "SubmitJob")
def test_what_has_to_happen_before_a_delete(batch):
    w = World(batch)
    ce, queue = w.compute_environment(), w.job_queue()
    jd = w.job_definition()["arn"]

    # ref §3.4: an ENABLED CE can't be deleted; a DISABLED one still in a queue can't either.
    client_error(batch.delete_compute_environment, computeEnvironment=ce)
    batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
    wait_settled(lambda: describe_ce(batch, ce))
    err = client_error(batch.delete_compute_environment, computeEnvironment=ce)
    assert err.response["Error"]["Message"] == "Cannot delete, found existing JobQueue relationship"

    # ref §4.4: a queue must be DISABLED before it is deleted, and takes no new jobs then.
    client_error(batch.delete_job_queue, jobQueue=queue)
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    assert wait_settled(lambda: describe_queue(batch, queue))["state"] == "DISABLED"
    err = client_error(batch.submit_job, jobName="late", jobQueue=queue, jobDefinition=jd)
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    batch.delete_job_queue(jobQueue=queue)
    wait_gone(lambda: describe_queue(batch, queue))
    batch.delete_compute_environment(computeEnvironment=ce)  # no queue refers to it any more
    wait_gone(lambda: describe_ce(batch, ce))


@covers("boto3", "UpdateComputeEnvironment", "UpdateJobQueue", "DescribeComputeEnvironments",
        "DescribeJobQueues")
def test_missing_resources(batch):
    # ref §1.5: updates of a missing resource say "does not exist" (Terraform matches the
    # text); describing unknown names gives an empty list, not an error.
    for call, member in ((batch.update_compute_environment, "computeEnvironment"),
                         (batch.update_job_queue, "jobQueue")):
        err = client_error(call, **{member: "nothing-here", "state": "DISABLED"})
        assert err.response["Error"]["Code"] == "ClientException"
        assert "does not exist" in err.response["Error"]["Message"]
    assert batch.describe_compute_environments(computeEnvironments=["nothing-here"])["computeEnvironments"] == []
    assert batch.describe_job_queues(jobQueues=["nothing-here"])["jobQueues"] == []


@covers("boto3", "CreateComputeEnvironment", "DescribeComputeEnvironments", "CreateJobQueue",
        "DescribeJobQueues")
def test_paginators_walk_every_page(batch):
    names = sorted(unique("page") for _ in range(3))
    for name in names:
        batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED", computeResources=EC2_RESOURCES)
        wait_settled(lambda: describe_ce(batch, name))
        batch.create_job_queue(jobQueueName=name, priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
    for operation, key, name_key in (("describe_compute_environments", "computeEnvironments", "computeEnvironmentName"),
                                     ("describe_job_queues", "jobQueues", "jobQueueName")):
        pages = list(batch.get_paginator(operation).paginate(PaginationConfig={"PageSize": 1}))
        # botocore itself fails if a token repeats (ref §1.6); the last page has no token.
        assert [len(p[key]) for p in pages] == [1, 1, 1]
        assert "nextToken" not in pages[-1]
        assert sorted(item[name_key] for p in pages for item in p[key]) == names
