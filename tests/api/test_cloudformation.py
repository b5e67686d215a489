"""CloudFormation stacks (moto's, on the same endpoint) with AWS::Batch::ComputeEnvironment,
JobQueue, JobDefinition and SchedulingPolicy resources: created, updated and deleted through
batchemu, so the stack and the Batch API agree; Ref and Fn::GetAtt as CloudFormation documents
them (the ARN; ComputeEnvironmentArn, JobQueueArn, JobDefinitionArn, Arn).

moto's state is per Python process, so each test works in an account of its own."""

from __future__ import annotations

import copy
import json

import botocore.exceptions
import pytest

from batchemu.testing import running_server
from tests.e2e.support import new_account

TEMPLATE = {
    "Parameters": {"QueuePriority": {"Type": "Number", "Default": "5"}},
    "Resources": {
        "Compute": {"Type": "AWS::Batch::ComputeEnvironment", "Properties": {
            "Type": "MANAGED",
            "ComputeResources": {"Type": "EC2", "MinvCpus": 0, "MaxvCpus": "64", "InstanceTypes": ["optimal"],
                                 "Subnets": ["subnet-1"], "InstanceRole": "ecsInstanceRole",
                                 "Tags": {"Name": "batch-instance"}},
            "Tags": {"team": "genomics"}}},
        "Policy": {"Type": "AWS::Batch::SchedulingPolicy", "Properties": {
            "Name": "fair",
            "FairsharePolicy": {"ShareDecaySeconds": 3600,
                                "ShareDistribution": [{"ShareIdentifier": "A", "WeightFactor": "0.5"}]}}},
        "Queue": {"Type": "AWS::Batch::JobQueue", "Properties": {
            "Priority": {"Ref": "QueuePriority"},
            "SchedulingPolicyArn": {"Ref": "Policy"},
            "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": {"Ref": "Compute"}}]}},
        "Definition": {"Type": "AWS::Batch::JobDefinition", "Properties": {
            "Type": "container",
            "Parameters": {"inputFile": "s3://bucket/in"},
            "ContainerProperties": {
                "Image": "busybox",
                "Command": ["echo", "Ref::inputFile"],
                "ResourceRequirements": [{"Type": "MEMORY", "Value": 2048}, {"Type": "VCPU", "Value": 2}],
                "Environment": [{"Name": "MODE", "Value": "fast"}]},
            "RetryStrategy": {"Attempts": "2"}}},
    },
    "Outputs": {
        "ComputeArn": {"Value": {"Fn::GetAtt": ["Compute", "ComputeEnvironmentArn"]}},
        "ComputeRef": {"Value": {"Ref": "Compute"}},
        "QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "JobQueueArn"]}},
        "QueueRef": {"Value": {"Ref": "Queue"}},
        "DefinitionArn": {"Value": {"Fn::GetAtt": ["Definition", "JobDefinitionArn"]}},
        "DefinitionRef": {"Value": {"Ref": "Definition"}},
        "PolicyArn": {"Value": {"Fn::GetAtt": ["Policy", "Arn"]}},
    },
}


@pytest.fixture()
def account():
    return new_account()


@pytest.fixture()
def batch(server, account):
    return server.client("batch", access_key=account)


@pytest.fixture()
def cfn(server, account):
    return server.client("cloudformation", access_key=account)


def outputs(cfn, stack: str) -> dict:
    found = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}


def physical_ids(cfn, stack: str) -> dict:
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"]}


def test_a_stack_creates_its_batch_resources_in_batchemu(batch, cfn, account, server):
    cfn.create_stack(StackName="pipeline", TemplateBody=json.dumps(TEMPLATE))
    assert cfn.describe_stacks(StackName="pipeline")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    out, ids = outputs(cfn, "pipeline"), physical_ids(cfn, "pipeline")

    (env,) = batch.describe_compute_environments()["computeEnvironments"]
    assert env["computeEnvironmentName"].startswith("pipeline-Compute-")  # CloudFormation's generated name
    assert out["ComputeArn"] == out["ComputeRef"] == ids["Compute"] == env["computeEnvironmentArn"]
    assert (env["status"], env["state"], env["tags"]) == ("VALID", "ENABLED", {"team": "genomics"})
    assert env["computeResources"]["maxvCpus"] == 64 and env["computeResources"]["tags"] == {"Name": "batch-instance"}
    # Its ECS cluster exists like any compute environment's.
    assert server.client("ecs", access_key=account).list_clusters()["clusterArns"] == [env["ecsClusterArn"]]

    (policy,) = batch.describe_scheduling_policies(arns=[out["PolicyArn"]])["schedulingPolicies"]
    assert policy["name"] == "fair" and ids["Policy"] == policy["arn"]
    assert policy["fairsharePolicy"]["shareDistribution"] == [{"shareIdentifier": "A", "weightFactor": 0.5}]

    (queue,) = batch.describe_job_queues()["jobQueues"]
    assert out["QueueArn"] == out["QueueRef"] == ids["Queue"] == queue["jobQueueArn"]
    assert queue["priority"] == 5 and queue["schedulingPolicyArn"] == policy["arn"]
    assert queue["computeEnvironmentOrder"] == [{"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}]

    (definition,) = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    assert out["DefinitionArn"] == out["DefinitionRef"] == ids["Definition"] == definition["jobDefinitionArn"]
    assert definition["jobDefinitionArn"].endswith(":1")
    assert definition["parameters"] == {"inputFile": "s3://bucket/in"}
    assert definition["retryStrategy"]["attempts"] == 2
    container = definition["containerProperties"]
    assert container["resourceRequirements"] == [{"value": "2048", "type": "MEMORY"}, {"value": "2", "type": "VCPU"}]
    assert container["environment"] == [{"name": "MODE", "value": "fast"}]

    # The stack's queue takes jobs like any other.
    job = batch.submit_job(jobName="j", jobQueue=out["QueueRef"], jobDefinition=out["DefinitionRef"],
                           shareIdentifier="A")
    assert batch.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["jobQueue"] == queue["jobQueueArn"]


def test_a_stack_update_changes_the_resources_and_delete_removes_them(batch, cfn, server, account):
    cfn.create_stack(StackName="s", TemplateBody=json.dumps(TEMPLATE))
    before = outputs(cfn, "s")
    cluster = batch.describe_compute_environments()["computeEnvironments"][0]["ecsClusterArn"]

    changed = copy.deepcopy(TEMPLATE)
    changed["Resources"]["Compute"]["Properties"]["ComputeResources"]["MaxvCpus"] = 128
    changed["Resources"]["Policy"]["Properties"]["FairsharePolicy"]["ShareDecaySeconds"] = 7200
    changed["Resources"]["Definition"]["Properties"]["ContainerProperties"]["Command"] = ["echo", "v2"]
    cfn.update_stack(StackName="s", TemplateBody=json.dumps(changed),
                     Parameters=[{"ParameterKey": "QueuePriority", "ParameterValue": "9"}])
    after = outputs(cfn, "s")

    assert batch.describe_job_queues()["jobQueues"][0]["priority"] == 9
    assert after["QueueArn"] == before["QueueArn"]  # updated in place
    (env,) = batch.describe_compute_environments()["computeEnvironments"]
    assert (env["computeResources"]["maxvCpus"], env["status"]) == (128, "VALID")
    assert env["computeEnvironmentArn"] == before["ComputeArn"]
    policy = batch.describe_scheduling_policies(arns=[before["PolicyArn"]])["schedulingPolicies"][0]
    assert policy["fairsharePolicy"]["shareDecaySeconds"] == 7200
    # A job definition change is a new revision (a new Ref); the old one is deregistered.
    assert after["DefinitionRef"].endswith(":2") and after["DefinitionRef"] == physical_ids(cfn, "s")["Definition"]
    revisions = {d["revision"]: (d["status"], d["containerProperties"]["command"])
                 for d in batch.describe_job_definitions()["jobDefinitions"]}
    assert revisions == {1: ("INACTIVE", ["echo", "Ref::inputFile"]), 2: ("ACTIVE", ["echo", "v2"])}

    cfn.delete_stack(StackName="s")
    assert batch.describe_job_queues()["jobQueues"] == []
    assert batch.describe_compute_environments()["computeEnvironments"] == []
    assert batch.list_scheduling_policies()["schedulingPolicies"] == []
    assert {d["status"] for d in batch.describe_job_definitions()["jobDefinitions"]} == {"INACTIVE"}
    ecs = server.client("ecs", access_key=account)
    assert [c["status"] for c in ecs.describe_clusters(clusters=[cluster])["clusters"]] == ["INACTIVE"]


def test_update_policy_and_tags_reach_the_resources(batch, cfn):
    template = copy.deepcopy({"Resources": {k: v for k, v in TEMPLATE["Resources"].items() if k in ("Compute", "Queue")}})
    del template["Resources"]["Queue"]["Properties"]["SchedulingPolicyArn"]
    template["Resources"]["Queue"]["Properties"].update(Priority=1, Tags={"stage": "dev", "owner": "me"})
    # UpdatePolicy is not a CreateComputeEnvironment parameter (ref §3.5): set by an update.
    template["Resources"]["Compute"]["Properties"]["UpdatePolicy"] = {"JobExecutionTimeoutMinutes": 45}
    cfn.create_stack(StackName="t", TemplateBody=json.dumps(template))
    env = batch.describe_compute_environments()["computeEnvironments"][0]
    assert env["updatePolicy"]["jobExecutionTimeoutMinutes"] == 45
    queue_arn = batch.describe_job_queues()["jobQueues"][0]["jobQueueArn"]
    assert batch.list_tags_for_resource(resourceArn=queue_arn)["tags"] == {"stage": "dev", "owner": "me"}

    template["Resources"]["Queue"]["Properties"]["Tags"] = {"stage": "prod"}
    template["Resources"]["Compute"]["Properties"]["State"] = "DISABLED"
    cfn.update_stack(StackName="t", TemplateBody=json.dumps(template))
    assert batch.list_tags_for_resource(resourceArn=queue_arn)["tags"] == {"stage": "prod"}
    assert batch.describe_compute_environments()["computeEnvironments"][0]["state"] == "DISABLED"


def test_replacing_a_resource_creates_the_new_one_and_deletes_the_old(batch, cfn):
    template = {"Resources": {"Policy": {"Type": "AWS::Batch::SchedulingPolicy", "Properties": {"Name": "one"}}}}
    cfn.create_stack(StackName="r", TemplateBody=json.dumps(template))
    template["Resources"]["Policy"]["Properties"]["Name"] = "two"  # Name: update requires replacement
    cfn.update_stack(StackName="r", TemplateBody=json.dumps(template))
    assert [p["arn"].rsplit("/", 1)[1] for p in batch.list_scheduling_policies()["schedulingPolicies"]] == ["two"]


def test_a_batch_error_fails_the_stack_operation_with_its_message(cfn, batch):
    bad = {"Resources": {"Queue": {"Type": "AWS::Batch::JobQueue", "Properties": {
        "Priority": 1, "ComputeEnvironmentOrder": [{"Order": 1, "ComputeEnvironment": "no-such-env"}]}}}}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.create_stack(StackName="bad", TemplateBody=json.dumps(bad))
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-env" in err.value.response["Error"]["Message"]
    assert batch.describe_job_queues()["jobQueues"] == []

    unknown = {"Resources": {"Policy": {"Type": "AWS::Batch::SchedulingPolicy", "Properties": {"Colour": "red"}}}}
    with pytest.raises(botocore.exceptions.ClientError) as err:
        cfn.create_stack(StackName="bad2", TemplateBody=json.dumps(unknown))
    assert "Encountered unsupported property Colour" in err.value.response["Error"]["Message"]


def test_stack_operations_wait_for_resources_to_settle():
    """With a settle time, CloudFormation waits for VALID before the queue that uses the
    compute environment, and for each deletion before the next."""
    with running_server(settle_seconds=0.3) as slow:
        account = new_account()
        cfn, batch = slow.client("cloudformation", access_key=account), slow.client("batch", access_key=account)
        template = {"Resources": {k: v for k, v in TEMPLATE["Resources"].items() if k in ("Compute", "Queue")}}
        template["Resources"]["Queue"] = copy.deepcopy(template["Resources"]["Queue"])
        del template["Resources"]["Queue"]["Properties"]["SchedulingPolicyArn"]
        template["Resources"]["Queue"]["Properties"]["Priority"] = 1
        cfn.create_stack(StackName="slow", TemplateBody=json.dumps(template))
        assert [q["status"] for q in batch.describe_job_queues()["jobQueues"]] == ["VALID"]
        cfn.delete_stack(StackName="slow")
        # Deleted, not DELETING: CloudFormation's delete returns once they are (AWS describes a
        # DELETED resource for a while before it disappears, ref §3.3).
        assert [q["status"] for q in batch.describe_job_queues()["jobQueues"]] in ([], ["DELETED"])
        assert [e["status"] for e in batch.describe_compute_environments()["computeEnvironments"]] in ([], ["DELETED"])
