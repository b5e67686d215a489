"""AWS's own examples for Batch (botocore's examples-1.json), replayed through boto3: each
example's request must be accepted and its documented response reproduced, in the test's
account, for the members that don't depend on when or where the example was recorded.
"""

from __future__ import annotations

import re

from conformance.examples import assert_contains, example, without_metadata
from conformance.harness import wait_gone, wait_job, wait_settled
from conformance.registry import covers

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def describe_ce(batch, name):
    found = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return found[0] if found else None


def describe_queue(batch, name):
    found = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return found[0] if found else None


def create_example_environments(batch, account):
    for title in ("To create a managed EC2 compute environment", "To create a managed EC2 Spot compute environment"):
        request, response = example("CreateComputeEnvironment", title, account)
        assert without_metadata(batch.create_compute_environment(**request)) == response
        wait_settled(lambda: describe_ce(batch, request["computeEnvironmentName"]))


def create_example_queues(batch, account):
    for title in ("To create a job queue with a single compute environment",
                  "To create a job queue with multiple compute environments"):
        request, response = example("CreateJobQueue", title, account)
        assert without_metadata(batch.create_job_queue(**request)) == response
        wait_settled(lambda: describe_queue(batch, request["jobQueueName"]))


@covers("boto3", "CreateComputeEnvironment", "DescribeComputeEnvironments",
        "UpdateComputeEnvironment", "DeleteComputeEnvironment")
def test_compute_environment_examples(batch, account):
    create_example_environments(batch, account)
    # "To describe a compute environment" shows P2OnDemand, which no example creates: create it
    # from the resources the example describes.
    request, response = example("DescribeComputeEnvironments", "To describe a compute environment", account)
    (shown,) = response["computeEnvironments"]
    batch.create_compute_environment(computeEnvironmentName=shown["computeEnvironmentName"], type=shown["type"],
                                     computeResources=shown["computeResources"], serviceRole=shown["serviceRole"])
    wait_settled(lambda: describe_ce(batch, "P2OnDemand"))
    (actual,) = batch.describe_compute_environments(**request)["computeEnvironments"]
    # The ECS cluster's name ends in a uuid of the real cluster (ref §2.1): compare its form.
    expected_cluster = shown.pop("ecsClusterArn")
    assert re.fullmatch(re.escape(expected_cluster.rsplit("_Batch_", 1)[0]) + "_Batch_" + UUID,
                        actual["ecsClusterArn"])
    assert_contains(actual, shown)

    request, response = example("UpdateComputeEnvironment", "To update a compute environment", account)
    assert without_metadata(batch.update_compute_environment(**request)) == response
    assert wait_settled(lambda: describe_ce(batch, "P2OnDemand"))["state"] == "DISABLED"

    request, response = example("DeleteComputeEnvironment", "To delete a compute environment", account)
    assert without_metadata(batch.delete_compute_environment(**request)) == response
    wait_gone(lambda: describe_ce(batch, "P2OnDemand"))


@covers("boto3", "CreateJobQueue", "DescribeJobQueues", "UpdateJobQueue", "DeleteJobQueue")
def test_job_queue_examples(batch, account):
    create_example_environments(batch, account)
    create_example_queues(batch, account)
    request, response = example("DescribeJobQueues", "To describe a job queue", account)
    (actual,) = batch.describe_job_queues(**request)["jobQueues"]
    (shown,) = response["jobQueues"]
    # The example's HighPriority has one CE and priority 1, unlike the one its create example
    # makes (two CEs, priority 10): compare what both examples agree on.
    assert_contains(actual, {k: shown[k] for k in ("jobQueueArn", "jobQueueName", "state", "status", "statusReason")})
    assert [c["computeEnvironment"] for c in actual["computeEnvironmentOrder"]] == [
        f"arn:aws:batch:us-east-1:{account}:compute-environment/{name}" for name in ("C4OnDemand", "M4Spot")]

    # The update and delete examples use a queue called GPGPU.
    batch.create_job_queue(jobQueueName="GPGPU", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "C4OnDemand"}])
    wait_settled(lambda: describe_queue(batch, "GPGPU"))
    request, response = example("UpdateJobQueue", "To update a job queue", account)
    assert without_metadata(batch.update_job_queue(**request)) == response
    assert wait_settled(lambda: describe_queue(batch, "GPGPU"))["state"] == "DISABLED"
    request, response = example("DeleteJobQueue", "To delete a job queue", account)
    assert without_metadata(batch.delete_job_queue(**request)) == response
    wait_gone(lambda: describe_queue(batch, "GPGPU"))


@covers("boto3", "RegisterJobDefinition", "DescribeJobDefinitions", "DeregisterJobDefinition")
def test_job_definition_examples(batch, account):
    for title in ("To register a job definition", "RegisterJobDefinition with tags"):
        request, response = example("RegisterJobDefinition", title, account)
        assert without_metadata(batch.register_job_definition(**request)) == response
    # "To describe active job definitions" shows sleep60: register it as shown.
    describe_active, response = example("DescribeJobDefinitions", "To describe active job definitions", account)
    (shown,) = response["jobDefinitions"]
    batch.register_job_definition(jobDefinitionName="sleep60", type="container",
                                  containerProperties={k: shown["containerProperties"][k]
                                                       for k in ("command", "image", "resourceRequirements")})
    active = batch.describe_job_definitions(**describe_active)["jobDefinitions"]
    assert sorted(d["jobDefinitionName"] for d in active) == ["sleep10", "sleep30", "sleep60"]
    # Real output echoes the empty lists (environment, mountPoints, ulimits, volumes; ref §5.2).
    assert_contains(next(d for d in active if d["jobDefinitionName"] == "sleep60"), shown)

    request, response = example("DeregisterJobDefinition", "To deregister a job definition", account)
    assert without_metadata(batch.deregister_job_definition(**request)) == response
    (sleep10,) = batch.describe_job_definitions(jobDefinitionName="sleep10")["jobDefinitions"]
    assert sleep10["status"] == "INACTIVE"  # ref §5.2: deregistered revisions stay visible
    still_active = batch.describe_job_definitions(**describe_active)["jobDefinitions"]
    assert sorted(d["jobDefinitionName"] for d in still_active) == ["sleep30", "sleep60"]


@covers("boto3", "SubmitJob", "DescribeJobs", "ListJobs", "CancelJob", "TerminateJob")
def test_job_examples(batch, account):
    create_example_environments(batch, account)
    create_example_queues(batch, account)
    _, described = example("DescribeJobs", "To describe a specific job", account)
    (shown,) = described["jobs"]
    batch.register_job_definition(jobDefinitionName="sleep60", type="container", containerProperties={
        "image": "busybox", "command": ["sleep", "60"],
        "resourceRequirements": [{"type": "MEMORY", "value": "128"}, {"type": "VCPU", "value": "1"}]})

    # With both compute environments DISABLED the jobs wait in RUNNABLE on any deployment
    # (ref §3.3), so the cancel and terminate examples meet jobs that haven't started.
    for ce in ("C4OnDemand", "M4Spot"):
        batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
        wait_settled(lambda: describe_ce(batch, ce))
    request, response = example("SubmitJob", "To submit a job to a queue", account)
    submitted = batch.submit_job(**request)
    assert submitted["jobName"] == response["jobName"] and re.fullmatch(UUID, submitted["jobId"])
    assert submitted["jobArn"] == f"arn:aws:batch:us-east-1:{account}:job/{submitted['jobId']}"

    job = wait_job(batch, submitted["jobId"], "RUNNABLE")
    # The example is a job that already ran: compare the members fixed at submission. Its
    # jobDefinition "sleep60" is stale; DescribeJobs returns the ARN (ref §2.2). Its container
    # vcpus/memory are legacy members, absent for a resourceRequirements definition (ref §6.3).
    for key in ("jobName", "jobQueue", "dependsOn", "parameters"):
        assert job[key] == shown[key], key
    assert job["jobDefinition"] == f"arn:aws:batch:us-east-1:{account}:job-definition/sleep60:1"
    assert_contains(job["container"], {k: shown["container"][k] for k in
                                       ("command", "image", "environment", "mountPoints", "ulimits", "volumes")})

    request, _ = example("ListJobs", "To list running jobs", account)
    assert batch.list_jobs(**request)["jobSummaryList"] == []  # nothing RUNNING; the default (ref §6.6)
    request, _ = example("ListJobs", "To list submitted jobs", account)
    assert all(j["status"] == "SUBMITTED" for j in batch.list_jobs(**request)["jobSummaryList"])
    runnable = batch.list_jobs(jobQueue="HighPriority", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [(j["jobId"], j["jobName"]) for j in runnable] == [(submitted["jobId"], "example")]

    # ref §6.7: TerminateJob cancels a job that hasn't reached STARTING, so both end cancelled.
    for operation, title, reason in (("CancelJob", "To cancel a job", "Cancelling job."),
                                     ("TerminateJob", "To terminate a job", "Terminating job.")):
        job_id = batch.submit_job(**example("SubmitJob", "To submit a job to a queue", account)[0])["jobId"]
        request, response = example(operation, title, account)
        call = batch.cancel_job if operation == "CancelJob" else batch.terminate_job
        assert without_metadata(call(**{**request, "jobId": job_id})) == response
        done = wait_job(batch, job_id, "FAILED")
        # ref §6.7: a job that hadn't started ends FAILED with the given reason.
        assert done["statusReason"] == reason and done["isCancelled"] is True and done["attempts"] == []


@covers("boto3", "TagResource", "ListTagsForResource", "UntagResource")
def test_tag_examples(batch, account):
    batch.register_job_definition(**example("RegisterJobDefinition", "RegisterJobDefinition with tags", account)[0])
    request, response = example("TagResource", "TagResource Example", account)
    assert without_metadata(batch.tag_resource(**request)) == response
    request, response = example("ListTagsForResource", "ListTagsForResource Example", account)
    assert without_metadata(batch.list_tags_for_resource(**request)) == response
    request, response = example("UntagResource", "UntagResource Example", account)
    assert without_metadata(batch.untag_resource(**request)) == response
    assert batch.list_tags_for_resource(resourceArn=request["resourceArn"])["tags"] == {
        "Department": "Engineering", "User": "JaneDoe"}
