"""The environment that points a job back at this server (job_endpoint.JobEndpoint): the URL per
job network and runner, the bound port, --advertise-url, and the job's own settings winning
(engine.launch)."""

from __future__ import annotations

from batchemu import job_endpoint
from batchemu.config import Config
from batchemu.job_endpoint import JobEndpoint
from batchemu.engine.launch import launch_spec
from batchemu.runners.base import LaunchSpec
from batchemu.runners.docker import create_kwargs

JOB = {"_region": "eu-west-1", "_account": "111122223333"}


def env(**config):
    endpoint = JobEndpoint(Config(**config))
    return endpoint(JOB)


def test_host_network_gets_loopback_region_and_the_jobs_account_as_key():
    assert env(port=8123) == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:8123",
        "AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "111122223333", "AWS_SECRET_ACCESS_KEY": "batchemu"}


def test_port_zero_uses_the_bound_port():
    endpoint = JobEndpoint(Config(port=0))
    assert "AWS_ENDPOINT_URL" not in endpoint(JOB)      # not listening yet: no URL to give
    endpoint.bound(40123)
    assert endpoint(JOB)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:40123"


def test_server_listening_on_one_address_is_reached_there():
    assert env(host="192.0.2.7", port=8000)["AWS_ENDPOINT_URL"] == "http://192.0.2.7:8000"
    assert env(host="0.0.0.0", port=8000)["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8000"


def test_bridge_network_uses_host_docker_internal_which_the_runner_maps():
    assert env(job_network="bridge", host="0.0.0.0", port=8000)["AWS_ENDPOINT_URL"] == \
        "http://host.docker.internal:8000"
    spec = LaunchSpec(job_id="j", attempt=1, name="n", image="i", command=[], environment={})
    assert create_kwargs(spec, "s", "bridge")["extra_hosts"] == {"host.docker.internal": "host-gateway"}
    assert "extra_hosts" not in create_kwargs(spec, "s", "host")


def test_user_defined_network_uses_its_gateway(monkeypatch):
    monkeypatch.setattr(job_endpoint, "own_container_name", lambda name: None)  # a server on a host
    monkeypatch.setattr(job_endpoint, "network_gateway", lambda name: {"jobs": "172.30.0.1"}.get(name))
    assert env(job_network="jobs", host="0.0.0.0", port=8000)["AWS_ENDPOINT_URL"] == "http://172.30.0.1:8000"


def test_process_runner_runs_on_the_host_whatever_the_network():
    assert env(runner="process", job_network="bridge", port=8000)["AWS_ENDPOINT_URL"] == \
        "http://127.0.0.1:8000"


def test_advertise_url_wins():
    assert env(advertise_url="http://batchemu.internal:9000/", job_network="bridge", port=8000)[
        "AWS_ENDPOINT_URL"] == "http://batchemu.internal:9000"


def test_job_settings_win_over_the_endpoint_environment():
    job = {"jobId": "j", "jobName": "n", "_queueName": "q", "_attempt": 1, "_account": "111122223333",
           "_region": "eu-west-1", "_need": {"vcpus": 1, "memory": 64, "gpus": 0},
           "container": {"image": "busybox", "command": ["true"],
                         "environment": [{"name": "AWS_REGION", "value": "ap-south-1"}]}}
    spec = launch_spec(job, "ce", JobEndpoint(Config(port=8000))(job))
    assert spec.environment["AWS_REGION"] == "ap-south-1"
    assert spec.environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert spec.environment["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8000"


CONTAINER_JOB = {**JOB, "jobId": "0f0e0d0c-0b0a-4909-8807-060504030201", "_attempt": 2,
                 "_tasks": {"1": {}, "2": {}}, "container": {}, "platformCapabilities": ["EC2"]}


def test_container_jobs_get_the_ecs_agent_variables():
    endpoint = JobEndpoint(Config(port=8123), metadata_key=b"k" * 32)
    got = endpoint(CONTAINER_JOB)
    assert got["AWS_EXECUTION_ENV"] == "AWS_ECS_EC2"
    token = endpoint.metadata_token(CONTAINER_JOB, 2)
    assert got["ECS_CONTAINER_METADATA_URI_V4"] == f"http://127.0.0.1:8123/batchemu/ecs-metadata/v4/{token}"
    assert got["ECS_CONTAINER_METADATA_URI"] == f"http://127.0.0.1:8123/batchemu/ecs-metadata/v3/{token}"
    match = job_endpoint.TOKEN.fullmatch(token)
    assert match and match["job"] == CONTAINER_JOB["jobId"] and match["attempt"] == "2"
    assert endpoint.metadata_token_matches(CONTAINER_JOB, 2, match["mac"])
    assert not endpoint.metadata_token_matches(CONTAINER_JOB, 1, match["mac"])       # per attempt
    other_key = JobEndpoint(Config(port=8123), metadata_key=b"x" * 32)
    assert not other_key.metadata_token_matches(CONTAINER_JOB, 2, match["mac"])     # per server secret
    fargate = {**CONTAINER_JOB, "platformCapabilities": ["FARGATE"]}
    assert endpoint(fargate)["AWS_EXECUTION_ENV"] == "AWS_ECS_FARGATE"
    # Service jobs (SageMaker training) are no ECS tasks: none of these.
    assert not {"AWS_EXECUTION_ENV", "ECS_CONTAINER_METADATA_URI_V4"} & set(endpoint(JOB))


def test_array_child_ids_fit_the_token_pattern():
    child = {**CONTAINER_JOB, "jobId": CONTAINER_JOB["jobId"] + ":17"}
    token = JobEndpoint(Config(port=1), metadata_key=b"k").metadata_token(child, 1)
    assert job_endpoint.TOKEN.fullmatch(token)["job"] == child["jobId"]
    assert not job_endpoint.TOKEN.fullmatch(token.replace(".1.", ".0."))  # attempts start at 1
def test_a_containerised_server_on_the_job_network_is_reached_by_its_name(monkeypatch):
    # The image under docker compose: the server's own container is on the jobs' network.
    monkeypatch.setattr(job_endpoint, "own_container_name", lambda name: {"jobs": "batchemu-1"}.get(name))
    monkeypatch.setattr(job_endpoint, "network_gateway", lambda name: "172.30.0.1")
    assert env(job_network="jobs", host="0.0.0.0", port=8000)["AWS_ENDPOINT_URL"] == "http://batchemu-1:8000"
    assert env(job_network="other", host="0.0.0.0", port=8000)["AWS_ENDPOINT_URL"] == "http://172.30.0.1:8000"


def test_own_container_id_comes_from_the_files_docker_mounts(tmp_path):
    cid = "58a83d9223b18a5a17bd84757e24a94983145b1b7fcd7116a9970e9f448615dc"
    inside = tmp_path / "inside"
    inside.write_text(
        "620 600 0:50 / / rw,relatime - overlay overlay rw\n"
        f"650 620 254:0 /var/lib/docker/containers/{cid}/hostname /etc/hostname rw - ext4 /dev/vda rw\n")
    host = tmp_path / "host"
    host.write_text("22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n")
    assert job_endpoint.own_container_id(str(inside)) == cid
    assert job_endpoint.own_container_id(str(host)) is None
    assert job_endpoint.own_container_id(str(tmp_path / "missing")) is None
