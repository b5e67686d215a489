"""No Docker resource of an ephemeral server outlives it (README "Durability"): once the server
stops (in-process with running_server, or the CLI told to stop with SIGTERM/SIGINT) or is reset,
no container, volume or network labelled with its id is left, for every kind of job: a single
container, an ECS task (its holder container that owns the task's network namespace and two
members), an EKS pod (holder, init and main containers, emptyDir scratch volumes) and a
multi-node job (a bridge network per attempt; plain nodes and ECS-task nodes). An ephemeral
server killed with SIGKILL leaves its containers; the next server started on the machine
removes them (runners/docker_orphans), and never those of a server that is still running."""

from __future__ import annotations

import http.client
import signal
import subprocess
import sys
import time

import boto3
import pytest

from batchemu.runners.docker_create import LABEL_SERVER
from batchemu.runners.docker_task import LABEL_TASK_JOB
from batchemu.testing import running_server
from tests.e2e.support import IMAGE, docker_client, free_port, make_queue, new_account, wait_for, wait_until

pytestmark = pytest.mark.docker

RES = [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "32"}]
SLEEP = ["sh", "-c", "sleep 120"]


def _container(name: str | None = None) -> dict:
    return {**({"name": name} if name else {}), "image": IMAGE, "command": SLEEP, "resourceRequirements": RES}


_ECS = {"taskProperties": [{"containers": [_container("side"), _container("main")]}]}
_LIMITS = {"limits": {"cpu": "250m", "memory": "32Mi"}}
_MOUNTS = [{"name": "work", "mountPath": "/work"}, {"name": "fast", "mountPath": "/fast"}]
_EKS = {"podProperties": {
    "volumes": [{"name": "work", "emptyDir": {}}, {"name": "fast", "emptyDir": {"medium": "Memory"}}],
    "initContainers": [{"name": "init", "image": IMAGE, "command": ["sh", "-c", "echo ok > /work/f"],
                        "resources": _LIMITS, "volumeMounts": _MOUNTS}],
    "containers": [{"name": "main", "image": IMAGE, "command": SLEEP, "resources": _LIMITS,
                    "volumeMounts": _MOUNTS}]}}


def _nodes(range_properties: dict) -> dict:
    return {"type": "multinode", "nodeProperties": {
        "numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", **range_properties}]}}


# kind -> (RegisterJobDefinition arguments, what runs once every part is up:
#          (running containers, volumes, networks))
KINDS = {
    "container": ({"type": "container", "containerProperties": _container()}, (1, 0, 0)),
    "ecs-task": ({"type": "container", "ecsProperties": _ECS}, (3, 0, 0)),            # holder + 2
    "eks-pod": ({"type": "container", "eksProperties": _EKS}, (2, 2, 0)),             # holder + main
    "multinode": (_nodes({"container": _container()}), (2, 0, 1)),
    "multinode-ecs": (_nodes({"ecsProperties": _ECS}), (6, 0, 1)),                    # 2 x (holder + 2)
}


def leftovers(client, server_id: str) -> dict:
    """Every container, volume and network labelled as this server's, by name."""
    own = {"label": f"{LABEL_SERVER}={server_id}"}
    # The low-level listing: no inspect per container, which would race with a removal.
    return {"containers": sorted(c["Names"][0] for c in client.api.containers(all=True, filters=own)),
            "volumes": sorted(v.name for v in client.volumes.list(filters=own)),
            "networks": sorted(n.name for n in client.networks.list(filters=own))}


def running_parts(client, server_id: str) -> tuple:
    own = {"label": f"{LABEL_SERVER}={server_id}"}
    return (len(client.api.containers(filters={**own, "status": "running"})),
            len(client.volumes.list(filters=own)), len(client.networks.list(filters=own)))


def submit(batch, kind: str, count: int = 1) -> list:
    if not batch.describe_job_queues(jobQueues=["q"])["jobQueues"]:
        make_queue(batch, "q", max_vcpus=16)
    batch.register_job_definition(jobDefinitionName=kind, **KINDS[kind][0])
    return [batch.submit_job(jobName=f"j{i}", jobQueue="q", jobDefinition=kind)["jobId"] for i in range(count)]


def run_until_up(client, batch, server_id: str, kind: str) -> None:
    """Submit one job of `kind` and wait until all of it runs (so there is something to leak)."""
    (job_id,) = submit(batch, kind)
    wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
    wait_until(lambda: running_parts(client, server_id) == KINDS[kind][1], 30,
               f"{KINDS[kind][1]} running containers, volumes, networks")


def reset(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", "/batchemu/reset", headers={"Host": "localhost"})
        return conn.getresponse().status
    finally:
        conn.close()


NOTHING = {"containers": [], "volumes": [], "networks": []}


@pytest.fixture()
def servers():
    """Server ids a test ran; whatever a failing test left of them is removed after it."""
    ids = []
    yield ids
    client = docker_client()
    for server_id in ids:
        own = {"label": f"{LABEL_SERVER}={server_id}"}
        for container in client.api.containers(all=True, filters=own):
            client.api.remove_container(container["Id"], force=True)
        for volume in client.volumes.list(filters=own):
            volume.remove(force=True)
        for network in client.networks.list(filters=own):
            network.remove()


@pytest.mark.parametrize("kind", list(KINDS))
def test_stopping_an_ephemeral_server_leaves_nothing_of_its_jobs(kind, servers):
    client = docker_client()
    with running_server(runner="docker", stop_grace_seconds=1, task_holder_image=IMAGE) as server:
        server_id = server.emulator.server_id
        servers.append(server_id)
        run_until_up(client, server.client("batch", access_key=new_account()), server_id, kind)
    assert leftovers(client, server_id) == NOTHING


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_reset_leaves_nothing_of_the_jobs_it_removes(kind, servers):
    client = docker_client()
    with running_server(runner="docker", stop_grace_seconds=30, task_holder_image=IMAGE) as server:
        server_id = server.emulator.server_id
        servers.append(server_id)
        run_until_up(client, server.client("batch", access_key=new_account()), server_id, kind)
        assert reset(server.port) == 200
        assert leftovers(client, server_id) == NOTHING      # gone when the reset answers
        time.sleep(0.5)                                     # and nothing comes back
        assert leftovers(client, server_id) == NOTHING


@pytest.mark.parametrize("end", ["reset", "stop"])
def test_a_reset_or_stop_while_tasks_are_being_launched_leaves_nothing(end, servers):
    # It comes while the tasks' holders and members are being created: a launch in flight
    # gives up, or is waited for and what it made goes with the rest.
    client = docker_client()
    with running_server(runner="docker", stop_grace_seconds=30, task_holder_image=IMAGE) as server:
        server_id = server.emulator.server_id
        servers.append(server_id)
        batch = server.client("batch", access_key=new_account())
        jobs = submit(batch, "eks-pod", 2) + submit(batch, "ecs-task", 2)
        wait_for(batch, jobs[0], lambda j: j["status"] in ("STARTING", "RUNNING"), 60, "STARTING")
        if end == "reset":
            assert reset(server.port) == 200
            assert leftovers(client, server_id) == NOTHING
            time.sleep(1.0)                                 # and nothing comes back
            assert leftovers(client, server_id) == NOTHING
    assert leftovers(client, server_id) == NOTHING


class CliServer:
    """`python -m batchemu --ephemeral` on a free port, as a user or a CI service runs it (two
    start side by side: run_task waits for the "listening" line)."""

    def __init__(self):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "batchemu", "--ephemeral", "--port", str(self.port), "--runner", "docker",
             "--task-holder-image", IMAGE, "--stop-grace-seconds", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.batch = boto3.client("batch", endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                                  aws_access_key_id=new_account(), aws_secret_access_key="test")

    def run_task(self, client) -> str:
        """An ECS task running on this server (holder + 2 members); its server id."""
        try:
            self.proc.stdout.readline()   # "listening on ...": serving from now on
            (job_id,) = submit(self.batch, "ecs-task")
            server_id = task_server_id(client, job_id)
            wait_until(lambda: running_parts(client, server_id) == KINDS["ecs-task"][1], 60, "the task to run")
            return server_id
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def stop(self, sig) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(30)
        finally:
            self.proc.stdout.close()


def task_server_id(client, job_id: str) -> str:
    """The id a CLI server labels its containers with, read from the job's task containers."""
    found = wait_until(lambda: client.containers.list(all=True, filters={"label": f"{LABEL_TASK_JOB}={job_id}"}),
                       30, "the task's containers")
    return found[0].labels[LABEL_SERVER]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_the_cli_ephemeral_server_told_to_stop_leaves_nothing(sig, servers):
    client = docker_client()
    server = CliServer()
    server_id = server.run_task(client)
    servers.append(server_id)
    assert server.stop(sig) == 0
    assert leftovers(client, server_id) == NOTHING


def test_what_a_killed_ephemeral_server_left_goes_when_the_next_server_starts(servers):
    client = docker_client()
    killed, alive = CliServer(), CliServer()
    try:
        killed_id, alive_id = killed.run_task(client), alive.run_task(client)
        servers.extend([killed_id, alive_id])
        assert killed.stop(signal.SIGKILL) == -signal.SIGKILL   # no clean-up at all
        assert leftovers(client, killed_id)["containers"]       # the holder and members stay
        with running_server(runner="docker", task_holder_image=IMAGE):
            wait_until(lambda: leftovers(client, killed_id) == NOTHING, 30, "the orphans to go")
            time.sleep(0.5)
            # The other server still runs: its task is left alone.
            assert running_parts(client, alive_id) == KINDS["ecs-task"][1]
    finally:
        alive.stop(signal.SIGTERM)
    assert leftovers(client, alive_id) == NOTHING
