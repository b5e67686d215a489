"""The `batchemu` command as a user runs it: state survives `kill -9` and a restart on the same
data dir, --ephemeral keeps nothing, --help/--version, a busy port, the default data dir, and
the access log only at DEBUG (DESIGN.md principle 4)."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

import batchemu

ACCOUNT = "123412341234"


def clean_env(tmp_path, **extra):
    """The environment without any BATCHEMU_* setting of the caller, HOME in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BATCHEMU_", "XDG_DATA_HOME"))}
    env.update({"HOME": str(tmp_path / "home"), "BATCHEMU_RUNNER": "none"})
    env.update(extra)
    return env


class Batchemu:
    """`python -m batchemu ...` in a subprocess; `url` once it says it is listening."""

    def __init__(self, args, env, timeout=60):
        self.proc = subprocess.Popen([sys.executable, "-m", "batchemu", *args], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.url = None
        line = self._readline(timeout)
        found = re.search(r"listening on (http://\S+)", line)
        if not found:
            self.kill()
            raise AssertionError(f"batchemu did not start: {line!r} {self.proc.stderr.read()!r}")
        self.url = found.group(1)

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], deadline - time.monotonic())
            if ready:
                return self.proc.stdout.readline().decode()
        raise AssertionError("batchemu did not say it was listening in time")

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def client(self, service="batch"):
        return boto3.client(service, endpoint_url=self.url, region_name="eu-west-1",
                            aws_access_key_id=ACCOUNT, aws_secret_access_key="test",
                            config=BotoConfig(retries={"max_attempts": 1, "mode": "standard"}))

    def kill(self):
        """SIGKILL: no chance to clean up or flush anything."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        out, err = self.proc.communicate(timeout=30)
        return out.decode(), err.decode()


@pytest.fixture()
def launched():
    started = []

    def launch(*args, env):
        server = Batchemu(list(args), env)
        started.append(server)
        return server

    yield launch
    for server in started:
        if server.proc.poll() is None:
            server.kill()


def implemented(call):
    """Run a create call; False when the operation still answers 501 (written by others)."""
    try:
        return call()
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501:
            return False
        raise


def populate(batch) -> list[str]:
    """Create one of everything that exists; return the ARNs to read tags from."""
    arns = []
    ec2 = {"type": "EC2", "maxvCpus": 16, "subnets": ["subnet-1"], "instanceRole": "ecsInstanceRole",
           "instanceTypes": ["optimal"], "securityGroupIds": ["sg-1"]}
    fargate = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    arns.append(batch.create_compute_environment(computeEnvironmentName="ec2", type="MANAGED",
                                                 computeResources=ec2, tags={"k": "v"})["computeEnvironmentArn"])
    arns.append(batch.create_compute_environment(computeEnvironmentName="fargate", type="MANAGED",
                                                 computeResources=fargate)["computeEnvironmentArn"])
    arns.append(batch.create_compute_environment(computeEnvironmentName="unmanaged", type="UNMANAGED",
                                                 unmanagedvCpus=4)["computeEnvironmentArn"])
    batch.create_compute_environment(computeEnvironmentName="gone", type="UNMANAGED")
    batch.update_compute_environment(computeEnvironment="gone", state="DISABLED")
    batch.delete_compute_environment(computeEnvironment="gone")
    batch.update_compute_environment(computeEnvironment="ec2", computeResources={"maxvCpus": 32})

    policy = implemented(lambda: batch.create_scheduling_policy(
        name="fair", fairsharePolicy={"shareDecaySeconds": 60, "computeReservation": 10,
                                      "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.5}]},
        tags={"p": "1"}))
    if policy:
        arns.append(policy["arn"])
    queue_args = {"jobQueueName": "q1", "priority": 5,
                  "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ec2"}],
                  "tags": {"q": "1"}}
    if policy:
        queue_args["schedulingPolicyArn"] = policy["arn"]
    queue = implemented(lambda: batch.create_job_queue(**queue_args))
    if queue:
        arns.append(queue["jobQueueArn"])
        batch.update_job_queue(jobQueue="q1", priority=7)
    container = {"image": "busybox", "command": ["echo", "Ref::word"],
                 "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}
    jd = implemented(lambda: batch.register_job_definition(
        jobDefinitionName="echo", type="container", containerProperties=container,
        parameters={"word": "hi"}, retryStrategy={"attempts": 3}, timeout={"attemptDurationSeconds": 60}))
    if jd:
        arns.append(jd["jobDefinitionArn"])
        second = batch.register_job_definition(jobDefinitionName="echo", type="container",
                                               containerProperties=container)
        arns.append(second["jobDefinitionArn"])
        batch.deregister_job_definition(jobDefinition=jd["jobDefinitionArn"])
        implemented(lambda: batch.tag_resource(resourceArn=second["jobDefinitionArn"], tags={"jd": "2"}))
    return arns


def snapshot(batch, arns) -> dict:
    """Everything a client can read back, as JSON text (so any difference shows)."""
    def strip(out):
        out.pop("ResponseMetadata", None)
        return out

    def maybe(call):
        try:
            return strip(call())
        except ClientError as exc:
            if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 501:
                return "not implemented"
            raise

    state = {
        "computeEnvironments": strip(batch.describe_compute_environments()),
        "jobQueues": maybe(batch.describe_job_queues),
        "jobDefinitions": maybe(batch.describe_job_definitions),
        "jobDefinitionsInactive": maybe(lambda: batch.describe_job_definitions(status="INACTIVE")),
        "schedulingPolicies": maybe(batch.list_scheduling_policies),
        "tags": {arn: maybe(lambda arn=arn: batch.list_tags_for_resource(resourceArn=arn)) for arn in arns},
    }
    policies = state["schedulingPolicies"]
    if isinstance(policies, dict) and policies.get("schedulingPolicies"):
        state["schedulingPolicyDetails"] = strip(batch.describe_scheduling_policies(
            arns=[p["arn"] for p in policies["schedulingPolicies"]]))
    return json.loads(json.dumps(state, sort_keys=True))


def test_state_survives_kill_9_and_restart(tmp_path, launched):
    env = clean_env(tmp_path)
    data = tmp_path / "data"
    first = launched("--port", "0", "--data-dir", str(data), env=env)
    batch = first.client()
    arns = populate(batch)
    before = snapshot(batch, arns)
    assert len(before["computeEnvironments"]["computeEnvironments"]) == 3  # "gone" is gone
    first.kill()

    second = launched("--port", "0", "--data-dir", str(data), env=env)
    after = snapshot(second.client(), arns)
    assert after == before
    assert (data / "batchemu.sqlite3").exists()

    # And the restarted server keeps working on that state.
    second.client().update_compute_environment(computeEnvironment="unmanaged", state="DISABLED")
    (ce,) = second.client().describe_compute_environments(
        computeEnvironments=["unmanaged"])["computeEnvironments"]
    assert ce["state"] == "DISABLED"


def test_ephemeral_keeps_nothing(tmp_path, launched):
    env = clean_env(tmp_path)
    data = tmp_path / "data"
    first = launched("--port", "0", "--ephemeral", "--data-dir", str(data), env=env)
    first.client().create_compute_environment(computeEnvironmentName="tmp", type="UNMANAGED")
    assert len(first.client().describe_compute_environments()["computeEnvironments"]) == 1
    first.kill()
    second = launched("--port", "0", "--ephemeral", "--data-dir", str(data), env=env)
    assert second.client().describe_compute_environments()["computeEnvironments"] == []
    assert not (data / "batchemu.sqlite3").exists()


def test_default_data_dir_is_xdg_data_home(tmp_path, launched):
    xdg = tmp_path / "xdg"
    server = launched("--port", "0", env=clean_env(tmp_path, XDG_DATA_HOME=str(xdg)))
    server.client().create_compute_environment(computeEnvironmentName="here", type="UNMANAGED")
    assert (xdg / "batchemu" / "batchemu.sqlite3").exists()
    assert not (tmp_path / "home" / ".local" / "share" / "batchemu").exists()


def test_help(tmp_path):
    command = shutil.which("batchemu")
    args = [command] if command else [sys.executable, "-m", "batchemu"]
    result = subprocess.run([*args, "--help"], env=clean_env(tmp_path), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: batchemu")
    for flag in ("--port", "--data-dir", "--ephemeral", "--version"):
        assert flag in result.stdout


def test_version(tmp_path):
    result = subprocess.run([sys.executable, "-m", "batchemu", "--version"], env=clean_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"batchemu {batchemu.__version__}"


def test_second_server_on_the_same_port_fails_clearly(tmp_path, launched):
    env = clean_env(tmp_path)
    first = launched("--port", "0", "--ephemeral", env=env)
    result = subprocess.run([sys.executable, "-m", "batchemu", "--ephemeral", "--port", str(first.port)],
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("batchemu: ") and str(first.port) in lines[0]
    assert "in use" in lines[0] and "--port" in lines[0]
    assert first.client().describe_compute_environments()["computeEnvironments"] == []  # unharmed


@pytest.mark.parametrize("level, logged", [(None, False), ("DEBUG", True)])
def test_access_log_only_at_debug(tmp_path, launched, level, logged):
    args = ["--port", "0", "--ephemeral"] + (["--log-level", level] if level else [])
    server = launched(*args, env=clean_env(tmp_path))
    marker = f"/v1/no-such-{uuid.uuid4().hex[:8]}"
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.request("POST", marker, body=b"{}")
    assert conn.getresponse().status == 404
    conn.close()
    server.client().describe_compute_environments()
    _, err = server.kill()
    assert (marker in err) is logged, err
    assert ("/v1/describecomputeenvironments" in err) is logged


def test_sigterm_stops_cleanly_and_keeps_state(tmp_path, launched):
    env = clean_env(tmp_path)
    data = tmp_path / "data"
    first = launched("--port", "0", "--data-dir", str(data), env=env)
    first.client().create_compute_environment(computeEnvironmentName="kept", type="UNMANAGED")
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=30) == 0
    second = launched("--port", "0", "--data-dir", str(data), env=env)
    names = [c["computeEnvironmentName"] for c in second.client().describe_compute_environments()["computeEnvironments"]]
    assert names == ["kept"]
