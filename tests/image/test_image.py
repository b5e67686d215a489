"""The container image (Dockerfile, built by scripts/build-image.sh as batchemu:local) as users
run it: the server in a container with the host's Docker socket mounted and its state on a
named volume, jobs as sibling containers that reach it through AWS_ENDPOINT_URL, driven with
boto3 from outside. Three layouts: the host's (with a restart that must keep every resource),
examples/docker-compose.yml's user-defined network shared with the jobs, where jobs reach the
server by its container name, and README's CI `services:` layout (a network of its own, the port
published, jobs on the host network). Every container, volume and network made here is removed."""

from __future__ import annotations

import os
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml

from batchemu.runners.docker_create import LABEL_JOB
from tests.docker_support import IMAGE as JOB_IMAGE
from tests.docker_support import docker_client, unavailable
from tests.e2e.support import free_port, make_definition, make_queue, new_account, wait_done, wait_until

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]

SERVER_IMAGE = os.environ.get("BATCHEMU_IMAGE", "batchemu:local")
SOCKET = "/var/run/docker.sock"
# The job prints what it got from the server's health route through AWS_ENDPOINT_URL: proof
# that a sibling container reaches the containerised server at the address it was given.
PROBE = ['sh', '-c', 'echo "endpoint=$AWS_ENDPOINT_URL"; wget -qO- "$AWS_ENDPOINT_URL/batchemu/health"; '
                     'echo; echo "hello from a sibling container"']


@pytest.fixture(scope="module")
def docker():
    client = docker_client(JOB_IMAGE)
    import docker.errors

    try:
        client.images.get(SERVER_IMAGE)
    except docker.errors.ImageNotFound:
        unavailable(f"image {SERVER_IMAGE} is missing (build it: bash scripts/build-image.sh)")
    if not os.path.exists(SOCKET):
        unavailable(f"no Docker socket at {SOCKET} to mount into the server's container")
    yield client
    client.close()


@pytest.fixture()
def made(docker):
    """What a test creates (containers, volumes, networks), removed afterwards in that order."""
    things = {"containers": [], "volumes": [], "networks": [], "jobs": []}
    yield things
    # Job containers first (a failed test may leave one behind), then the servers.
    for job_id in things["jobs"]:
        for c in docker.containers.list(all=True, sparse=True, filters={"label": f"{LABEL_JOB}={job_id}"}):
            try:
                c.remove(force=True)
            except Exception:
                pass
    for c in things["containers"]:
        try:
            c.remove(force=True)
        except Exception:
            pass
    for v in things["volumes"]:
        try:
            v.remove(force=True)
        except Exception:
            pass
    for n in things["networks"]:
        try:
            n.remove()
        except Exception:
            pass


def start_server(docker, made, name, port, volume=None, **run):
    volumes = {SOCKET: {"bind": SOCKET, "mode": "rw"}}
    if volume is not None:
        volumes[volume.name] = {"bind": "/var/lib/batchemu", "mode": "rw"}
    container = docker.containers.run(
        SERVER_IMAGE, ["--runner", "docker", "--stop-grace-seconds", "2"], name=name, detach=True,
        volumes=volumes,
        # The image's own HEALTHCHECK command, asked every second instead of every ten.
        healthcheck={"interval": 1_000_000_000}, **run)
    made["containers"].append(container)
    wait_healthy(container, port)
    return container


def wait_healthy(container, port):
    def healthy():
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"the server's container exited:\n{container.logs().decode()}")
        return container.attrs["State"].get("Health", {}).get("Status") == "healthy"

    wait_until(healthy, 90, "the image's HEALTHCHECK to report healthy")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/batchemu/health", timeout=10) as resp:
        assert resp.status == 200


def clients(port, account):
    kw = dict(endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
              aws_access_key_id=account, aws_secret_access_key="test")
    return boto3.client("batch", **kw), boto3.client("logs", **kw)


def run_probe(made, batch, logs, queue, definition):
    job_id = batch.submit_job(jobName="probe", jobQueue=queue, jobDefinition=definition)["jobId"]
    made["jobs"].append(job_id)
    job = wait_done(batch, job_id, timeout=90)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=job["container"]["logStreamName"],
                                 startFromHead=True)["events"]
    return job, [e["message"] for e in events]


def assert_no_job_containers(docker, job_id):
    # The runner removes an exited job's container once its output is stored (shortly after
    # the job's SUCCEEDED): the containerised server drives the host's engine the same way.
    def gone():
        return not docker.containers.list(all=True, sparse=True, filters={"label": f"{LABEL_JOB}={job_id}"})

    wait_until(gone, 30, f"job {job_id}'s container to be removed")


def test_image_runs_a_job_on_the_host_network_and_keeps_its_state_across_a_restart(docker, made):
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    volume = docker.volumes.create(f"batchemu-imagetest-{suffix}")
    made["volumes"].append(volume)
    server = start_server(docker, made, f"batchemu-imagetest-{suffix}", port, volume,
                          network_mode="host", environment={"BATCHEMU_PORT": str(port)})
    account = new_account()
    batch, logs = clients(port, account)
    make_queue(batch, "image-q", max_vcpus=2)
    make_definition(batch, "image-probe", PROBE)

    job, lines = run_probe(made, batch, logs, "image-q", "image-probe")
    # Jobs share the host's network stack with the server: loopback reaches it.
    assert f"endpoint=http://127.0.0.1:{port}" in lines
    assert any('"status":"ok"' in line for line in lines), lines
    assert "hello from a sibling container" in lines
    assert_no_job_containers(docker, job["jobId"])

    # Restart the container (SIGTERM, then start again on the same volume): the state is found.
    server.restart(timeout=20)
    wait_healthy(server, port)
    batch, logs = clients(port, account)
    (kept,) = batch.describe_jobs(jobs=[job["jobId"]])["jobs"]
    assert kept["status"] == "SUCCEEDED" and kept["createdAt"] == job["createdAt"]
    (queue,) = batch.describe_job_queues(jobQueues=["image-q"])["jobQueues"]
    assert queue["state"] == "ENABLED" and queue["status"] == "VALID"
    assert [d["revision"] for d in batch.describe_job_definitions(
        jobDefinitionName="image-probe", status="ACTIVE")["jobDefinitions"]] == [1]
    stream = kept["container"]["logStreamName"]
    assert "hello from a sibling container" in [e["message"] for e in logs.get_log_events(
        logGroupName="/aws/batch/job", logStreamName=stream, startFromHead=True)["events"]]
    # And the restarted server still runs jobs.
    again, lines = run_probe(made, batch, logs, "image-q", "image-probe")
    assert "hello from a sibling container" in lines
    assert_no_job_containers(docker, again["jobId"])


def test_image_as_examples_docker_compose_runs_it(docker, made):
    # examples/docker-compose.yml, started as compose would (no compose CLI here): server and
    # jobs on one user-defined network, the API published on the host's loopback, state on a
    # named volume. No --advertise-url: jobs get the server's container name.
    doc = yaml.safe_load((REPO / "examples" / "docker-compose.yml").read_text())
    service = doc["services"]["batchemu"]
    assert service["image"] == "batchemu:local"
    assert f"{SOCKET}:{SOCKET}" in service["volumes"]
    (data,) = [v for v in service["volumes"] if v.endswith(":/var/lib/batchemu")]
    assert data.split(":")[0] in doc["volumes"]
    (network_key,) = service["networks"]
    assert service["environment"]["BATCHEMU_JOB_NETWORK"] == doc["networks"][network_key]["name"]
    (published,) = service["ports"]
    bind_ip, _, container_port = published.split(":")

    suffix = uuid.uuid4().hex[:8]          # names of our own: other runs may be going on
    port = free_port()
    network = docker.networks.create(f"{doc['networks'][network_key]['name']}-{suffix}", driver="bridge")
    made["networks"].append(network)
    volume = docker.volumes.create(f"batchemu-imagetest-{suffix}")
    made["volumes"].append(volume)
    name = f"batchemu-imagetest-{suffix}"
    environment = dict(service["environment"], BATCHEMU_JOB_NETWORK=network.name)
    start_server(docker, made, name, port, volume, network=network.name, environment=environment,
                 ports={f"{container_port}/tcp": (bind_ip, port)})
    batch, logs = clients(port, new_account())
    make_queue(batch, "net-q", max_vcpus=2)
    make_definition(batch, "net-probe", PROBE)

    job, lines = run_probe(made, batch, logs, "net-q", "net-probe")
    assert f"endpoint=http://{name}:{container_port}" in lines
    assert any('"status":"ok"' in line for line in lines), lines  # the name passed the Host guard
    assert_no_job_containers(docker, job["jobId"])


def test_image_as_a_ci_service_container(docker, made):
    # README's GitHub Actions `services:` entry: the runner puts service containers on a network
    # of its own and publishes the port (the same number inside and out); jobs stay on the host
    # network (the default) and reach the server through the published port on loopback.
    suffix = uuid.uuid4().hex[:8]
    port = free_port()
    network = docker.networks.create(f"batchemu-imagetest-ci-{suffix}", driver="bridge")
    made["networks"].append(network)
    start_server(docker, made, f"batchemu-imagetest-{suffix}", port, network=network.name,
                 environment={"BATCHEMU_PORT": str(port), "BATCHEMU_EPHEMERAL": "1"},
                 ports={f"{port}/tcp": ("127.0.0.1", port)})
    batch, logs = clients(port, new_account())
    make_queue(batch, "ci-q", max_vcpus=2)
    make_definition(batch, "ci-probe", PROBE)

    job, lines = run_probe(made, batch, logs, "ci-q", "ci-probe")
    assert f"endpoint=http://127.0.0.1:{port}" in lines
    assert any('"status":"ok"' in line for line in lines), lines
    assert_no_job_containers(docker, job["jobId"])
