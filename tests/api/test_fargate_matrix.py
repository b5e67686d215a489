"""The Fargate validation matrix (ref §5.3, §3.1, §6.8): what AWS refuses for FARGATE/FARGATE_SPOT
compute environments and `platformCapabilities: ["FARGATE"]` job definitions, at
RegisterJobDefinition and at SubmitJob (containerOverrides.resourceRequirements), each case
asserting that the ClientException names the field and the rule; and valid definitions that
register and, on a FARGATE compute environment, run in a real container."""

from __future__ import annotations

import botocore.exceptions
import pytest

from batchemu.testing import running_server
from tests.docker_support import IMAGE, docker_client
from tests.e2e.support import new_account, wait_done

ROLE = "arn:aws:iam::123456789012:role/ecsTaskExecutionRole"
FARGATE_CE = {"type": "FARGATE", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}


def props(vcpu="0.25", memory="512", **changes) -> dict:
    base = {"image": IMAGE, "command": ["sh", "-c", "echo fargate"], "executionRoleArn": ROLE,
            "resourceRequirements": [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


@pytest.fixture(scope="module")
def server():
    with running_server() as server:
        yield server


@pytest.fixture()
def batch(server):
    return server.client("batch", access_key=new_account())


def refused(call, *words):
    with pytest.raises(botocore.exceptions.ClientError) as err:
        call()
    assert err.value.response["Error"]["Code"] == "ClientException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    message = err.value.response["Error"]["Message"]
    for word in words:
        assert word in message, message
    return message


# (containerProperties, words the message must hold: the field, then the rule)
BAD_DEFINITIONS = [
    (props("0.25", "4096"), ["resourceRequirements", "MEMORY 4096 MiB isn't valid on Fargate with 0.25 VCPU",
                             "512, 1024, 2048"]),
    (props("1", "1024"), ["MEMORY 1024 MiB", "with 1 VCPU", "2048"]),
    (props("16", "32769"), ["MEMORY 32769 MiB", "with 16 VCPU"]),
    (props("3", "8192"), ["Value 3 for type VCPU isn't supported on Fargate", "0.25, 0.5, 1, 2, 4, 8, 16"]),
    (props("1", None, resourceRequirements=[{"type": "VCPU", "value": "1"}]),
     ["resourceRequirements: MEMORY is required", "Fargate"]),
    (props(resourceRequirements=[{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"},
                                 {"type": "GPU", "value": "1"}]), ["GPU isn't available on Fargate"]),
    (props(executionRoleArn=None), ["containerProperties.executionRoleArn is required", "Fargate"]),
    (props(privileged=True), ["containerProperties.privileged isn't supported", "Fargate"]),
    (props(ulimits=[{"name": "nofile", "softLimit": 1, "hardLimit": 2}]),
     ["containerProperties.ulimits isn't supported", "Fargate"]),
    (props(linuxParameters={"devices": [{"hostPath": "/dev/null"}]}),
     ["containerProperties.linuxParameters.devices isn't supported", "Fargate"]),
    (props(linuxParameters={"sharedMemorySize": 64}), ["linuxParameters.sharedMemorySize isn't supported"]),
    (props(volumes=[{"name": "h", "host": {"sourcePath": "/tmp"}}]),
     ["containerProperties.volumes: host volumes aren't supported", "Fargate"]),
    (props(logConfiguration={"logDriver": "json-file"}), ["logConfiguration.logDriver json-file", "awslogs, splunk"]),
    (props(fargatePlatformConfiguration={"platformVersion": "1.5.0"}),
     ["containerProperties.fargatePlatformConfiguration.platformVersion '1.5.0'", "LATEST, 1.4.0, 1.3.0"]),
    (props(fargatePlatformConfiguration={"platformVersion": "1.3.0"},
           volumes=[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]),
     ["EFS is supported for Fargate platform version 1.4.0."]),
    (props(ephemeralStorage={"sizeInGiB": 20}), ["containerProperties.ephemeralStorage.sizeInGiB", "between 21 and 200", "20"]),
    (props(ephemeralStorage={"sizeInGiB": 201}), ["ephemeralStorage.sizeInGiB", "between 21 and 200", "201"]),
    (props(runtimePlatform={"cpuArchitecture": "MIPS"}), ["runtimePlatform.cpuArchitecture", "X86_64, ARM64", "MIPS"]),
    (props(runtimePlatform={"operatingSystemFamily": "DOS"}), ["runtimePlatform.operatingSystemFamily", "LINUX"]),
    (props(runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2019_CORE", "cpuArchitecture": "ARM64"}),
     ["runtimePlatform.cpuArchitecture must be X86_64 for Windows"]),
    (props(runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}, user="app"),
     ["containerProperties.user can't be set for Windows containers"]),
    (props(fargatePlatformConfiguration={"platformVersion": "1.4.0"},
           runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2022_FULL"}),
     ["platformVersion '1.4.0'", "LATEST, 1.0.0"]),
    (props(networkConfiguration={"assignPublicIp": "SOMETIMES"}), ["assignPublicIp", "ENABLED", "DISABLED"]),
    (props(vcpus=1, resourceRequirements=None), ["containerProperties.vcpus isn't supported on Fargate"]),
]


@pytest.mark.parametrize("container, words", BAD_DEFINITIONS,
                         ids=[w[0].split(" ")[0][:40] + f"-{i}" for i, (_, w) in enumerate(BAD_DEFINITIONS)])
def test_register_refuses(batch, container, words):
    refused(lambda: batch.register_job_definition(jobDefinitionName="fg", type="container",
                                                  platformCapabilities=["FARGATE"], containerProperties=container),
            *words)


GOOD_DEFINITIONS = [
    props("0.25", "2048"),
    props("0.5", "4096"),
    props("4", "30720"),
    props("8", "61440"),
    props("16", "122880"),
    props(networkConfiguration={"assignPublicIp": "ENABLED"}, fargatePlatformConfiguration={"platformVersion": "1.4.0"},
          ephemeralStorage={"sizeInGiB": 200}, runtimePlatform={"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}),
    props(ephemeralStorage={"sizeInGiB": 21}, runtimePlatform={"operatingSystemFamily": "WINDOWS_SERVER_2019_FULL"},
          fargatePlatformConfiguration={"platformVersion": "1.0.0"}),
    props(logConfiguration={"logDriver": "awslogs"}, volumes=[{"name": "e", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}]),
]


@pytest.mark.parametrize("container", GOOD_DEFINITIONS)
def test_register_accepts_and_echoes(batch, container):
    batch.register_job_definition(jobDefinitionName="ok", type="container", platformCapabilities=["FARGATE"],
                                  containerProperties=container)
    (jd,) = batch.describe_job_definitions(jobDefinitionName="ok")["jobDefinitions"]
    cp = jd["containerProperties"]
    assert cp["resourceRequirements"] == container["resourceRequirements"]
    assert cp["networkConfiguration"] == container.get("networkConfiguration", {"assignPublicIp": "DISABLED"})
    assert cp["fargatePlatformConfiguration"] == container.get("fargatePlatformConfiguration",
                                                               {"platformVersion": "LATEST"})
    for key in ("ephemeralStorage", "runtimePlatform"):
        assert cp.get(key) == container.get(key)


def fargate_queue(batch, name="fq", ce_type="FARGATE"):
    batch.create_compute_environment(computeEnvironmentName=name + "-ce", type="MANAGED",
                                     computeResources=dict(FARGATE_CE, type=ce_type))
    batch.create_job_queue(jobQueueName=name, priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name + "-ce"}])


BAD_OVERRIDES = [
    ([{"type": "MEMORY", "value": "4096"}], ["containerOverrides.resourceRequirements",
                                              "MEMORY 4096 MiB isn't valid on Fargate with 0.25 VCPU"]),
    ([{"type": "VCPU", "value": "2"}], ["containerOverrides.resourceRequirements", "MEMORY 512 MiB", "with 2 VCPU"]),
    ([{"type": "VCPU", "value": "0.75"}, {"type": "MEMORY", "value": "2048"}],
     ["containerOverrides.resourceRequirements", "Value 0.75 for type VCPU isn't supported on Fargate"]),
    ([{"type": "GPU", "value": "1"}], ["containerOverrides.resourceRequirements", "GPU isn't available on Fargate"]),
]


@pytest.mark.parametrize("requirements, words", BAD_OVERRIDES)
def test_submit_refuses_overrides_outside_the_fargate_sizes(batch, requirements, words):
    fargate_queue(batch)
    batch.register_job_definition(jobDefinitionName="fg", type="container", platformCapabilities=["FARGATE"],
                                  containerProperties=props())
    refused(lambda: batch.submit_job(jobName="j", jobQueue="fq", jobDefinition="fg",
                                     containerOverrides={"resourceRequirements": requirements}), *words)


def test_submit_accepts_a_fargate_size_override(batch):
    fargate_queue(batch)
    batch.register_job_definition(jobDefinitionName="fg", type="container", platformCapabilities=["FARGATE"],
                                  containerProperties=props())
    job_id = batch.submit_job(jobName="j", jobQueue="fq", jobDefinition="fg", containerOverrides={
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "8192"}]})["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert {r["type"]: r["value"] for r in job["container"]["resourceRequirements"]} == {"VCPU": "1", "MEMORY": "8192"}


BAD_ENVIRONMENTS = [
    (dict(FARGATE_CE, instanceTypes=["optimal"]), ["computeResources.instanceTypes isn't applicable to FARGATE"]),
    (dict(FARGATE_CE, minvCpus=0), ["computeResources.minvCpus isn't applicable to FARGATE"]),
    (dict(FARGATE_CE, type="FARGATE_SPOT", bidPercentage=50), ["computeResources.bidPercentage", "FARGATE_SPOT"]),
    (dict(FARGATE_CE, securityGroupIds=[]), ["computeResources.securityGroupIds must contain at least one"]),
    (dict(FARGATE_CE, subnets=[f"subnet-{i}" for i in range(17)]), ["computeResources.subnets", "at most 16"]),
]


@pytest.mark.parametrize("resources, words", BAD_ENVIRONMENTS)
def test_fargate_compute_environment_refuses(batch, resources, words):
    refused(lambda: batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED",
                                                     computeResources=resources), *words)


@pytest.mark.docker
def test_a_valid_fargate_job_runs_in_a_container_and_counts_vcpus():
    """Capacity is counted in vCPUs: a FARGATE CE of maxvCpus 1 runs two 0.5-vCPU jobs at once,
    and a 4-vCPU job never fits (blocked with AWS's reason)."""
    docker_client()
    with running_server(runner="docker", stop_grace_seconds=1) as server:
        batch = server.client("batch", access_key=new_account())
        batch.create_compute_environment(computeEnvironmentName="f1", type="MANAGED",
                                         computeResources=dict(FARGATE_CE, maxvCpus=1))
        batch.create_job_queue(jobQueueName="fq", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "f1"}])
        batch.register_job_definition(
            jobDefinitionName="fg", type="container", platformCapabilities=["FARGATE"],
            containerProperties=props("0.5", "1024", command=["sh", "-c", "sleep 1; echo fargate $AWS_BATCH_CE_NAME"],
                                      ephemeralStorage={"sizeInGiB": 30},
                                      runtimePlatform={"cpuArchitecture": "X86_64"}))
        ids = [batch.submit_job(jobName=f"j{i}", jobQueue="fq", jobDefinition="fg")["jobId"] for i in range(2)]
        big = batch.submit_job(jobName="big", jobQueue="fq", jobDefinition="fg", containerOverrides={
            "resourceRequirements": [{"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "8192"}]})["jobId"]
        jobs = [wait_done(batch, job_id, timeout=60) for job_id in ids]
        assert [j["status"] for j in jobs] == ["SUCCEEDED", "SUCCEEDED"]
        # both ran at once: 0.5 + 0.5 vCPU fit in maxvCpus 1
        assert jobs[1]["startedAt"] < jobs[0]["stoppedAt"] and jobs[0]["startedAt"] < jobs[1]["stoppedAt"]
        assert jobs[0]["container"]["taskArn"].startswith("arn:aws:ecs:us-east-1:")
        assert "containerInstanceArn" not in jobs[0]["container"]  # Fargate tasks have no instance
        (blocked,) = batch.describe_jobs(jobs=[big])["jobs"]
        assert blocked["status"] == "RUNNABLE"
        assert blocked["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")
