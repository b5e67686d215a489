"""Service environments through real boto3 (ref §13.2), and SAGEMAKER_TRAINING job queues on
them (ref §4.1)."""

import pytest
from botocore.exceptions import ClientError

from batchemu.testing import running_server
from tests.helpers import client_error

LIMITS = [{"maxCapacity": 10, "capacityUnit": "NUM_INSTANCES"}]


def create(batch, name="se", limits=LIMITS, **extra):
    return batch.create_service_environment(serviceEnvironmentName=name, serviceEnvironmentType="SAGEMAKER_TRAINING",
                                            capacityLimits=limits, **extra)


def describe(batch, name="se"):
    (doc,) = batch.describe_service_environments(serviceEnvironments=[name])["serviceEnvironments"]
    return doc


def test_create_describe_and_tags(batch):
    out = create(batch, tags={"team": "ml"})
    arn = out["serviceEnvironmentArn"]
    assert out["serviceEnvironmentName"] == "se" and arn.endswith(":service-environment/se")
    for ident in ("se", arn):
        d = describe(batch, ident)
        assert d == {"serviceEnvironmentName": "se", "serviceEnvironmentArn": arn,
                     "serviceEnvironmentType": "SAGEMAKER_TRAINING", "state": "ENABLED", "status": "VALID",
                     "capacityLimits": LIMITS, "tags": {"team": "ml"}}
    batch.tag_resource(resourceArn=arn, tags={"env": "dev"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "ml", "env": "dev"}
    quota = create(batch, "quota", [{"maxCapacity": 4, "capacityUnit": "ml.m5.large"},
                                    {"maxCapacity": 2, "capacityUnit": "ml.p4d.24xlarge"}], state="DISABLED")
    assert describe(batch, "quota")["state"] == "DISABLED"
    assert describe(batch, "quota")["capacityLimits"][1] == {"maxCapacity": 2, "capacityUnit": "ml.p4d.24xlarge"}
    names = [d["serviceEnvironmentName"] for d in batch.describe_service_environments()["serviceEnvironments"]]
    assert names == ["se", "quota"]
    pages = batch.get_paginator("describe_service_environments").paginate(PaginationConfig={"PageSize": 1})
    assert [len(p["serviceEnvironments"]) for p in pages] == [1, 1]
    assert quota["serviceEnvironmentArn"].endswith("/quota")
    assert batch.describe_service_environments(serviceEnvironments=["nope"])["serviceEnvironments"] == []


@pytest.mark.parametrize("limits, text", [
    ([], "at least one capacity limit"),
    ([{"maxCapacity": -1, "capacityUnit": "NUM_INSTANCES"}], "maxCapacity must be a number of instances"),
    ([{"maxCapacity": 1, "capacityUnit": "GPUS"}], "must be NUM_INSTANCES or a SageMaker instance type"),
    ([{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}, {"maxCapacity": 1, "capacityUnit": "ml.m5.large"}],
     "NUM_INSTANCES can't be combined"),
    ([{"maxCapacity": 1, "capacityUnit": "ml.m5.large"}, {"maxCapacity": 2, "capacityUnit": "ml.m5.large"}],
     "listed more than once"),
])
def test_create_rejects_bad_capacity_limits(batch, limits, text):
    assert text in client_error(create, batch, limits=limits)


def test_duplicate_name_and_bad_type(batch):
    create(batch)
    assert "already exists" in client_error(create, batch)
    with pytest.raises(ClientError) as exc:  # the model's enum, checked by the wire layer
        batch.create_service_environment(serviceEnvironmentName="x", serviceEnvironmentType="ECS",
                                         capacityLimits=LIMITS)
    assert exc.value.response["Error"]["Code"] == "ClientException"


def test_update_state_and_limits(batch):
    create(batch)
    out = batch.update_service_environment(serviceEnvironment="se", state="DISABLED",
                                           capacityLimits=[{"maxCapacity": 3, "capacityUnit": "NUM_INSTANCES"}])
    assert out["serviceEnvironmentName"] == "se"
    d = describe(batch)
    assert d["state"] == "DISABLED" and d["status"] == "VALID" and d["capacityLimits"][0]["maxCapacity"] == 3
    assert "can't change between NUM_INSTANCES and instance-type" in client_error(
        batch.update_service_environment, serviceEnvironment="se",
        capacityLimits=[{"maxCapacity": 3, "capacityUnit": "ml.m5.large"}])
    assert "Service environment nope does not exist" in client_error(
        batch.update_service_environment, serviceEnvironment="nope", state="ENABLED")


def test_sagemaker_queue_on_a_service_environment(batch):
    se_arn = create(batch)["serviceEnvironmentArn"]
    batch.create_job_queue(jobQueueName="sm", priority=1,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "se"}],
                           jobStateTimeLimitActions=[{"reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
                                                      "state": "RUNNABLE", "maxTimeSeconds": 600,
                                                      "action": "TERMINATE"}])
    (q,) = batch.describe_job_queues(jobQueues=["sm"])["jobQueues"]
    assert q["jobQueueType"] == "SAGEMAKER_TRAINING"
    assert q["serviceEnvironmentOrder"] == [{"order": 1, "serviceEnvironment": se_arn}]


def test_delete_needs_disabled_and_no_queue(batch):
    create(batch)
    batch.create_job_queue(jobQueueName="sm", priority=1,
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "se"}])
    assert "disable it with UpdateServiceEnvironment first" in client_error(
        batch.delete_service_environment, serviceEnvironment="se")
    batch.update_service_environment(serviceEnvironment="se", state="DISABLED")
    assert client_error(batch.delete_service_environment, serviceEnvironment="se") == \
        "Cannot delete, found existing JobQueue relationship"
    batch.update_job_queue(jobQueue="sm", state="DISABLED")
    batch.delete_job_queue(jobQueue="sm")
    batch.delete_service_environment(serviceEnvironment="se")
    assert batch.describe_service_environments()["serviceEnvironments"] == []
    assert "does not exist" in client_error(batch.delete_service_environment, serviceEnvironment="se")


def test_status_settles_like_compute_environments():
    with running_server(settle_seconds=30) as server:
        batch = server.client("batch")
        create(batch)
        assert describe(batch)["status"] == "CREATING"
        assert "being modified" in client_error(batch.update_service_environment, serviceEnvironment="se",
                                                state="DISABLED")
        # A queue can only use a VALID environment (ref §4.1).
        assert "must be VALID" in client_error(
            batch.create_job_queue, jobQueueName="sm", priority=1,
            serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "se"}])
