"""Host access (issue 12 item 14): host volumes, devices, privileged containers and host
namespaces are refused on Fargate (ref §5.3) and, with --deny-host-access, everywhere: at
RegisterJobDefinition and at SubmitJob (a definition stored before the option was set)."""

import pytest

from batchemu.cli import config_from_args, parse_args
from batchemu.config import Config
from batchemu.runners.select import make_runner
from batchemu.testing import running_server
from tests.helpers import client_error

RESOURCES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]
PLAIN = {"image": "busybox", "command": ["true"], "resourceRequirements": RESOURCES}
HOST_VOLUME = {**PLAIN, "volumes": [{"name": "root", "host": {"sourcePath": "/"}}],
               "mountPoints": [{"sourceVolume": "root", "containerPath": "/host"}]}
ECS_CONTAINER = {"name": "main", "image": "busybox", "resourceRequirements": RESOURCES}
EKS_CONTAINER = {"image": "busybox", "command": ["true"]}
OPTION = "gives the job access to the host, which this server refuses (--deny-host-access (BATCHEMU_DENY_HOST_ACCESS=1))"

HOST_DEFINITIONS = [
    ({"containerProperties": HOST_VOLUME}, "containerProperties.volumes[0].host.sourcePath"),
    ({"containerProperties": {**PLAIN, "privileged": True}}, "containerProperties.privileged"),
    ({"containerProperties": {**PLAIN, "linuxParameters": {"devices": [{"hostPath": "/dev/kmsg"}]}}},
     "containerProperties.linuxParameters.devices[0]"),
    ({"ecsProperties": {"taskProperties": [{"containers": [ECS_CONTAINER], "pidMode": "host"}]}},
     "ecsProperties.taskProperties[0].pidMode"),
    ({"ecsProperties": {"taskProperties": [{"containers": [ECS_CONTAINER], "ipcMode": "host"}]}},
     "ecsProperties.taskProperties[0].ipcMode"),
    ({"ecsProperties": {"taskProperties": [{"containers": [ECS_CONTAINER],
                                            "volumes": [{"name": "v", "host": {"sourcePath": "/etc"}}]}]}},
     "ecsProperties.taskProperties[0].volumes[0].host.sourcePath"),
    ({"ecsProperties": {"taskProperties": [{"containers": [{**ECS_CONTAINER, "privileged": True}]}]}},
     "ecsProperties.taskProperties[0].containers[0].privileged"),
    ({"eksProperties": {"podProperties": {"hostNetwork": True, "containers": [EKS_CONTAINER]}}},
     "eksProperties.podProperties.hostNetwork"),
    ({"eksProperties": {"podProperties": {"containers": [EKS_CONTAINER],
                                          "volumes": [{"name": "h", "hostPath": {"path": "/"}}]}}},
     "eksProperties.podProperties.volumes[0].hostPath"),
    ({"eksProperties": {"podProperties": {"containers": [{**EKS_CONTAINER, "securityContext": {"privileged": True}}]}}},
     "eksProperties.podProperties.containers[0].securityContext.privileged"),
    ({"type": "multinode", "nodeProperties": {"numNodes": 1, "mainNode": 0, "nodeRangeProperties": [
        {"targetNodes": "0:", "container": {"image": "busybox", "vcpus": 1, "memory": 128, "privileged": True}}]}},
     "nodeProperties.nodeRangeProperties[0].container.privileged"),
]


def register(batch, name="jd", **kwargs):
    kwargs.setdefault("type", "container")
    return batch.register_job_definition(jobDefinitionName=name, **kwargs)


def queue(batch, name="q", kind="EC2"):
    resources = {"type": kind, "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    if kind == "EC2":
        resources.update(instanceRole="ecsInstanceRole", instanceTypes=["optimal"])
    batch.create_compute_environment(computeEnvironmentName=f"{name}-ce", type="MANAGED", computeResources=resources)
    batch.create_job_queue(jobQueueName=name, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": f"{name}-ce"}])


@pytest.fixture(scope="module")
def denying():
    with running_server(deny_host_access=True) as server:
        yield server.client("batch")


@pytest.mark.parametrize("definition, member", HOST_DEFINITIONS, ids=[m for _, m in HOST_DEFINITIONS])
def test_deny_host_access_refuses_every_host_member_at_registration(denying, definition, member):
    assert client_error(register, denying, **definition) == f"{member} {OPTION}"


def test_deny_host_access_allows_what_stays_in_the_container(denying):
    harmless = {**PLAIN, "volumes": [{"name": "scratch", "host": {}}],   # a Docker-managed volume
                "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/scratch"}],
                "privileged": False, "linuxParameters": {"devices": [], "initProcessEnabled": True,
                                                         "tmpfs": [{"containerPath": "/t", "size": 8}]}}
    assert register(denying, "harmless", containerProperties=harmless)["revision"] == 1
    eks = {"podProperties": {"hostNetwork": False, "containers": [EKS_CONTAINER]}}
    assert register(denying, "eks", eksProperties=eks)["revision"] == 1
    queue(denying, "ok")
    assert denying.submit_job(jobName="j", jobQueue="ok", jobDefinition="harmless")["jobId"]


def test_a_definition_stored_before_the_option_is_refused_at_submit(tmp_path):
    with running_server(data_dir=tmp_path) as server:
        batch = server.client("batch")
        queue(batch)
        register(batch, "root", containerProperties=HOST_VOLUME)
        arn = batch.describe_job_definitions(jobDefinitionName="root")["jobDefinitions"][0]["jobDefinitionArn"]
    with running_server(data_dir=tmp_path, deny_host_access=True) as server:
        batch = server.client("batch")
        message = client_error(batch.submit_job, jobName="j", jobQueue="q", jobDefinition="root")
        assert message == f"Job definition {arn}: containerProperties.volumes[0].host.sourcePath {OPTION}"
        assert batch.list_jobs(jobQueue="q", jobStatus="SUBMITTED")["jobSummaryList"] == []


def test_fargate_refuses_host_access_without_the_option(batch):
    """ref §5.3: at RegisterJobDefinition for a FARGATE definition; at SubmitJob for an EC2
    definition sent to a Fargate queue (AWS would never place it there)."""
    fargate = {"image": "busybox", "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
               "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}]}
    for extra, text in (({"volumes": [{"name": "h", "host": {"sourcePath": "/"}}]}, "host volumes aren't supported"),
                        ({"privileged": True}, "containerProperties.privileged isn't supported"),
                        ({"linuxParameters": {"devices": [{"hostPath": "/dev/kmsg"}]}},
                         "containerProperties.linuxParameters.devices isn't supported")):
        assert text in client_error(register, batch, platformCapabilities=["FARGATE"],
                                    containerProperties={**fargate, **extra})
    queue(batch, "fq", kind="FARGATE")
    register(batch, "ec2-root", containerProperties=HOST_VOLUME)
    message = client_error(batch.submit_job, jobName="j", jobQueue="fq", jobDefinition="ec2-root")
    assert message.startswith("containerProperties.volumes[0].host.sourcePath isn't supported for jobs that run "
                              "on Fargate resources (job queue fq runs on Fargate")
    register(batch, "ec2-plain", containerProperties=PLAIN)
    assert batch.submit_job(jobName="j", jobQueue="fq", jobDefinition="ec2-plain")["jobId"]


def test_the_option_from_flag_and_environment():
    assert config_from_args(parse_args(["--deny-host-access"])).deny_host_access is True
    assert Config.from_env({"BATCHEMU_DENY_HOST_ACCESS": "1"}).deny_host_access is True
    assert Config.from_env({}).deny_host_access is False


def test_the_option_never_runs_jobs_on_the_host(tmp_path):
    with pytest.raises(SystemExit) as exc:
        make_runner(Config(runner="process", deny_host_access=True, data_dir=tmp_path), "sid")
    assert "--deny-host-access" in str(exc.value)
