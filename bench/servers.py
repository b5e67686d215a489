"""The servers under test, started the same way: a subprocess of this Python on a free loopback
port, its output to a log file, ready when its port accepts a connection. Also the one boto3
client configuration every measurement uses, and the Batch setup (CE, queue, definition)
done through the API on each server. Measures nothing itself.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import botocore.config

REPO = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
IMAGE = os.environ.get("BATCHEMU_TEST_IMAGE", "batchemu-test/busybox:latest")

# Identical for both servers: no retries (an error must show, not hide in a retry), a pool
# big enough that a client never waits for a connection. urllib3 keeps connections alive
# between calls whenever the server allows it.
CLIENT_CONFIG = botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=4,
                                       connect_timeout=10, read_timeout=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """One server subprocess; `stop()` ends only this process (by its pid)."""

    def __init__(self, name: str, argv: list, port: int, env: dict | None = None, cwd: Path = REPO):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        # `python -m` puts cwd first on sys.path: cwd decides which batchemu runs.
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self._wait_ready()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on port {self.port} within {timeout}s: "
                           f"{self.log_tail()}")

    def log_tail(self, chars: int = 2000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def rss_mib(self) -> float | None:
        """VmRSS of the server process, from /proc/<pid>/status."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024.0, 1)
        except OSError:
            return None
        return None

    def cpu_s(self) -> float | None:
        """User + system CPU seconds the server process has used so far (/proc/<pid>/stat)."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def client(self, service: str = "batch"):
        # A session per client: boto3's default session is not thread-safe to create clients from.
        return boto3.session.Session().client(
            service, endpoint_url=self.url, region_name=REGION, aws_access_key_id="test",
            aws_secret_access_key="test", config=CLIENT_CONFIG)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        self.log_path.unlink(missing_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_batchemu(runner: str) -> ServerProcess:
    port = free_port()
    return ServerProcess("batchemu", [sys.executable, "-m", "batchemu", "--port", str(port), "--ephemeral",
                                      "--runner", runner], port)


def start_moto() -> ServerProcess:
    """moto's server (`moto_server` runs this same main()), switched to its docker-less Batch:
    jobs are marked SUCCEEDED inside SubmitJob and no container runs."""
    port = free_port()
    server = ServerProcess("moto", [sys.executable, "-m", "moto.server", "-p", str(port)], port)
    try:
        request = urllib.request.Request(f"{server.url}/moto-api/config", method="POST",
                                         data=b'{"batch": {"use_docker": false}}')
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
    except Exception:
        server.stop()
        raise
    return server


def start_stub(responses: dict) -> ServerProcess:
    """bench/stub.py answering with `responses` ({"<path>|<nextToken>": body}): the client floor."""
    handle, path = tempfile.mkstemp(prefix="bench-stub-", suffix=".json")
    with os.fdopen(handle, "w") as f:
        json.dump(responses, f)
    port = free_port()
    try:
        return ServerProcess("client_floor", [sys.executable, "-m", "bench.stub", str(port), path], port)
    finally:
        os.unlink(path)  # read at start-up; _wait_ready returns only once it listens


class Recorder:
    """Records the raw response bodies a (single-threaded) client receives, keyed the way
    bench/stub.py looks them up, so the stub can replay exactly what batchemu answered."""

    def __init__(self, client):
        self.responses: dict = {}
        self._key = None
        client.meta.events.register("before-send.batch.*", self._before_send)
        client.meta.events.register("after-call.batch.*", self._after_call)

    def _before_send(self, request, **_):
        body = request.body or b"{}"
        token = (json.loads(body) or {}).get("nextToken") or ""
        self._key = f"{urllib.parse.urlsplit(request.url).path}|{token}"

    def _after_call(self, http_response, **_):
        self.responses[self._key] = http_response.content.decode()


# -- Batch setup, through the API ------------------------------------------------------------

CONTAINER = {"image": IMAGE, "command": ["true"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}


def service_role(server: ServerProcess) -> str:
    """moto checks that CreateComputeEnvironment's serviceRole exists in its IAM; batchemu takes
    it as an opaque string, so only moto gets the role created."""
    arn = "arn:aws:iam::123456789012:role/AWSBatchServiceRole"
    if server.name == "moto":
        iam = server.client("iam")
        arn = iam.create_role(RoleName="AWSBatchServiceRole", AssumeRolePolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":'
            '{"Service":"batch.amazonaws.com"},"Action":"sts:AssumeRole"}]}'))["Role"]["Arn"]
    return arn


def setup_unmanaged(server: ServerProcess, queues: tuple = ("bench-q",)) -> None:
    """An UNMANAGED CE (what moto's docker-less mode accepts without EC2 resources), queues on
    it and the job definition `bench-jd`; the same calls on both servers."""
    batch = server.client()
    batch.create_compute_environment(computeEnvironmentName="bench-ce", type="UNMANAGED", state="ENABLED",
                                     serviceRole=service_role(server))
    for name in queues:
        batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "bench-ce"}])
    batch.register_job_definition(jobDefinitionName="bench-jd", type="container", containerProperties=CONTAINER)


def setup_managed(server: ServerProcess, max_vcpus: int) -> None:
    """A MANAGED CE of maxvCpus, its queue `bench-q` and the `true` job definition (batchemu)."""
    batch = server.client()
    batch.create_compute_environment(
        computeEnvironmentName="bench-ce", type="MANAGED", serviceRole=service_role(server),
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": ["optimal"],
                          "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
                          "instanceRole": "ecsInstanceRole"})
    batch.create_job_queue(jobQueueName="bench-q", state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "bench-ce"}])
    batch.register_job_definition(jobDefinitionName="bench-jd", type="container", containerProperties=CONTAINER)


def docker_server_version() -> str | None:
    try:
        out = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                             text=True, timeout=20)
        return out.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None
