"""RegisterJobDefinition / DescribeJobDefinitions / DeregisterJobDefinition through real boto3
(ref §5, §9, §10, §12): validation as a user sees it, revisions, the echoed document."""

import json

import pytest
from botocore.exceptions import ClientError

# examples-1.json "sleep10" (ref §5.2)
SLEEP10 = {"command": ["sleep", "10"], "image": "busybox",
           "resourceRequirements": [{"type": "MEMORY", "value": "128"}, {"type": "VCPU", "value": "1"}]}
FARGATE = {"image": "busybox", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
           "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}]}
NODE = {"image": "busybox", "vcpus": 1, "memory": 128}
ECS_CONTAINER = {"name": "main", "image": "busybox",
                 "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}
EKS = {"podProperties": {"containers": [{"image": "busybox", "command": ["true"]}]}}


def fails(call, **kwargs) -> str:
    """The message of the ClientException (HTTP 400) that `call` must raise."""
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    response = exc.value.response
    assert response["Error"]["Code"] == "ClientException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return response["Error"]["Message"]


def register(batch, name="jd", **kwargs):
    kwargs.setdefault("type", "container")
    if kwargs["type"] == "container" and not any(
            k in kwargs for k in ("containerProperties", "ecsProperties", "eksProperties")):
        kwargs["containerProperties"] = SLEEP10
    kwargs = {k: v for k, v in kwargs.items() if v is not None}  # None: leave the member out
    return batch.register_job_definition(jobDefinitionName=name, **kwargs)


def describe(batch, **kwargs):
    return batch.describe_job_definitions(**kwargs)["jobDefinitions"]


def mnp(num_nodes=3, main=0, ranges=None):
    ranges = ranges or [{"targetNodes": "0:", "container": NODE}]
    return {"numNodes": num_nodes, "mainNode": main, "nodeRangeProperties": ranges}


# -- the registered document ------------------------------------------------------------------

def test_sleep10_round_trips_with_echoed_empty_collections(batch):
    out = batch.register_job_definition(jobDefinitionName="sleep10", type="container",
                                        containerProperties=SLEEP10)
    account = out["jobDefinitionArn"].split(":")[4]
    assert out["jobDefinitionArn"] == f"arn:aws:batch:us-east-1:{account}:job-definition/sleep10:1"
    assert out["jobDefinitionName"] == "sleep10" and out["revision"] == 1
    (jd,) = describe(batch, jobDefinitions=["sleep10:1"])
    # examples-1.json's output, plus `secrets: []` (issue 15: today's service echoes it too;
    # the 2016 example predates secrets).
    assert jd["containerProperties"] == {
        "command": ["sleep", "10"], "environment": [], "image": "busybox", "mountPoints": [],
        "resourceRequirements": [{"type": "MEMORY", "value": "128"}, {"type": "VCPU", "value": "1"}],
        "ulimits": [], "volumes": [], "secrets": []}
    assert jd["parameters"] == {} and jd["status"] == "ACTIVE" and jd["type"] == "container"
    assert jd["platformCapabilities"] == ["EC2"] and "propagateTags" not in jd
    assert jd["containerOrchestrationType"] == "ECS"
    assert jd["tags"] == {} and "retryStrategy" not in jd and "timeout" not in jd


def test_untagged_definition_echoes_empty_lists_and_only_given_propagate_tags(batch):
    # issue 15 (moto's suite triage): no command -> [], legacy vcpus/memory -> resourceRequirements
    # [], tags {} when none, propagateTags only when the registration gave it.
    batch.register_job_definition(jobDefinitionName="bare", type="container",
                                  containerProperties={"image": "busybox", "vcpus": 1, "memory": 4})
    (jd,) = describe(batch, jobDefinitionName="bare")
    cp = jd["containerProperties"]
    assert cp["command"] == [] and cp["resourceRequirements"] == [] and cp["secrets"] == []
    assert jd["tags"] == {} and "propagateTags" not in jd
    for given in (False, True):
        batch.register_job_definition(jobDefinitionName=f"p{given}", type="container", propagateTags=given,
                                      containerProperties={"image": "busybox", "vcpus": 1, "memory": 4})
        assert describe(batch, jobDefinitionName=f"p{given}")[0]["propagateTags"] is given


def test_eks_definition_echoes_empty_container_and_pod_lists(batch):
    batch.register_job_definition(jobDefinitionName="eks", type="container", eksProperties={
        "podProperties": {"containers": [{"name": "main", "image": "python:3.11"}],
                          "initContainers": [{"name": "init", "image": "busybox", "args": ["x"]}]}})
    (jd,) = describe(batch, jobDefinitionName="eks")
    pod = jd["eksProperties"]["podProperties"]
    assert pod["volumes"] == []
    assert pod["containers"][0] == {"name": "main", "image": "python:3.11", "command": [], "args": [],
                                    "env": [], "volumeMounts": []}
    assert pod["initContainers"][0]["args"] == ["x"] and pod["initContainers"][0]["env"] == []


def test_every_given_member_is_kept_as_given(batch):
    retry = {"attempts": 3, "evaluateOnExit": [
        {"action": "retry", "onStatusReason": "Host EC2*"},
        {"action": "EXIT", "onExitCode": "1*", "onReason": "Out of memory: killed"},
        {"action": "exit", "onReason": "*"}]}
    container = {**SLEEP10, "command": ["echo", "Ref::msg"], "jobRoleArn": "arn:aws:iam::1:role/r",
                 "volumes": [{"name": "data", "host": {"sourcePath": "/tmp"}}],
                 "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
                 "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 2048}],
                 "secrets": [{"name": "TOKEN", "valueFrom": "arn:aws:ssm:us-east-1:1:parameter/t"}]}
    register(batch, "full", containerProperties=container, parameters={"msg": "hi"},
             retryStrategy=retry, timeout={"attemptDurationSeconds": 60}, tags={"team": "a"},
             propagateTags=True, schedulingPriority=9999,
             consumableResourceProperties={"consumableResourceList": [
                 {"consumableResource": "licenses", "quantity": 2}]})
    (jd,) = describe(batch, jobDefinitionName="full")
    assert jd["containerProperties"] == {**container, "environment": []}
    # The action is accepted in any case and read back lower-cased (ref §9; Terraform's provider
    # lower-cases it in its state to match the read-back, and moto's suite asserts it).
    lowered = [{**rule, "action": rule["action"].lower()} for rule in retry["evaluateOnExit"]]
    assert jd["retryStrategy"] == {**retry, "evaluateOnExit": lowered}
    assert jd["parameters"] == {"msg": "hi"} and jd["tags"] == {"team": "a"}
    assert jd["timeout"] == {"attemptDurationSeconds": 60}
    assert jd["propagateTags"] is True and jd["schedulingPriority"] == 9999
    assert jd["consumableResourceProperties"]["consumableResourceList"][0]["quantity"] == 2


def test_environment_drops_empty_values_and_keeps_order(batch):
    env = [{"name": "B", "value": "2"}, {"name": "EMPTY", "value": ""}, {"name": "A", "value": "1"},
           {"name": "UNSET"}]
    register(batch, "env", containerProperties={**SLEEP10, "environment": env})
    (jd,) = describe(batch, jobDefinitionName="env")
    assert jd["containerProperties"]["environment"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]


def test_legacy_vcpus_and_memory_are_accepted(batch):
    register(batch, "legacy", containerProperties={"image": "busybox", "vcpus": 2, "memory": 256})
    (jd,) = describe(batch, jobDefinitionName="legacy")
    assert jd["containerProperties"]["vcpus"] == 2 and jd["containerProperties"]["memory"] == 256


def test_fargate_definition_gets_its_defaults(batch):
    register(batch, "fg", containerProperties=FARGATE, platformCapabilities=["FARGATE"])
    (jd,) = describe(batch, jobDefinitionName="fg")
    assert jd["platformCapabilities"] == ["FARGATE"]
    assert jd["containerProperties"]["networkConfiguration"] == {"assignPublicIp": "DISABLED"}
    assert jd["containerProperties"]["fargatePlatformConfiguration"] == {"platformVersion": "LATEST"}
    assert jd["containerProperties"]["resourceRequirements"] == FARGATE["resourceRequirements"]


@pytest.mark.parametrize("vcpu, memory", [("0.25", "2048"), ("0.5", "4096"), ("4", "30720"),
                                          ("8", "61440"), ("16", "122880")])
def test_fargate_accepts_the_documented_combinations(batch, vcpu, memory):
    props = {**FARGATE, "resourceRequirements": [{"type": "VCPU", "value": vcpu},
                                                 {"type": "MEMORY", "value": memory}]}
    assert register(batch, "fgok", containerProperties=props, platformCapabilities=["FARGATE"])["revision"] == 1


def test_multinode_definition_round_trips(batch):
    ranges = [{"targetNodes": "0:0", "container": {**NODE, "command": ["main"]}},
              {"targetNodes": "1:", "container": NODE, "instanceTypes": ["c5.large"]},
              {"targetNodes": "2:2", "container": {**NODE, "command": ["special"]}}]
    register(batch, "mnp", type="multinode", nodeProperties=mnp(4, 0, ranges))
    (jd,) = describe(batch, jobDefinitionName="mnp")
    nodes = jd["nodeProperties"]
    assert jd["type"] == "multinode" and nodes["numNodes"] == 4 and nodes["mainNode"] == 0
    assert [r["targetNodes"] for r in nodes["nodeRangeProperties"]] == ["0:0", "1:", "2:2"]
    assert nodes["nodeRangeProperties"][0]["container"]["command"] == ["main"]
    assert nodes["nodeRangeProperties"][1]["container"]["environment"] == []
    assert jd["platformCapabilities"] == ["EC2"] and "containerProperties" not in jd


def test_ecs_properties_round_trip(batch):
    sidecar = {"name": "side", "image": "busybox", "essential": False,
               "environment": [{"name": "X", "value": "1"}, {"name": "Y", "value": ""}]}
    ecs = {"taskProperties": [{"containers": [ECS_CONTAINER, sidecar]}]}
    register(batch, "ecs", ecsProperties=ecs)
    (jd,) = describe(batch, jobDefinitionName="ecs")
    containers = jd["ecsProperties"]["taskProperties"][0]["containers"]
    assert [c["name"] for c in containers] == ["main", "side"]
    assert containers[1]["environment"] == [{"name": "X", "value": "1"}]
    assert jd["containerOrchestrationType"] == "ECS" and "containerProperties" not in jd


def test_eks_properties_round_trip(batch):
    register(batch, "eks", eksProperties=EKS)
    (jd,) = describe(batch, jobDefinitionName="eks")
    assert jd["containerOrchestrationType"] == "EKS"
    assert jd["eksProperties"]["podProperties"]["containers"][0]["image"] == "busybox"
    assert "platformCapabilities" not in jd


# -- validation -------------------------------------------------------------------------------

def with_resources(*pairs, **extra):
    return {"image": "busybox", "resourceRequirements": [{"type": t, "value": v} for t, v in pairs], **extra}


def fargate(**changes):
    return {"platformCapabilities": ["FARGATE"], "containerProperties": {**FARGATE, **changes}}


BAD_CONTAINER = [
    ({"containerProperties": None}, "type container requires one of containerProperties"),
    ({"containerProperties": SLEEP10, "eksProperties": EKS}, "can't be used in addition to eksProperties"),
    ({"containerProperties": SLEEP10, "nodeProperties": mnp()}, "nodeProperties can only be used with type multinode"),
    ({"containerProperties": {"command": ["x"], "vcpus": 1}}, "containerProperties.image is required"),
    ({"containerProperties": {"image": "busybox"}},
     "Error executing request, Exception : vCPU is not provided., RequestId: "),
    ({"containerProperties": with_resources(("MEMORY", "128"))}, "vCPU is not provided."),
    ({"containerProperties": with_resources(("VCPU", "1.0"))},
     "Error executing request, Exception : Value 1.0 for type VCPU in resourceRequirement is not valid. "
     "Please provide a numeric value., RequestId: "),
    ({"containerProperties": with_resources(("VCPU", "two"))},
     "Value two for type VCPU in resourceRequirement is not valid"),
    ({"containerProperties": with_resources(("VCPU", "0"))},
     "Value 0 for type VCPU in resourceRequirement is not valid"),
    ({"containerProperties": with_resources(("VCPU", "1"), vcpus=1)},
     "VCPU can't be given both in vcpus and in resourceRequirements"),
    ({"containerProperties": with_resources(("VCPU", "1"), ("MEMORY", "3"))}, "MEMORY must be at least 4 MiB"),
    ({"containerProperties": {"image": "busybox", "vcpus": 1, "memory": 3}}, "MEMORY must be at least 4 MiB"),
    ({"containerProperties": {"image": "busybox", "vcpus": 0}}, "containerProperties.vcpus must be at least 1"),
    ({"containerProperties": with_resources(("VCPU", "1"), ("MEMORY", "1.5"))},
     "MEMORY must be a whole number of MiB"),
    ({"containerProperties": with_resources(("VCPU", "1"), ("MEMORY", "128"), ("MEMORY", "256"))},
     "resourceRequirements: type MEMORY is given more than once"),
    ({"containerProperties": with_resources(("VCPU", "1"), ("GPU", "0"))}, "GPU must be a whole number of at least 1"),
    ({"containerProperties": {**SLEEP10, "instanceType": "c5.large"}},
     "containerProperties.instanceType is only valid for multi-node parallel jobs"),
    ({"containerProperties": {**SLEEP10, "environment": [{"name": "AWS_BATCH_X", "value": "1"}]}},
     "containerProperties.environment: variable names can't start with AWS_BATCH"),
    ({"containerProperties": {**SLEEP10, "mountPoints": [{"sourceVolume": "data", "containerPath": "/d"}]}},
     "containerProperties.mountPoints: sourceVolume 'data' doesn't match the name of any volume"),
    ({"platformCapabilities": ["EC2", "FARGATE"]}, "platformCapabilities must be one of"),
]

BAD_FARGATE = [
    (fargate(executionRoleArn=None), "containerProperties.executionRoleArn is required for jobs that run on Fargate"),
    (fargate(resourceRequirements=[{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "4096"}]),
     "MEMORY 4096 MiB isn't valid on Fargate with 0.25 VCPU; allowed: 512, 1024, 2048"),
    (fargate(resourceRequirements=[{"type": "VCPU", "value": "8"}, {"type": "MEMORY", "value": "17408"}]),
     "MEMORY 17408 MiB isn't valid on Fargate with 8 VCPU"),
    (fargate(resourceRequirements=[{"type": "VCPU", "value": "3"}, {"type": "MEMORY", "value": "8192"}]),
     "Value 3 for type VCPU isn't supported on Fargate"),
    (fargate(resourceRequirements=[{"type": "VCPU", "value": "1"}]), "MEMORY is required for jobs that run on Fargate"),
    (fargate(resourceRequirements=FARGATE["resourceRequirements"] + [{"type": "GPU", "value": "1"}]),
     "GPU isn't available on Fargate"),
    (fargate(resourceRequirements=None, vcpus=1, memory=512), "containerProperties.vcpus isn't supported on Fargate"),
    (fargate(privileged=True), "containerProperties.privileged isn't supported for jobs that run on Fargate"),
    (fargate(ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 1}]), "containerProperties.ulimits isn't supported"),
    (fargate(linuxParameters={"devices": [{"hostPath": "/dev/fuse"}]}), "linuxParameters.devices isn't supported"),
    (fargate(linuxParameters={"sharedMemorySize": 64}), "linuxParameters.sharedMemorySize isn't supported"),
    (fargate(linuxParameters={"tmpfs": [{"containerPath": "/t", "size": 1}]}), "linuxParameters.tmpfs isn't supported"),
    (fargate(linuxParameters={"maxSwap": 0}), "linuxParameters.maxSwap isn't supported"),
    (fargate(linuxParameters={"swappiness": 10}), "linuxParameters.swappiness isn't supported"),
    (fargate(volumes=[{"name": "h", "host": {"sourcePath": "/tmp"}}]), "host volumes aren't supported"),
    (fargate(instanceType="c5.large"), "instanceType"),
    (fargate(logConfiguration={"logDriver": "json-file"}), "logDriver json-file isn't supported on Fargate"),
    ({"platformCapabilities": ["FARGATE"], "eksProperties": EKS}, "FARGATE isn't supported for jobs that run on Amazon EKS"),
    ({"type": "multinode", "platformCapabilities": ["FARGATE"], "nodeProperties": mnp()},
     "multinode job definitions aren't supported on Fargate"),
]

BAD_RETRY_TIMEOUT_OTHER = [
    ({"retryStrategy": {"attempts": 0}}, "retryStrategy.attempts must be between 1 and 10, got 0"),
    ({"retryStrategy": {"attempts": 11}}, "retryStrategy.attempts must be between 1 and 10, got 11"),
    ({"retryStrategy": {"evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}]}},
     "retryStrategy.evaluateOnExit requires retryStrategy.attempts"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}] * 6}},
     "retryStrategy.evaluateOnExit can have at most 5 entries, got 6"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "*Spot*"}]}},
     "Evaluate on exit condition contains restricted characters: retryStrategy.evaluateOnExit[0].onStatusReason"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onExitCode": "1*2"}]}},
     "Evaluate on exit condition contains restricted characters: retryStrategy.evaluateOnExit[0].onExitCode"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onReason": "out-of-memory"}]}},
     "Evaluate on exit condition contains restricted characters: retryStrategy.evaluateOnExit[0].onReason"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onReason": "a" * 513}]}},
     "retryStrategy.evaluateOnExit[0].onReason must be at most 512 characters"),
    ({"timeout": {"attemptDurationSeconds": 59}}, "timeout.attemptDurationSeconds must be at least 60 seconds, got 59"),
    ({"schedulingPriority": 10000}, "schedulingPriority must be between 0 and 9999, got 10000"),
    ({"schedulingPriority": -1}, "schedulingPriority must be between 0 and 9999, got -1"),
    ({"tags": {"aws:owner": "x"}}, "reserved for AWS use"),
    ({"eksProperties": EKS, "propagateTags": True}, "propagateTags isn't supported for jobs that run on Amazon EKS"),
]

BAD_MULTINODE = [
    ({"type": "multinode"}, "type multinode requires nodeProperties"),
    ({"type": "multinode", "nodeProperties": mnp(), "containerProperties": SLEEP10},
     "containerProperties can't be used with type multinode"),
    ({"type": "multinode", "nodeProperties": mnp(num_nodes=0)}, "nodeProperties.numNodes must be between 1 and 1000, got 0"),
    ({"type": "multinode", "nodeProperties": mnp(num_nodes=1001)}, "numNodes must be between 1 and 1000, got 1001"),
    ({"type": "multinode", "nodeProperties": mnp(num_nodes=2, main=2)},
     "nodeProperties.mainNode must be between 0 and numNodes - 1 (1), got 2"),
    ({"type": "multinode", "nodeProperties": mnp(10, 0, [{"targetNodes": f"{i}:{i}", "container": NODE}
                                                         for i in range(6)])},
     "nodeProperties.nodeRangeProperties must have 1 to 5 node ranges, got 6"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "0:5", "container": NODE}])},
     "nodeRangeProperties[0].targetNodes '0:5' must lie within nodes 0 to 2"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "2:1", "container": NODE}])},
     "targetNodes '2:1' must lie within nodes 0 to 2"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "a:b", "container": NODE}])},
     "targetNodes 'a:b' isn't a node range"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "0:0", "container": NODE}])},
     "nodeProperties.nodeRangeProperties must cover every node 0 to 2; not covered: 1, 2"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "0:"}])},
     "nodeRangeProperties[0] must have exactly one of container, ecsProperties or eksProperties"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "0:", "container": {"vcpus": 1}}])},
     "nodeProperties.nodeRangeProperties[0].container.image is required"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [{"targetNodes": "0:", "container": {"image": "b"}}])},
     "vCPU is not provided."),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [
        {"targetNodes": "0:", "container": NODE, "instanceTypes": ["c5.large", "c5.xlarge"]}])},
     "nodeRangeProperties[0].instanceTypes can have at most one instance type"),
    ({"type": "multinode", "nodeProperties": mnp(3, 0, [
        {"targetNodes": "0:0", "container": NODE, "instanceTypes": ["c5.large"]},
        {"targetNodes": "1:", "container": NODE, "instanceTypes": ["m5.large"]}])},
     "all node ranges must use the same instance type, got c5.large, m5.large"),
]

BAD_ECS_EKS = [
    ({"ecsProperties": {"taskProperties": [{"containers": [ECS_CONTAINER]}] * 2}},
     "ecsProperties.taskProperties must contain exactly one task, got 2"),
    ({"ecsProperties": {"taskProperties": [{"containers": [{**ECS_CONTAINER, "name": f"c{i}"} for i in range(11)]}]}},
     "ecsProperties.taskProperties[0].containers must have 1 to 10 containers, got 11"),
    ({"ecsProperties": {"taskProperties": [{"containers": [ECS_CONTAINER, ECS_CONTAINER]}]}},
     "container names must be unique"),
    ({"ecsProperties": {"taskProperties": [{"containers": [{**ECS_CONTAINER, "essential": False}]}]}},
     "at least one container must be essential"),
    ({"ecsProperties": {"taskProperties": [{"containers": [{"name": "a", "image": "busybox"}]}]}},
     "vCPU is not provided."),
    ({"ecsProperties": {"taskProperties": [{"containers": [{**ECS_CONTAINER, "mountPoints": [
        {"sourceVolume": "v", "containerPath": "/v"}]}]}]}},
     "ecsProperties.taskProperties[0].containers[0].mountPoints: sourceVolume 'v' doesn't match"),
    ({"ecsProperties": {"taskProperties": [{"containers": [{**ECS_CONTAINER, "environment": [
        {"name": "AWS_BATCH_JOB_ID", "value": "x"}]}]}]}}, "variable names can't start with AWS_BATCH"),
    ({"eksProperties": {"podProperties": {"containers": []}}},
     "eksProperties.podProperties.containers must contain at least one container"),
    ({"eksProperties": {"podProperties": {"containers": [{"image": "b", "env": [
        {"name": "AWS_BATCH_X", "value": "1"}]}]}}}, "podProperties.containers[0].env: variable names"),
    ({"eksProperties": {"podProperties": {"containers": [{"image": "b", "volumeMounts": [
        {"name": "cache", "mountPath": "/c"}]}]}}},
     "podProperties.containers[0].volumeMounts: name 'cache' doesn't match any volume"),
]


@pytest.mark.parametrize("kwargs, needle",
                         BAD_CONTAINER + BAD_FARGATE + BAD_RETRY_TIMEOUT_OTHER + BAD_MULTINODE + BAD_ECS_EKS)
def test_register_rejects_bad_input(batch, kwargs, needle):
    kwargs = dict(kwargs)
    props = kwargs.get("containerProperties")
    if props is not None:
        kwargs["containerProperties"] = {k: v for k, v in props.items() if v is not None}
    message = fails(register, batch=batch, name="bad", **kwargs)
    assert needle in message
    assert describe(batch, jobDefinitionName="bad") == []  # nothing was stored


def test_bad_name_is_rejected(batch):
    assert "jobDefinitionName" in fails(register, batch=batch, name="-bad")
    assert "jobDefinitionName" in fails(register, batch=batch, name="a" * 129)
    assert "jobDefinitionName" in fails(register, batch=batch, name="has:colon")


def test_request_size_limit_is_24_kib(batch):
    def request(filler):
        return {"jobDefinitionName": "big", "type": "container",
                "containerProperties": {**SLEEP10, "command": ["echo", filler]}}
    base = len(json.dumps(request(""), separators=(",", ":")).encode())
    assert register(batch, "big", containerProperties=request("x" * (24576 - base))["containerProperties"])
    message = fails(register, batch=batch, name="big",
                    containerProperties=request("x" * (24577 - base))["containerProperties"])
    assert "Job definition size must be at most 24 KiB (24576 bytes), got 24577 bytes" in message
    assert [d["revision"] for d in describe(batch, jobDefinitionName="big")] == [1]


# -- revisions, deregistration ---------------------------------------------------------------

def test_revisions_are_never_reused(batch):
    assert [register(batch, "rev")["revision"] for _ in range(3)] == [1, 2, 3]
    batch.deregister_job_definition(jobDefinition="rev:3")
    out = register(batch, "rev")
    assert out["revision"] == 4 and out["jobDefinitionArn"].endswith(":job-definition/rev:4")
    got = describe(batch, jobDefinitionName="rev")
    assert [(d["revision"], d["status"]) for d in got] == [(1, "ACTIVE"), (2, "ACTIVE"), (3, "INACTIVE"),
                                                           (4, "ACTIVE")]


def test_deregister_by_name_revision_arn_and_bare_name(batch):
    arns = [register(batch, "dr")["jobDefinitionArn"] for _ in range(3)]
    batch.deregister_job_definition(jobDefinition=arns[0])
    batch.deregister_job_definition(jobDefinition="dr:2")
    batch.deregister_job_definition(jobDefinition="dr:2")  # again: no error
    batch.deregister_job_definition(jobDefinition="dr")  # latest ACTIVE: 3
    assert [d["status"] for d in describe(batch, jobDefinitionName="dr")] == ["INACTIVE"] * 3
    assert "Job definition dr does not exist" in fails(batch.deregister_job_definition, jobDefinition="dr")


def test_deregister_bare_name_takes_the_latest_active_revision(batch):
    for _ in range(3):
        register(batch, "latest")
    batch.deregister_job_definition(jobDefinition="latest:3")
    batch.deregister_job_definition(jobDefinition="latest")
    assert [d["status"] for d in describe(batch, jobDefinitionName="latest")] == ["ACTIVE", "INACTIVE", "INACTIVE"]


@pytest.mark.parametrize("ident", ["nope", "nope:1", "dd:9", "dd:latest",
                                   "arn:aws:batch:us-east-1:000000000000:job-definition/dd:1",
                                   "arn:aws:batch:us-west-2:{account}:job-definition/dd:1"])
def test_deregister_unknown_is_a_client_error(batch, ident):
    account = register(batch, "dd")["jobDefinitionArn"].split(":")[4]
    ident = ident.format(account=account)
    assert f"Job definition {ident} does not exist" in fails(batch.deregister_job_definition, jobDefinition=ident)
    assert describe(batch, jobDefinitions=["dd:1"])[0]["status"] == "ACTIVE"


# -- describe ----------------------------------------------------------------------------------

def test_describe_filters_by_name_and_status(batch):
    for name in ("a", "b", "a"):
        register(batch, name)
    batch.deregister_job_definition(jobDefinition="a:1")
    every = describe(batch)
    assert [(d["jobDefinitionName"], d["revision"]) for d in every] == [("a", 1), ("b", 1), ("a", 2)]
    assert [d["revision"] for d in describe(batch, jobDefinitionName="a")] == [1, 2]
    assert [d["jobDefinitionName"] for d in describe(batch, status="ACTIVE")] == ["b", "a"]
    assert [(d["jobDefinitionName"], d["revision"]) for d in describe(batch, status="INACTIVE")] == [("a", 1)]
    assert [d["revision"] for d in describe(batch, jobDefinitionName="a", status="ACTIVE")] == [2]
    assert describe(batch, status="BOGUS") == []
    assert describe(batch, jobDefinitionName="missing") == []


def test_describe_by_arns_and_name_revision(batch):
    arn_a1 = register(batch, "a")["jobDefinitionArn"]
    register(batch, "b")
    register(batch, "a")
    batch.deregister_job_definition(jobDefinition=arn_a1)
    got = describe(batch, jobDefinitions=["a:2", arn_a1, "unknown:1", "b:7", "a:x"])
    # creation order; INACTIVE revisions are returned when asked for (ref §1.5)
    assert [(d["jobDefinitionName"], d["revision"], d["status"]) for d in got] == [
        ("a", 1, "INACTIVE"), ("a", 2, "ACTIVE")]
    # A bare name or an ARN without revision: every revision of that name.
    assert [d["revision"] for d in describe(batch, jobDefinitions=["a"])] == [1, 2]
    assert [d["revision"] for d in describe(batch, jobDefinitions=[arn_a1.rsplit(":", 1)[0]])] == [1, 2]
    other_account = arn_a1.replace(arn_a1.split(":")[4], "000000000000")
    assert describe(batch, jobDefinitions=[other_account]) == []


@pytest.mark.parametrize("extra, needle", [
    ({"maxResults": 5}, "Error executing request, Exception : JobDefinitions and MaxResults cannot both be set"),
    ({"jobDefinitionName": "a"}, "jobDefinitions can't be used with other parameters; got jobDefinitionName too"),
    ({"status": "ACTIVE"}, "jobDefinitions can't be used with other parameters; got status too"),
])
def test_describe_list_cannot_be_combined(batch, extra, needle):
    assert needle in fails(batch.describe_job_definitions, jobDefinitions=["a:1"], **extra)


def test_describe_list_is_limited_to_100(batch):
    register(batch, "lim")
    assert len(describe(batch, jobDefinitions=["lim:1"] * 100)) == 1
    message = fails(batch.describe_job_definitions, jobDefinitions=["lim:1"] * 101)
    assert "jobDefinitions: at most 100 items" in message


def test_pagination_through_the_paginator(batch):
    for i in range(7):
        register(batch, "pg")
    register(batch, "other")
    pages = list(batch.get_paginator("describe_job_definitions").paginate(
        jobDefinitionName="pg", PaginationConfig={"PageSize": 3}))
    assert [[d["revision"] for d in p["jobDefinitions"]] for p in pages] == [[1, 2, 3], [4, 5, 6], [7]]
    assert "nextToken" not in pages[-1]
    first = batch.describe_job_definitions(maxResults=5)
    assert len(first["jobDefinitions"]) == 5 and first["nextToken"]
    rest = batch.describe_job_definitions(maxResults=5, nextToken=first["nextToken"])
    assert [d["jobDefinitionName"] for d in rest["jobDefinitions"]] == ["pg", "pg", "other"]
    assert "nextToken" not in rest
