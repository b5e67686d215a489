"""Jobs through boto3 on a server that runs them (the process runner: each command runs on
this host): what DescribeJobs shows for a job that succeeded, failed and was retried, array
jobs, dependencies, cancel vs terminate (single and bulk), and ListJobs pagination.
"""

from __future__ import annotations

from conformance.harness import unique, wait_job
from conformance.registry import covers
from conformance.world import World, container_properties


def definition(batch, command, **extra) -> str:
    return batch.register_job_definition(jobDefinitionName=unique("jd"), type="container",
                                         containerProperties=container_properties(command),
                                         **extra)["jobDefinitionArn"]


@covers("boto3", "SubmitJob", "DescribeJobs")
def test_a_job_that_succeeds_and_one_that_fails_after_retrying(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    ok = batch.submit_job(jobName="ok", jobQueue=queue, jobDefinition=definition(batch, ["sh", "-c", "exit 0"]))
    bad = batch.submit_job(jobName="bad", jobQueue=queue, jobDefinition=definition(batch, ["sh", "-c", "exit 3"]),
                           retryStrategy={"attempts": 2})

    job = wait_job(batch, ok["jobId"], ("SUCCEEDED", "FAILED"))
    assert job["status"] == "SUCCEEDED" and job["container"]["exitCode"] == 0
    assert job["createdAt"] <= job["startedAt"] <= job["stoppedAt"]  # ref §6.3
    assert job["container"]["logStreamName"] and len(job["attempts"]) == 1

    job = wait_job(batch, bad["jobId"], ("SUCCEEDED", "FAILED"))
    assert job["status"] == "FAILED" and job["container"]["exitCode"] == 3
    # ref §9: two attempts in all, each recorded with its exit code and its own log stream.
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [3, 3]
    assert len({a["container"]["logStreamName"] for a in job["attempts"]}) == 2
    assert job["statusReason"] == "Essential container in task exited"  # ref §6.5


@covers("boto3", "SubmitJob", "DescribeJobs", "ListJobs")
def test_array_job_children_see_their_index(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    # Child i exits with code i: child 0 succeeds, children 1 and 2 fail.
    jd = definition(batch, ["sh", "-c", "exit $AWS_BATCH_JOB_ARRAY_INDEX"])
    parent = batch.submit_job(jobName="array", jobQueue=queue, jobDefinition=jd, arrayProperties={"size": 3})["jobId"]
    done = wait_job(batch, parent, ("SUCCEEDED", "FAILED"))
    # ref §7: the parent fails when a child fails; statusSummary counts all seven statuses.
    assert done["status"] == "FAILED" and done["statusReason"] == "Array Child Job failed"
    assert done["arrayProperties"]["size"] == 3
    assert done["arrayProperties"]["statusSummary"] == {"SUBMITTED": 0, "PENDING": 0, "RUNNABLE": 0,
                                                        "STARTING": 0, "RUNNING": 0, "SUCCEEDED": 1, "FAILED": 2}
    children = batch.describe_jobs(jobs=[f"{parent}:{i}" for i in range(3)])["jobs"]
    assert {c["jobId"]: c["container"]["exitCode"] for c in children} == {f"{parent}:{i}": i for i in range(3)}
    assert sorted(c["arrayProperties"]["index"] for c in children) == [0, 1, 2]
    failed = batch.list_jobs(arrayJobId=parent, jobStatus="FAILED")["jobSummaryList"]
    assert sorted(j["jobId"] for j in failed) == [f"{parent}:1", f"{parent}:2"]


@covers("boto3", "SubmitJob", "DescribeJobs")
def test_dependencies(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    ok, bad = definition(batch, ["true"]), definition(batch, ["false"])
    first = batch.submit_job(jobName="first", jobQueue=queue, jobDefinition=ok)["jobId"]
    then = batch.submit_job(jobName="then", jobQueue=queue, jobDefinition=ok, dependsOn=[{"jobId": first}])["jobId"]
    broken = batch.submit_job(jobName="broken", jobQueue=queue, jobDefinition=bad)["jobId"]
    never = batch.submit_job(jobName="never", jobQueue=queue, jobDefinition=ok, dependsOn=[{"jobId": broken}])["jobId"]

    a, b = wait_job(batch, first, "SUCCEEDED"), wait_job(batch, then, ("SUCCEEDED", "FAILED"))
    assert b["status"] == "SUCCEEDED" and b["startedAt"] >= a["stoppedAt"]  # ref §8
    job = wait_job(batch, never, ("SUCCEEDED", "FAILED"))
    # ref §8: a failed dependency fails the dependent, which never runs.
    assert job["status"] == "FAILED" and job["statusReason"] == "Dependent Job failed"
    assert job["attempts"] == [] and "startedAt" not in job


@covers("boto3", "SubmitJob", "CancelJob", "TerminateJob", "DescribeJobs")
def test_cancel_leaves_a_running_job_alone_terminate_stops_it(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    job_id = batch.submit_job(jobName="long", jobQueue=queue, jobDefinition=definition(batch, ["sleep", "60"]))["jobId"]
    wait_job(batch, job_id, "RUNNING")
    # ref §6.7: CancelJob succeeds but doesn't touch a RUNNING job; TerminateJob stops it.
    batch.cancel_job(jobId=job_id, reason="too late to cancel")
    assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
    batch.terminate_job(jobId=job_id, reason="stop now")
    job = wait_job(batch, job_id, ("SUCCEEDED", "FAILED"), timeout=20)
    assert job["status"] == "FAILED" and job["statusReason"] == "stop now" and job["isTerminated"] is True
    assert "isCancelled" not in job or job["isCancelled"] is False
    assert len(job["attempts"]) == 1 and job["startedAt"] <= job["stoppedAt"]


@covers("boto3", "SubmitJob", "ListJobs")
def test_list_jobs_paginates_and_filters(job_batch):
    batch, queue = job_batch, World(job_batch).job_queue()
    jd = definition(batch, ["true"])
    ids = [batch.submit_job(jobName=f"page-{i}", jobQueue=queue, jobDefinition=jd)["jobId"] for i in range(3)]
    for job_id in ids:
        wait_job(batch, job_id, "SUCCEEDED")
    pages = list(batch.get_paginator("list_jobs").paginate(
        jobQueue=queue, jobStatus="SUCCEEDED", PaginationConfig={"PageSize": 2}))
    assert [len(p["jobSummaryList"]) for p in pages] == [2, 1]
    assert sorted(j["jobId"] for p in pages for j in p["jobSummaryList"]) == sorted(ids)
    # ref §6.6: a JOB_NAME filter ignores jobStatus; a trailing * is a prefix match.
    named = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["PAGE-1"]}])["jobSummaryList"]
    assert [j["jobId"] for j in named] == [ids[1]]
    prefixed = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["page*"]}])["jobSummaryList"]
    assert sorted(j["jobId"] for j in prefixed) == sorted(ids)
    created = [j["createdAt"] for j in prefixed]
    assert created == sorted(created, reverse=True)  # newest first


@covers("boto3", "SubmitJob", "CancelJobs", "TerminateJobs", "DescribeJobs", "ListJobs")
def test_bulk_cancel_and_terminate_report_each_job(job_batch):
    batch = job_batch
    queue = World(batch).job_queue()
    running = batch.submit_job(jobName="long", jobQueue=queue, jobDefinition=definition(batch, ["sleep", "60"]))["jobId"]
    # PENDING until `running` ends (ref §8): a job CancelJobs does cancel.
    waiting = batch.submit_job(jobName="after", jobQueue=queue, jobDefinition=definition(batch, ["true"]),
                               dependsOn=[{"jobId": running}])["jobId"]
    wait_job(batch, running, "RUNNING")
    wait_job(batch, waiting, "PENDING")
    unknown = "00000000-0000-4000-8000-000000000000"
    # Model: results per job, an id that can't be found counts as successful, 200 even when a
    # job fails; CancelJobs cancels only SUBMITTED/PENDING/RUNNABLE jobs (ref §6.7 for RUNNING).
    out = batch.cancel_jobs(jobs=[running, waiting, unknown, "not a job id"], reason="bulk cancel")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert out["successful"] == [running, waiting, unknown]
    assert [(e["job"], e["code"]) for e in out["errors"]] == [("not a job id", "ValidationException")]
    cancelled = batch.describe_jobs(jobs=[waiting])["jobs"][0]
    assert (cancelled["status"], cancelled["statusReason"], cancelled["isCancelled"]) == ("FAILED", "bulk cancel", True)
    assert batch.describe_jobs(jobs=[running])["jobs"][0]["status"] == "RUNNING"

    out = batch.terminate_jobs(jobs=[running], reason="bulk stop")
    assert out["successful"] == [running] and out["errors"] == []
    job = wait_job(batch, running, ("SUCCEEDED", "FAILED"), timeout=20)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "bulk stop", True)
    (summary,) = batch.list_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["long"]}])["jobSummaryList"]
    assert summary["isTerminated"] is True and "isCancelled" not in summary
