"""Multi-container jobs on real Docker containers: an ECS task (ecsProperties: essential
containers, dependsOn, one network namespace, a log stream per container, per-container exit
codes) and an EKS pod (eksProperties: init containers, an emptyDir volume, eksAttempts)."""

from __future__ import annotations

import pytest

from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, make_queue, new_account, wait_done, wait_for, wait_until
from tests.raw_client import RawClient

pytestmark = pytest.mark.docker

GROUP = "/aws/batch/job"
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "32"}]
# The server listens on the task's localhost; main sends it a line once prep succeeded.
# Generous waits: on a busy machine a container can take seconds to start.
SERVER = "nc -l -p 7070 -w 60 > /tmp/got; echo server got: $(cat /tmp/got)"
MAIN = ("i=0; until echo hello-from-main | nc -w 1 127.0.0.1 7070; do i=$((i+1)); "
        "[ $i -lt 100 ] || exit 1; sleep 0.2; done; echo sent; echo main env $ROLE")


@pytest.fixture(scope="module")
def server():
    docker_client().close()   # skips (fails under BATCHEMU_REQUIRE_DOCKER=1) without Docker
    # bridge: each task gets a network namespace of its own (the holder's), not the host's.
    with running_server(runner="docker", stop_grace_seconds=1, job_network="bridge",
                        task_holder_image=IMAGE) as s:
        yield s


@pytest.fixture()
def clients(server):
    account = new_account()
    batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
    make_queue(batch, "q", max_vcpus=8)
    return batch, logs


def container(name: str, script: str, **more) -> dict:
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], "resourceRequirements": RES, **more}


def register_ecs(batch, name: str, containers: list) -> None:
    batch.register_job_definition(jobDefinitionName=name, type="container",
                                  ecsProperties={"taskProperties": [{"containers": containers}]})


def lines(logs, stream: str) -> list:
    out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in out["events"]]


def by_name(containers: list) -> dict:
    return {c["name"]: c for c in containers}


def test_ecs_task_dependencies_localhost_and_a_stream_per_container(clients):
    batch, logs = clients
    register_ecs(batch, "trio", [
        container("server", SERVER, essential=False),
        container("prep", "echo prepared", essential=False),
        container("main", MAIN, environment=[{"name": "ROLE", "value": "definition"}],
                  dependsOn=[{"containerName": "prep", "condition": "SUCCESS"},
                             {"containerName": "server", "condition": "START"}]),
    ])
    job_id = batch.submit_job(jobName="trio", jobQueue="q", jobDefinition="trio", ecsPropertiesOverride={
        "taskProperties": [{"containers": [{"name": "main", "environment": [{"name": "ROLE", "value": "override"}]}]}]
    })["jobId"]
    job = wait_done(batch, job_id, 60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    task = job["ecsProperties"]["taskProperties"][0]
    assert task["taskArn"].startswith("arn:aws:ecs:us-east-1:") and "container" not in job
    containers = by_name(task["containers"])
    assert {n: c["exitCode"] for n, c in containers.items()} == {"server": 0, "prep": 0, "main": 0}
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    for name in ("server", "prep", "main"):   # ECS's awslogs stream name: prefix/container/task id
        assert containers[name]["logStreamName"] == f"trio/{name}/{task_id}"
    assert lines(logs, f"trio/prep/{task_id}") == ["prepared"]
    assert lines(logs, f"trio/server/{task_id}") == ["server got: hello-from-main"]  # over localhost
    assert lines(logs, f"trio/main/{task_id}") == ["sent", "main env override"]
    (attempt,) = job["attempts"]
    (attempt_task,) = attempt["taskProperties"]
    assert attempt_task["taskArn"] == task["taskArn"]
    assert {c["name"]: c["exitCode"] for c in attempt_task["containers"]} == {"server": 0, "prep": 0, "main": 0}


def test_an_essential_container_failing_fails_the_job_and_stops_the_others(clients):
    batch, logs = clients
    register_ecs(batch, "failing", [
        container("sidecar", "echo side; sleep 60", essential=False, stopTimeout=1),
        container("main", "sleep 0.5; echo boom; exit 3"),
    ])
    job_id = batch.submit_job(jobName="failing", jobQueue="q", jobDefinition="failing")["jobId"]
    job = wait_done(batch, job_id, 60)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Essential container in task exited"
    containers = by_name(job["ecsProperties"]["taskProperties"][0]["containers"])
    assert containers["main"]["exitCode"] == 3
    assert containers["sidecar"]["exitCode"] in (137, 143)   # stopped with the task
    assert job["attempts"][0]["statusReason"] == "Essential container in task exited"


def test_a_failed_success_dependency_never_starts_the_dependant(clients):
    batch, _ = clients
    register_ecs(batch, "unmet", [
        container("prep", "exit 1", essential=False),
        container("main", "echo never", dependsOn=[{"containerName": "prep", "condition": "SUCCESS"}]),
    ])
    job = wait_done(batch, batch.submit_job(jobName="u", jobQueue="q", jobDefinition="unmet")["jobId"], 60)
    assert job["status"] == "FAILED"
    containers = by_name(job["ecsProperties"]["taskProperties"][0]["containers"])
    assert containers["prep"]["exitCode"] == 1
    assert "exitCode" not in containers["main"] and "dependency prep exited with code 1" in containers["main"]["reason"]


def pod(init_script: str, main_script: str) -> dict:
    limits = {"limits": {"cpu": "250m", "memory": "32Mi"}}
    return {"podProperties": {
        "volumes": [{"name": "work", "emptyDir": {}}],
        "initContainers": [{"name": "init", "image": IMAGE, "command": ["sh", "-c", init_script],
                            "resources": limits, "volumeMounts": [{"name": "work", "mountPath": "/work"}]}],
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c"], "args": [main_script],
                        "env": [{"name": "GREETING", "value": "from-definition"}],
                        "resources": limits, "volumeMounts": [{"name": "work", "mountPath": "/work"}]}]}}


def test_eks_pod_init_container_shares_an_empty_dir_and_fills_eks_attempts(clients):
    batch, logs = clients
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties=pod(
        "echo data-from-init > /work/file",
        'cat /work/file; echo $GREETING; test -n "$AWS_BATCH_JOB_KUBERNETES_NODE_UID" && echo node-uid-set; '
        'echo job=$AWS_BATCH_JOB_ID; '
        # the container's memory limit (cgroup v2, else v1): resources.limits.memory 32Mi
        'cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'))
    job_id = batch.submit_job(jobName="pod", jobQueue="q", jobDefinition="pod", eksPropertiesOverride={
        "podProperties": {"containers": [{"name": "main", "env": [{"name": "GREETING", "value": "overridden"}]}]}
    })["jobId"]
    job = wait_done(batch, job_id, 60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    props = job["eksProperties"]["podProperties"]
    assert props["podName"].startswith("aws-batch.") and props["nodeName"].endswith(".ec2.internal")
    assert props["containers"][0]["exitCode"] == 0 and props["initContainers"][0]["exitCode"] == 0
    assert job["attempts"] == []
    (attempt,) = job["eksAttempts"]
    assert attempt["podName"] == props["podName"] and attempt["nodeName"] == props["nodeName"]
    assert [(c["name"], c["exitCode"]) for c in attempt["containers"]] == [("main", 0)]
    assert [(c["name"], c["exitCode"]) for c in attempt["initContainers"]] == [("init", 0)]
    assert attempt["containers"][0]["containerID"]
    assert lines(logs, f"pod/main/{props['podName']}") == ["data-from-init", "overridden", "node-uid-set",
                                                         f"job={job_id}", str(32 * 2 ** 20)]


def test_a_failing_init_container_fails_the_pod_before_its_containers_run(clients):
    batch, _ = clients
    batch.register_job_definition(jobDefinitionName="badinit", type="container",
                                  eksProperties=pod("exit 4", "echo never"))
    job = wait_done(batch, batch.submit_job(jobName="b", jobQueue="q", jobDefinition="badinit")["jobId"], 60)
    assert job["status"] == "FAILED"
    (attempt,) = job["eksAttempts"]
    assert attempt["initContainers"][0]["exitCode"] == 4
    assert "exitCode" not in attempt["containers"][0]
    assert "init container init did not succeed" in attempt["containers"][0]["reason"]


def test_terminating_a_task_stops_every_container(clients):
    batch, _ = clients
    register_ecs(batch, "long", [container("side", "sleep 60", essential=False), container("main", "sleep 60")])
    job_id = batch.submit_job(jobName="long", jobQueue="q", jobDefinition="long")["jobId"]
    wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
    batch.terminate_job(jobId=job_id, reason="enough")
    job = wait_done(batch, job_id, 30)   # the server's stop grace is 1 s
    assert job["status"] == "FAILED" and job["statusReason"] == "enough" and job["isTerminated"]
    codes = {c["name"]: c["exitCode"] for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    assert set(codes.values()) <= {137, 143}


def test_custom_log_group_and_prefix_per_container(clients):
    batch, logs = clients
    config = {"logDriver": "awslogs", "options": {"awslogs-group": "/custom/tasks", "awslogs-stream-prefix": "web"}}
    register_ecs(batch, "logged", [container("side", "echo from side", essential=False, logConfiguration=config),
                                   container("main", "sleep 0.3; echo from main")])
    job = wait_done(batch, batch.submit_job(jobName="l", jobQueue="q", jobDefinition="logged")["jobId"], 60)
    task = job["ecsProperties"]["taskProperties"][0]
    task_id = task["taskArn"].rsplit("/", 1)[-1]
    side = logs.get_log_events(logGroupName="/custom/tasks", logStreamName=f"web/side/{task_id}", startFromHead=True)
    assert [e["message"] for e in side["events"]] == ["from side"]
    assert lines(logs, f"logged/main/{task_id}") == ["from main"]


def test_pod_host_path_and_secret_volumes(clients, tmp_path):
    batch, _ = clients
    tmp_path.chmod(0o777)
    host = {"podProperties": {
        "volumes": [{"name": "out", "hostPath": {"path": str(tmp_path)}},
                    {"name": "creds", "secret": {"secretName": "absent", "optional": True}}],
        "containers": [{"name": "main", "image": IMAGE, "command": ["sh", "-c", "ls /creds && echo written > /out/file"],
                        "volumeMounts": [{"name": "out", "mountPath": "/out"},
                                         {"name": "creds", "mountPath": "/creds"}]}]}}
    batch.register_job_definition(jobDefinitionName="hostpath", type="container", eksProperties=host)
    job = wait_done(batch, batch.submit_job(jobName="h", jobQueue="q", jobDefinition="hostpath")["jobId"], 60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert (tmp_path / "file").read_text() == "written\n"
    # A secret that must exist: batchemu has no Kubernetes secrets, so the pod can't start.
    host["podProperties"]["volumes"][1]["secret"]["optional"] = False
    batch.register_job_definition(jobDefinitionName="hostpath", type="container", eksProperties=host)
    job = wait_done(batch, batch.submit_job(jobName="h2", jobQueue="q", jobDefinition="hostpath")["jobId"], 60)
    assert job["status"] == "FAILED" and job["statusReason"] == "Task failed to start"
    assert "secret volume 'creds'" in job["eksProperties"]["podProperties"]["containers"][0]["reason"]


def test_a_failed_task_is_retried_as_a_new_task(clients):
    batch, _ = clients
    register_ecs(batch, "retry", [container("main", 'echo attempt $AWS_BATCH_JOB_ATTEMPT; '
                                                    'test "$AWS_BATCH_JOB_ATTEMPT" = 2')])
    job_id = batch.submit_job(jobName="r", jobQueue="q", jobDefinition="retry",
                              retryStrategy={"attempts": 2})["jobId"]
    job = wait_done(batch, job_id, 60)
    assert job["status"] == "SUCCEEDED"
    first, second = job["attempts"]
    assert [a["taskProperties"][0]["containers"][0]["exitCode"] for a in (first, second)] == [1, 0]
    assert first["taskProperties"][0]["taskArn"] != second["taskProperties"][0]["taskArn"]
    assert job["ecsProperties"]["taskProperties"][0]["taskArn"] == second["taskProperties"][0]["taskArn"]
    assert job["ecsProperties"]["taskProperties"][0]["containers"][0]["exitCode"] == 0


def test_a_task_left_running_by_a_stop_is_re_attached_and_leaves_nothing_behind(tmp_path):
    """A server with a data dir leaves its tasks running when it stops; the next start
    re-attaches them (runners/docker_task_reattach; a crash: tests/e2e/test_task_restart.py),
    and once the attempt ends its containers and volumes go."""
    client = docker_client()
    account = new_account()
    kwargs = dict(runner="docker", data_dir=tmp_path, stop_grace_seconds=1, task_holder_image=IMAGE)
    with running_server(**kwargs) as first:
        batch = first.client("batch", access_key=account)
        make_queue(batch, "q", max_vcpus=4)
        batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [{"name": "main", "image": IMAGE, "command": ["sleep", "60"],
                            "volumeMounts": [{"name": "v", "mountPath": "/v"}]}]}})
        job_id = batch.submit_job(jobName="p", jobQueue="q", jobDefinition="pod")["jobId"]
        wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
        server_id = first.emulator.server_id
    label = {"label": [f"batchemu.server={server_id}", "batchemu.task-job-id"]}
    left = sorted(c.id for c in client.containers.list(sparse=True, filters=label))
    assert len(left) == 2                                             # holder and main, left running by the stop
    with running_server(**kwargs) as second:
        batch = second.client("batch", access_key=account)
        assert wait_for(batch, job_id, lambda j: True, 5)["status"] == "RUNNING"
        assert sorted(c.id for c in client.containers.list(sparse=True, filters=label)) == left   # adopted
        batch.terminate_job(jobId=job_id, reason="enough")
        job = wait_done(batch, job_id, 30)
        assert job["status"] == "FAILED" and job["statusReason"] == "enough"
        (attempt,) = job["eksAttempts"]
        assert attempt["containers"][0]["exitCode"] in (137, 143)
        wait_until(lambda: not client.containers.list(all=True, sparse=True, filters=label)
                   and not client.volumes.list(filters=label), 20, "the task's containers and volume removed")
    client.close()


def test_a_spot_reclaim_ends_the_whole_task_with_no_exit_codes(server):
    account = new_account()
    batch, raw = server.client("batch", access_key=account), RawClient(server.port, access_key=account)
    batch.create_compute_environment(computeEnvironmentName="spot", type="MANAGED", computeResources={
        "type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED", "maxvCpus": 8, "subnets": ["subnet-1"],
        "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]})
    batch.create_job_queue(jobQueueName="sq", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "spot"}])
    register_ecs(batch, "spotty", [container("side", "sleep 60", essential=False), container("main", "sleep 60")])
    job_id = batch.submit_job(jobName="s", jobQueue="sq", jobDefinition="spotty")["jobId"]
    running = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
    status, _, answer = raw.request("POST", "/batchemu/faults/reclaim-spot", {"jobId": job_id},
                                    headers={"Host": "localhost"})
    assert status == 200, answer
    (ended,) = answer["jobs"]
    job = wait_done(batch, job_id, 30)
    assert job["status"] == "FAILED" and job["statusReason"] == f"Host EC2 (instance {ended['instanceId']}) terminated."
    task = job["ecsProperties"]["taskProperties"][0]
    assert task["containerInstanceArn"] == running["ecsProperties"]["taskProperties"][0]["containerInstanceArn"]
    assert all("exitCode" not in c for c in task["containers"])
    assert all("exitCode" not in c for c in job["attempts"][0]["taskProperties"][0]["containers"])


def test_containers_of_a_pod_share_localhost(clients):
    batch, logs = clients
    talk = MAIN.replace("7070", "7071").replace("; echo main env $ROLE", "")
    batch.register_job_definition(jobDefinitionName="duo", type="container", eksProperties={"podProperties": {
        "containers": [{"name": "listener", "image": IMAGE, "command": ["sh", "-c", SERVER.replace("7070", "7071")]},
                       {"name": "talker", "image": IMAGE, "command": ["sh", "-c", talk]}]}})
    job = wait_done(batch, batch.submit_job(jobName="d", jobQueue="q", jobDefinition="duo")["jobId"], 60)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    pod_name = job["eksProperties"]["podProperties"]["podName"]
    assert lines(logs, f"duo/listener/{pod_name}") == ["server got: hello-from-main"]
    assert [c["exitCode"] for c in job["eksAttempts"][0]["containers"]] == [0, 0]
