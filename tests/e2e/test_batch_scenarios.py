"""The jobs capability end to end, as the AWS docs describe it, through boto3 against one live
server that runs every job in a real Docker container (ref §6-§11): array jobs with N_TO_N
dependencies, retries, timeouts, cancel/terminate, queue priority on a shared CE, OOM kills,
pull failures, parameters and overrides, and no container left behind.

The 60 s timeout job (the AWS minimum) is submitted when the module starts and checked near
the end, so it runs alongside the other scenarios instead of adding a minute of its own.
"""

from __future__ import annotations

import threading

import pytest

from batchemu.testing import running_server
from tests.e2e.support import (IMAGE, describe, docker_client, make_definition, make_queue, new_account, output,
                               own_containers, wait_done, wait_for, wait_status, wait_until)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def client():
    client = docker_client()
    yield client
    client.close()


@pytest.fixture(scope="module")
def server(client):
    with running_server(runner="docker", stop_grace_seconds=2) as server:
        server.server_id = server.emulator.server_id
        server.store = server.emulator.store
        yield server
    # Whatever a failed test left: remove it so the next run starts clean (test_nothing_left
    # is the assertion).
    for container in own_containers(client, server.server_id):
        container.remove(force=True)


class Account:
    """A boto3 Batch client in an account of its own."""

    def __init__(self, server):
        self.id = new_account()
        self.batch = server.client("batch", access_key=self.id)
        self.server = server

    def output(self, job: dict) -> list:
        return output(self.server.store, self.id, job)


@pytest.fixture()
def acct(server):
    return Account(server)


@pytest.fixture(scope="module", autouse=True)
def timeout_job(server):
    """ref §10: submitted first so its minute overlaps the other scenarios."""
    acct = Account(server)
    make_queue(acct.batch, "timeout-q", max_vcpus=1)
    make_definition(acct.batch, "sleeper", ["sleep", "600"])
    job_id = acct.batch.submit_job(jobName="too-slow", jobQueue="timeout-q", jobDefinition="sleeper",
                                   timeout={"attemptDurationSeconds": 60})["jobId"]
    return acct, job_id


def test_array_with_n_to_n_dependency(acct):
    """ref §7: child i of the second array starts only after child i of the first SUCCEEDED;
    each child sees its index and the array size."""
    batch = acct.batch
    make_queue(batch, "arrays", max_vcpus=10)
    # Later children of the first array finish sooner (child i sleeps 4-i s), so an N_TO_N
    # dependency that waited for the whole first array (or for nothing) shows in the timestamps.
    script = ('echo "index=$AWS_BATCH_JOB_ARRAY_INDEX size=$AWS_BATCH_JOB_ARRAY_SIZE '
              'id=$AWS_BATCH_JOB_ID"; sleep "$((4 - AWS_BATCH_JOB_ARRAY_INDEX))"')
    make_definition(batch, "indexed", ["sh", "-c", script], memory="32")
    first = batch.submit_job(jobName="first", jobQueue="arrays", jobDefinition="indexed",
                             arrayProperties={"size": 5})["jobId"]
    second = batch.submit_job(jobName="second", jobQueue="arrays", jobDefinition="indexed",
                              arrayProperties={"size": 5},
                              dependsOn=[{"jobId": first, "type": "N_TO_N"}])["jobId"]
    for parent_id in (first, second):
        parent = wait_done(batch, parent_id, timeout=60)
        assert parent["status"] == "SUCCEEDED", parent.get("statusReason")
        summary = parent["arrayProperties"]["statusSummary"]
        assert summary["SUCCEEDED"] == 5 and sum(summary.values()) == 5
        assert parent["arrayProperties"]["size"] == 5

    ids = [f"{first}:{i}" for i in range(5)] + [f"{second}:{i}" for i in range(5)]
    children = {j["jobId"]: j for j in batch.describe_jobs(jobs=ids)["jobs"]}
    for i in range(5):
        before, after = children[f"{first}:{i}"], children[f"{second}:{i}"]
        assert before["status"] == after["status"] == "SUCCEEDED"
        assert after["startedAt"] >= before["stoppedAt"], f"child {i} started before its dependency ended"
        assert after["dependsOn"] == [{"jobId": f"{first}:{i}", "type": "N_TO_N"}]
        for parent_id, child in ((first, before), (second, after)):
            assert child["arrayProperties"]["index"] == i
            assert acct.output(child) == [f"index={i} size=5 id={parent_id}:{i}"]
    # Child 4 of the first array ends well before child 0 does; its N_TO_N partner need not
    # wait for the rest of the first array.
    assert children[f"{second}:4"]["startedAt"] < children[f"{first}:0"]["stoppedAt"]


def test_retry_second_attempt_succeeds(acct):
    """ref §9: the first attempt exits 1, the retry (AWS_BATCH_JOB_ATTEMPT=2) exits 0."""
    batch = acct.batch
    make_queue(batch, "retries", max_vcpus=1)
    make_definition(batch, "second-time-lucky", ["sh", "-c", 'test "$AWS_BATCH_JOB_ATTEMPT" = 2'])
    job_id = batch.submit_job(jobName="retried", jobQueue="retries", jobDefinition="second-time-lucky",
                              retryStrategy={"attempts": 2})["jobId"]
    job = wait_done(batch, job_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    first, second = job["attempts"]
    assert [first["container"]["exitCode"], second["container"]["exitCode"]] == [1, 0]
    assert first["statusReason"] == "Essential container in task exited"
    assert first["container"]["taskArn"] != second["container"]["taskArn"]
    assert first["container"]["logStreamName"] != second["container"]["logStreamName"]
    assert first["stoppedAt"] <= second["startedAt"]
    assert job["container"]["exitCode"] == 0
    assert job["container"]["logStreamName"] == second["container"]["logStreamName"]


def test_cancel_runnable_and_terminate_running(acct, server, client):
    """ref §6.7: CancelJob fails a RUNNABLE job at once; on a RUNNING job it does nothing and
    TerminateJob is what stops it."""
    batch = acct.batch
    make_queue(batch, "busy", max_vcpus=1)
    make_definition(batch, "long", ["sleep", "300"])
    busy = batch.submit_job(jobName="busy", jobQueue="busy", jobDefinition="long")["jobId"]
    wait_status(batch, busy, "RUNNING")
    held = batch.submit_job(jobName="held", jobQueue="busy", jobDefinition="long")["jobId"]
    wait_status(batch, held, "RUNNABLE")

    batch.cancel_job(jobId=held, reason="not needed after all")
    job = describe(batch, held)
    assert job["status"] == "FAILED" and job["isCancelled"] is True
    assert job["statusReason"] == "not needed after all"
    assert job["attempts"] == [] and "startedAt" not in job

    batch.cancel_job(jobId=busy, reason="cancel is too late for this one")
    assert describe(batch, busy)["status"] == "RUNNING"
    batch.terminate_job(jobId=busy, reason="stopped by the operator")
    job = wait_done(batch, busy, timeout=20)
    assert job["status"] == "FAILED" and job["isTerminated"] is True and "isCancelled" not in job
    assert job["statusReason"] == "stopped by the operator"
    (attempt,) = job["attempts"]
    # `sleep` as PID 1 ignores SIGTERM, so SIGKILL ends it after the 2 s grace.
    assert attempt["container"]["exitCode"] in (137, 143)
    wait_until(lambda: not own_containers(client, server.server_id, busy), 10, "the container to go")


def test_high_priority_queue_overtakes_the_backlog(acct):
    """ref §11.1-§11.2: two queues share a CE of 2 vCPUs; jobs submitted later to the higher
    priority queue start before the low queue's waiting jobs, and never more than 2 run."""
    batch = acct.batch
    ce = make_queue(batch, "low", max_vcpus=2, priority=1)
    make_queue(batch, "high", max_vcpus=2, priority=10, ce=ce)
    make_definition(batch, "nap", ["sleep", "2"])
    low = [batch.submit_job(jobName=f"low{i}", jobQueue="low", jobDefinition="nap")["jobId"] for i in range(4)]
    for job_id in low[:2]:
        wait_status(batch, job_id, "RUNNING")

    samples = []
    stop = threading.Event()
    ids = list(low)

    def sample():
        sampler = acct.server.client("batch", access_key=acct.id)
        while not stop.is_set():
            # One DescribeJobs call reads every job at one instant: a consistent count.
            jobs = sampler.describe_jobs(jobs=list(ids))["jobs"]
            busy = sum(j["status"] in ("STARTING", "RUNNING") for j in jobs)
            (env,) = sampler.describe_compute_environments(computeEnvironments=[ce])["computeEnvironments"]
            samples.append((busy, env["computeResources"]["desiredvCpus"]))
            stop.wait(0.05)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        backlog = {j["jobId"]: j["status"] for j in batch.describe_jobs(jobs=low[2:])["jobs"]}
        assert set(backlog.values()) == {"RUNNABLE"}, backlog
        high = [batch.submit_job(jobName=f"high{i}", jobQueue="high", jobDefinition="nap")["jobId"]
                for i in range(2)]
        ids.extend(high)
        jobs = {j: wait_done(batch, j, timeout=60) for j in low + high}
    finally:
        stop.set()
        thread.join(5)

    assert all(j["status"] == "SUCCEEDED" for j in jobs.values())
    for h in high:
        for waiting in low[2:]:
            assert jobs[h]["startedAt"] < jobs[waiting]["startedAt"], "a later high-priority job waited"
    # Never more than 2 at once: from the samples, and from the recorded run intervals.
    assert samples and max(busy for busy, _ in samples) == 2
    assert max(desired for _, desired in samples) == 2
    edges = sorted([(j["startedAt"], 1) for j in jobs.values()] + [(j["stoppedAt"], -1) for j in jobs.values()],
                   key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, delta in edges:
        running += delta
        peak = max(peak, running)
    assert peak == 2


def test_timestamps_follow_the_job_through_its_states(acct):
    """ref §6.3, §6.6: createdAt <= scheduledAt <= startedAt <= stoppedAt for every job, even
    one submitted while the scheduler is busy placing others."""
    batch = acct.batch
    make_queue(batch, "burst", max_vcpus=8)
    make_definition(batch, "blink", ["true"])
    ids = [batch.submit_job(jobName=f"b{i}", jobQueue="burst", jobDefinition="blink")["jobId"] for i in range(8)]
    for job_id in ids:
        assert wait_done(batch, job_id)["status"] == "SUCCEEDED"
    listed = batch.list_jobs(jobQueue="burst", jobStatus="SUCCEEDED")["jobSummaryList"]
    assert len(listed) == 8
    for job in listed:
        times = [job["createdAt"], job["scheduledAt"], job["startedAt"], job["stoppedAt"]]
        assert times == sorted(times), f"{job['jobName']}: created, scheduled, started, stopped = {times}"


def test_out_of_memory(acct):
    """ref §6.5: a job that outgrows its MEMORY is killed: OutOfMemoryError, exit 137."""
    batch = acct.batch
    make_queue(batch, "oom", max_vcpus=1)
    # `tail` buffers the one endless "line" of /dev/zero, so it allocates until killed.
    make_definition(batch, "hog", ["tail", "/dev/zero"], memory="16")
    job = wait_done(batch, batch.submit_job(jobName="hog", jobQueue="oom", jobDefinition="hog")["jobId"])
    assert job["status"] == "FAILED"
    assert job["container"]["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert job["container"]["exitCode"] == 137
    (attempt,) = job["attempts"]
    assert attempt["container"]["reason"] == job["container"]["reason"]


def test_pull_failure(acct):
    """ref §6.5: an image that cannot be pulled fails the job without it ever running."""
    batch = acct.batch
    make_queue(batch, "pull", max_vcpus=1)
    make_definition(batch, "ghost", ["true"], image="batchemu-test/does-not-exist:1")
    job = wait_done(batch, batch.submit_job(jobName="ghost", jobQueue="pull", jobDefinition="ghost")["jobId"],
                    timeout=60)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Task failed to start"
    assert job["container"]["reason"].startswith("CannotPullContainerError:")
    assert "exitCode" not in job["container"] and "startedAt" not in job
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == "Task failed to start"


def test_parameters_and_overrides_reach_the_container(acct):
    """ref §5.5, §6.8: Ref:: parameters (submitted over the definition's), an override command
    and an environment merged by name."""
    batch = acct.batch
    make_queue(batch, "params", max_vcpus=1)
    batch.register_job_definition(
        jobDefinitionName="greeter", type="container",
        parameters={"word": "from-definition", "name": "world"},
        containerProperties={"image": IMAGE, "command": ["echo", "definition command"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                      {"type": "MEMORY", "value": "32"}],
                             "environment": [{"name": "A", "value": "definition"},
                                             {"name": "B", "value": "kept"}]})
    job_id = batch.submit_job(
        jobName="greet", jobQueue="params", jobDefinition="greeter", parameters={"word": "hello"},
        containerOverrides={"command": ["sh", "-c", 'echo "$1 $2 A=$A B=$B C=$C"', "sh", "Ref::word",
                                        "Ref::name"],
                            "environment": [{"name": "A", "value": "override"},
                                            {"name": "C", "value": "added"}]})["jobId"]
    job = wait_done(batch, job_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert acct.output(job) == ["hello world A=override B=kept C=added"]
    assert job["parameters"] == {"word": "hello", "name": "world"}


def test_an_ephemeral_server_takes_its_containers_with_it(client):
    """An ephemeral server keeps no state, so nothing could ever re-attach a container it left
    running: stopping it stops and removes its containers."""
    with running_server(runner="docker", stop_grace_seconds=1) as other:
        server_id = other.emulator.server_id
        batch = other.client("batch", access_key=new_account())
        make_queue(batch, "q", max_vcpus=1)
        make_definition(batch, "long", ["sleep", "600"])
        wait_status(batch, batch.submit_job(jobName="left", jobQueue="q", jobDefinition="long")["jobId"],
                    "RUNNING")
        assert own_containers(client, server_id)
    try:
        wait_until(lambda: not own_containers(client, server_id), 15, "the stopped server's containers to go")
    finally:
        for container in own_containers(client, server_id):
            container.remove(force=True)


def test_timeout(timeout_job, server, client):
    """ref §10: attemptDurationSeconds=60 on `sleep 600`: FAILED, not retried, container gone."""
    acct, job_id = timeout_job
    batch = acct.batch
    job = wait_done(batch, job_id, timeout=100)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == "Job attempt duration exceeded timeout"
    assert attempt["container"]["exitCode"] in (137, 143)
    assert 60_000 <= job["stoppedAt"] - job["startedAt"] < 75_000
    wait_until(lambda: not own_containers(client, server.server_id, job_id), 10, "the container to go")


def test_nothing_left_behind(server, client):
    """Every container this server started is removed once its job ended."""
    wait_until(lambda: not own_containers(client, server.server_id), 15,
               "this server's containers to be removed")  # raises if any remains
