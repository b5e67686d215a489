"""ECS Managed Instances compute environments and job queues, ecsSettings, the EKS access entry,
and MANAGED_INSTANCES job definitions through real boto3 (botocore >= 1.43.93's model)."""

import pytest
from botocore.exceptions import ClientError
from tests.e2e.support import new_account

PROVIDER = {"infrastructureRoleArn": "arn:aws:iam::123456789012:role/ecsInfra",
            "instanceLaunchTemplate": {
                "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/ecsNode",
                "networkConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]},
                "instanceRequirements": {"allowedInstanceTypes": ["m6i.large"]},
                "monitoring": "DETAILED"}}
MI = {"type": "ECS_MANAGED_INSTANCES", "maxvCpus": 32, "managedInstancesProvider": PROVIDER}
EC2 = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
       "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}
FARGATE = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
EKS = {"eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/c", "kubernetesNamespace": "batch"}


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def describe(batch, name):
    (ce,) = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return ce


def test_managed_instances_environment_is_stored_and_echoed(batch):
    batch.create_compute_environment(computeEnvironmentName="mi", type="MANAGED",
                                     computeResources={**MI, "capacityTags": {"cost": "ml"}},
                                     ecsSettings={"containerInsights": "ENHANCED"})
    ce = describe(batch, "mi")
    cr = ce["computeResources"]
    assert cr["type"] == "ECS_MANAGED_INSTANCES" and cr["maxvCpus"] == 32
    assert cr["capacityTags"] == {"cost": "ml"}
    template = cr["managedInstancesProvider"]["instanceLaunchTemplate"]
    assert template["networkConfiguration"] == {"subnets": ["subnet-1"], "securityGroups": ["sg-1"]}
    assert template["monitoring"] == "DETAILED" and template["capacityOptionType"] == "ON_DEMAND"
    assert ce["ecsSettings"] == {"containerInsights": "ENHANCED"}
    assert "minvCpus" not in cr and "subnets" not in cr and "instanceTypes" not in cr


def test_managed_instances_queue_type_is_derived_and_kinds_do_not_mix(batch):
    batch.create_compute_environment(computeEnvironmentName="mi", type="MANAGED", computeResources=MI)
    batch.create_compute_environment(computeEnvironmentName="ec2", type="MANAGED", computeResources=EC2)
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "mi"}])
    (queue,) = batch.describe_job_queues(jobQueues=["q"])["jobQueues"]
    assert queue["jobQueueType"] == "ECS_MANAGED_INSTANCES"
    with pytest.raises(ClientError) as exc:
        batch.create_job_queue(jobQueueName="mixed", priority=1, computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "mi"}, {"order": 2, "computeEnvironment": "ec2"}])
    assert "can't be mixed" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        batch.create_job_queue(jobQueueName="q2", priority=1, jobQueueType="ECS", computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "mi"}])
    assert "ECS_MANAGED_INSTANCES" in error(exc)[1]


@pytest.mark.parametrize("resources, needle", [
    ({"type": "ECS_MANAGED_INSTANCES", "maxvCpus": 4}, "managedInstancesProvider is required"),
    ({**EC2, "managedInstancesProvider": PROVIDER}, "managedInstancesProvider is only valid"),
    ({**FARGATE, "capacityTags": {"a": "b"}}, "capacityTags is only valid"),
    ({**MI, "subnets": ["subnet-1"]}, "computeResources.subnets isn't applicable"),
    ({**MI, "instanceTypes": ["optimal"]}, "computeResources.instanceTypes isn't applicable"),
    ({k: v for k, v in EC2.items() if k != "subnets"}, "computeResources.subnets is required for EC2"),
    ({k: v for k, v in FARGATE.items() if k != "subnets"}, "computeResources.subnets is required for FARGATE"),
    ({**MI, "managedInstancesProvider": {**PROVIDER, "propagateTags": "ALL"}}, "propagateTags must be one of"),
    ({**MI, "managedInstancesProvider": {**PROVIDER, "infrastructureOptimization": {"scaleInAfter": 3601}}},
     "scaleInAfter must be -1 or between 0 and 3600"),
    ({**MI, "managedInstancesProvider": {**PROVIDER, "instanceLaunchTemplate": {
        **PROVIDER["instanceLaunchTemplate"], "capacityOptionType": "RESERVED"}}}, "capacityOptionType"),
    ({**MI, "managedInstancesProvider": {**PROVIDER, "instanceLaunchTemplate": {
        **PROVIDER["instanceLaunchTemplate"], "networkConfiguration": {"subnets": [], "securityGroups": ["sg"]}}}},
     "networkConfiguration.subnets must contain at least one"),
])
def test_create_rejects(batch, resources, needle):
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="bad", type="MANAGED", computeResources=resources)
    code, message = error(exc)
    assert code == "ClientException" and needle in message, message


def test_model_requires_the_provider_members(batch):
    # Required by the model itself (ManagedInstancesProvider.required), checked by the wire.
    provider = {k: v for k, v in PROVIDER.items() if k != "infrastructureRoleArn"}
    with pytest.raises(Exception) as exc:
        batch.create_compute_environment(computeEnvironmentName="bad", type="MANAGED",
                                         computeResources={**MI, "managedInstancesProvider": provider})
    assert "infrastructureRoleArn" in str(exc.value)


def test_new_allocation_strategies(batch):
    batch.create_compute_environment(computeEnvironmentName="ordered", type="MANAGED", computeResources={
        **EC2, "allocationStrategy": "BEST_FIT_PROGRESSIVE_ORDERED"})
    batch.create_compute_environment(computeEnvironmentName="prio", type="MANAGED", computeResources={
        **EC2, "type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED_PRIORITIZED"})
    assert describe(batch, "prio")["computeResources"]["allocationStrategy"] == "SPOT_CAPACITY_OPTIMIZED_PRIORITIZED"
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="bad", type="MANAGED", computeResources={
            **EC2, "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED_PRIORITIZED"})
    assert "only valid for SPOT" in error(exc)[1]
    # An infrastructure update is allowed with the new strategy.
    batch.update_compute_environment(computeEnvironment="ordered", computeResources={"instanceTypes": ["m5"]})
    assert describe(batch, "ordered")["computeResources"]["instanceTypes"] == ["m5"]


def wait_valid(batch, name):
    import time
    for _ in range(100):
        if describe(batch, name)["status"] == "VALID":
            return
        time.sleep(0.05)


def test_update_managed_instances(batch):
    batch.create_compute_environment(computeEnvironmentName="mi", type="MANAGED", computeResources=MI)
    wait_valid(batch, "mi")
    batch.update_compute_environment(computeEnvironment="mi", computeResources={
        "maxvCpus": 64, "capacityTags": {"team": "x"},
        "managedInstancesProvider": {"instanceLaunchTemplate": {"monitoring": "BASIC"}}},
        updatePolicy={"jobExecutionTimeoutMinutes": 7200}, ecsSettings={"containerInsights": "DISABLED"})
    ce = describe(batch, "mi")
    cr = ce["computeResources"]
    assert cr["maxvCpus"] == 64 and cr["capacityTags"] == {"team": "x"}
    template = cr["managedInstancesProvider"]["instanceLaunchTemplate"]
    assert template["monitoring"] == "BASIC"
    assert template["networkConfiguration"]["subnets"] == ["subnet-1"]  # kept
    assert ce["updatePolicy"]["jobExecutionTimeoutMinutes"] == 7200
    assert ce["ecsSettings"] == {"containerInsights": "DISABLED"}
    wait_valid(batch, "mi")
    for change, needle in [({"type": "EC2"}, "can't change to or from ECS_MANAGED_INSTANCES"),
                           ({"subnets": ["s"]}, "can't be updated")]:
        with pytest.raises(ClientError) as exc:
            batch.update_compute_environment(computeEnvironment="mi", computeResources=change)
        assert needle in error(exc)[1]


def test_update_rejects_provider_on_other_types(batch):
    batch.create_compute_environment(computeEnvironmentName="f", type="MANAGED", computeResources=FARGATE)
    wait_valid(batch, "f")
    for change, needle in [({"managedInstancesProvider": {"propagateTags": "NONE"}}, "only valid"),
                           ({"capacityTags": {"a": "b"}}, "only valid"),
                           ({"type": "ECS_MANAGED_INSTANCES"}, "can't change to or from")]:
        with pytest.raises(ClientError) as exc:
            batch.update_compute_environment(computeEnvironment="f", computeResources=change)
        assert needle in error(exc)[1]


def test_eks_access_entry(batch):
    update = batch.meta.service_model.operation_model("UpdateComputeEnvironment").input_shape
    if "eksConfiguration" not in update.members:
        pytest.skip("this botocore's model has no EKS access entry (botocore >= 1.44)")
    batch.create_compute_environment(computeEnvironmentName="eks", type="MANAGED", computeResources={
        **EC2, "allocationStrategy": "BEST_FIT_PROGRESSIVE"}, eksConfiguration=EKS)
    assert "accessEntry" not in describe(batch, "eks")["eksConfiguration"]  # none recorded
    wait_valid(batch, "eks")
    batch.update_compute_environment(computeEnvironment="eks",
                                     eksConfiguration={"accessEntry": {"desiredState": "ENABLED"}})
    assert describe(batch, "eks")["eksConfiguration"]["accessEntry"] == {"desiredState": "ENABLED",
                                                                         "status": "ACTIVE"}
    batch.create_compute_environment(computeEnvironmentName="plain", type="MANAGED", computeResources=EC2)
    wait_valid(batch, "plain")
    with pytest.raises(ClientError) as exc:
        batch.update_compute_environment(computeEnvironment="plain",
                                         eksConfiguration={"accessEntry": {"desiredState": "ENABLED"}})
    assert "containerOrchestrationType is EKS" in error(exc)[1]
    with pytest.raises(ClientError) as exc:
        batch.create_compute_environment(computeEnvironmentName="eks2", type="MANAGED", computeResources={
            **EC2, "allocationStrategy": "BEST_FIT_PROGRESSIVE"}, eksConfiguration=EKS,
            ecsSettings={"containerInsights": "ENABLED"})
    assert "ecsSettings" in error(exc)[1]


ECS_PROPS = {"taskProperties": [{"containers": [{"image": "busybox", "command": ["true"], "resourceRequirements": [
    {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]}]}]}


def test_managed_instances_job_definition_defaults_to_host_networking(batch):
    batch.register_job_definition(jobDefinitionName="mi", type="container", platformCapabilities=["MANAGED_INSTANCES"],
                                  ecsProperties=ECS_PROPS)
    (jd,) = batch.describe_job_definitions(jobDefinitionName="mi")["jobDefinitions"]
    assert jd["platformCapabilities"] == ["MANAGED_INSTANCES"]
    assert jd["ecsProperties"]["taskProperties"][0]["networkMode"] == "host"


@pytest.mark.parametrize("kwargs, needle", [
    ({"platformCapabilities": ["MANAGED_INSTANCES"], "containerProperties": {
        "image": "busybox", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                    {"type": "MEMORY", "value": "512"}]}},
     "requires type container with ecsProperties"),
    ({"platformCapabilities": ["MANAGED_INSTANCES"], "ecsProperties": {"taskProperties": [
        {**ECS_PROPS["taskProperties"][0], "networkMode": "awsvpc"}]}}, "networkMode must be host"),
    ({"platformCapabilities": ["EC2"], "ecsProperties": {"taskProperties": [
        {**ECS_PROPS["taskProperties"][0], "networkMode": "host"}]}}, "only applies to MANAGED_INSTANCES"),
])
def test_managed_instances_job_definition_rules(batch, kwargs, needle):
    with pytest.raises(ClientError) as exc:
        batch.register_job_definition(jobDefinitionName="bad", type="container", **kwargs)
    assert needle in error(exc)[1]


# -- ECS Managed Instances jobs run (process runner here; Docker gets network host) -------------

@pytest.fixture(scope="module")
def job_server():
    from batchemu.testing import running_server
    with running_server(runner="process") as s:
        yield s


def wait_job(batch, job_id, statuses, timeout=30):
    import time
    deadline = time.monotonic() + timeout
    while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] not in statuses:
        assert time.monotonic() < deadline, job["status"]
        time.sleep(0.05)
    return job


def test_a_managed_instances_job_runs_and_shows_its_task(job_server):
    batch = job_server.client("batch", access_key=new_account())
    batch.create_compute_environment(computeEnvironmentName="mi", type="MANAGED", computeResources=MI)
    wait_valid(batch, "mi")
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "mi"}])
    task = {"containers": [{"name": "main", "image": "busybox", "command": ["sh", "-c", "exit 1"],
                            "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                     {"type": "MEMORY", "value": "64"}]}]}
    batch.register_job_definition(jobDefinitionName="mi", type="container", platformCapabilities=["MANAGED_INSTANCES"],
                                  ecsProperties={"taskProperties": [task]})
    job_id = batch.submit_job(jobName="mi", jobQueue="q", jobDefinition="mi", ecsPropertiesOverride={
        "taskProperties": [{"containers": [{"name": "main", "command": ["sh", "-c", "exit 0"]}]}]})["jobId"]
    job = wait_job(batch, job_id, {"SUCCEEDED", "FAILED"})
    assert job["status"] == "SUCCEEDED" and job["platformCapabilities"] == ["MANAGED_INSTANCES"]
    assert "container" not in job
    (shown,) = job["ecsProperties"]["taskProperties"]
    assert shown["networkMode"] == "host" and ":task/" in shown["taskArn"] and shown["containerInstanceArn"]
    (container,) = shown["containers"]
    assert container["name"] == "main" and container["command"] == ["sh", "-c", "exit 0"]
    assert container["exitCode"] == 0 and container["logStreamName"]
    with pytest.raises(ClientError) as exc:
        batch.submit_job(jobName="mi", jobQueue="q", jobDefinition="mi", containerOverrides={"command": ["true"]})
    assert "use ecsPropertiesOverride" in error(exc)[1]


def test_managed_instances_jobs_get_host_networking_from_the_docker_runner():
    from batchemu.engine.launch import launch_spec
    from batchemu.runners.docker import create_kwargs
    job = {"jobId": "j", "jobName": "n", "_attempt": 1, "_account": "1", "_region": "us-east-1",
           "jobQueue": "arn:aws:batch:us-east-1:1:job-queue/q", "_queueName": "q",
           "container": {"image": "busybox", "command": ["true"]}, "_need": {"vcpus": 1, "memory": 64, "gpus": 0}}
    plain = create_kwargs(launch_spec(job, "ce"), "server", "bridge")
    managed = create_kwargs(launch_spec({**job, "_network": "host"}, "ce"), "server", "bridge")
    assert plain["network_mode"] == "bridge" and managed["network_mode"] == "host"
    assert "extra_hosts" not in managed


@pytest.mark.docker
def test_on_docker_a_managed_instances_job_shares_the_hosts_network():
    # The server's job network is "none" (a container sees only lo); an ECS Managed Instances
    # job still gets the host's network stack, as networkMode host says.
    from batchemu.testing import running_server
    from tests import docker_support
    docker_support.docker_client()
    more_than_lo = ["sh", "-c", '[ "$(ls /sys/class/net | wc -l)" -gt 1 ]']
    resources = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]
    with running_server(runner="docker", job_network="none") as server:
        batch = server.client("batch")
        for name, resources_ in (("mi", MI), ("ec2", EC2)):
            batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED", computeResources=resources_)
            wait_valid(batch, name)
            batch.create_job_queue(jobQueueName=name, priority=1, computeEnvironmentOrder=[
                {"order": 1, "computeEnvironment": name}])
        batch.register_job_definition(
            jobDefinitionName="mi", type="container", platformCapabilities=["MANAGED_INSTANCES"],
            ecsProperties={"taskProperties": [{"containers": [
                {"image": docker_support.IMAGE, "command": more_than_lo, "resourceRequirements": resources}]}]})
        batch.register_job_definition(jobDefinitionName="ec2", type="container", containerProperties={
            "image": docker_support.IMAGE, "command": more_than_lo, "resourceRequirements": resources})
        managed = batch.submit_job(jobName="mi", jobQueue="mi", jobDefinition="mi")["jobId"]
        plain = batch.submit_job(jobName="ec2", jobQueue="ec2", jobDefinition="ec2")["jobId"]
        assert wait_job(batch, managed, {"SUCCEEDED", "FAILED"}, 120)["status"] == "SUCCEEDED"
        assert wait_job(batch, plain, {"SUCCEEDED", "FAILED"}, 120)["status"] == "FAILED"
