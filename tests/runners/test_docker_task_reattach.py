"""runners/docker_task_reattach against the real Docker engine: what a restart's reattach does
with the tasks it cannot adopt (the adopted ones: tests/e2e/test_task_restart.py). A task none
of whose main containers ran, and one whose holder has no spec to rebuild it by (a task of an
older batchemu), are removed before reattach returns and left out of its answer, so the engine
starts the attempt again; an unwanted task goes too."""

from __future__ import annotations

import secrets

import pytest

from batchemu.runners.base import LaunchSpec
from batchemu.runners.docker import LABEL_SERVER, DockerRunner
from batchemu.runners.docker_task import LABEL_TASK_ATTEMPT, LABEL_TASK_JOB, LABEL_TASK_MEMBER
from batchemu.runners.task_spec import INIT, MAIN, TaskMember, TaskSpec, TaskVolume, VolumeMount, from_json, to_json
from tests import docker_support
from tests.e2e.support import wait_until
from tests.runners.events import EventLog

pytestmark = pytest.mark.docker

IMAGE = docker_support.IMAGE


@pytest.fixture()
def client():
    client = docker_support.docker_client()
    yield client
    client.close()


@pytest.fixture()
def server_id(client):
    sid = "test-" + secrets.token_hex(4)
    yield sid
    own = {"label": f"{LABEL_SERVER}={sid}"}
    left = client.api.containers(all=True, filters=own)
    for container in left:
        client.api.remove_container(container["Id"], force=True)
    for volume in client.volumes.list(filters=own):
        volume.remove(force=True)
    assert not left, f"containers left behind: {[c['Names'] for c in left]}"


def member(job: str, name: str, command: list, stage: str = MAIN) -> TaskMember:
    spec = LaunchSpec(job_id=job, attempt=1, name=name, image=IMAGE, command=command, environment={"M": name})
    return TaskMember(name, spec, stage=stage, volume_mounts=(VolumeMount("work", "/work"),))


def pod(job: str, init_command: list) -> TaskSpec:
    return TaskSpec(job, 1, "reattach-test", (member(job, "init", init_command, INIT),
                                              member(job, "main", ["sleep", "30"])), (TaskVolume("work"),))


def parts(client, server_id: str, job: str) -> dict:
    """member name ("" for the holder) -> state, of the task's containers."""
    listed = client.api.containers(all=True, filters={"label": [f"{LABEL_SERVER}={server_id}",
                                                                f"{LABEL_TASK_JOB}={job}"]})
    return {c["Labels"][LABEL_TASK_MEMBER]: c["State"] for c in listed}


def volumes(client, server_id: str, job: str) -> list:
    return client.volumes.list(filters={"label": [f"{LABEL_SERVER}={server_id}", f"{LABEL_TASK_JOB}={job}"]})


def test_tasks_that_cannot_be_adopted_are_removed_and_left_out(client, server_id):
    first = DockerRunner(server_id, network="none", task_holder_image=IMAGE)
    first.set_listener(EventLog())
    waiting, running, unwanted, older = (f"job-{secrets.token_hex(6)}" for _ in range(4))
    first.start_task(pod(waiting, ["sleep", "30"]))   # its init container runs: main never started
    first.start_task(pod(running, ["true"]))          # main runs: adopted
    first.start_task(pod(unwanted, ["true"]))         # the store wants no attempt of it
    try:
        wait_until(lambda: parts(client, server_id, waiting).get("init") == "running", 30, "the init container")
        for job in (running, unwanted):
            wait_until(lambda: parts(client, server_id, job).get("main") == "running", 30, "the main container")
    finally:
        first.close()                                 # a data-dir server's stop: its tasks run on
    # A task an older batchemu started: a holder with no spec label, and a running member.
    labels = {LABEL_SERVER: server_id, LABEL_TASK_JOB: older, LABEL_TASK_ATTEMPT: "1"}
    holder = client.containers.run(IMAGE, ["sleep", "30"], detach=True, network_mode="none",
                                   labels={**labels, LABEL_TASK_MEMBER: ""})
    client.containers.run(IMAGE, ["sleep", "30"], detach=True, network_mode=f"container:{holder.id}",
                          labels={**labels, LABEL_TASK_MEMBER: "main"})

    second = DockerRunner(server_id, network="none", task_holder_image=IMAGE)
    second.set_listener(events := EventLog())
    try:
        survivors = second.reattach({waiting: 1, running: 1, older: 1})
        assert [(s.job_id, s.running) for s in survivors] == [(running, True)]
        assert survivors[0].started_ms
        # Gone when reattach returns: the engine starts these attempts again, with the same names.
        for job in (waiting, older):
            assert parts(client, server_id, job) == {} and volumes(client, server_id, job) == []
        assert parts(client, server_id, running) == {"": "running", "init": "exited", "main": "running"}
        wait_until(lambda: not parts(client, server_id, unwanted) and not volumes(client, server_id, unwanted),
                   20, "the unwanted task removed")
        assert volumes(client, server_id, running)    # the adopted task's volume is kept
        second.stop(running, 1, 0)                    # adopted: stopping it ends it, reported with each exit
        exited = events.exited(running, 1, timeout=30)
        assert {r.name: r.exit_code for r in exited.containers} == {"init": 0, "main": 137}
        assert exited.exit_code == 137
        wait_until(lambda: not parts(client, server_id, running) and not volumes(client, server_id, running),
                   20, "the adopted task removed once it ended")
    finally:
        second.close()


def test_a_task_spec_survives_json():
    spec = pod("job-x", ["sh", "-c", "echo hi"])
    assert from_json(to_json(spec)) == spec
    with pytest.raises(ValueError):
        from_json('{"members": [1]}')
