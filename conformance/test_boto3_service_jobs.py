"""Service environments and service jobs (SageMaker Training) through boto3, written from the
AWS documentation (ref §13.2, §13.3): the environment's lifecycle and delete rules, a
SAGEMAKER_TRAINING queue, and a service job submitted, found, re-prioritised and terminated
(singly and in bulk).
"""

from __future__ import annotations

import json

from conformance.harness import client_error, unique, wait_for, wait_gone
from conformance.registry import covers
from conformance.world import TRAINING_JOB, World


def describe_se(batch, name):
    found = batch.describe_service_environments(serviceEnvironments=[name])["serviceEnvironments"]
    return found[0] if found else None


@covers("boto3", "CreateServiceEnvironment", "DescribeServiceEnvironments", "UpdateServiceEnvironment",
        "DeleteServiceEnvironment")
def test_service_environment_lifecycle(batch, account):
    w = World(batch)
    name = unique("se")
    created = batch.create_service_environment(
        serviceEnvironmentName=name, serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 50, "capacityUnit": "NUM_INSTANCES"}], tags={"team": "ml"})
    arn = f"arn:aws:batch:us-east-1:{account}:service-environment/{name}"  # ref §2.1
    assert (created["serviceEnvironmentName"], created["serviceEnvironmentArn"]) == (name, arn)
    shown = w.settle_se(name)
    assert shown["status"] == "VALID" and shown["state"] == "ENABLED"  # ENABLED is the default
    assert shown["serviceEnvironmentType"] == "SAGEMAKER_TRAINING"
    assert shown["capacityLimits"] == [{"maxCapacity": 50, "capacityUnit": "NUM_INSTANCES"}]
    assert shown["tags"] == {"team": "ml"}
    assert describe_se(batch, arn)["serviceEnvironmentName"] == name  # a name or an ARN (ref §2.2)

    batch.update_service_environment(serviceEnvironment=name,
                                     capacityLimits=[{"maxCapacity": 10, "capacityUnit": "NUM_INSTANCES"}])
    assert w.settle_se(name)["capacityLimits"] == [{"maxCapacity": 10, "capacityUnit": "NUM_INSTANCES"}]

    # ref §13.2 (model): DISABLED first, like a compute environment.
    client_error(batch.delete_service_environment, serviceEnvironment=name)
    batch.update_service_environment(serviceEnvironment=name, state="DISABLED")
    assert w.settle_se(name)["state"] == "DISABLED"
    batch.delete_service_environment(serviceEnvironment=name)
    wait_gone(lambda: describe_se(batch, name))


@covers("boto3", "CreateJobQueue", "DescribeJobQueues", "SubmitServiceJob", "DescribeServiceJob",
        "ListServiceJobs", "UpdateServiceJob", "TerminateServiceJob")
def test_service_job_lifecycle(batch, account):
    w = World(batch)
    queue = w.held_service_queue()  # its jobs wait in RUNNABLE, so they can still be updated
    (detail,) = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    assert detail["jobQueueType"] == "SAGEMAKER_TRAINING"  # ref §4.1
    payload = json.dumps(TRAINING_JOB)
    out = batch.submit_service_job(jobName="training-1", jobQueue=queue, serviceJobType="SAGEMAKER_TRAINING",
                                   serviceRequestPayload=payload, retryStrategy={"attempts": 2},
                                   tags={"project": "vision"})
    job_id = out["jobId"]
    assert out["jobName"] == "training-1"
    assert out["jobArn"] == f"arn:aws:batch:us-east-1:{account}:service-job/{job_id}"  # ref §2.1, §13.3

    job = batch.describe_service_job(jobId=job_id)
    assert (job["jobId"], job["jobName"], job["serviceJobType"]) == (job_id, "training-1", "SAGEMAKER_TRAINING")
    assert json.loads(job["serviceRequestPayload"]) == TRAINING_JOB
    assert job["retryStrategy"]["attempts"] == 2 and job["tags"] == {"project": "vision"}
    assert job["jobQueue"] in (queue, detail["jobQueueArn"])

    # ref §13.3: a JOB_NAME filter lists the job whatever its status.
    listed = batch.list_service_jobs(jobQueue=queue, filters=[{"name": "JOB_NAME", "values": ["training-1"]}])
    assert [j["jobId"] for j in listed["jobSummaryList"]] == [job_id]

    updated = batch.update_service_job(jobId=job_id, schedulingPriority=42)
    assert (updated["jobId"], updated["jobName"]) == (job_id, "training-1")
    assert batch.describe_service_job(jobId=job_id)["schedulingPriority"] == 42

    batch.terminate_service_job(jobId=job_id, reason="not needed")
    done = wait_for(lambda: batch.describe_service_job(jobId=job_id), lambda j: j["status"] == "FAILED",
                    what="the terminated service job to fail")
    assert done["isTerminated"] is True


@covers("boto3", "SubmitServiceJob", "TerminateServiceJobs", "DescribeServiceJob", "ListServiceJobs")
def test_terminate_service_jobs_in_bulk(batch):
    queue = World(batch).held_service_queue()
    ids = [batch.submit_service_job(jobName=f"t{i}", jobQueue=queue, serviceJobType="SAGEMAKER_TRAINING",
                                    serviceRequestPayload=json.dumps(TRAINING_JOB))["jobId"] for i in range(2)]
    unknown = "00000000-0000-4000-8000-000000000000"
    out = batch.terminate_service_jobs(jobs=ids + [unknown], reason="bulk")
    assert out["successful"] == ids + [unknown] and out["errors"] == []
    for job_id in ids:
        done = wait_for(lambda: batch.describe_service_job(jobId=job_id), lambda j: j["status"] == "FAILED",
                        what="the terminated service job to fail")
        assert done["isTerminated"] is True and done["statusReason"] == "bulk"
    listed = batch.list_service_jobs(jobQueue=queue, jobStatus="FAILED")["jobSummaryList"]
    assert sorted(j["jobId"] for j in listed if j.get("isTerminated")) == sorted(ids)
