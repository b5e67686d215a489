"""SubmitJob of multi-node parallel job definitions through real boto3 (ref §12, §6.1, §6.8):
nodeOverrides checked against the definition and merged into the job's nodeProperties, what a
multi-node job can't be (an array job; given containerOverrides), ecsProperties ranges and
their overrides, and the node listing selector. This server has no runner, so jobs wait in RUNNABLE."""

import pytest
from botocore.exceptions import ClientError

from tests.api.test_jobs import CE, message

NODE = {"image": "busybox", "command": ["sh", "-c", "echo Ref::word"],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
        "environment": [{"name": "ROLE", "value": "worker"}]}


def definition(batch, name="mnp", num=4, ranges=None):
    ranges = ranges or [{"targetNodes": "0:0", "container": dict(NODE, environment=[{"name": "ROLE", "value": "main"}])},
                        {"targetNodes": "1:", "container": NODE}]
    batch.register_job_definition(jobDefinitionName=name, type="multinode", parameters={"word": "hi"},
                                  nodeProperties={"numNodes": num, "mainNode": 0, "nodeRangeProperties": ranges})
    return name


@pytest.fixture()
def setup(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE)
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    definition(batch)
    return batch


def submit(batch, **extra):
    return batch.submit_job(jobName="j", jobQueue="q", jobDefinition=extra.pop("jobDefinition", "mnp"), **extra)


def test_the_job_shows_its_node_properties_with_the_overrides_merged(setup):
    job_id = submit(setup, parameters={"word": "yo"}, nodeOverrides={"numNodes": 6, "nodePropertyOverrides": [
        {"targetNodes": "1:5", "containerOverrides": {
            "environment": [{"name": "EXTRA", "value": "x"}],
            "resourceRequirements": [{"type": "VCPU", "value": "2"}]}}]})["jobId"]
    (job,) = setup.describe_jobs(jobs=[job_id])["jobs"]
    props = job["nodeProperties"]
    assert (props["numNodes"], props["mainNode"]) == (6, 0)
    main, workers = props["nodeRangeProperties"]
    assert (main["targetNodes"], workers["targetNodes"]) == ("0:0", "1:")
    assert main["container"]["command"] == ["sh", "-c", "echo yo"]  # Ref:: with the submitted parameters (ref §5.5)
    assert {e["name"]: e["value"] for e in workers["container"]["environment"]} == {"ROLE": "worker", "EXTRA": "x"}
    assert {r["type"]: r["value"] for r in workers["container"]["resourceRequirements"]} == {"VCPU": "2", "MEMORY": "128"}
    assert "container" not in job  # the nodes have containers, the job has none
    assert job["status"] in ("SUBMITTED", "RUNNABLE")


@pytest.mark.parametrize("extra, expected", [
    ({"arrayProperties": {"size": 2}}, "arrayProperties can't be used with a multinode job definition"),
    ({"containerOverrides": {"command": ["x"]}}, "containerOverrides can't be used with a multinode job definition"),
    ({"nodeOverrides": {"nodePropertyOverrides": [{"targetNodes": "0:1", "containerOverrides": {}}]}},
     "NodeOverride targets should match job definition. Non matching targets - 0:1"),
    ({"nodeOverrides": {"numNodes": 1}}, "nodeOverrides.numNodes 1 must be greater than the start of the open-ended"),
    ({"nodeOverrides": {"nodePropertyOverrides": [{"targetNodes": "1:", "containerOverrides": {
        "environment": [{"name": "AWS_BATCH_X", "value": "1"}]}}]}}, "AWS_BATCH"),
])
def test_submit_refuses_what_a_multinode_job_cant_carry(setup, extra, expected):
    with pytest.raises(ClientError) as exc:
        submit(setup, **extra)
    assert expected in message(exc)


def test_numnodes_can_only_be_overridden_with_an_open_ended_range(setup):
    definition(setup, "closed", num=2, ranges=[{"targetNodes": "0:1", "container": NODE}])
    with pytest.raises(ClientError) as exc:
        submit(setup, jobDefinition="closed", nodeOverrides={"numNodes": 3})
    assert "nodeOverrides.numNodes can only be given when a node range of the job definition is open-ended" \
        in message(exc)
    definition(setup, "main-high", num=4, ranges=[{"targetNodes": "0:", "container": NODE}])
    setup.register_job_definition(jobDefinitionName="main3", type="multinode", nodeProperties={
        "numNodes": 4, "mainNode": 3, "nodeRangeProperties": [{"targetNodes": "0:", "container": NODE}]})
    with pytest.raises(ClientError) as exc:
        submit(setup, jobDefinition="main3", nodeOverrides={"numNodes": 2})
    assert "must be greater than mainNode 3" in message(exc)


def test_node_overrides_need_a_multinode_definition(setup):
    setup.register_job_definition(jobDefinitionName="single", type="container", containerProperties=NODE)
    with pytest.raises(ClientError) as exc:
        submit(setup, jobDefinition="single", nodeOverrides={"numNodes": 2})
    assert "nodeOverrides can only be used with a multinode job definition" in message(exc)


def test_an_ecs_properties_node_range_takes_its_ecs_properties_override(setup):
    setup.register_job_definition(jobDefinitionName="ecs-nodes", type="multinode", parameters={"word": "hi"},
                                  nodeProperties={
        "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "ecsProperties": {
            "taskProperties": [{"containers": [dict(NODE, name="c"), dict(NODE, name="side", essential=False)]}]}}]})
    job_id = submit(setup, jobDefinition="ecs-nodes", nodeOverrides={"nodePropertyOverrides": [
        {"targetNodes": "0:", "ecsPropertiesOverride": {"taskProperties": [{"containers": [
            {"name": "side", "command": ["echo", "Ref::word"]}]}]}}]})["jobId"]
    job = setup.describe_jobs(jobs=[job_id])["jobs"][0]
    containers = job["nodeProperties"]["nodeRangeProperties"][0]["ecsProperties"]["taskProperties"][0]["containers"]
    assert [(c["name"], c["command"], c["essential"]) for c in containers] == [
        ("c", ["sh", "-c", "echo hi"], True), ("side", ["echo", "hi"], False)]


def test_a_node_range_override_must_match_the_ranges_kind(setup):
    setup.register_job_definition(jobDefinitionName="ecs-nodes", type="multinode", nodeProperties={
        "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "ecsProperties": {
            "taskProperties": [{"containers": [dict(NODE, name="c")]}]}}]})
    with pytest.raises(ClientError) as exc:
        submit(setup, jobDefinition="ecs-nodes", nodeOverrides={"nodePropertyOverrides": [
            {"targetNodes": "0:", "containerOverrides": {"command": ["true"]}}]})
    assert "containerOverrides can't override a node range with ecsProperties; use ecsPropertiesOverride" \
        in message(exc)
    with pytest.raises(ClientError) as exc:
        submit(setup, nodeOverrides={"nodePropertyOverrides": [
            {"targetNodes": "1:", "eksPropertiesOverride": {"podProperties": {}}}]})
    assert "eksPropertiesOverride can't override a node range with container; use containerOverrides" in message(exc)
    with pytest.raises(ClientError) as exc:
        submit(setup, jobDefinition="ecs-nodes", nodeOverrides={"nodePropertyOverrides": [
            {"targetNodes": "0:", "ecsPropertiesOverride": {"taskProperties": [{"containers": [
                {"name": "nope", "command": ["true"]}]}]}}]})
    assert "'nope' doesn't name a container of the job definition" in message(exc)


def test_list_jobs_by_multi_node_job_id_lists_no_nodes_before_the_job_starts(setup):
    job_id = submit(setup)["jobId"]
    assert setup.list_jobs(multiNodeJobId=job_id, jobStatus="RUNNABLE")["jobSummaryList"] == []
    listed = setup.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [(j["jobId"], j.get("nodeProperties")) for j in listed] == [(job_id, {"numNodes": 4})]
