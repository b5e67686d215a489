"""Durability across a crash (DESIGN principle 4): a real `python -m batchemu` server is killed
with SIGKILL while jobs run and wait, then started again on the same data dir. The running
job is re-attached and finishes with its output recorded, the backlog runs, a job whose
container vanished while the server was down gets a failed attempt and is retried, nothing
is lost, and no container of that server is left afterwards."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest

from batchemu.runners.docker import LABEL_ATTEMPT, LABEL_JOB, LABEL_SERVER
from tests.docker_support import unavailable
from tests.e2e.support import (IMAGE, describe, docker_client, free_port, make_definition, make_queue, new_account,
                               own_containers, wait_done, wait_status, wait_until)

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]


class ServerProcess:
    """`python -m batchemu` on a free port; its output goes to a file the failure message shows."""

    def __init__(self, data_dir: Path, log: Path, *more: str, port: int | None = None):
        self.port = port or free_port()   # a restart on the same port: pass the first one's
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.data_dir = data_dir
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "batchemu", "--port", str(self.port), "--data-dir", str(data_dir),
                 "--runner", "docker", "--stop-grace-seconds", "2", *more],
                cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._answers, 60, f"the server to answer on {self.url}")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited ({self.proc.returncode}):\n{self.log.read_text()}")
        try:
            self.client("000000000000").list_scheduling_policies()
            return True
        except Exception:
            return False

    def client(self, account: str, service: str = "batch"):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=account, aws_secret_access_key="test")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, sig)
        self.proc.wait(timeout=30)


def containers_of(docker, job_id: str) -> list:
    return docker.containers.list(all=True, sparse=True, filters={"label": f"{LABEL_JOB}={job_id}"})


def read_db(data_dir: Path, sql: str, args: tuple = ()) -> list:
    """Read the server's database read-only (the server owns it)."""
    db = sqlite3.connect(f"file:{data_dir / 'batchemu.sqlite3'}?mode=ro", uri=True)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def stored_output(data_dir: Path, account: str, job: dict) -> list:
    """The lines stored for the job's latest attempt (what CloudWatch Logs will serve)."""
    rows = read_db(data_dir, "SELECT message FROM log_events WHERE account=? AND group_name=? AND "
                             "stream_name=? ORDER BY ts, seq",
                   (account, "/aws/batch/job", job["container"]["logStreamName"]))
    return [message for (message,) in rows]


@pytest.fixture()
def docker():
    client = docker_client()
    yield client
    client.close()


def test_kill_9_and_restart(tmp_path, docker):
    account = new_account()
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    first = ServerProcess(data_dir, log)
    ((server_id,),) = read_db(data_dir, "SELECT value FROM meta WHERE key='server_id'")
    try:
        _run_kill_and_restart(first, server_id, account, docker, data_dir, log)
    finally:
        first.kill()
        for container in own_containers(docker, server_id):  # whatever a failure left
            container.remove(force=True)


def _run_kill_and_restart(first, server_id, account, docker, data_dir, log):
    batch = first.client(account)
    make_queue(batch, "q", max_vcpus=3)
    # The survivor runs until the test opens its gate (a file in a host directory), so it is
    # certainly still running when the second server re-attaches it.
    gate = data_dir.parent / "gate"
    gate.mkdir()
    make_definition(batch, "survivor", ["sh", "-c", "echo started; i=0; while [ ! -e /gate/open ] && "
                                                    "[ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo finished"],
                    volumes=[{"name": "gate", "host": {"sourcePath": str(gate)}}],
                    mountPoints=[{"sourceVolume": "gate", "containerPath": "/gate"}])
    # The first attempt sleeps until its container is removed; the second succeeds at once.
    make_definition(batch, "victim", ["sh", "-c", 'test "$AWS_BATCH_JOB_ATTEMPT" = 2 || sleep 300'])
    make_definition(batch, "quick", ["sh", "-c", "echo backlog $AWS_BATCH_JOB_ID"])
    # Notes its SIGTERM in the gate directory and carries on: only SIGKILL ends it.
    make_definition(batch, "stubborn", ["sh", "-c", "trap 'touch /gate/sigterm' TERM; "
                                                    "while true; do sleep 0.1; done"],
                    volumes=[{"name": "gate", "host": {"sourcePath": str(gate)}}],
                    mountPoints=[{"sourceVolume": "gate", "containerPath": "/gate"}])
    survivor = batch.submit_job(jobName="survivor", jobQueue="q", jobDefinition="survivor")["jobId"]
    victim = batch.submit_job(jobName="victim", jobQueue="q", jobDefinition="victim",
                              retryStrategy={"attempts": 2})["jobId"]
    stubborn = batch.submit_job(jobName="stubborn", jobQueue="q", jobDefinition="stubborn")["jobId"]
    for job_id in (survivor, victim, stubborn):
        wait_status(batch, job_id, "RUNNING")
    backlog = [batch.submit_job(jobName=f"backlog{i}", jobQueue="q", jobDefinition="quick")["jobId"]
               for i in range(3)]
    for job_id in backlog:
        wait_status(batch, job_id, "RUNNABLE")
    (victim_container,) = containers_of(docker, victim)
    assert victim_container.attrs["Labels"][LABEL_SERVER] == server_id  # a sparse listing
    # Terminated, and the server dies after the SIGTERM but before the SIGKILL 2 s later.
    batch.terminate_job(jobId=stubborn, reason="terminated before the crash")
    wait_until((gate / "sigterm").exists, 10, "the stubborn job's SIGTERM")

    first.kill(signal.SIGKILL)
    # While the server is down its containers run on, and one of them disappears.
    assert [c.status for c in containers_of(docker, survivor)] == ["running"]
    victim_container.remove(force=True)

    second = ServerProcess(data_dir, log)
    try:
        batch = second.client(account)
        assert describe(batch, survivor)["status"] == "RUNNING"
        assert [c.status for c in containers_of(docker, survivor)] == ["running"]
        (gate / "open").touch()
        job = wait_done(batch, survivor, timeout=30)
        assert job["status"] == "SUCCEEDED", job.get("statusReason")
        (attempt,) = job["attempts"]
        assert attempt["container"]["exitCode"] == 0
        assert stored_output(data_dir, account, job) == ["started", "finished"]

        job = wait_done(batch, victim, timeout=30)
        assert job["status"] == "SUCCEEDED", job.get("statusReason")
        lost, retried = job["attempts"]
        assert "restart" in lost["statusReason"]
        assert "exitCode" not in lost["container"]
        assert retried["container"]["exitCode"] == 0
        assert lost["container"]["taskArn"] != retried["container"]["taskArn"]

        # The stop requested before the crash is carried out after it.
        job = wait_done(batch, stubborn, timeout=30)
        assert job["status"] == "FAILED" and job.get("isTerminated") is True
        assert job["statusReason"] == "terminated before the crash"
        assert job["attempts"][-1]["container"]["exitCode"] == 137

        for job_id in backlog:
            job = wait_done(batch, job_id, timeout=30)
            assert job["status"] == "SUCCEEDED", job.get("statusReason")
            assert stored_output(data_dir, account, job) == [f"backlog {job_id}"]
        # Nothing lost: every job is still there, under the same id, and nothing else.
        listed = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"]
        assert sorted(j["jobId"] for j in listed) == sorted([survivor, victim, *backlog])
        assert [j["jobId"] for j in batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]] == [stubborn]
        wait_until(lambda: not own_containers(docker, server_id), 15, "the server's containers to go")
    finally:
        second.kill(signal.SIGTERM)


class _StalledRegistry:
    """A registry that accepts connections and never answers: a pull from it hangs, so the job
    stays STARTING with no container until the test is done with it."""

    def __init__(self):
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(32)
        self.port = self._socket.getsockname()[1]
        self.accepted = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self._socket.close()
        for conn in self.accepted:
            conn.close()


def test_kill_9_while_starting_before_the_container_exists(tmp_path, docker):
    """Issue 12 item 15: the server dies while two jobs are STARTING and neither has a container
    (their image pull hangs); for one of them a container is then found in the created state
    (the daemon finished a create the dead server had asked for). After the restart both run
    their one attempt and succeed: the crash cost nothing and shows nowhere."""
    account = new_account()
    data_dir, log = tmp_path / "data", tmp_path / "server.log"
    registry = _StalledRegistry()
    image = f"127.0.0.1:{registry.port}/batchemu-stalled:latest"
    first = ServerProcess(data_dir, log)
    ((server_id,),) = read_db(data_dir, "SELECT value FROM meta WHERE key='server_id'")
    second = None
    try:
        batch = first.client(account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "stalled", ["sh", "-c", "echo ran attempt $AWS_BATCH_JOB_ATTEMPT"], image=image)
        unpulled, created = (batch.submit_job(jobName=name, jobQueue="q", jobDefinition="stalled",
                                              retryStrategy={"attempts": 3})["jobId"]
                             for name in ("unpulled", "created"))
        for job_id in (unpulled, created):
            wait_status(batch, job_id, "STARTING")
        wait_until(lambda: registry.accepted or describe(batch, unpulled)["status"] != "STARTING", 30,
                   "the image pull to reach the registry")
        if not registry.accepted:  # e.g. Docker Desktop: the daemon's 127.0.0.1 is not ours
            unavailable("the Docker daemon can't reach a registry on this host's loopback")
        assert own_containers(docker, server_id) == []

        first.kill(signal.SIGKILL)
        # While the server is down: the image becomes available locally (so the restarted
        # launch needs no pull), and a created, never started container of the second job's
        # attempt appears, labelled as the dead server's launch would have labelled it.
        docker.images.get(IMAGE).tag(image)
        leftover = docker.containers.create(IMAGE, ["sh", "-c", "echo stale container; exit 3"], labels={
            LABEL_SERVER: server_id, LABEL_JOB: created, LABEL_ATTEMPT: "1"})
        registry.close()

        second = ServerProcess(data_dir, log)
        batch = second.client(account)
        for job_id in (unpulled, created):
            job = wait_done(batch, job_id, timeout=60)
            assert job["status"] == "SUCCEEDED", job.get("statusReason")
            (attempt,) = job["attempts"]
            assert attempt["container"]["exitCode"] == 0
            assert "statusReason" not in job or "restart" not in job["statusReason"]
            assert stored_output(data_dir, account, job) == ["ran attempt 1"]
        assert not [c for c in docker.containers.list(all=True, sparse=True) if c.id == leftover.id]
        wait_until(lambda: not own_containers(docker, server_id), 15, "the server's containers to go")
    finally:
        registry.close()
        if second is not None:
            second.kill(signal.SIGTERM)
        first.kill()
        for container in own_containers(docker, server_id):
            container.remove(force=True)
        try:
            docker.images.remove(image)
        except Exception:
            pass
