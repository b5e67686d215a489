"""Job definitions and scheduling policies through boto3: revisions and which one a bare name
means, policy lifecycle, a policy in use can't be deleted, list pagination.
"""

from __future__ import annotations

from conformance.harness import client_error, unique, wait_gone
from conformance.registry import covers
from conformance.world import World, container_properties

FAIRSHARE = {"shareDecaySeconds": 3600, "computeReservation": 25,
             "shareDistribution": [{"shareIdentifier": "teamA", "weightFactor": 0.5},
                                   {"shareIdentifier": "teamB*", "weightFactor": 2.0}]}


@covers("boto3", "RegisterJobDefinition", "DescribeJobDefinitions", "DeregisterJobDefinition", "SubmitJob")
def test_job_definition_revisions(batch):
    w = World(batch)
    name = unique("jd")
    arns = [batch.register_job_definition(jobDefinitionName=name, type="container",
                                          containerProperties=container_properties(["echo", str(i)]))["jobDefinitionArn"]
            for i in (1, 2)]
    assert [a.rsplit(":", 1)[1] for a in arns] == ["1", "2"]  # ref §5.2
    batch.deregister_job_definition(jobDefinition=arns[1])
    # ref §5.2: a bare name runs the latest ACTIVE revision.
    job_id = batch.submit_job(jobName="by-name", jobQueue=w.job_queue(), jobDefinition=name)["jobId"]
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["jobDefinition"] == arns[0]
    statuses = {d["revision"]: d["status"] for d in
                batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]}
    assert statuses == {1: "ACTIVE", 2: "INACTIVE"}
    # A third registration gets revision 3: numbers are not reused (ref §5.2).
    third = batch.register_job_definition(jobDefinitionName=name, type="container",
                                          containerProperties=container_properties())
    assert third["revision"] == 3
    err = client_error(batch.submit_job, jobName="gone", jobQueue=w.job_queue(), jobDefinition="no-such-definition")
    assert "no-such-definition" in err.response["Error"]["Message"]  # ref §1.5


@covers("boto3", "CreateSchedulingPolicy", "DescribeSchedulingPolicies", "ListSchedulingPolicies",
        "UpdateSchedulingPolicy", "DeleteSchedulingPolicy")
def test_scheduling_policy_lifecycle(batch, account):
    name = unique("fair")
    created = batch.create_scheduling_policy(name=name, fairsharePolicy=FAIRSHARE, tags={"team": "research"})
    arn = f"arn:aws:batch:us-east-1:{account}:scheduling-policy/{name}"  # ref §2.1
    assert (created["name"], created["arn"]) == (name, arn)
    (policy,) = batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"]
    assert policy["fairsharePolicy"] == FAIRSHARE and policy["tags"] == {"team": "research"}

    changed = {**FAIRSHARE, "computeReservation": 50}
    batch.update_scheduling_policy(arn=arn, fairsharePolicy=changed)
    (policy,) = batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"]
    assert policy["fairsharePolicy"] == changed

    # ref §4.4: a policy a queue uses can't be deleted.
    w = World(batch)
    queue = w.job_queue(policy_arn=arn)
    client_error(batch.delete_scheduling_policy, arn=arn)
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    w.settle_queue(queue)
    batch.delete_job_queue(jobQueue=queue)
    wait_gone(lambda: (batch.describe_job_queues(jobQueues=[queue])["jobQueues"] or [None])[0])

    others = [batch.create_scheduling_policy(name=unique("fair"))["arn"] for _ in range(2)]
    pages = list(batch.get_paginator("list_scheduling_policies").paginate(PaginationConfig={"PageSize": 1}))
    listed = [p["arn"] for page in pages for p in page["schedulingPolicies"]]
    assert sorted(listed) == sorted([arn, *others]) and len(pages) == 3

    batch.delete_scheduling_policy(arn=arn)
    assert batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"] == []
    assert arn not in [p["arn"] for p in batch.list_scheduling_policies()["schedulingPolicies"]]
