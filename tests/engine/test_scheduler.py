"""Scheduler behaviour with a manual clock and a scripted runner (ref §6-§11)."""

import pytest

from batchemu.engine.scheduler import Scheduler
from batchemu.runners.base import ClusterPlace, OutputMark, Room, Survivor
from batchemu.store.logs import LogTables
from tests.engine.harness import Harness


@pytest.fixture()
def h():
    h = Harness()
    h.setup()
    return h


def test_lifecycle_and_field_presence(h):
    job = h.submit()
    d = h.job(job)
    assert d["status"] == "SUBMITTED" and "startedAt" not in d and d["attempts"] == []
    h.tick()
    d = h.job(job)
    assert d["status"] == "STARTING"
    assert d["container"]["taskArn"].startswith("arn:aws:ecs:us-east-1:123456789012:task/ce_Batch_")
    assert "logStreamName" not in d["container"] and "startedAt" not in d
    h.advance(2)
    h.runner.run(job)
    h.tick()
    d = h.job(job)
    assert d["status"] == "RUNNING" and d["startedAt"] == h.now
    assert d["container"]["logStreamName"].startswith("jd/default/")
    assert "stoppedAt" not in d and d["attempts"] == []
    h.advance(3)
    h.runner.exit(job, 0)
    h.tick()
    d = h.job(job)
    assert d["status"] == "SUCCEEDED" and d["stoppedAt"] == h.now
    assert d["container"]["exitCode"] == 0
    assert len(d["attempts"]) == 1
    assert d["attempts"][0]["container"]["exitCode"] == 0
    assert d["attempts"][0]["container"]["logStreamName"] == d["container"]["logStreamName"]


def test_environment_given_to_the_container(h):
    job = h.submit(containerOverrides={"environment": [{"name": "A", "value": "1"}]})
    h.tick()
    env = h.runner.spec(job).environment
    assert env["AWS_BATCH_JOB_ID"] == job and env["AWS_BATCH_JQ_NAME"] == "q"
    assert env["AWS_BATCH_CE_NAME"] == "ce" and env["AWS_BATCH_JOB_ATTEMPT"] == "1" and env["A"] == "1"
    assert h.runner.spec(job).vcpus == 1.0 and h.runner.spec(job).memory_mib == 128


def test_capacity_limits_concurrency_fifo(h):
    jobs = [h.submit(name=f"j{i}") for i in range(6)]
    h.tick()
    assert [h.status(j) for j in jobs] == ["STARTING"] * 4 + ["RUNNABLE"] * 2
    (ce,) = h.call("DescribeComputeEnvironments")["computeEnvironments"]
    assert ce["computeResources"]["desiredvCpus"] == 4
    h.run_to_end(jobs[0])
    assert h.status(jobs[4]) == "STARTING" and h.status(jobs[5]) == "RUNNABLE"


def test_higher_priority_queue_first(h):
    h.queue("high", priority=10)
    low = [h.submit(name=f"low{i}", queue="q") for i in range(4)]
    h.tick()
    high = [h.submit(name=f"high{i}", queue="high") for i in range(2)]
    late_low = h.submit(name="late", queue="q")
    h.run_to_end(low[0])
    assert h.status(high[0]) == "STARTING"
    assert h.status(high[1]) == "RUNNABLE" and h.status(late_low) == "RUNNABLE"
    h.run_to_end(low[1])
    assert h.status(high[1]) == "STARTING" and h.status(late_low) == "RUNNABLE"


def test_job_too_big_stays_runnable_with_reason_and_time_limit_cancels_it(h):
    h.queue("limited", jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
        "maxTimeSeconds": 600, "action": "CANCEL"}])
    big = h.submit(name="big", queue="limited", containerOverrides={
        "resourceRequirements": [{"type": "VCPU", "value": "16"}]})
    small = h.submit(name="small", queue="limited")
    h.tick()
    d = h.job(big)
    assert d["status"] == "RUNNABLE"
    assert d["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")
    assert h.status(small) == "RUNNABLE"  # the head blocks the queue
    h.advance(601)
    h.tick()
    d = h.job(big)
    assert d["status"] == "FAILED" and d["isCancelled"] is True
    assert d["statusReason"] == ("Canceled by JobStateTimeLimit action due to reason: "
                                 "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")
    assert h.status(small) == "STARTING"


def test_disabled_queue_and_ce_hold_jobs(h):
    h.call("UpdateJobQueue", jobQueue="q", state="DISABLED")
    # a job submitted before the disable
    h.call("UpdateJobQueue", jobQueue="q", state="ENABLED")
    job = h.submit()
    h.call("UpdateComputeEnvironment", computeEnvironment="ce", state="DISABLED")
    h.tick()
    assert h.status(job) == "RUNNABLE" and "statusReason" not in h.job(job)
    h.call("UpdateComputeEnvironment", computeEnvironment="ce", state="ENABLED")
    h.call("UpdateJobQueue", jobQueue="q", state="DISABLED")
    h.tick()
    assert h.status(job) == "RUNNABLE"
    h.call("UpdateJobQueue", jobQueue="q", state="ENABLED")
    h.tick()
    assert h.status(job) == "STARTING"


def test_dependencies_wait_and_failure_cascades(h):
    a = h.submit(name="a")
    b = h.submit(name="b", dependsOn=[{"jobId": a}])
    c = h.submit(name="c", dependsOn=[{"jobId": b}])
    h.tick()
    assert h.status(b) == "PENDING" and h.status(c) == "PENDING"
    h.run_to_end(a, code=1)
    assert h.status(a) == "FAILED"
    b_doc, c_doc = h.job(b), h.job(c)
    assert b_doc["status"] == "FAILED" and b_doc["statusReason"] == "Dependent Job failed"
    assert c_doc["status"] == "FAILED" and c_doc["attempts"] == [] and "startedAt" not in c_doc


def test_dependency_success_releases(h):
    a = h.submit(name="a")
    b = h.submit(name="b", dependsOn=[{"jobId": a}])
    h.tick()
    h.run_to_end(a)
    assert h.status(b) == "STARTING"


def test_retry_with_evaluate_on_exit(h):
    job = h.submit(retryStrategy={"attempts": 3, "evaluateOnExit": [
        {"onExitCode": "42", "action": "EXIT"}, {"onReason": "*", "action": "RETRY"}]})
    h.tick()
    h.run_to_end(job, code=1)
    d = h.job(job)
    assert d["status"] == "STARTING" and len(d["attempts"]) == 1  # retried at once (capacity free)
    assert d["attempts"][0]["statusReason"] == "Essential container in task exited"
    assert h.runner.spec(job).environment["AWS_BATCH_JOB_ATTEMPT"] == "2"
    h.run_to_end(job, code=42)
    d = h.job(job)
    assert d["status"] == "FAILED" and len(d["attempts"]) == 2
    assert d["container"]["exitCode"] == 42
    assert d["attempts"][0]["container"]["taskArn"] != d["attempts"][1]["container"]["taskArn"]


def test_retry_then_success(h):
    job = h.submit(retryStrategy={"attempts": 2})
    h.tick()
    h.run_to_end(job, code=7)
    h.run_to_end(job, code=0)
    d = h.job(job)
    assert d["status"] == "SUCCEEDED" and [a["container"]["exitCode"] for a in d["attempts"]] == [7, 0]


def test_timeout_stops_and_does_not_retry(h):
    job = h.submit(timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 3})
    h.tick()
    h.runner.run(job)
    assert h.tick() == h.now + 60_000  # the next deadline is the timeout
    h.advance(60)
    h.tick()
    assert h.runner.stopped == [(job, 1, 1)]
    h.runner.exit(job, 137)
    h.tick()
    d = h.job(job)
    assert d["status"] == "FAILED" and d["statusReason"] == "Job attempt duration exceeded timeout"
    assert len(d["attempts"]) == 1


def test_cancel_and_terminate(h):
    waiting = h.submit(name="w", dependsOn=[{"jobId": h.submit(name="first")}])
    h.call("CancelJob", jobId=waiting, reason="no longer needed")
    d = h.job(waiting)
    assert d["status"] == "FAILED" and d["isCancelled"] is True and d["statusReason"] == "no longer needed"
    running = h.submit(name="r")
    h.tick()
    h.runner.run(running)
    h.tick()
    h.call("CancelJob", jobId=running, reason="ignored")  # cancel does not stop running jobs
    h.tick()
    assert h.status(running) == "RUNNING" and h.runner.stopped == []
    h.call("TerminateJob", jobId=running, reason="stop it")
    h.tick()
    assert h.runner.stopped[-1][0] == running
    h.runner.exit(running, 143)
    h.tick()
    d = h.job(running)
    assert d["status"] == "FAILED" and d["isTerminated"] is True and d["statusReason"] == "stop it"
    assert d["attempts"][0]["container"]["exitCode"] == 143


def test_array_job_children_and_parent_status(h):
    parent = h.submit(name="arr", arrayProperties={"size": 3})
    h.tick()
    d = h.job(parent)
    assert d["status"] == "PENDING"
    assert d["arrayProperties"]["statusSummary"]["STARTING"] == 3
    assert set(d["arrayProperties"]["statusSummary"]) == {
        "SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"}
    env = h.runner.spec(f"{parent}:2").environment
    assert env["AWS_BATCH_JOB_ARRAY_INDEX"] == "2" and env["AWS_BATCH_JOB_ARRAY_SIZE"] == "3"
    assert h.job(f"{parent}:1")["arrayProperties"] == {"index": 1}
    h.run_to_end(f"{parent}:0")
    h.run_to_end(f"{parent}:1", code=1)
    assert h.status(parent) == "PENDING"
    h.run_to_end(f"{parent}:2")
    d = h.job(parent)
    assert d["status"] == "FAILED" and d["statusReason"] == "Array Child Job failed"
    listed = h.call("ListJobs", arrayJobId=parent, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert sorted(s["arrayProperties"]["index"] for s in listed) == [0, 2]


def test_sequential_and_n_to_n(h):
    seq = h.submit(name="seq", arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}])
    h.tick()
    assert [h.status(f"{seq}:{i}") for i in range(3)] == ["STARTING", "PENDING", "PENDING"]
    h.run_to_end(f"{seq}:0")
    assert [h.status(f"{seq}:{i}") for i in range(3)] == ["SUCCEEDED", "STARTING", "PENDING"]
    first = h.submit(name="first", arrayProperties={"size": 2})
    second = h.submit(name="second", arrayProperties={"size": 2}, dependsOn=[{"jobId": first, "type": "N_TO_N"}])
    h.tick()
    assert h.status(f"{second}:0") == "PENDING"
    h.run_to_end(f"{seq}:1")
    h.run_to_end(f"{seq}:2")
    h.tick()
    h.run_to_end(f"{first}:1")
    assert h.status(f"{second}:1") == "STARTING" and h.status(f"{second}:0") == "PENDING"


def test_cancel_array_parent(h):
    parent = h.submit(name="arr", arrayProperties={"size": 6})
    h.tick()  # 4 start (capacity 4), 2 stay RUNNABLE
    h.call("CancelJob", jobId=parent, reason="enough")
    assert [h.status(f"{parent}:{i}") for i in (4, 5)] == ["FAILED", "FAILED"]
    assert h.status(parent) == "PENDING"  # ends when every child has
    for i in range(4):
        h.run_to_end(f"{parent}:{i}")
    d = h.job(parent)
    assert d["status"] == "FAILED" and d["statusReason"] == "enough" and d["isCancelled"] is True


def test_fair_share_weights(h):
    h.call("CreateSchedulingPolicy", name="fs", fairsharePolicy={
        "shareDistribution": [{"shareIdentifier": "heavy", "weightFactor": 1.0},
                              {"shareIdentifier": "light", "weightFactor": 0.25}]})
    arn = h.call("ListSchedulingPolicies")["schedulingPolicies"][0]["arn"]
    h.queue("fsq", schedulingPolicyArn=arn)
    heavy = [h.submit(name=f"h{i}", queue="fsq", shareIdentifier="heavy") for i in range(8)]
    light = [h.submit(name=f"l{i}", queue="fsq", shareIdentifier="light") for i in range(8)]
    h.tick()
    started = [j for j in heavy + light if h.status(j) == "STARTING"]
    # weight 0.25 earns 4x the capacity of weight 1: of 4 vCPUs, light gets 3 and heavy 1
    assert len([j for j in started if j in light]) == 3 and len([j for j in started if j in heavy]) == 1


def test_restart_recovery(h):
    alive, lost = h.submit(name="alive"), h.submit(name="lost", retryStrategy={"attempts": 2})
    h.tick()
    h.runner.run(alive)
    h.runner.run(lost)
    h.tick()
    h.runner.survivors = [Survivor(alive, 1, running=True)]
    h.scheduler.recover()
    assert h.status(alive) == "RUNNING"
    d = h.job(lost)
    assert d["status"] == "RUNNABLE" and "restarted" in d["attempts"][0]["statusReason"]


def test_restart_starts_again_an_attempt_that_never_got_a_container(h):
    """kill -9 while STARTING, before the container existed (issue 12 item 15): the same attempt
    starts again after the restart; nothing shows the crash."""
    job = h.submit(retryStrategy={"attempts": 2})
    h.tick()
    before = h.job(job)
    assert before["status"] == "STARTING" and len(h.runner.started) == 1
    stream = h.jobs.get(job)["_tasks"]["1"]["logStreamName"]
    h.restart()  # the runner reports no trace of it
    (spec,) = h.runner.started
    assert (spec.job_id, spec.attempt) == (job, 1)
    assert spec.environment["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert h.status(job) == "STARTING"
    h.run_to_end(job, 0)
    d = h.job(job)
    assert d["status"] == "SUCCEEDED" and len(d["attempts"]) == 1
    assert d["attempts"][0]["container"]["exitCode"] == 0
    assert d["attempts"][0]["container"]["logStreamName"] == stream
    assert d["container"]["taskArn"] == before["container"]["taskArn"]


def test_restart_without_a_runner_records_a_starting_attempt_as_lost(h):
    job = h.submit(retryStrategy={"attempts": 2})
    h.tick()
    h.scheduler = Scheduler(h.store, None, h.clock)  # the server restarts with --runner none
    h.scheduler.recover()
    d = h.job(job)
    assert d["status"] == "RUNNABLE" and "restarted" in d["attempts"][0]["statusReason"]


def test_restart_finds_running_what_started_while_the_server_was_down(h):
    job = h.submit()
    h.tick()
    h.advance(5)
    started = h.now
    h.advance(60)  # the server was down for a minute
    h.runner.survivors = [Survivor(job, 1, running=True, started_ms=started)]
    h.restart()
    assert h.runner.started == []
    d = h.job(job)
    assert d["status"] == "RUNNING" and d["startedAt"] == started


def test_restart_does_not_start_again_what_was_terminated_or_may_have_run(h):
    stopped = h.submit(name="stopped")
    lost = h.submit(name="lost", retryStrategy={"attempts": 2})
    h.tick()
    h.call("TerminateJob", jobId=stopped, reason="operator")
    # The process runner found a record of lost's process: it had started, outcome unknown.
    h.runner.survivors = [Survivor(lost, 1, running=False, lost=True)]
    h.restart()
    assert h.runner.started == []
    d = h.job(stopped)
    assert (d["status"], d["statusReason"], d["isTerminated"]) == ("FAILED", "operator", True)
    d = h.job(lost)
    assert d["status"] == "RUNNABLE" and "restarted" in d["attempts"][0]["statusReason"]


def test_runner_output_is_stored_as_log_events(h):
    job = h.submit()
    h.tick()
    h.runner.run(job)
    h.runner.output(job, "hello", "world")
    h.tick()
    stream = h.job(job)["container"]["logStreamName"]
    lines = LogTables(h.store).read("123456789012", "us-east-1", "/aws/batch/job", stream)
    assert [text for _, text in lines] == ["hello", "world"]


def test_restart_tells_the_runner_where_each_running_jobs_stored_output_ends(h):
    """So a re-attached container's output resumes after the last stored line (none lost or
    repeated); a job with nothing stored yet gets no mark (its output is read from the start)."""
    chatty, quiet = h.submit(name="chatty"), h.submit(name="quiet")
    h.tick()
    h.runner.run(chatty)
    h.runner.run(quiet)
    h.runner.output(chatty, "one")
    h.advance(1)
    h.runner.output(chatty, "two", "three")
    h.tick()
    h.runner.survivors = [Survivor(chatty, 1, running=True), Survivor(quiet, 1, running=True)]
    h.restart()
    assert h.runner.stored_output == {chatty: OutputMark(h.now, ("two", "three"))}


def test_no_runner_keeps_jobs_runnable():
    h = Harness(runner=False)
    h.setup()
    job = h.submit()
    h.tick()
    assert h.status(job) == "RUNNABLE"


def test_restart_sends_an_unfinished_stop_again(h):
    """The process that sent a terminate's SIGTERM died before its SIGKILL: the stop is sent
    again after the restart, so a container that ignores SIGTERM still ends."""
    job = h.submit()
    h.tick()
    h.runner.run(job)
    h.tick()
    h.call("TerminateJob", jobId=job, reason="operator")
    h.tick()
    assert h.runner.stopped == [(job, 1, 1)]
    h.runner.survivors = [Survivor(job, 1, running=True)]
    h.scheduler.recover()
    h.tick()
    assert h.runner.stopped == [(job, 1, 1), (job, 1, 1)]
    h.runner.exit(job, 137)
    h.tick()
    d = h.job(job)
    assert (d["status"], d["statusReason"], d["isTerminated"]) == ("FAILED", "operator", True)


def test_a_job_runs_where_its_eks_compute_environment_says_and_a_restart_looks_there(h):
    """The runner is told each attempt's place (the compute environment's eksConfiguration), and
    after a restart every place a pod of the server may be in, before it re-attaches."""
    arn = "arn:aws:eks:us-east-1:123456789012:cluster/batch"
    for name, namespace in (("eks-a", "team-a"), ("eks-b", "team-b")):
        h.call("CreateComputeEnvironment", computeEnvironmentName=name, type="MANAGED",
               eksConfiguration={"eksClusterArn": arn, "kubernetesNamespace": namespace},
               computeResources={"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
                                 "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]})
    h.queue("eks", ces=("eks-a",))
    on_eks, plain = h.submit(name="on-eks", queue="eks"), h.submit(name="plain")
    h.tick()
    assert h.runner.spec(on_eks).place == ClusterPlace(arn, "team-a")
    assert h.runner.spec(plain).place is None          # the runner's own namespace
    h.runner.survivors = [Survivor(on_eks, 1, running=True), Survivor(plain, 1, running=True)]
    h.restart()
    assert h.runner.followed == [ClusterPlace(arn, "team-a"), ClusterPlace(arn, "team-b")]
    assert h.status(on_eks) == "RUNNING" and h.status(plain) == "RUNNING"   # both re-attached


def test_a_cluster_runner_bounds_what_runs_at_once_and_blocks_what_no_node_holds(h):
    """Kubernetes: maxvCpus per compute environment, and what the nodes can allocate for all of
    them together; a job bigger than the largest node waits RUNNABLE with AWS's reason for a job
    no instance type fits, instead of a pod Pending forever."""
    h.runner.nodes = Room(vcpus=3, memory_mib=4096, node_vcpus=2, node_memory_mib=2048)
    h.compute_environment("ce2")
    h.queue("q2", ces=("ce2",))
    h.definition("big", vcpus="3")
    h.definition("fat", memory="4000")
    jobs = [h.submit(name=f"j{i}", queue=q) for i, q in enumerate(("q", "q2", "q", "q2"))]
    big, fat = h.submit(name="big", definition="big"), h.submit(name="fat", queue="q2", definition="fat")
    h.tick()
    assert [h.status(j) for j in jobs] == ["STARTING"] * 3 + ["RUNNABLE"]   # 3 vCPUs in the cluster
    h.run_to_end(jobs[0])
    assert h.status(jobs[3]) == "STARTING"              # its queue's head once a vCPU is free
    for job in (big, fat):                              # each its queue's head now
        d = h.job(job)
        assert d["status"] == "RUNNABLE" and d["statusReason"].startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")
    h.runner.nodes = None                               # nodes unreadable: maxvCpus alone, as before
    h.tick()
    assert h.status(big) == "STARTING"
