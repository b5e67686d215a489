"""Job operations through real boto3 (ref §6): SubmitJob validation, DescribeJobs, ListJobs
filters and pagination, Cancel/Terminate. This server has no runner, so jobs wait in RUNNABLE."""

import time

import pytest
from botocore.exceptions import ClientError

CE = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"],
      "instanceRole": "ecsInstanceRole", "instanceTypes": ["optimal"]}
CONTAINER = {"image": "busybox", "command": ["echo", "Ref::greeting", "--name=Ref::who", "Ref::missing"],
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "128"}],
             "environment": [{"name": "A", "value": "from-definition"}, {"name": "B", "value": "kept"}]}


@pytest.fixture()
def setup(batch):
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources=CE)
    batch.create_job_queue(jobQueueName="q", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=CONTAINER,
                                  parameters={"greeting": "hello", "who": "def"})
    return batch


def message(exc):
    assert exc.value.response["Error"]["Code"] == "ClientException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return exc.value.response["Error"]["Message"]


def wait_status(batch, job_id, status, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
        if job["status"] == status:
            return job
        time.sleep(0.02)
    raise AssertionError(f"{job_id} never reached {status}: {job['status']}")


def test_submit_and_describe_resolved_container(setup):
    batch = setup
    out = batch.submit_job(jobName="j1", jobQueue="q", jobDefinition="jd", parameters={"who": "me"},
                           containerOverrides={"environment": [{"name": "A", "value": "override"}]})
    assert set(out) >= {"jobArn", "jobName", "jobId"}
    job = wait_status(batch, out["jobId"], "RUNNABLE")
    assert job["jobQueue"].endswith(":job-queue/q") and job["jobDefinition"].endswith(":job-definition/jd:1")
    assert job["parameters"] == {"greeting": "hello", "who": "me"}
    assert job["container"]["command"] == ["echo", "hello", "--name=me", "Ref::missing"]
    env = {e["name"]: e["value"] for e in job["container"]["environment"]}
    assert env == {"A": "override", "B": "kept"}
    assert job["attempts"] == [] and job["dependsOn"] == [] and "startedAt" not in job
    assert job["container"]["mountPoints"] == [] and job["container"]["volumes"] == []


@pytest.mark.parametrize("kwargs, text", [
    ({"jobName": "-bad"}, "Job name should match valid pattern"),
    ({"jobQueue": "nope"}, "JobQueue nope not found."),
    ({"jobDefinition": "nope"}, "JobDefinition name nope does not exist or is not in ACTIVE status"),
    ({"arrayProperties": {"size": 1}}, "arrayProperties.size must be between 2 and 10000"),
    ({"arrayProperties": {"size": 10001}}, "arrayProperties.size"),
    ({"timeout": {"attemptDurationSeconds": 59}}, "at least 60"),
    ({"containerOverrides": {"environment": [{"name": "AWS_BATCH_X", "value": "1"}]}}, "AWS_BATCH"),
    ({"containerOverrides": {"vcpus": 2}}, "deprecated key"),
    ({"containerOverrides": {"command": ["echo", ""]}}, "empty string"),
    ({"dependsOn": [{"jobId": "00000000-0000-0000-0000-000000000000"}]}, "does not exist"),
    ({"dependsOn": [{"type": "SEQUENTIAL"}]}, "SEQUENTIAL"),
    ({"shareIdentifier": "a"}, "shareIdentifier"),
    ({"retryStrategy": {"attempts": 11}}, "retryStrategy.attempts"),
    ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onExitCode": "*1", "action": "EXIT"}]}},
     "Evaluate on exit condition contains restricted characters"),
])
def test_submit_rejects(setup, kwargs, text):
    params = {"jobName": "j", "jobQueue": "q", "jobDefinition": "jd", **kwargs}
    with pytest.raises(ClientError) as exc:
        setup.submit_job(**params)
    assert text in message(exc)


def test_submit_size_and_dependency_limits(setup):
    with pytest.raises(ClientError) as exc:
        setup.submit_job(jobName="big", jobQueue="q", jobDefinition="jd", parameters={"x": "y" * 31000})
    assert "Job size must be less than 30 KiB, got 31 KiB" in message(exc)
    parent = setup.submit_job(jobName="p", jobQueue="q", jobDefinition="jd")["jobId"]
    with pytest.raises(ClientError) as exc:
        setup.submit_job(jobName="d", jobQueue="q", jobDefinition="jd", dependsOn=[{"jobId": parent}] * 21)
    assert "Job cannot have more than 20 dependencies" in message(exc)


def test_disabled_queue_rejects_submissions(setup):
    setup.update_job_queue(jobQueue="q", state="DISABLED")
    with pytest.raises(ClientError) as exc:
        setup.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")
    assert "ENABLED" in message(exc)


def test_n_to_n_needs_equal_array_sizes(setup):
    a = setup.submit_job(jobName="a", jobQueue="q", jobDefinition="jd", arrayProperties={"size": 3})["jobId"]
    with pytest.raises(ClientError) as exc:
        setup.submit_job(jobName="b", jobQueue="q", jobDefinition="jd", arrayProperties={"size": 4},
                         dependsOn=[{"jobId": a, "type": "N_TO_N"}])
    assert "same size" in message(exc)


def test_describe_jobs_limits_and_unknown_ids(setup):
    job = setup.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    got = setup.describe_jobs(jobs=[job, "unknown-id"])["jobs"]
    assert [j["jobId"] for j in got] == [job]
    with pytest.raises(ClientError) as exc:
        setup.describe_jobs(jobs=[f"id{i}" for i in range(101)])
    assert "Maximum number of jobs supported is 100" in message(exc)


def test_list_jobs_defaults_filters_and_pages(setup):
    ids = [setup.submit_job(jobName=f"Test{i}", jobQueue="q", jobDefinition="jd")["jobId"] for i in range(5)]
    for job_id in ids:
        wait_status(setup, job_id, "RUNNABLE")
    assert setup.list_jobs(jobQueue="q")["jobSummaryList"] == []  # RUNNING only by default
    runnable = setup.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [s["jobId"] for s in runnable] == list(reversed(ids))  # newest first
    by_name = setup.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["test1"]}])["jobSummaryList"]
    assert [s["jobName"] for s in by_name] == ["Test1"]
    prefix = setup.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["test*"]}])["jobSummaryList"]
    assert len(prefix) == 5
    by_def = setup.list_jobs(jobQueue="q", filters=[{"name": "JOB_DEFINITION", "values": ["jd"]}])
    assert len(by_def["jobSummaryList"]) == 5
    created = setup.describe_jobs(jobs=[ids[2]])["jobs"][0]["createdAt"]
    after = setup.list_jobs(jobQueue="q", filters=[{"name": "AFTER_CREATED_AT", "values": [str(created)]}])
    assert {s["jobId"] for s in after["jobSummaryList"]} <= set(ids[3:])
    pages = list(setup.get_paginator("list_jobs").paginate(jobQueue="q", jobStatus="RUNNABLE",
                                                            PaginationConfig={"PageSize": 2}))
    assert [len(p["jobSummaryList"]) for p in pages] == [2, 2, 1]
    assert [s["jobId"] for p in pages for s in p["jobSummaryList"]] == list(reversed(ids))


def test_list_jobs_needs_exactly_one_selector(setup):
    with pytest.raises(ClientError) as exc:
        setup.list_jobs()
    assert "Exactly one of jobQueue, arrayJobId or multiNodeJobId" in message(exc)
    with pytest.raises(ClientError) as exc:
        setup.list_jobs(jobQueue="q", arrayJobId="x")
    assert "Exactly one" in message(exc)
    with pytest.raises(ClientError) as exc:
        setup.list_jobs(jobQueue="q", filters=[{"name": "COLOUR", "values": ["x"]}])
    assert "filters.name" in message(exc)


def test_cancel_and_unknown_job(setup):
    job = setup.submit_job(jobName="j", jobQueue="q", jobDefinition="jd")["jobId"]
    setup.cancel_job(jobId=job, reason="changed my mind")
    got = wait_status(setup, job, "FAILED")
    assert got["isCancelled"] is True and got["statusReason"] == "changed my mind" and "stoppedAt" in got
    setup.cancel_job(jobId=job, reason="again")  # a no-op on a finished job still succeeds
    # An unknown id answers 200 {} on AWS (aws/aws-cli#2551), for both calls.
    for call in (setup.terminate_job, setup.cancel_job):
        out = call(jobId="no-such-job", reason="x")
        assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and set(out) == {"ResponseMetadata"}


def test_sequential_dependency_on_a_plain_job_is_a_plain_dependency(setup):
    # AWS accepts {jobId, type: SEQUENTIAL} on a non-array job and waits on that job (issue 15).
    first = setup.submit_job(jobName="first", jobQueue="q", jobDefinition="jd")["jobId"]
    second = setup.submit_job(jobName="second", jobQueue="q", jobDefinition="jd",
                              dependsOn=[{"jobId": first, "type": "SEQUENTIAL"}])["jobId"]
    job = wait_status(setup, second, "PENDING")
    assert job["dependsOn"] == [{"jobId": first, "type": "SEQUENTIAL"}]
    wait_status(setup, first, "RUNNABLE")
    assert setup.describe_jobs(jobs=[second])["jobs"][0]["status"] == "PENDING"  # still waiting
    setup.cancel_job(jobId=first, reason="stop")
    assert wait_status(setup, second, "FAILED")["statusReason"] == "Dependent Job failed"
    # Still refused: SEQUENTIAL without jobId on a non-array job, with jobId on an array job,
    # and on an unknown job.
    for deps, size, text in (([{"type": "SEQUENTIAL"}], None, "only valid for an array job"),
                             ([{"jobId": first, "type": "SEQUENTIAL"}], 2, "takes no jobId"),
                             ([{"jobId": "00000000-0000-0000-0000-000000000000", "type": "SEQUENTIAL"}],
                              None, "does not exist")):
        extra = {"arrayProperties": {"size": size}} if size else {}
        with pytest.raises(ClientError) as exc:
            setup.submit_job(jobName="x", jobQueue="q", jobDefinition="jd", dependsOn=deps, **extra)
        assert text in message(exc)


def test_array_parent_summary_through_the_api(setup):
    parent = setup.submit_job(jobName="arr", jobQueue="q", jobDefinition="jd", arrayProperties={"size": 3})["jobId"]
    job = wait_status(setup, parent, "PENDING")
    assert job["arrayProperties"]["size"] == 3
    end = time.time() + 10
    while job["arrayProperties"]["statusSummary"]["RUNNABLE"] != 3 and time.time() < end:
        job = setup.describe_jobs(jobs=[parent])["jobs"][0]
        time.sleep(0.02)
    assert job["arrayProperties"]["statusSummary"]["RUNNABLE"] == 3
    children = setup.list_jobs(arrayJobId=parent, jobStatus="RUNNABLE")["jobSummaryList"]
    assert sorted(c["jobId"] for c in children) == [f"{parent}:{i}" for i in range(3)]
    # children are listed under their parent, not in the queue listing
    listed = setup.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert all(":" not in s["jobId"] for s in listed)


def test_jobs_are_taggable_and_children_are_not(setup):
    job = setup.submit_job(jobName="t", jobQueue="q", jobDefinition="jd", tags={"a": "1"})
    setup.tag_resource(resourceArn=job["jobArn"], tags={"b": "2"})
    setup.untag_resource(resourceArn=job["jobArn"], tagKeys=["a"])
    assert setup.list_tags_for_resource(resourceArn=job["jobArn"])["tags"] == {"b": "2"}
    assert setup.describe_jobs(jobs=[job["jobId"]])["jobs"][0]["tags"] == {"b": "2"}
    parent = setup.submit_job(jobName="arr", jobQueue="q", jobDefinition="jd", arrayProperties={"size": 2})
    with pytest.raises(ClientError) as exc:
        setup.tag_resource(resourceArn=parent["jobArn"] + ":0", tags={"x": "y"})
    assert "child jobs" in message(exc)
