"""CreateComputeEnvironment / Describe / Update / Delete through real boto3 (ref §3)."""

import pytest
from botocore.exceptions import ClientError
from tests.helpers import client_error

EC2 = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_create_and_describe_managed_ec2(batch):
    out = batch.create_compute_environment(computeEnvironmentName="ce1", type="MANAGED",
                                           computeResources=EC2, tags={"team": "a"})
    assert out["computeEnvironmentArn"] == "arn:aws:batch:us-east-1:%s:compute-environment/ce1" % \
        out["computeEnvironmentArn"].split(":")[4]
    (ce,) = batch.describe_compute_environments(computeEnvironments=["ce1"])["computeEnvironments"]
    assert ce["status"] == "VALID" and ce["state"] == "ENABLED"
    assert ce["statusReason"] == "ComputeEnvironment Healthy"
    assert ce["computeResources"]["minvCpus"] == 0 and ce["computeResources"]["maxvCpus"] == 16
    assert ce["ecsClusterArn"].startswith("arn:aws:ecs:us-east-1:") and "cluster/ce1_Batch_" in ce["ecsClusterArn"]
    assert ce["serviceRole"].endswith("role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch")
    assert ce["tags"] == {"team": "a"}


def test_describe_by_arn_and_unknown_names(batch):
    arn = batch.create_compute_environment(computeEnvironmentName="byarn", type="UNMANAGED",
                                           unmanagedvCpus=4)["computeEnvironmentArn"]
    got = batch.describe_compute_environments(computeEnvironments=[arn, "nope"])["computeEnvironments"]
    assert [c["computeEnvironmentName"] for c in got] == ["byarn"]
    assert got[0]["unmanagedvCpus"] == 4 and "computeResources" not in got[0]


@pytest.mark.parametrize("kwargs, needle", [
    ({"type": "MANAGED"}, "computeResources"),
    ({"type": "UNMANAGED", "computeResources": EC2}, "computeResources"),
    ({"type": "MANAGED", "computeResources": {**EC2, "instanceRole": None}}, "Instance role is required"),
    ({"type": "MANAGED", "computeResources": {"type": "FARGATE", "maxvCpus": 4, "subnets": ["s"]}},
     "securityGroupIds"),
    ({"type": "MANAGED", "computeResources": {"type": "FARGATE", "maxvCpus": 4, "subnets": ["s"],
                                              "securityGroupIds": ["sg"], "instanceRole": "r"}},
     "instanceRole"),
    ({"type": "MANAGED", "computeResources": {**EC2, "minvCpus": 32}}, "minvCpus"),
])
def test_create_rejects_bad_input(batch, kwargs, needle):
    kwargs = dict(kwargs)
    if "computeResources" in kwargs:
        kwargs["computeResources"] = {k: v for k, v in kwargs["computeResources"].items() if v is not None}
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="bad", **kwargs)
    code, message = error(exc)
    assert code == "ClientException" and needle in message
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_name_and_duplicate(batch):
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="-bad", type="UNMANAGED")
    assert "computeEnvironmentName" in error(exc)[1]
    batch.create_compute_environment(computeEnvironmentName="dup", type="UNMANAGED")
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="dup", type="UNMANAGED")
    assert "already exists" in error(exc)[1]


def test_update_delete_rules(batch):
    batch.create_compute_environment(computeEnvironmentName="upd", type="MANAGED", computeResources=EC2)
    batch.update_compute_environment(computeEnvironment="upd", computeResources={"maxvCpus": 32})
    (ce,) = batch.describe_compute_environments(computeEnvironments=["upd"])["computeEnvironments"]
    assert ce["computeResources"]["maxvCpus"] == 32
    with pytest.raises(ClientError) as exc:  # enabled
        batch.delete_compute_environment(computeEnvironment="upd")
    assert "ENABLED" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        batch.update_compute_environment(computeEnvironment="missing", state="DISABLED")
    assert "does not exist" in error(exc)[1]
    batch.update_compute_environment(computeEnvironment="upd", state="DISABLED")
    batch.delete_compute_environment(computeEnvironment="upd")
    assert batch.describe_compute_environments(computeEnvironments=["upd"])["computeEnvironments"] == []
    with pytest.raises(ClientError) as exc:
        batch.delete_compute_environment(computeEnvironment="upd")
    assert "does not exist" in error(exc)[1]


def test_best_fit_cannot_take_infrastructure_update(batch):
    batch.create_compute_environment(computeEnvironmentName="bf", type="MANAGED", computeResources=EC2)
    with pytest.raises(ClientError) as exc:
        batch.update_compute_environment(computeEnvironment="bf", computeResources={"instanceTypes": ["c5"]})
    assert "BEST_FIT" in error(exc)[1]


def test_list_and_max_results_conflict(batch):
    with pytest.raises(ClientError) as exc:
        batch.describe_compute_environments(computeEnvironments=["a"], maxResults=5)
    assert "ComputeEnvironments and MaxResults cannot both be set" in error(exc)[1]


def test_pagination_covers_every_item_once(batch):
    for i in range(7):
        batch.create_compute_environment(computeEnvironmentName=f"pg{i}", type="UNMANAGED")
    pages = list(batch.get_paginator("describe_compute_environments").paginate(
        PaginationConfig={"PageSize": 3}))
    names = [c["computeEnvironmentName"] for p in pages for c in p["computeEnvironments"]]
    assert names == [f"pg{i}" for i in range(7)]
    assert [len(p["computeEnvironments"]) for p in pages] == [3, 3, 1]
    assert "nextToken" not in pages[-1]


def test_accounts_and_regions_are_isolated(server):
    a = server.client(access_key="111111111111")
    b = server.client(access_key="222222222222")
    west = server.client(access_key="111111111111", region="us-west-2")
    a.create_compute_environment(computeEnvironmentName="iso", type="UNMANAGED")
    assert b.describe_compute_environments()["computeEnvironments"] == []
    assert west.describe_compute_environments()["computeEnvironments"] == []
    (ce,) = a.describe_compute_environments()["computeEnvironments"]
    assert ce["computeEnvironmentArn"] == "arn:aws:batch:us-east-1:111111111111:compute-environment/iso"


def test_settle_delay_shows_transitional_status():
    from batchemu.testing import running_server
    with running_server(settle_seconds=30) as s:
        c = s.client()
        c.create_compute_environment(computeEnvironmentName="slow", type="UNMANAGED")
        (ce,) = c.describe_compute_environments()["computeEnvironments"]
        assert ce["status"] == "CREATING"
        with pytest.raises(ClientError) as exc:
            c.update_compute_environment(computeEnvironment="slow", state="DISABLED")
        assert "being modified" in error(exc)[1]


def test_unknown_instance_types_are_refused(batch):
    # ref §3.1 [observed, Netflix/metaflow#70]: sizes, families and the three aliases only.
    base = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
            "instanceRole": "ecsInstanceRole"}
    message = client_error(batch.create_compute_environment, computeEnvironmentName="bad", type="MANAGED",
                           computeResources={**base, "instanceTypes": ["optimal", "unknown"]})
    assert message.startswith("Error executing request, Exception : Instance type can only be one of "
                              "[optimal, default_x86_64, default_arm64, ")
    assert "c5.9xlarge" in message and "unknown" not in message
    good = ["c5", "c5.9xlarge", "default_x86_64", "m6g.large"]
    batch.create_compute_environment(computeEnvironmentName="good", type="MANAGED",
                                     computeResources={**base, "instanceTypes": good,
                                                       "allocationStrategy": "BEST_FIT_PROGRESSIVE"})
    (ce,) = batch.describe_compute_environments(computeEnvironments=["good"])["computeEnvironments"]
    assert ce["computeResources"]["instanceTypes"] == good
    assert "Instance type can only be one of" in client_error(
        batch.update_compute_environment, computeEnvironment="good", computeResources={"instanceTypes": ["x9"]})
