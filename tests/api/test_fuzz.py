"""Model-driven fuzzing over real HTTP (issue 12): requests generated from botocore's batch and
logs models (tests/fuzz_model.py: every operation, every member, wrong types, missing required
members, bad enums, huge, deep, non-UTF-8 and surrogate values), sent over one kept-alive
connection each, signed as an SDK signs. Every answer must be below 500 and every error a JSON
body with `__type` and `message`; afterwards the server must still answer, and ListJobs still
list what is submitted.

The seed is fixed so a failure reproduces; set BATCHEMU_FUZZ_SEED to explore other requests.
"""

from __future__ import annotations

import collections
import os
import time

import pytest

from batchemu.testing import running_server
from batchemu.wire.spec import load
from tests.fuzz_model import FuzzRequests
from tests.helpers import wait_until
from tests.raw_client import RawClient

BATCH_REQUESTS = 40_000
LOGS_REQUESTS = 8_000
SEED = int(os.environ.get("BATCHEMU_FUZZ_SEED", "12"))
ACCOUNT = "424242424242"
DESTRUCTIVE = ("Delete", "Update", "Deregister", "Cancel", "Terminate", "Untag", "Tag", "Put")
CE = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
      "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}
CONTAINER = {"image": "busybox", "command": ["echo", "Ref::x"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}]}


def _setup(raw) -> list:
    """Resources the generated requests name, so that they get past the look-ups into the rules."""
    calls = [
        ("/v1/createcomputeenvironment", {"computeEnvironmentName": "fz-ce", "type": "MANAGED",
                                          "computeResources": CE}),
        ("/v1/createcomputeenvironment", {"computeEnvironmentName": "fz-un", "type": "UNMANAGED"}),
        ("/v1/createjobqueue", {"jobQueueName": "fz-q", "priority": 1, "computeEnvironmentOrder": [
            {"order": 1, "computeEnvironment": "fz-ce"}]}),
        ("/v1/registerjobdefinition", {"jobDefinitionName": "fz-jd", "type": "container",
                                       "containerProperties": CONTAINER}),
        ("/v1/createschedulingpolicy", {"name": "fz-sp"}),
        ("/v1/createconsumableresource", {"consumableResourceName": "fz-cr", "totalQuantity": 4}),
    ]
    for path, body in calls:
        status, _, answer = raw.post(path, body)
        assert status == 200, (path, answer)
    status, _, job = raw.post("/v1/submitjob", {"jobName": "fz-job", "jobQueue": "fz-q", "jobDefinition": "fz-jd"})
    assert status == 200, job
    arn = f"arn:aws:batch:us-east-1:{ACCOUNT}"
    return {
        "jobName": ["fz-job", "fz-job-2"], "name": ["fz-x", "fz-sp"],
        "jobQueue": ["fz-q", f"{arn}:job-queue/fz-q"],
        "jobDefinition": ["fz-jd", "fz-jd:1", f"{arn}:job-definition/fz-jd:1"],
        "jobDefinitionName": ["fz-jd"],
        "computeEnvironment": ["fz-ce", "fz-un", f"{arn}:compute-environment/fz-ce"],
        "consumableResource": ["fz-cr", f"{arn}:consumable-resource/fz-cr"],
        "schedulingPolicyArn": [f"{arn}:scheduling-policy/fz-sp"],
        "arn": [f"{arn}:scheduling-policy/fz-sp"],
        "jobId": [job["jobId"]], "jobs": [job["jobId"]], "arrayJobId": [job["jobId"]],
        "resourceArn": [job["jobArn"], f"{arn}:job-queue/fz-q", f"{arn}:compute-environment/fz-ce"],
        "type": ["VCPU", "MEMORY", "GPU", "container"],
        "value": ["1", "2", "128", "0.25", "1e999", "nan", "-1"],
    }, ["fz-ce", "fz-un", "fz-q", "fz-jd", "fz-jd:1", "fz-sp", "fz-cr", job["jobId"], job["jobArn"],
            f"{arn}:compute-environment/fz-ce", f"{arn}:job-queue/fz-q", f"{arn}:job-definition/fz-jd:1",
            f"{arn}:scheduling-policy/fz-sp", f"{arn}:consumable-resource/fz-cr", "/aws/batch/job"]


def _send(raw, request) -> tuple:
    return raw.request(request.method, request.path, request.body, request.headers)


def _fuzz(raw, spec, count, names, hints, **protocol) -> tuple[collections.Counter, list]:
    """Send `count` generated requests, every operation in turn. Operations that change or
    delete resources name only resources of their own making, so the fixtures that let the
    other requests reach deeper rules stay in place."""
    statuses, problems = collections.Counter(), []
    operations = sorted(spec.operation_names)
    naming = FuzzRequests(spec.model, SEED, names, hints=hints, **protocol)
    blind = FuzzRequests(spec.model, SEED + 1, **protocol)
    for i in range(count):
        name = operations[i % len(operations)]
        generator = blind if name.startswith(DESTRUCTIVE) else naming
        request = generator.build(spec.operation(name))
        status, headers, body = _send(raw, request)
        statuses[501 if status == 501 else status // 100 * 100] += 1
        problem = None
        if status >= 500 and status != 501:  # 501: an operation marked as not built yet
            problem = "server error"
        elif status >= 400 and not (isinstance(body, dict) and isinstance(body.get("__type"), str)
                                    and isinstance(body.get("message"), str)):
            problem = "error without a JSON __type/message body"
        elif status < 400 and body is not None and not isinstance(body, dict):
            problem = "success without a JSON object body"
        if problem and len(problems) < 20:
            problems.append((problem, request.operation, request.method, request.path[:200],
                             request.body[:300], status, str(body)[:300]))
        elif problem:
            problems.append(None)
    return statuses, problems


def test_generated_hostile_requests_never_get_a_server_error():
    with running_server() as server:
        raw = RawClient(server.port, access_key=ACCOUNT)
        hints, names = _setup(raw)
        batch, logs = load("batch"), load("logs")
        started = time.monotonic()
        statuses, problems = _fuzz(raw, batch, BATCH_REQUESTS, names, hints)
        logs_raw = RawClient(server.port, service="logs", access_key=ACCOUNT)
        logs_statuses, logs_problems = _fuzz(
            logs_raw, logs, LOGS_REQUESTS, ["/aws/batch/job", "fz-stream", "fz-group"],
            {"logGroupName": ["/aws/batch/job", "fz-group"], "logStreamName": ["fz-stream"]},
            protocol="json", target_prefix=logs.model.metadata["targetPrefix"])
        elapsed = time.monotonic() - started
        print(f"fuzz seed {SEED}: {BATCH_REQUESTS} batch requests {dict(statuses)}, {LOGS_REQUESTS} logs "
              f"requests {dict(logs_statuses)} in {elapsed:.1f} s")
        found = [p for p in problems + logs_problems if p]
        assert not found, f"{len(problems) + len(logs_problems)} bad answers, first ones:\n" + \
            "\n".join(map(repr, found))
        # Both halves reached the services' own rules, not only the wire's: some requests
        # succeeded and some were refused.
        assert statuses[200] > 0 and statuses[400] > 0
        assert logs_statuses[200] > 0 and logs_statuses[400] > 0

        # The server is still healthy: in the fuzzed account (whose queue the fuzzing may have
        # deleted) every ListJobs selector answers, and in a fresh account on a fresh
        # connection a job is submitted and listed.
        for job_status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "FAILED", "SUCCEEDED"):
            status, _, body = raw.post("/v1/listjobs", {"jobQueue": "fz-q", "jobStatus": job_status})
            assert status in (200, 400), body
        fresh = RawClient(server.port, access_key="434343434343")
        _setup(fresh)
        status, _, job = fresh.post("/v1/submitjob", {"jobName": "after", "jobQueue": "fz-q",
                                                      "jobDefinition": "fz-jd"})
        assert status == 200, job
        status, _, listed = fresh.post("/v1/listjobs", {"jobQueue": "fz-q", "filters": [
            {"name": "JOB_NAME", "values": ["after"]}]})
        assert status == 200 and [j["jobId"] for j in listed["jobSummaryList"]] == [job["jobId"]]
        def runnable():  # the scheduler moves them on its own thread, after SubmitJob answered
            status, _, listed = fresh.post("/v1/listjobs", {"jobQueue": "fz-q", "jobStatus": "RUNNABLE"})
            assert status == 200, listed
            return {j["jobName"] for j in listed["jobSummaryList"]} == {"fz-job", "after"}
        assert wait_until(runnable)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_generator_is_deterministic_and_covers_every_operation(seed):
    spec = load("batch")
    first, second = FuzzRequests(spec.model, seed), FuzzRequests(spec.model, seed)
    names = sorted(spec.operation_names)
    a = [first.build(spec.operation(n)) for n in names * 3]
    b = [second.build(spec.operation(n)) for n in names * 3]
    assert [(r.path, r.body) for r in a] == [(r.path, r.body) for r in b]
    assert {r.operation for r in a} == set(names)
