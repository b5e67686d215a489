"""Multi-container jobs on Docker survive a crash (README "Multi-container jobs"): a real
`python -m batchemu` server with a data dir is killed with SIGKILL while four tasks run, their
containers go on while it is down, and the server started again on the same data dir re-attaches
them (runners/docker_task_reattach):

- an ECS task whose main container runs across the crash, and whose sidecar ends while the
  server is down, succeeds in one attempt, each container's output neither lost nor repeated;
- an ECS task whose essential container exits 3 while the server is down: the restarted server
  stops the sidecar still running and the job fails with that exit code;
- a dependsOn COMPLETE chain whose dependency ends while the server is down: the dependant
  starts after the restart (and reads the scratch volume the dependency wrote);
- an EKS pod whose init container ended before the crash and whose main container runs across it.

One crash for the four (the module fixture), so the restart costs seconds, not minutes; each
test then checks one job through boto3 (DescribeJobs, the Logs API per container stream) and
that no container or volume of its task is left."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.support import IMAGE, docker_client, make_queue, new_account, wait_done, wait_for, wait_until
from tests.e2e.test_restart import ServerProcess, read_db

pytestmark = pytest.mark.docker

GROUP = "/aws/batch/job"
RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "32"}]
LIMITS = {"limits": {"cpu": "250m", "memory": "32Mi"}}


def wait_file(name: str) -> str:
    """Shell: wait (up to 2 minutes) until the test creates /gate/<name>."""
    return f"i=0; while [ ! -e /gate/{name} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done"


def container(name: str, script: str, mounts: tuple = (), **more) -> dict:
    """An ECS task container with the test's gate directory at /gate (and `mounts`)."""
    return {"name": name, "image": IMAGE, "command": ["sh", "-c", script], "resourceRequirements": RES,
            "mountPoints": [{"sourceVolume": "gate", "containerPath": "/gate"}, *mounts], **more}


def task_parts(client, job_id: str) -> list:
    """The task's containers (holder and members) as Docker lists them: [(member, state)]."""
    listed = client.api.containers(all=True, filters={"label": f"batchemu.task-job-id={job_id}"})
    return sorted((c["Labels"].get("batchemu.task-member"), c["State"]) for c in listed)


def state_of(client, job_id: str, member: str) -> str | None:
    return dict(task_parts(client, job_id)).get(member)


def lines(logs, stream: str) -> list:
    out = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    return [e["message"] for e in out["events"]]


def stream(job: dict, member: str) -> str:
    if "eksProperties" in job:   # <definition name>/<container>/<pod name> (README)
        definition = job["jobDefinition"].rsplit("/", 1)[-1].split(":")[0]
        return f"{definition}/{member}/{job['eksProperties']['podProperties']['podName']}"
    containers = {c["name"]: c for c in job["ecsProperties"]["taskProperties"][0]["containers"]}
    return containers[member]["logStreamName"]


def exits(job: dict) -> dict:
    return {c["name"]: c.get("exitCode") for c in job["ecsProperties"]["taskProperties"][0]["containers"]}


def assert_nothing_left(client, job_id: str) -> None:
    label = {"label": f"batchemu.task-job-id={job_id}"}
    wait_until(lambda: not client.api.containers(all=True, filters=label) and not client.volumes.list(filters=label),
               20, f"the containers and volumes of task {job_id} removed")


@pytest.fixture(scope="module")
def crash(tmp_path_factory):
    """Four tasks running, the server killed (SIGKILL), what happens while it is down, and the
    server started again: yields (batch, logs, docker client, gate directory, job ids)."""
    client = docker_client()
    root = tmp_path_factory.mktemp("task-restart")
    gate = root / "gate"
    gate.mkdir()
    gate.chmod(0o777)
    data_dir, log = root / "data", root / "server.log"
    more = ("--task-holder-image", IMAGE)
    first = ServerProcess(data_dir, log, *more)
    second = None
    ((server_id,),) = read_db(data_dir, "SELECT value FROM meta WHERE key='server_id'")
    account = new_account()
    try:
        batch, logs = first.client(account), first.client(account, "logs")
        make_queue(batch, "q", max_vcpus=16)
        volumes = [{"name": "gate", "host": {"sourcePath": str(gate)}}]

        def ecs(name: str, containers: list, scratch: bool = False) -> str:
            task = {"containers": containers, "volumes": volumes + ([{"name": "scratch"}] if scratch else [])}
            batch.register_job_definition(jobDefinitionName=name, type="container",
                                          ecsProperties={"taskProperties": [task]})
            return batch.submit_job(jobName=name, jobQueue="q", jobDefinition=name)["jobId"]

        jobs = {
            # The sidecar ends while the server is down; main runs on until the test says so.
            "survives": ecs("survives", [
                container("side", f"echo side-1; {wait_file('down')}; echo side-2; touch /gate/side-done",
                          essential=False),
                container("main", f"echo main-1; {wait_file('side-done')}; echo main-2; "
                                  f"{wait_file('finish-ecs')}; echo main-3")]),
            # The essential container exits 3 while the server is down; the sidecar runs on.
            "essential": ecs("essential", [
                container("side", "echo side; sleep 300", essential=False, stopTimeout=1),
                container("main", f"echo main; {wait_file('down')}; exit 3")]),
            # `second` waits for `first` to COMPLETE, which happens while the server is down.
            "chain": ecs("chain", [
                container("first", f"echo first; {wait_file('down')}; echo payload > /scratch/x; "
                                   "echo first-done; exit 5", essential=False,
                          mounts=[{"sourceVolume": "scratch", "containerPath": "/scratch"}]),
                container("second", "cat /scratch/x; echo second-done",
                          dependsOn=[{"containerName": "first", "condition": "COMPLETE"}],
                          mounts=[{"sourceVolume": "scratch", "containerPath": "/scratch"}])], scratch=True),
        }
        mounts = [{"name": "work", "mountPath": "/work"}, {"name": "gate", "mountPath": "/gate"}]
        batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
            "volumes": [{"name": "work", "emptyDir": {}}, {"name": "gate", "hostPath": {"path": str(gate)}}],
            "initContainers": [{"name": "init", "image": IMAGE, "resources": LIMITS, "volumeMounts": mounts,
                                "command": ["sh", "-c", "echo init-out > /work/f; echo init-done"]}],
            "containers": [{"name": "main", "image": IMAGE, "resources": LIMITS, "volumeMounts": mounts,
                            "command": ["sh", "-c", f"cat /work/f; {wait_file('finish-pod')}; echo main-done"]}]}})
        jobs["pod"] = batch.submit_job(jobName="pod", jobQueue="q", jobDefinition="pod")["jobId"]

        # Before the crash: every task RUNNING and its first lines stored (so the restart must
        # resume each stream after them, not repeat them).
        first_lines = {"survives": {"side": ["side-1"], "main": ["main-1"]}, "essential": {"main": ["main"]},
                       "chain": {"first": ["first"]}, "pod": {"init": ["init-done"], "main": ["init-out"]}}
        for key, job_id in jobs.items():
            job = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
            for member, expected in first_lines[key].items():
                wait_until(lambda: lines(logs, stream(job, member)) == expected, 20, f"{key}/{member} output stored")
        assert state_of(client, jobs["pod"], "init") == "exited"   # kept until the pod ends

        first.kill(signal.SIGKILL)
        (gate / "down").touch()
        for job_id, member in ((jobs["survives"], "side"), (jobs["essential"], "main"), (jobs["chain"], "first")):
            wait_until(lambda: state_of(client, job_id, member) == "exited", 30, f"{member} of {job_id} to exit")
        assert state_of(client, jobs["essential"], "side") == "running"
        assert state_of(client, jobs["chain"], "second") is None   # its dependency ended unseen
        assert state_of(client, jobs["survives"], "main") == "running"

        second = ServerProcess(data_dir, log, *more)
        yield second.client(account), second.client(account, "logs"), client, gate, jobs
    finally:
        first.kill()
        if second is not None:
            second.kill(signal.SIGTERM)
        own = {"label": f"batchemu.server={server_id}"}
        for leftover in client.api.containers(all=True, filters=own):   # whatever a failure left
            client.api.remove_container(leftover["Id"], force=True)
        for volume in client.volumes.list(filters=own):
            volume.remove(force=True)
        client.close()


def test_a_task_running_across_a_crash_succeeds_with_its_output_once(crash):
    batch, logs, client, gate, jobs = crash
    job_id = jobs["survives"]
    job = wait_for(batch, job_id, lambda j: j["status"] in ("RUNNING", "SUCCEEDED", "FAILED"), 10, "listed")
    assert job["status"] == "RUNNING"                          # re-attached, not lost
    wait_until(lambda: lines(logs, stream(job, "main")) == ["main-1", "main-2"], 20, "main's line after the crash")
    assert state_of(client, job_id, "main") == "running"
    (gate / "finish-ecs").touch()
    job = wait_done(batch, job_id, 30)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert exits(job) == {"side": 0, "main": 0}
    (attempt,) = job["attempts"]
    assert {c["name"]: c["exitCode"] for c in attempt["taskProperties"][0]["containers"]} == {"side": 0, "main": 0}
    assert lines(logs, stream(job, "side")) == ["side-1", "side-2"]
    assert lines(logs, stream(job, "main")) == ["main-1", "main-2", "main-3"]
    assert_nothing_left(client, job_id)


def test_an_essential_container_that_exited_while_the_server_was_down_stops_the_task(crash):
    batch, logs, client, _, jobs = crash
    job = wait_done(batch, jobs["essential"], 30)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Essential container in task exited"
    codes = exits(job)
    assert codes["main"] == 3 and codes["side"] in (137, 143)   # stopped by the restarted server
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == "Essential container in task exited"
    assert lines(logs, stream(job, "main")) == ["main"]
    assert lines(logs, stream(job, "side")) == ["side"]
    assert_nothing_left(client, jobs["essential"])


def test_a_dependency_completed_while_the_server_was_down_starts_its_dependant(crash):
    batch, logs, client, _, jobs = crash
    job = wait_done(batch, jobs["chain"], 30)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert exits(job) == {"first": 5, "second": 0}
    assert len(job["attempts"]) == 1
    assert lines(logs, stream(job, "first")) == ["first", "first-done"]
    assert lines(logs, stream(job, "second")) == ["payload", "second-done"]   # the scratch volume kept
    assert_nothing_left(client, jobs["chain"])


def test_a_pod_running_across_a_crash_succeeds(crash):
    batch, logs, client, gate, jobs = crash
    job_id = jobs["pod"]
    assert wait_for(batch, job_id, lambda j: True, 5)["status"] == "RUNNING"
    (gate / "finish-pod").touch()
    job = wait_done(batch, job_id, 30)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    (attempt,) = job["eksAttempts"]
    assert [(c["name"], c["exitCode"]) for c in attempt["initContainers"]] == [("init", 0)]
    assert [(c["name"], c["exitCode"]) for c in attempt["containers"]] == [("main", 0)]
    assert lines(logs, stream(job, "init")) == ["init-done"]
    assert lines(logs, stream(job, "main")) == ["init-out", "main-done"]
    assert_nothing_left(client, job_id)
