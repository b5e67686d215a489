"""CancelJobs, TerminateJobs and TerminateServiceJobs through real boto3 (model of botocore >=
1.43.93): per-job results, an unknown id counted as successful, 200 even when some jobs fail,
and every job left exactly as the single operation leaves it (same states, same events)."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

import pytest
from botocore.exceptions import ClientError

from batchemu.testing import running_server
from tests.api.test_service_jobs import sagemaker_queue, submit as submit_service_job, wait_for
from tests.e2e.support import new_account

CONTAINER = {"image": "busybox", "command": ["sleep", "30"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "64"}]}


@pytest.fixture(scope="module")
def server():
    # The process runner: jobs really start (`sleep` on this host), so RUNNING jobs exist.
    with running_server(runner="process") as s:
        yield s


@pytest.fixture()
def batch(server):
    batch = server.client("batch", access_key=new_account())
    # Two queues: "hold" keeps jobs RUNNABLE (its compute environment is DISABLED), "run" runs them.
    for name, state in (("hold", "DISABLED"), ("run", "ENABLED")):
        batch.create_compute_environment(computeEnvironmentName=name, type="UNMANAGED", state=state)
        batch.create_job_queue(jobQueueName=name, priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": name}])
    batch.register_job_definition(jobDefinitionName="sleep", type="container", containerProperties=CONTAINER)
    return batch


def submit(batch, queue="hold", name="j"):
    return batch.submit_job(jobName=name, jobQueue=queue, jobDefinition="sleep")["jobId"]


def job(batch, job_id):
    (found,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    return found


def wait_status(batch, job_id, statuses, timeout=20):
    deadline = time.monotonic() + timeout
    while (current := job(batch, job_id))["status"] not in statuses:
        assert time.monotonic() < deadline, f"{job_id} still {current['status']}"
        time.sleep(0.05)
    return current


def test_cancel_jobs_reports_each_job(batch):
    waiting = [submit(batch, name=f"w{i}") for i in range(3)]
    unknown = str(uuid.uuid4())
    out = batch.cancel_jobs(jobs=waiting + [unknown, "not-a-job-id", waiting[0]], reason="bulk")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Each id once, in order; a well-formed unknown id counts as processed (model).
    assert out["successful"] == waiting + [unknown]
    assert out["errors"] == [{"job": "not-a-job-id", "code": "ValidationException",
                              "message": "Job ID 'not-a-job-id' is malformed: a job ID is a UUID, or "
                                         "<UUID>:<index> for an array child"}]
    for job_id in waiting:
        got = job(batch, job_id)
        assert (got["status"], got["statusReason"], got.get("isCancelled")) == ("FAILED", "bulk", True)
        assert "isTerminated" not in got
    listed = batch.list_jobs(jobQueue="hold", jobStatus="FAILED")["jobSummaryList"]
    assert {s["jobId"] for s in listed} == set(waiting)
    assert all(s["isCancelled"] is True and "isTerminated" not in s for s in listed)


def test_cancel_jobs_leaves_running_jobs_alone_terminate_jobs_stops_them(batch):
    running = submit(batch, "run", "r")
    wait_status(batch, running, {"RUNNING"})
    waiting = submit(batch, name="w")
    out = batch.cancel_jobs(jobs=[running, waiting], reason="cancel")
    # CancelJob succeeds on a RUNNING job without cancelling it; the bulk form agrees (ref §6.7).
    assert out["successful"] == [running, waiting] and out["errors"] == []
    assert job(batch, running)["status"] == "RUNNING"
    assert "isCancelled" not in batch.list_jobs(jobQueue="run")["jobSummaryList"][0]

    out = batch.terminate_jobs(jobs=[running], reason="stop")
    assert out == {**out, "successful": [running], "errors": []}
    stopped = wait_status(batch, running, {"FAILED"})
    assert stopped["statusReason"] == "stop" and stopped["isTerminated"] is True
    (summary,) = batch.list_jobs(jobQueue="run", jobStatus="FAILED")["jobSummaryList"]
    assert summary["isTerminated"] is True and "isCancelled" not in summary


def test_terminate_jobs_cancels_jobs_not_yet_started(batch):
    waiting = submit(batch)
    assert batch.terminate_jobs(jobs=[waiting], reason="t")["successful"] == [waiting]
    got = job(batch, waiting)
    assert got["status"] == "FAILED" and got["isCancelled"] is True and "isTerminated" not in got


def test_a_finished_job_is_a_successful_no_op(batch):
    done = submit(batch)
    batch.cancel_job(jobId=done, reason="first")
    out = batch.terminate_jobs(jobs=[done], reason="second")
    assert out["successful"] == [done] and job(batch, done)["statusReason"] == "first"


@pytest.mark.parametrize("jobs, reason, needle", [
    ([], "r", "jobs must list 1 to 50 job IDs, got 0"),
    ([str(uuid.uuid4()) for _ in range(51)], "r", "jobs must list 1 to 50 job IDs, got 51"),
    ([str(uuid.uuid4())], "x" * 1025, "reason must be at most 1024 characters"),
])
def test_bad_requests_are_client_exceptions(batch, jobs, reason, needle):
    for call in (batch.cancel_jobs, batch.terminate_jobs, batch.terminate_service_jobs):
        with pytest.raises(ClientError) as exc:
            call(jobs=jobs, reason=reason)
        assert exc.value.response["Error"]["Code"] == "ClientException"
        assert needle in exc.value.response["Error"]["Message"]


def stream_events(server, account: str, job_ids: set, count: int) -> list:
    """The first `count` job state change events of these jobs on GET /batchemu/events (the
    stream shows one account's jobs)."""
    got = []
    with urllib.request.urlopen(f"{server.url}/batchemu/events?account={account}", timeout=20) as resp:
        assert resp.readline() == b": connected\n"
        yield
        while len(got) < count:
            line = resp.readline().decode()
            if line.startswith("data: "):
                event = json.loads(line[len("data: "):])
                if event["detail"]["jobId"] in job_ids:
                    got.append(event)
    yield got


def comparable(event):
    detail = {k: v for k, v in event["detail"].items()
              if k not in ("jobId", "jobArn", "jobName", "createdAt", "stoppedAt")}
    return event["detail-type"], detail


def test_bulk_and_single_calls_leave_the_same_states_and_events(server, batch):
    single, bulk = submit(batch, name="same"), submit(batch, name="same")
    for job_id in (single, bulk):
        wait_status(batch, job_id, {"RUNNABLE"})
    events = stream_events(server, job(batch, single)["jobArn"].split(":")[4], {single, bulk}, 2)
    next(events)  # connected: every change from now on is seen
    batch.cancel_job(jobId=single, reason="why")
    batch.cancel_jobs(jobs=[bulk], reason="why")
    got = next(events)
    by_job = {e["detail"]["jobId"]: e for e in got}
    assert comparable(by_job[single]) == comparable(by_job[bulk])
    assert by_job[bulk]["detail"]["status"] == "FAILED"
    a, b = job(batch, single), job(batch, bulk)
    assert comparable({"detail-type": "", "detail": a}) == comparable({"detail-type": "", "detail": b})


@pytest.fixture(scope="module")
def idle_server():
    # Runner none: service jobs wait in RUNNABLE, so terminating them is immediate.
    with running_server() as s:
        yield s


def test_terminate_service_jobs(idle_server):
    batch = idle_server.client("batch", access_key=new_account())
    sagemaker_queue(batch)
    first, second = submit_service_job(batch, "a")["jobId"], submit_service_job(batch, "b")["jobId"]
    batch.terminate_service_job(jobId=first, reason="single")
    unknown = str(uuid.uuid4())
    out = batch.terminate_service_jobs(jobs=[second, unknown, ""], reason="bulk")
    assert out["successful"] == [second, unknown]
    assert [e["job"] for e in out["errors"]] == [""] and out["errors"][0]["code"] == "ValidationException"
    for job_id, reason in ((first, "single"), (second, "bulk")):
        got = wait_for(batch, job_id, {"FAILED", "SUCCEEDED"})
        assert (got["status"], got["statusReason"], got["isTerminated"]) == ("FAILED", reason, True)
    listed = batch.list_service_jobs(jobQueue="sm", jobStatus="FAILED")["jobSummaryList"]
    assert {s["jobId"]: s.get("isTerminated") for s in listed} == {first: True, second: True}
