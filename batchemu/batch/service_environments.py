"""Service environments (ref §13.2): create, describe, update, delete. A SAGEMAKER_TRAINING
environment is a capacity budget for service jobs: `capacityLimits` in instances (NUM_INSTANCES),
or per instance type in a quota-management environment.

Owns the environment document and its asynchronous status (vocabulary.lifecycle, like CEs). Must not
touch service jobs: the service-job engine reads the limits and the state from here.
"""

from __future__ import annotations

import re

from batchemu.batch.backend import Backend
from batchemu.batch.common import check_new, check_not_settling, check_tags, describe, live, load_all, save
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.vocabulary import arns, lifecycle

KIND = arns.SERVICE_ENVIRONMENT
MAX_PER_REGION = 50                     # ref §13.2, §15
NUM_INSTANCES = "NUM_INSTANCES"
# A SageMaker instance type, e.g. ml.m5.large, ml.p4d.24xlarge (the quota-management unit).
INSTANCE_TYPE = re.compile(r"ml\.[a-z0-9-]+\.[a-z0-9-]+")


def create_service_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["serviceEnvironmentName"]
    check_new(backend, ctx, KIND, name, "serviceEnvironmentName", "service environment", MAX_PER_REGION)
    arn = arns.make(ctx, KIND, name)
    doc = {
        "serviceEnvironmentName": name,
        "serviceEnvironmentArn": arn,
        "serviceEnvironmentType": params["serviceEnvironmentType"],  # SAGEMAKER_TRAINING, the only one
        "state": params.get("state") or "ENABLED",
        "capacityLimits": check_capacity_limits(params["capacityLimits"]),
        "tags": check_tags(params.get("tags")),
        "createdAt": ctx.now_ms,
    }
    lifecycle.begin(doc, "CREATING", "VALID", ctx.now_ms, backend.settle_ms)
    save(backend, ctx, KIND, name, arn, doc)
    backend.changed()
    return {"serviceEnvironmentName": name, "serviceEnvironmentArn": arn}


def describe_service_environments(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    docs = describe(backend, ctx, KIND, params, "serviceEnvironments", "serviceEnvironmentName")
    return {"serviceEnvironments": docs}


def update_service_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["serviceEnvironment"])
    check_not_settling(doc, "update")
    if params.get("state"):
        doc["state"] = params["state"]  # DISABLED: no new service job is placed (ref §13.2)
    if params.get("capacityLimits") is not None:
        limits = check_capacity_limits(params["capacityLimits"])
        if is_quota_managed(doc) != is_quota_managed({"capacityLimits": limits}):
            raise ClientException("capacityLimits: a service environment can't change between "
                                  f"{NUM_INSTANCES} and instance-type (quota management) capacity units")
        doc["capacityLimits"] = limits
    lifecycle.begin(doc, "UPDATING", "VALID", ctx.now_ms, backend.settle_ms)
    save(backend, ctx, KIND, doc["serviceEnvironmentName"], doc["serviceEnvironmentArn"], doc)
    backend.changed()
    return {"serviceEnvironmentName": doc["serviceEnvironmentName"],
            "serviceEnvironmentArn": doc["serviceEnvironmentArn"]}


def delete_service_environment(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["serviceEnvironment"])
    check_not_settling(doc, "delete")
    if doc["state"] != "DISABLED":
        # Model: "you must first set its state to DISABLED with the UpdateServiceEnvironment API".
        raise ClientException(f"Cannot delete, service environment {doc['serviceEnvironmentName']} is "
                              "ENABLED; disable it with UpdateServiceEnvironment first")
    for queue in load_all(backend, ctx, arns.JOB_QUEUE):
        if queue.get("status") == "DELETED":
            continue
        if any(o["serviceEnvironment"] == doc["serviceEnvironmentArn"]
               for o in queue.get("serviceEnvironmentOrder") or []):
            # The CE wording (ref §3.4); the model asks to "disassociate it from any job queues".
            raise ClientException("Cannot delete, found existing JobQueue relationship")
    lifecycle.begin(doc, "DELETING", "DELETED", ctx.now_ms, backend.settle_ms)
    save(backend, ctx, KIND, doc["serviceEnvironmentName"], doc["serviceEnvironmentArn"], doc)
    backend.changed()
    return {}


# -- rules -----------------------------------------------------------------------------------

def check_capacity_limits(limits: list) -> list:
    """Either one NUM_INSTANCES limit, or limits per SageMaker instance type (quota
    management), each unit once; maxCapacity counts instances (ref §13.2)."""
    if not limits:
        raise ClientException("capacityLimits must list at least one capacity limit")
    units = []
    for i, limit in enumerate(limits):
        unit, most = limit.get("capacityUnit"), limit.get("maxCapacity")
        if most is None or most < 0:
            raise ClientException(f"capacityLimits[{i}].maxCapacity must be a number of instances of at "
                                  f"least 0, got {most}")
        if unit != NUM_INSTANCES and not INSTANCE_TYPE.fullmatch(unit or ""):
            raise ClientException(f"capacityLimits[{i}].capacityUnit must be {NUM_INSTANCES} or a SageMaker "
                                  f"instance type such as ml.m5.large, got {unit!r}")
        if unit in units:
            raise ClientException(f"capacityLimits: capacityUnit {unit} is listed more than once")
        units.append(unit)
    if NUM_INSTANCES in units and len(units) > 1:
        raise ClientException(f"capacityLimits: {NUM_INSTANCES} can't be combined with other capacity units; "
                              "use one NUM_INSTANCES limit, or instance-type limits for quota management")
    return [{"maxCapacity": limit["maxCapacity"], "capacityUnit": limit["capacityUnit"]} for limit in limits]


def is_quota_managed(doc: dict) -> bool:
    """Capacity per instance type rather than NUM_INSTANCES (ref §13.2, §13.4)."""
    return any(limit["capacityUnit"] != NUM_INSTANCES for limit in doc.get("capacityLimits") or [])


def _existing(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    return live(backend, ctx, KIND, ident, "Service environment")
