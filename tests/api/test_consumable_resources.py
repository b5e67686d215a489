"""Consumable resources through real boto3 (ref §13.1): CRUD, quantities, clientToken
idempotency, name filters, ListJobsByConsumableResource and SubmitJob's override checks."""

import pytest

from tests.helpers import client_error

EC2 = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}


def setup_queue(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=EC2)
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties={
        "image": "busybox", "command": ["true"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]})


def needs(name, quantity):
    return {"consumableResourceList": [{"consumableResource": name, "quantity": quantity}]}


def test_create_and_describe(batch):
    out = batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=5,
                                           tags={"team": "a"})
    arn = out["consumableResourceArn"]
    assert out["consumableResourceName"] == "licence"
    assert arn.startswith("arn:aws:batch:us-east-1:") and arn.endswith(":consumable-resource/licence")
    for ident in ("licence", arn):
        d = batch.describe_consumable_resource(consumableResource=ident)
        assert d["consumableResourceName"] == "licence" and d["consumableResourceArn"] == arn
        assert (d["totalQuantity"], d["inUseQuantity"], d["availableQuantity"]) == (5, 0, 5)
        assert d["resourceType"] == "REPLENISHABLE"             # the default (model)
        assert d["tags"] == {"team": "a"} and isinstance(d["createdAt"], int)
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "a"}
    batch.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert batch.describe_consumable_resource(consumableResource="licence")["tags"] == {"team": "a", "env": "dev"}
    nr = batch.create_consumable_resource(consumableResourceName="budget", resourceType="NON_REPLENISHABLE")
    d = batch.describe_consumable_resource(consumableResource=nr["consumableResourceArn"])
    assert d["resourceType"] == "NON_REPLENISHABLE" and d["totalQuantity"] == 0


@pytest.mark.parametrize("params, text", [
    ({"consumableResourceName": "x", "totalQuantity": -1}, "totalQuantity must be a non-negative number"),
    ({"consumableResourceName": "x", "resourceType": "SOMETIMES"}, "resourceType must be one of"),
    ({"consumableResourceName": "-x"}, "consumableResourceName must be 1 to 128 characters"),
])
def test_create_rejects_bad_input(batch, params, text):
    assert text in client_error(batch.create_consumable_resource, **params)


def test_names_are_unique_and_unknown_ones_do_not_exist(batch):
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=1)
    assert "already exists" in client_error(batch.create_consumable_resource, consumableResourceName="licence")
    for call in (batch.describe_consumable_resource, batch.delete_consumable_resource,
                 batch.list_jobs_by_consumable_resource):
        assert "Consumable resource nope does not exist" in client_error(call, consumableResource="nope")
    other = "arn:aws:batch:us-east-1:999999999999:consumable-resource/licence"
    assert "does not exist" in client_error(batch.describe_consumable_resource, consumableResource=other)


def test_update_set_add_remove(batch):
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=5)
    out = batch.update_consumable_resource(consumableResource="licence", operation="ADD", quantity=3)
    assert out["totalQuantity"] == 8 and out["consumableResourceName"] == "licence"
    assert batch.update_consumable_resource(consumableResource="licence", operation="REMOVE",
                                            quantity=6)["totalQuantity"] == 2
    assert batch.update_consumable_resource(consumableResource="licence", operation="SET",
                                            quantity=10)["totalQuantity"] == 10
    assert batch.describe_consumable_resource(consumableResource="licence")["availableQuantity"] == 10
    assert "Cannot remove 11" in client_error(batch.update_consumable_resource, consumableResource="licence",
                                              operation="REMOVE", quantity=11)
    assert "operation must be one of SET, ADD, REMOVE" in client_error(
        batch.update_consumable_resource, consumableResource="licence", operation="TIMES", quantity=2)
    assert "non-negative" in client_error(batch.update_consumable_resource, consumableResource="licence",
                                          operation="SET", quantity=-2)


def test_update_with_the_same_client_token_applies_once(batch):
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=5)
    for _ in range(3):
        out = batch.update_consumable_resource(consumableResource="licence", operation="ADD", quantity=2,
                                               clientToken="tok-1")
        assert out["totalQuantity"] == 7                         # both succeed, applied once (model)
    out = batch.update_consumable_resource(consumableResource="licence", operation="ADD", quantity=2,
                                           clientToken="tok-2")
    assert out["totalQuantity"] == 9
    message = client_error(batch.update_consumable_resource, consumableResource="licence", operation="ADD",
                           quantity=5, clientToken="tok-1")
    assert "clientToken tok-1 was already used for a different update" in message
    assert batch.describe_consumable_resource(consumableResource="licence")["totalQuantity"] == 9


def test_list_with_name_filters_and_pages(batch):
    for name in ("LicenceA", "licence-b", "db-conn", "licenceC"):
        batch.create_consumable_resource(consumableResourceName=name, totalQuantity=1)
    every = batch.list_consumable_resources()["consumableResources"]
    assert [r["consumableResourceName"] for r in every] == ["LicenceA", "licence-b", "db-conn", "licenceC"]
    assert set(every[0]) == {"consumableResourceArn", "consumableResourceName", "totalQuantity",
                             "inUseQuantity", "resourceType"}
    found = batch.list_consumable_resources(filters=[{"name": "CONSUMABLE_RESOURCE_NAME",
                                                      "values": ["LICENCE*"]}])["consumableResources"]
    assert [r["consumableResourceName"] for r in found] == ["LicenceA", "licence-b", "licenceC"]
    found = batch.list_consumable_resources(filters=[{"name": "CONSUMABLE_RESOURCE_NAME",
                                                      "values": ["DB-CONN"]}])["consumableResources"]
    assert [r["consumableResourceName"] for r in found] == ["db-conn"]
    pages = batch.get_paginator("list_consumable_resources").paginate(PaginationConfig={"PageSize": 3})
    assert [len(p["consumableResources"]) for p in pages] == [3, 1]
    assert "filters.name must be CONSUMABLE_RESOURCE_NAME" in client_error(
        batch.list_consumable_resources, filters=[{"name": "JOB_NAME", "values": ["x"]}])


def test_submit_job_override_is_checked_and_shown(batch):
    setup_queue(batch)
    arn = batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=2)["consumableResourceArn"]
    assert "consumable resource nope does not exist" in client_error(
        batch.submit_job, jobName="j", jobQueue="q", jobDefinition="jd",
        consumableResourcePropertiesOverride=needs("nope", 1))
    assert "quantity must be at least 1, got 0" in client_error(
        batch.submit_job, jobName="j", jobQueue="q", jobDefinition="jd",
        consumableResourcePropertiesOverride=needs("licence", 0))
    job = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd",
                           consumableResourcePropertiesOverride=needs("licence", 2))["jobId"]
    (d,) = batch.describe_jobs(jobs=[job])["jobs"]
    assert d["consumableResourceProperties"] == needs(arn, 2)


def test_list_jobs_by_consumable_resource(batch):
    setup_queue(batch)
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=2)
    batch.create_consumable_resource(consumableResourceName="other", totalQuantity=2)
    a = batch.submit_job(jobName="Train-a", jobQueue="q", jobDefinition="jd",
                         consumableResourcePropertiesOverride=needs("licence", 2))["jobId"]
    b = batch.submit_job(jobName="train-b", jobQueue="q", jobDefinition="jd",
                         consumableResourcePropertiesOverride=needs("licence", 1))["jobId"]
    batch.submit_job(jobName="train-c", jobQueue="q", jobDefinition="jd",
                     consumableResourcePropertiesOverride=needs("other", 1))
    batch.submit_job(jobName="plain", jobQueue="q", jobDefinition="jd")
    jobs = batch.list_jobs_by_consumable_resource(consumableResource="licence")["jobs"]
    assert [j["jobArn"].rsplit("/", 1)[1] for j in jobs] == [b, a]    # newest first
    first = jobs[1]
    assert first["jobName"] == "Train-a" and first["quantity"] == 2
    assert first["jobQueueArn"].endswith(":job-queue/q") and first["jobDefinitionArn"].endswith(":job-definition/jd:1")
    assert first["jobStatus"] in ("SUBMITTED", "RUNNABLE") and isinstance(first["createdAt"], int)
    assert first["consumableResourceProperties"]["consumableResourceList"][0]["quantity"] == 2
    named = batch.list_jobs_by_consumable_resource(
        consumableResource="licence", filters=[{"name": "JOB_NAME", "values": ["TRAIN-A"]}])["jobs"]
    assert [j["jobName"] for j in named] == ["Train-a"]
    prefixed = batch.list_jobs_by_consumable_resource(
        consumableResource="licence", filters=[{"name": "JOB_NAME", "values": ["train*"]}])["jobs"]
    assert len(prefixed) == 2
    none = batch.list_jobs_by_consumable_resource(
        consumableResource="licence", filters=[{"name": "JOB_STATUS", "values": ["SUCCEEDED"]}])["jobs"]
    assert none == []
    assert "JOB_STATUS values must be job statuses" in client_error(
        batch.list_jobs_by_consumable_resource, consumableResource="licence",
        filters=[{"name": "JOB_STATUS", "values": ["DONE"]}])


def test_delete_refuses_while_unfinished_jobs_need_it(batch):
    setup_queue(batch)
    batch.create_consumable_resource(consumableResourceName="licence", totalQuantity=2)
    job = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="jd",
                           consumableResourcePropertiesOverride=needs("licence", 1))["jobId"]
    message = client_error(batch.delete_consumable_resource, consumableResource="licence")
    assert "required by 1 job(s) that haven't finished" in message and job in message
    batch.cancel_job(jobId=job, reason="no longer needed")
    batch.delete_consumable_resource(consumableResource="licence")
    assert "does not exist" in client_error(batch.describe_consumable_resource, consumableResource="licence")
    assert batch.list_consumable_resources()["consumableResources"] == []
