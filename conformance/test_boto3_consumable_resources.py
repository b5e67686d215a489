"""Consumable resources through boto3 (ref §13.1): the resource's lifecycle and quantities,
jobs that need it waiting for it, and a non-replenishable resource used up for good.
"""

from __future__ import annotations

from conformance.harness import unique, wait_for, wait_job
from conformance.registry import covers
from conformance.world import World, container_properties


@covers("boto3", "CreateConsumableResource", "DescribeConsumableResource", "UpdateConsumableResource",
        "ListConsumableResources", "DeleteConsumableResource")
def test_consumable_resource_lifecycle(batch, account):
    name = unique("licence")
    created = batch.create_consumable_resource(consumableResourceName=name, totalQuantity=10)
    arn = f"arn:aws:batch:us-east-1:{account}:consumable-resource/{name}"  # ref §2.1
    assert (created["consumableResourceName"], created["consumableResourceArn"]) == (name, arn)
    shown = batch.describe_consumable_resource(consumableResource=arn)  # an ARN works as well as a name
    assert shown["resourceType"] == "REPLENISHABLE"  # the default
    assert (shown["totalQuantity"], shown["inUseQuantity"], shown["availableQuantity"]) == (10, 0, 10)

    # SET / ADD / REMOVE change the total; each answer carries the new total.
    for operation, quantity, total in (("ADD", 5, 15), ("REMOVE", 3, 12), ("SET", 4, 4)):
        out = batch.update_consumable_resource(consumableResource=name, operation=operation, quantity=quantity)
        assert out["totalQuantity"] == total, operation
    assert batch.describe_consumable_resource(consumableResource=name)["totalQuantity"] == 4

    other = batch.create_consumable_resource(consumableResourceName=unique("db-connections"),
                                             totalQuantity=1)["consumableResourceName"]
    # Names filter case-insensitively; a trailing * is a prefix match.
    found = batch.list_consumable_resources(filters=[{"name": "CONSUMABLE_RESOURCE_NAME",
                                                      "values": ["LICENCE*"]}])["consumableResources"]
    assert [r["consumableResourceName"] for r in found] == [name]
    pages = list(batch.get_paginator("list_consumable_resources").paginate(PaginationConfig={"PageSize": 1}))
    assert sorted(r["consumableResourceName"] for p in pages for r in p["consumableResources"]) == sorted([name, other])

    batch.delete_consumable_resource(consumableResource=name)
    remaining = batch.list_consumable_resources()["consumableResources"]
    assert [r["consumableResourceName"] for r in remaining] == [other]


@covers("boto3", "CreateConsumableResource", "DescribeConsumableResource", "ListJobsByConsumableResource",
        "RegisterJobDefinition", "SubmitJob")
def test_jobs_wait_for_a_replenishable_resource(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    resource = batch.create_consumable_resource(consumableResourceName=unique("licence"),
                                                totalQuantity=1)["consumableResourceName"]
    needs_one = {"consumableResourceList": [{"consumableResource": resource, "quantity": 1}]}
    long_jd = batch.register_job_definition(jobDefinitionName=unique("long"), type="container",
                                            containerProperties=container_properties(["sleep", "60"]),
                                            consumableResourceProperties=needs_one)["jobDefinitionArn"]
    short_jd = batch.register_job_definition(jobDefinitionName=unique("short"), type="container",
                                             containerProperties=container_properties(["true"]),
                                             consumableResourceProperties=needs_one)["jobDefinitionArn"]
    first = batch.submit_job(jobName="holder", jobQueue=queue, jobDefinition=long_jd)["jobId"]
    wait_job(batch, first, "RUNNING")
    second = batch.submit_job(jobName="waiter", jobQueue=queue, jobDefinition=short_jd)["jobId"]
    wait_job(batch, second, "RUNNABLE")
    shown = batch.describe_consumable_resource(consumableResource=resource)
    assert (shown["inUseQuantity"], shown["availableQuantity"]) == (1, 0)

    listed = wait_for(lambda: batch.list_jobs_by_consumable_resource(consumableResource=resource)["jobs"],
                      lambda jobs: len(jobs) == 2, what="both jobs listed")
    assert {(j["jobName"], j["jobStatus"], j["quantity"]) for j in listed} == {("holder", "RUNNING", 1),
                                                                             ("waiter", "RUNNABLE", 1)}
    batch.terminate_job(jobId=first, reason="free the licence")
    stopped, ran = wait_job(batch, first, "FAILED"), wait_job(batch, second, ("SUCCEEDED", "FAILED"))
    # The second job only started once the first gave the quantity back (ref §13.1).
    assert ran["status"] == "SUCCEEDED" and ran["startedAt"] >= stopped["stoppedAt"]
    back = batch.describe_consumable_resource(consumableResource=resource)
    assert (back["totalQuantity"], back["inUseQuantity"], back["availableQuantity"]) == (1, 0, 1)


@covers("boto3", "CreateConsumableResource", "DescribeConsumableResource", "SubmitJob")
def test_a_non_replenishable_resource_is_used_up(job_batch):
    batch, w = job_batch, World(job_batch)
    resource = batch.create_consumable_resource(consumableResourceName=unique("credits"), totalQuantity=5,
                                                resourceType="NON_REPLENISHABLE")["consumableResourceName"]
    job_id = batch.submit_job(jobName="spender", jobQueue=w.job_queue(), jobDefinition=w.job_definition()["arn"],
                              consumableResourcePropertiesOverride={"consumableResourceList": [
                                  {"consumableResource": resource, "quantity": 2}]})["jobId"]
    assert wait_job(batch, job_id, ("SUCCEEDED", "FAILED"))["status"] == "SUCCEEDED"
    # ref §13.1: taken from the total and the available quantity, never given back.
    shown = batch.describe_consumable_resource(consumableResource=resource)
    assert (shown["totalQuantity"], shown["inUseQuantity"], shown["availableQuantity"]) == (3, 0, 3)
