"""ecsProperties tasks of several containers and eksProperties pods through real boto3 (no
runner: what RegisterJobDefinition refuses, and what SubmitJob stores and DescribeJobs shows).
Running them on Docker: tests/e2e/test_task_jobs.py."""

import time

import pytest
from botocore.exceptions import ClientError

from batchemu.testing import running_server

IMAGE = "busybox"
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]
CE = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
      "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}


def c(name, **more):
    return {"name": name, "image": IMAGE, "command": ["true"], "resourceRequirements": RES, **more}


def ecs(*containers):
    return {"taskProperties": [{"containers": list(containers)}]}


def message(excinfo):
    assert excinfo.value.response["Error"]["Code"] == "ClientException"
    return excinfo.value.response["Error"]["Message"]


def register_fails(batch, **body):
    with pytest.raises(ClientError) as exc:
        batch.register_job_definition(jobDefinitionName="bad", type="container", **body)
    return message(exc)


@pytest.mark.parametrize("containers, needle", [
    ([c("a", essential=True), c("b", dependsOn=[{"containerName": "a", "condition": "COMPLETE"}])],
     "the COMPLETE condition can't be set on an essential container ('a' is essential)"),
    ([c("a"), c("b", dependsOn=[{"containerName": "a", "condition": "SUCCESS"}])],
     "the SUCCESS condition can't be set on an essential container"),
    ([c("a"), c("b", dependsOn=[{"containerName": "nope", "condition": "START"}])],
     "containers[1].dependsOn[0].containerName 'nope' doesn't name a container of the task"),
    ([c("a"), c("b", dependsOn=[{"containerName": "a", "condition": "HEALTHY"}])],
     "condition must be one of START, COMPLETE, SUCCESS"),
    ([c("a", dependsOn=[{"containerName": "a", "condition": "START"}])], "can't depend on itself"),
    ([c("a", dependsOn=[{"containerName": "b", "condition": "START"}]),
      c("b", dependsOn=[{"containerName": "a", "condition": "START"}])], "dependsOn forms a cycle"),
    ([c("a"), {k: v for k, v in c("b").items() if k != "name"}],
     "containers[1].name is required when a task has more than one container"),
    ([c("a", essential=False), c("b", essential=False)], "at least one container must be essential"),
])
def test_register_refuses_bad_task_dependencies(batch, containers, needle):
    assert needle in register_fails(batch, ecsProperties=ecs(*containers))


def test_register_accepts_documented_dependencies(batch):
    batch.register_job_definition(jobDefinitionName="ok", type="container", ecsProperties=ecs(
        c("prep", essential=False), c("side", essential=False),
        c("main", dependsOn=[{"containerName": "prep", "condition": "SUCCESS"},
                             {"containerName": "side", "condition": "START"}])))
    (d,) = batch.describe_job_definitions(jobDefinitionName="ok")["jobDefinitions"]
    deps = d["ecsProperties"]["taskProperties"][0]["containers"][2]["dependsOn"]
    assert deps == [{"containerName": "prep", "condition": "SUCCESS"}, {"containerName": "side", "condition": "START"}]


def pod(**more):
    base = {"containers": [{"name": "main", "image": IMAGE, "resources": {"limits": {"cpu": "1", "memory": "64Mi"}}}]}
    return {"podProperties": {**base, **more}}


@pytest.mark.parametrize("body, needle", [
    (pod(initContainers=[{"name": "main", "image": IMAGE}]), "name 'main' is used twice"),
    (pod(containers=[{"name": "main", "image": IMAGE, "resources": {"limits": {"cpu": "lots"}}}]),
     "resources.limits.cpu: 'lots' is not a valid cpu quantity"),
    (pod(containers=[{"name": "main", "image": IMAGE, "resources": {"limits": {"memory": "1Qi"}}}]),
     "resources.limits.memory: '1Qi' is not a valid memory quantity"),
    (pod(containers=[{"name": "main", "image": IMAGE, "resources": {"limits": {"memory": "9" * 30 + "Ti"}}}]),
     "is not a valid memory quantity"),
    (pod(containers=[{"name": "main", "image": IMAGE, "resources": {"limits": {"nvidia.com/gpu": "\u00b2"}}}]),
     "must be a whole number of GPUs"),
    (pod(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/tmp"}}]),
     "volumes[0] must have exactly one of emptyDir, hostPath, secret, persistentVolumeClaim"),
])
def test_register_refuses_bad_pods(batch, body, needle):
    assert needle in register_fails(batch, eksProperties=body)


@pytest.fixture()
def queue(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE)
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    return "q"


def submit_fails(batch, **params):
    with pytest.raises(ClientError) as exc:
        batch.submit_job(jobName="j", jobQueue="q", **params)
    return message(exc)


def test_ecs_override_is_merged_by_container_name(batch, queue):
    batch.register_job_definition(jobDefinitionName="task", type="container", parameters={"who": "def"}, ecsProperties=ecs(
        c("side", essential=False, environment=[{"name": "A", "value": "1"}]),
        c("main", command=["echo", "Ref::who"], environment=[{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])))
    job_id = batch.submit_job(jobName="j", jobQueue=queue, jobDefinition="task", parameters={"who": "job"},
                              ecsPropertiesOverride={"taskProperties": [{"containers": [
                                  {"name": "main", "environment": [{"name": "B", "value": "x"}],
                                   "resourceRequirements": [{"type": "VCPU", "value": "2"}]}]}]})["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    assert "container" not in job
    side, main = job["ecsProperties"]["taskProperties"][0]["containers"]
    assert side["environment"] == [{"name": "A", "value": "1"}] and side["essential"] is False
    assert main["environment"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "x"}]
    assert main["command"] == ["echo", "job"] and main["essential"] is True
    assert {r["type"]: r["value"] for r in main["resourceRequirements"]} == {"VCPU": "2", "MEMORY": "64"}


def test_eks_override_is_merged_by_container_name(batch, queue):
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties=pod(
        initContainers=[{"name": "init", "image": IMAGE, "command": ["true"]}]))
    job_id = batch.submit_job(jobName="j", jobQueue=queue, jobDefinition="pod", eksPropertiesOverride={"podProperties": {
        "containers": [{"name": "main", "args": ["hello"], "env": [{"name": "E", "value": "v"}]}],
        "initContainers": [{"name": "init", "image": "other"}], "metadata": {"labels": {"team": "x"}}}})["jobId"]
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    props = job["eksProperties"]["podProperties"]
    assert props["containers"][0]["args"] == ["hello"] and props["containers"][0]["env"] == [{"name": "E", "value": "v"}]
    assert props["initContainers"][0]["image"] == "other"
    assert props["metadata"] == {"labels": {"team": "x"}}
    assert job["eksAttempts"] == [] and "container" not in job


@pytest.mark.parametrize("definition, params, needle", [
    ("task", {"containerOverrides": {"command": ["x"]}},
     "containerOverrides can't be used with an ecsProperties job definition; use ecsPropertiesOverride"),
    ("task", {"eksPropertiesOverride": {"podProperties": {}}},
     "eksPropertiesOverride can't be used with an ecsProperties job definition; use ecsPropertiesOverride"),
    ("pod", {"ecsPropertiesOverride": {"taskProperties": [{}]}},
     "ecsPropertiesOverride can't be used with an eksProperties job definition; use eksPropertiesOverride"),
    ("task", {"ecsPropertiesOverride": {"taskProperties": [{"containers": [{"name": "ghost", "command": ["x"]}]}]}},
     "containers[0].name 'ghost' doesn't name a container of the job definition"),
    ("pod", {"eksPropertiesOverride": {"podProperties": {"containers": [{"name": "ghost"}]}}},
     "containers[0].name 'ghost' doesn't name one of the job definition's containers"),
    ("pod", {"eksPropertiesOverride": {"podProperties": {"containers": [
        {"name": "main", "env": [{"name": "AWS_BATCH_X", "value": "1"}]}]}}}, "can't start with AWS_BATCH"),
])
def test_submit_refuses_overrides_of_the_wrong_kind_or_container(batch, queue, definition, params, needle):
    batch.register_job_definition(jobDefinitionName="task", type="container", ecsProperties=ecs(c("a"), c("b")))
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties=pod())
    assert needle in submit_fails(batch, jobDefinition=definition, **params)


def test_a_runner_without_tasks_fails_the_attempt_with_a_reason():
    """The process runner runs one host process per job: a task's attempt fails at once, saying why."""
    with running_server(runner="process") as server:
        batch = server.client("batch")
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE)
        batch.create_job_queue(jobQueueName="q", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
        batch.register_job_definition(jobDefinitionName="task", type="container", ecsProperties=ecs(c("a"), c("b")))
        job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="task")["jobId"]
        deadline = time.monotonic() + 20
        while (job := batch.describe_jobs(jobs=[job_id])["jobs"][0])["status"] != "FAILED":
            assert time.monotonic() < deadline, job["status"]
            time.sleep(0.05)
    assert job["statusReason"] == "Task failed to start"
    reasons = {x["name"]: x["reason"] for x in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert all("the process runner runs single-container jobs only" in r for r in reasons.values())
    assert job["attempts"][0]["taskProperties"][0]["containers"][0]["reason"] == reasons["a"]
