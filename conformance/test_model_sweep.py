"""Every operation of botocore's batch model, twice.

Valid: a request built from the model (generate.required) plus the server state it needs
(the per-operation fixtures in VALID, built with world.py), sent through boto3 with its
client-side validation on. It must succeed, and the raw response body must match the output
shape (shapes.py: types, enums, required members, nothing unknown).

Invalid: a required member left out, or a member of the wrong JSON type, sent as raw signed
HTTP (boto3 would refuse to send it). It must get a 400 ClientException naming the member.

Operations in coverage.NOT_IMPLEMENTED are xfail(strict=True) in the valid half: when one
lands, its XPASS fails the run until the list is updated.
"""

from __future__ import annotations

import json

import pytest
from botocore import xform_name

from conformance import generate, shapes
from conformance.coverage import NOT_IMPLEMENTED
from conformance.harness import MODEL, OPERATIONS, capture_raw_bodies, raw_request, unique, wait_job
from conformance.registry import covers
from conformance.world import EC2_RESOURCES, QUOTA_INSTANCE_TYPE, TRAINING_JOB, World, container_properties

FAIRSHARE = {"shareDecaySeconds": 600, "computeReservation": 10,
             "shareDistribution": [{"shareIdentifier": "blue", "weightFactor": 0.5},
                                   {"shareIdentifier": "red*", "weightFactor": 2.0}]}


# -- per-operation fixtures: world state + the members generation can't know -------------------

def cancel_job(w): return {"jobId": w.job()["id"], "reason": "Cancelling job."}
def terminate_job(w): return {"jobId": w.job()["id"], "reason": "Terminating job."}
def submit_job(w): return {"jobQueue": w.job_queue(), "jobDefinition": w.job_definition()["name"]}
def describe_jobs(w): return {"jobs": [w.job()["id"]]}
# Filtering by name lists the job whatever its status (ref §6.6).
def list_jobs(w): return {"jobQueue": w.job()["queue"],
                          "filters": [{"name": "JOB_NAME", "values": [w.job()["name"]]}]}


def create_compute_environment(w):
    return {"type": "MANAGED", "computeResources": EC2_RESOURCES}


def describe_compute_environments(w): return {"computeEnvironments": [w.compute_environment()]}
def update_compute_environment(w): return {"computeEnvironment": w.compute_environment(), "state": "DISABLED"}
def delete_compute_environment(w): return {"computeEnvironment": w.disabled_compute_environment()}


def create_job_queue(w):
    return {"computeEnvironmentOrder": [{"order": 1, "computeEnvironment": w.compute_environment()}],
            "jobStateTimeLimitActions": [{"reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
                                          "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}]}


def describe_job_queues(w): return {"jobQueues": [w.job_queue()]}
def update_job_queue(w): return {"jobQueue": w.job_queue(), "state": "DISABLED", "priority": 5}
def delete_job_queue(w): return {"jobQueue": w.disabled_job_queue()}


def register_job_definition(w):
    return {"type": "container", "containerProperties": container_properties(),
            "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}]},
            "timeout": {"attemptDurationSeconds": 60}, "parameters": {"greeting": "hi"}}


def describe_job_definitions(w): return {"jobDefinitionName": w.job_definition()["name"]}
def deregister_job_definition(w): return {"jobDefinition": w.job_definition()["arn"]}


def create_scheduling_policy(w): return {"fairsharePolicy": FAIRSHARE}
def describe_scheduling_policies(w): return {"arns": [w.scheduling_policy()]}
def list_scheduling_policies(w):
    w.scheduling_policy()  # so that the listing has an item to check
    return {}
def update_scheduling_policy(w): return {"arn": w.scheduling_policy(), "fairsharePolicy": FAIRSHARE}
def delete_scheduling_policy(w): return {"arn": w.scheduling_policy()}

def tag_resource(w): return {"resourceArn": w.job_definition()["arn"], "tags": {"Stage": "Alpha"}}
def untag_resource(w): return {"resourceArn": w.job_definition()["arn"], "tagKeys": ["Stage"]}
def list_tags_for_resource(w): return {"resourceArn": w.job_definition("tagged", tags={"Stage": "Alpha"})["arn"]}


def create_consumable_resource(w): return {"totalQuantity": 5, "resourceType": "NON_REPLENISHABLE"}
def describe_consumable_resource(w): return {"consumableResource": w.consumable_resource()}
def list_consumable_resources(w):
    w.consumable_resource()
    return {}
def update_consumable_resource(w): return {"consumableResource": w.consumable_resource(),
                                           "operation": "ADD", "quantity": 5}
def delete_consumable_resource(w): return {"consumableResource": w.consumable_resource()}
def list_jobs_by_consumable_resource(w):
    return {"consumableResource": w.job_using_consumable_resource()["resource"]}


def create_service_environment(w):
    return {"serviceEnvironmentType": "SAGEMAKER_TRAINING",
            "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "NUM_INSTANCES"}]}


def describe_service_environments(w): return {"serviceEnvironments": [w.service_environment()]}
def update_service_environment(w): return {"serviceEnvironment": w.service_environment(), "state": "DISABLED"}
def delete_service_environment(w): return {"serviceEnvironment": w.disabled_service_environment()}


def submit_service_job(w):
    return {"jobQueue": w.service_queue(), "serviceJobType": "SAGEMAKER_TRAINING",
            "serviceRequestPayload": json.dumps(TRAINING_JOB), "retryStrategy": {"attempts": 2}}


def describe_service_job(w): return {"jobId": w.service_job()["id"]}
def list_service_jobs(w): return {"jobQueue": w.service_job()["queue"],
                                  "filters": [{"name": "JOB_NAME", "values": [w.service_job()["name"]]}]}
# The model: the priority "only affects jobs in job queues with a quota-share or fair-share
# scheduling policy", i.e. it is accepted (and has no effect) on a FIFO queue. Our reading.
def update_service_job(w): return {"jobId": w.service_job()["id"], "schedulingPriority": 10}
def terminate_service_job(w): return {"jobId": w.service_job()["id"], "reason": "Terminating job."}


def create_quota_share(w):
    return {"jobQueue": w.service_queue("quota-queue", quota_management=True),
            "capacityLimits": [{"maxCapacity": 1, "capacityUnit": QUOTA_INSTANCE_TYPE}],
            "resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": 50},
            "preemptionConfiguration": {"inSharePreemption": "ENABLED"}}


def describe_quota_share(w): return {"quotaShareArn": w.quota_share()["arn"]}
def list_quota_shares(w): return {"jobQueue": w.quota_share()["queue"]}
def update_quota_share(w): return {"quotaShareArn": w.quota_share()["arn"], "state": "DISABLED"}
def delete_quota_share(w): return {"quotaShareArn": w.disabled_quota_share()["arn"]}

def get_job_queue_snapshot(w): return {"jobQueue": w.job()["queue"]}  # with a job waiting in it


def no_state(w):
    return {}  # the generated required members are enough


# An operation without a fixture above (e.g. one a newer botocore adds) is tried with the
# generated request alone.
VALID = {op: globals().get(xform_name(op), no_state) for op in OPERATIONS}


def _marks(op, channel="boto3", expect_501=True):
    marks = [covers("sweep", op, channel=channel)]
    if expect_501 and op in NOT_IMPLEMENTED:
        marks.append(pytest.mark.xfail(strict=True, reason="not implemented yet"))
    return marks


@pytest.mark.parametrize("operation", [pytest.param(op, marks=_marks(op), id=op) for op in OPERATIONS])
def test_valid_request_succeeds_and_its_response_matches_the_model(operation, batch):
    bodies = capture_raw_bodies(batch)
    op = MODEL.operation_model(operation)
    params = {**generate.required(op.input_shape), **VALID[operation](World(batch))}
    getattr(batch, xform_name(operation))(**params)
    raw = bodies[operation]
    assert shapes.problems(json.loads(raw) if raw else {}, op.output_shape) == []


# -- invalid requests ---------------------------------------------------------------------------

def _invalid_cases():
    for operation in OPERATIONS:
        shape = MODEL.operation_model(operation).input_shape
        kinds = [k for k, member in (("missing", generate.missing_member(shape)),
                                     ("wrong-type", generate.retypable_member(shape))) if member]
        # ListTagsForResource's only member is the ARN in the URI, a string the model doesn't
        # constrain: the one invalid request a client can make is a value that isn't an ARN.
        for kind in kinds or ["not-an-arn"]:
            yield pytest.param(operation, kind, marks=_marks(operation, "raw", expect_501=False),
                               id=f"{operation}-{kind}")


@pytest.mark.parametrize("operation,kind", list(_invalid_cases()))
def test_invalid_request_gets_a_client_exception_naming_the_member(operation, kind, endpoint, account, calls):
    shape = MODEL.operation_model(operation).input_shape
    params = generate.required(shape)
    if kind == "missing":
        member = generate.missing_member(shape)
        del params[member]
    elif kind == "wrong-type":
        member = generate.retypable_member(shape)
        params[member] = generate.wrong_type(shape.members[member])
    else:
        member = "resourceArn"
        params[member] = "not-an-arn"
    calls["raw"].add(operation)
    response = raw_request(endpoint.url, account, operation, params)
    assert response.status == 400, response
    assert response.error_code == "ClientException", response
    assert isinstance(response.body, dict) and response.body.get("__type") == "ClientException"
    assert member in response.body["message"], response.body


# -- a job that ran: the fields that only appear after RUNNING ----------------------------------

@covers("sweep", "DescribeJobs", "ListJobs")
def test_finished_and_array_job_details_match_the_model(job_batch):
    bodies = capture_raw_bodies(job_batch)
    w = World(job_batch)
    queue, jd = w.job_queue(), w.job_definition()["arn"]
    ok = job_batch.submit_job(jobName=unique("ran"), jobQueue=queue, jobDefinition=jd)["jobId"]
    array = job_batch.submit_job(jobName=unique("array"), jobQueue=queue, jobDefinition=jd,
                                 arrayProperties={"size": 2})["jobId"]
    for job_id in (ok, array):
        wait_job(job_batch, job_id, ("SUCCEEDED", "FAILED"))
    describe = MODEL.operation_model("DescribeJobs")
    job_batch.describe_jobs(jobs=[ok, array, f"{array}:0"])
    detail = json.loads(bodies["DescribeJobs"])
    assert shapes.problems(detail, describe.output_shape) == []
    assert {j["status"] for j in detail["jobs"]} == {"SUCCEEDED"}
    job_batch.list_jobs(arrayJobId=array, jobStatus="SUCCEEDED")
    listing = json.loads(bodies["ListJobs"])
    assert len(listing["jobSummaryList"]) == 2
    assert shapes.problems(listing, MODEL.operation_model("ListJobs").output_shape) == []
