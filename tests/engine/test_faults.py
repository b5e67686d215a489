"""Injected faults in the engine (engine.faults), with a manual clock and a scripted runner: the
instruction is applied by the tick, the stop goes to the runner (with the grace AWS would give),
and the attempt's end is recorded by the one attempt lifecycle with the host's reason and no
exit code; retries follow evaluateOnExit. Also --time-scale on attempt timeouts."""

from __future__ import annotations

import pytest

from batchemu.context import RequestContext
from batchemu.engine.faults import FaultError
from batchemu.engine.scheduler import Scheduler
from batchemu.runners.base import Survivor
from tests.engine.harness import ACCOUNT, REGION, Harness

CTX = RequestContext(ACCOUNT, REGION)
SPOT = {"type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED", "maxvCpus": 8, "subnets": ["subnet-1"],
        "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}


@pytest.fixture()
def h():
    h = Harness()
    h.call("CreateComputeEnvironment", computeEnvironmentName="spot", type="MANAGED", computeResources=SPOT)
    h.queue(ces=("spot",))
    h.definition()
    return h


def running(h, **submit) -> str:
    job = h.submit(**submit)
    h.tick()
    h.runner.run(job)
    h.tick()
    return job


def fault(h, kind, **args) -> dict:
    future = h.scheduler.faults.post(CTX, kind, **args)
    h.tick()
    return future.result(0)


def test_reclaim_is_applied_by_the_tick_and_recorded_with_no_exit_code(h):
    job = running(h, retryStrategy={"attempts": 2, "evaluateOnExit": [
        {"onStatusReason": "Host EC2*", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}]})
    answer = fault(h, "reclaim-spot")
    (ended,) = answer["jobs"]
    assert h.runner.stopped == [(job, 1, 1)]  # Spot gives the usual grace
    assert h.status(job) == "RUNNING"          # nothing is written until the runner reports
    h.runner.exit(job, 143)                     # what the container's stop looks like
    h.tick()
    d = h.job(job)
    assert d["status"] in ("RUNNABLE", "STARTING")
    (attempt,) = d["attempts"]
    assert attempt["statusReason"] == f"Host EC2 (instance {ended['instanceId']}) terminated."
    assert "exitCode" not in attempt["container"] and "reason" not in attempt["container"]


def test_lost_instance_stops_at_once_and_fails_without_a_retry_strategy(h):
    job = running(h)
    answer = fault(h, "lose-instance", jobId=job)
    assert h.runner.stopped == [(job, 1, 0)]
    h.runner.exit(job, 137)
    h.tick()
    d = h.job(job)
    assert d["status"] == "FAILED" and d["statusReason"] == f"Host EC2 (instance {answer['instanceId']}) terminated."
    assert "exitCode" not in d["container"]


def test_a_terminated_job_keeps_its_terminate(h):
    job = running(h)
    h.call("TerminateJob", jobId=job, reason="by hand")
    assert fault(h, "reclaim-spot") == {"jobs": []}


def test_faults_that_name_nothing_raise(h):
    with pytest.raises(FaultError, match="computeEnvironment nope does not exist"):
        fault(h, "reclaim-spot", computeEnvironment="nope")
    job = h.submit()
    h.scheduler.faults.post(CTX, "reclaim-spot", jobId="x")  # a bad one does not stop the tick
    with pytest.raises(FaultError, match="only a STARTING or RUNNING attempt"):
        fault(h, "reclaim-spot", jobId=h.submit(name="waiting", dependsOn=[{"jobId": job}]))


def test_a_restart_resends_a_host_stop(h):
    job = running(h)
    fault(h, "lose-instance", jobId=job)
    h.runner.survivors = [Survivor(job, 1, running=True)]
    h.restart()
    h.runner.live[job] = 1  # the re-attached container
    h.tick()
    assert h.runner.stopped == [(job, 1, 0)]
    h.runner.exit(job, 137)
    h.tick()
    assert h.job(job)["statusReason"].startswith("Host EC2 (instance i-")


def test_injected_pull_failure_never_reaches_the_runner(h):
    h.scheduler.faults.fail_pulls(CTX, "busybox")
    job = h.submit()
    h.tick()
    assert h.runner.started == []
    d = h.job(job)
    assert d["status"] == "FAILED" and d["statusReason"] == "Task failed to start"
    assert d["container"]["reason"].startswith("CannotPullContainerError: Error response from daemon: pull "
                                               "access denied for busybox,")


def test_time_scale_divides_the_attempt_timeout():
    h = Harness()
    h.scheduler = Scheduler(h.store, h.runner, h.clock, stop_grace_seconds=1, time_scale=60)
    h.runner.set_listener(h.scheduler.post)
    h.setup()
    job = h.submit(timeout={"attemptDurationSeconds": 60})
    h.tick()
    h.runner.run(job)
    assert h.tick() == h.now + 1_000  # 60 s / 60
    h.advance(1)
    h.tick()
    h.runner.exit(job, 137)
    h.tick()
    assert h.job(job)["statusReason"] == "Job attempt duration exceeded timeout"


def test_fargate_spot_keeps_the_stopped_containers_exit_code():
    h = Harness()
    h.call("CreateComputeEnvironment", computeEnvironmentName="fs", type="MANAGED", computeResources={
        "type": "FARGATE_SPOT", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]})
    h.queue(ces=("fs",))
    h.call("RegisterJobDefinition", jobDefinitionName="f", type="container", platformCapabilities=["FARGATE"],
           containerProperties={"image": "busybox", "command": ["true"],
                                "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
                                "resourceRequirements": [{"type": "VCPU", "value": "0.25"},
                                                         {"type": "MEMORY", "value": "512"}]})
    failed, finished = running(h, definition="f"), running(h, definition="f")
    assert len(fault(h, "reclaim-spot")["jobs"]) == 2
    h.runner.exit(failed, 143)
    h.runner.exit(finished, 0)  # it caught SIGTERM and finished its work
    h.tick()
    d = h.job(failed)
    assert d["status"] == "FAILED" and d["statusReason"] == "Your Spot Task was interrupted."
    assert d["container"]["exitCode"] == 143
    assert h.status(finished) == "SUCCEEDED"
