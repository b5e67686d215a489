"""engine.task_jobs.task_spec: what a multi-container attempt hands the runner, from the job
document SubmitJob stored (no store, no runner): members in order, essential and dependsOn,
per-container limits and environment, Kubernetes command/args, volumes."""

import json

import pytest

from batchemu.engine.launch import cluster_place
from batchemu.engine.task_jobs import _pod_place, task_spec
from batchemu.runners.base import ClusterPlace, Mount
from batchemu.runners.task_spec import ALL_ZERO, FIRST_ESSENTIAL, INIT, MAIN, TaskVolume, VolumeMount

BASE = {"jobId": "job-1", "jobName": "j", "_attempt": 2, "_ceName": "ce", "_queueName": "q",
        "_account": "123456789012", "_region": "us-east-1", "_definitionName": "d",
        "_tasks": {"2": {"nodeUid": "node-uid"}}}


def test_an_ecs_task_keeps_order_dependencies_and_each_containers_limits():
    job = dict(BASE, _task={"kind": "ecs", "limits": {"side": {"vcpus": 0.5, "memory": 64, "gpus": 0},
                                                     "main": {"vcpus": 2.0, "memory": 512, "gpus": 0}}},
               ecsProperties={"taskProperties": [{
                   "volumes": [{"name": "scratch"}, {"name": "host", "host": {"sourcePath": "/data"}}],
                   "containers": [
                       {"name": "side", "image": "i", "essential": False, "command": ["a"], "stopTimeout": 5,
                        "environment": [{"name": "X", "value": "1"}],
                        "mountPoints": [{"sourceVolume": "scratch", "containerPath": "/s"}]},
                       {"name": "main", "image": "i", "command": ["b"],
                        "dependsOn": [{"containerName": "side", "condition": "START"}],
                        "mountPoints": [{"sourceVolume": "host", "containerPath": "/h", "readOnly": True}]}]}]})
    spec = task_spec(job, {"AWS_ENDPOINT_URL": "http://e"})
    assert spec.result == FIRST_ESSENTIAL and spec.attempt == 2
    side, main = spec.members
    assert (side.name, side.essential, side.stop_timeout) == ("side", False, 5)
    assert main.depends_on == (("side", "START"),) and main.essential
    assert (side.spec.vcpus, side.spec.memory_mib, main.spec.vcpus, main.spec.memory_mib) == (0.5, 64, 2.0, 512)
    assert side.spec.environment["X"] == "1" and side.spec.environment["AWS_BATCH_JOB_ATTEMPT"] == "2"
    assert main.spec.environment["AWS_ENDPOINT_URL"] == "http://e" and "X" not in main.spec.environment
    assert spec.volumes == (TaskVolume("scratch"),)
    assert side.volume_mounts == (VolumeMount("scratch", "/s"),)
    assert main.spec.mounts == (Mount("/data", "/h", True),)   # a host path: the runner's host-access check sees it


def test_an_eks_pod_runs_init_containers_first_with_kubernetes_command_and_args():
    job = dict(BASE, _task={"kind": "eks", "limits": {"containers/main": {"vcpus": 0.25, "memory": 32, "gpus": 0}},
                            "sizes": {"mem": 16}},
               eksProperties={"podProperties": {
                   "volumes": [{"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                               {"name": "h", "hostPath": {"path": "/var/x"}}],
                   "initContainers": [{"name": "init", "image": "i", "args": ["prepare"]}],
                   "containers": [{"name": "main", "image": "i", "command": ["python"], "args": ["run.py"],
                                   "env": [{"name": "E", "value": "v"}],
                                   "securityContext": {"runAsUser": 1000, "readOnlyRootFilesystem": True},
                                   "volumeMounts": [{"name": "mem", "mountPath": "/m"},
                                                    {"name": "h", "mountPath": "/h"}]}]}})
    spec = task_spec(job, {})
    assert spec.result == ALL_ZERO
    init, main = spec.members
    assert (init.stage, main.stage) == (INIT, MAIN)
    assert init.entrypoint is None and init.spec.command == ["prepare"]
    assert main.entrypoint == ("python",) and main.spec.command == ["run.py"]
    assert main.spec.user == "1000" and main.spec.readonly_root
    assert (main.spec.vcpus, main.spec.memory_mib) == (0.25, 32)
    assert main.spec.environment["E"] == "v"
    assert main.spec.environment["AWS_BATCH_JOB_KUBERNETES_NODE_UID"] == "node-uid"
    assert spec.volumes == (TaskVolume("mem", memory=True, size_mib=16),)
    assert main.volume_mounts == (VolumeMount("mem", "/m"),) and main.spec.mounts == (Mount("/var/x", "/h"),)


def test_a_pod_volume_docker_cannot_provide_is_refused():
    job = dict(BASE, _task={"kind": "eks", "limits": {}}, eksProperties={"podProperties": {
        "volumes": [{"name": "claim", "persistentVolumeClaim": {"claimName": "c"}}],
        "containers": [{"name": "main", "image": "i"}]}})
    with pytest.raises(ValueError, match="only emptyDir, hostPath and secret volumes run on Docker"):
        task_spec(job, {})


EKS_CE = {"computeEnvironmentName": "eks", "eksConfiguration": {
    "eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/batch", "kubernetesNamespace": "batch"}}
POD_JOB = dict(BASE, _task={"kind": "eks", "limits": {}},
               eksProperties={"podProperties": {"containers": [{"name": "main", "image": "i"}]}})


@pytest.mark.parametrize("ce, pod_namespace, place", [
    (EKS_CE, None, ClusterPlace("arn:aws:eks:us-east-1:123456789012:cluster/batch", "batch")),
    (EKS_CE, "team-a", ClusterPlace("arn:aws:eks:us-east-1:123456789012:cluster/batch", "team-a")),
    ({"computeEnvironmentName": "ec2"}, "team-a", ClusterPlace("", "team-a")),   # the runner's own cluster
    ({"computeEnvironmentName": "ec2"}, None, None),
])
def test_a_pod_runs_in_its_namespace_else_its_compute_environments(ce, pod_namespace, place):
    job = json.loads(json.dumps(POD_JOB))
    if pod_namespace:
        job["eksProperties"]["podProperties"]["metadata"] = {"namespace": pod_namespace}
    job["_place"] = _pod_place(job, ce)
    spec = task_spec(job, {})
    assert spec.place == place and spec.members[0].spec.place == place


def test_a_container_job_runs_where_its_compute_environment_says():
    assert cluster_place(EKS_CE) == ClusterPlace("arn:aws:eks:us-east-1:123456789012:cluster/batch", "batch")
    assert cluster_place({"computeEnvironmentName": "ec2"}) is None
