"""Job queues (ref §4): create, describe, update, delete.

Owns the queue document: its compute (or service) environment order, stored with ARNs and
sorted by ascending order, the derived jobQueueType, its scheduling policy and time-limit actions.
Must not touch jobs: the scheduler fails the jobs of a deleted queue when `changed()` wakes it.
"""

from __future__ import annotations

from batchemu.batch import managed_instances
from batchemu.batch.backend import Backend
from batchemu.batch.common import (check_list_or_max, check_new, check_not_settling, check_tags,
                                   describe, live, load, resolve, save)
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.vocabulary import arns, lifecycle

KIND = arns.JOB_QUEUE
MAX_PER_REGION = 50  # ref §4.5
MAX_COMPUTE_ENVIRONMENTS = 3  # ref §4.1, §4.5
MAX_SERVICE_ENVIRONMENTS = 1  # ref §4.5
# The model gives priority no range; the console's quota-management workflow says "a value
# between 0 and 1000" (ref §4.1). We enforce that range so a negative or absurd value fails
# here rather than silently ordering queues in a way AWS would not.
PRIORITY_MIN, PRIORITY_MAX = 0, 1000
TIME_LIMIT_MIN, TIME_LIMIT_MAX = 600, 86_400  # ref §4.1, §11.5
FARGATE_TYPES = ("FARGATE", "FARGATE_SPOT")
SAGEMAKER = "SAGEMAKER_TRAINING"
MANAGED_INSTANCES = managed_instances.TYPE  # the compute-resource type and the queue type alike
# The jobQueueType an ECS queue gets from the kind of its compute environments.
QUEUE_TYPES = {"EC2": "ECS", "Fargate": "ECS_FARGATE", "ECS Managed Instances": MANAGED_INSTANCES}


def create_job_queue(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["jobQueueName"]
    check_new(backend, ctx, KIND, name, "jobQueueName", "job queue", MAX_PER_REGION)
    _check_priority(params["priority"])
    ce_order, se_order, queue_type = _environments(backend, ctx, params.get("computeEnvironmentOrder"),
                                                   params.get("serviceEnvironmentOrder"))
    wanted_type = params.get("jobQueueType")
    if wanted_type and wanted_type != queue_type:
        raise ClientException(f"jobQueueType {wanted_type} doesn't match the environments of the "
                              f"job queue, which make it a {queue_type} job queue")
    policy_arn = params.get("schedulingPolicyArn") or None
    if policy_arn:
        _check_policy(backend, ctx, policy_arn, queue_type)
    arn = arns.make(ctx, KIND, name)
    doc = {
        "jobQueueName": name,
        "jobQueueArn": arn,
        "state": params.get("state") or "ENABLED",
        "schedulingPolicyArn": policy_arn,
        "priority": params["priority"],
        "computeEnvironmentOrder": ce_order,
        "serviceEnvironmentOrder": se_order,
        "jobQueueType": queue_type,
        "tags": check_tags(params.get("tags")),
        "jobStateTimeLimitActions": _check_time_limit_actions(
            params.get("jobStateTimeLimitActions") or [], queue_type),
        "createdAt": ctx.now_ms,  # not in the model's output; the scheduler breaks priority ties with it
    }
    lifecycle.begin(doc, "CREATING", "VALID", ctx.now_ms, backend.settle_ms, lifecycle.HEALTHY_REASON[KIND])
    save(backend, ctx, KIND, name, arn, doc)
    backend.changed()
    return {"jobQueueName": name, "jobQueueArn": arn}


def describe_job_queues(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    check_list_or_max(params, "jobQueues", "JobQueues", ctx)  # ref §1.6
    docs = describe(backend, ctx, KIND, params, "jobQueues", "jobQueueName")
    return {"jobQueues": docs}


def update_job_queue(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["jobQueue"])
    check_not_settling(doc, "update")
    if params.get("state"):
        doc["state"] = params["state"]  # the state changes at once, the status goes UPDATING (ref §4.3)
    if params.get("priority") is not None:
        _check_priority(params["priority"])
        doc["priority"] = params["priority"]
    ce_given, se_given = params.get("computeEnvironmentOrder"), params.get("serviceEnvironmentOrder")
    environments_changed = ce_given is not None or se_given is not None
    if environments_changed:
        ce_order, se_order, queue_type = _environments(
            backend, ctx,
            doc["computeEnvironmentOrder"] if ce_given is None else ce_given,
            doc.get("serviceEnvironmentOrder") if se_given is None else se_given)
        doc.update(computeEnvironmentOrder=ce_order, serviceEnvironmentOrder=se_order,
                   jobQueueType=queue_type)
    # ref §4.1: a FIFO queue can't get a policy added; a policy can be replaced, not removed.
    policy_arn = params.get("schedulingPolicyArn")
    if policy_arn == "" and doc.get("schedulingPolicyArn"):
        raise ClientException("schedulingPolicyArn: the scheduling policy of a job queue can be "
                              "replaced but can't be removed")
    if policy_arn and not doc.get("schedulingPolicyArn"):
        raise ClientException("schedulingPolicyArn: a job queue created without a scheduling policy "
                              "is a FIFO job queue and can't have a scheduling policy added; create "
                              "a new job queue with schedulingPolicyArn")
    if policy_arn:
        doc["schedulingPolicyArn"] = policy_arn
    if doc.get("schedulingPolicyArn") and (policy_arn or environments_changed):
        _check_policy(backend, ctx, doc["schedulingPolicyArn"], doc["jobQueueType"])
    actions = params.get("jobStateTimeLimitActions")
    if actions is None:  # the queue type may have changed under the existing actions
        actions = doc.get("jobStateTimeLimitActions") or []
    doc["jobStateTimeLimitActions"] = _check_time_limit_actions(actions, doc["jobQueueType"])
    lifecycle.begin(doc, "UPDATING", "VALID", ctx.now_ms, backend.settle_ms, lifecycle.HEALTHY_REASON[KIND])
    save(backend, ctx, KIND, doc["jobQueueName"], doc["jobQueueArn"], doc)
    backend.changed()
    return {"jobQueueName": doc["jobQueueName"], "jobQueueArn": doc["jobQueueArn"]}


def delete_job_queue(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["jobQueue"])
    check_not_settling(doc, "delete")  # ref §4.4, Appendix A
    if doc["state"] != "DISABLED":
        # ref §4.4: "You must first disable submissions for a queue with the UpdateJobQueue operation."
        raise ClientException(f"Cannot delete, job queue {doc['jobQueueName']} is ENABLED; disable "
                              "it with UpdateJobQueue first")
    lifecycle.begin(doc, "DELETING", "DELETED", ctx.now_ms, backend.settle_ms)
    save(backend, ctx, KIND, doc["jobQueueName"], doc["jobQueueArn"], doc)
    backend.changed()  # the scheduler terminates the jobs still in the queue (ref §4.4)
    return {}


# -- rules -----------------------------------------------------------------------------------

def _existing(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    return live(backend, ctx, KIND, ident, "Job queue")


def _check_priority(priority: int) -> None:
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ClientException(f"priority must be between {PRIORITY_MIN} and {PRIORITY_MAX}, got {priority}")


def _environments(backend: Backend, ctx: RequestContext, ce_order, se_order):
    """(computeEnvironmentOrder with ARNs, serviceEnvironmentOrder or None, jobQueueType)."""
    if ce_order and se_order:
        raise ClientException("A job queue can't have both a serviceEnvironmentOrder and a "
                              "computeEnvironmentOrder field.")  # model text (ref §4.1)
    if se_order:
        return [], _service_order(backend, ctx, se_order), SAGEMAKER
    if not ce_order or len(ce_order) > MAX_COMPUTE_ENVIRONMENTS:
        raise ClientException(f"computeEnvironmentOrder must list 1 to {MAX_COMPUTE_ENVIRONMENTS} "
                              f"compute environments, got {len(ce_order or [])} (a SAGEMAKER_TRAINING "
                              "job queue gives serviceEnvironmentOrder instead)")
    _check_distinct_orders(ce_order, "computeEnvironmentOrder")
    entries, ces = [], []
    for item in ce_order:
        ident = item["computeEnvironment"]
        ce = resolve(backend, ctx, arns.COMPUTE_ENVIRONMENT, ident)  # a name works too (ref §2.2)
        if ce is None or ce["status"] in ("DELETING", "DELETED"):
            raise ClientException(f"Compute environment {ident} does not exist")
        if ce["status"] != "VALID":
            raise ClientException(f"computeEnvironmentOrder: compute environment {ident} is "
                                  f"{ce['status']}; compute environments must be in the VALID state "
                                  "before you can associate them with a job queue")
        if any(c["computeEnvironmentArn"] == ce["computeEnvironmentArn"] for c in ces):
            raise ClientException(f"computeEnvironmentOrder: compute environment {ident} is listed "
                                  "more than once")
        ces.append(ce)
        entries.append({"order": item["order"], "computeEnvironment": ce["computeEnvironmentArn"]})
    kinds = {_kind(ce) for ce in ces}
    if len(kinds) > 1:
        raise ClientException(f"computeEnvironmentOrder: {' and '.join(sorted(kinds))} compute environments "
                              "can't be mixed")  # model text (ref §4.1)
    eks = {ce.get("containerOrchestrationType") == "EKS" for ce in ces}
    if len(eks) > 1:
        raise ClientException("computeEnvironmentOrder: EKS and ECS compute environments can't be mixed")
    if eks == {True}:
        queue_type = "EKS"
    else:
        queue_type = QUEUE_TYPES[kinds.pop()]
    return sorted(entries, key=lambda e: e["order"]), None, queue_type  # tried ascending (ref §4.1)


def _service_order(backend: Backend, ctx: RequestContext, se_order: list) -> list:
    if len(se_order) > MAX_SERVICE_ENVIRONMENTS:
        raise ClientException(f"serviceEnvironmentOrder can list at most {MAX_SERVICE_ENVIRONMENTS} "
                              f"service environment, got {len(se_order)}")  # ref §4.5
    _check_distinct_orders(se_order, "serviceEnvironmentOrder")
    entries = []
    for item in se_order:
        ident = item["serviceEnvironment"]
        key = arns.key_of(ctx, arns.SERVICE_ENVIRONMENT, ident)  # a name or an ARN (ref §2.2)
        se = load(backend, ctx, arns.SERVICE_ENVIRONMENT, key) if key else None
        if se is None or se.get("status") in ("DELETING", "DELETED"):
            raise ClientException(f"Service environment {ident} does not exist")
        if se.get("status", "VALID") != "VALID":
            raise ClientException(f"serviceEnvironmentOrder: service environment {ident} is "
                                  f"{se['status']}; it must be VALID to be associated with a job queue")
        entries.append({"order": item["order"],
                        "serviceEnvironment": arns.make(ctx, arns.SERVICE_ENVIRONMENT, key)})
    return sorted(entries, key=lambda e: e["order"])


def _check_distinct_orders(items: list, field: str) -> None:
    """Each environment's `order` is its own, and not negative: environments are tried in
    ascending order (ref §4.1) and AWS's examples count from 1; the model only says integer (the
    wire keeps it within 32 bits), a negative position is refused as an emulator choice."""
    seen = set()
    for i, item in enumerate(items):
        if item["order"] < 0:
            raise ClientException(f"{field}[{i}].order must be 0 or greater, got {item['order']}")
        if item["order"] in seen:
            raise ClientException(f"{field}: order {item['order']} is used more than once; each "
                                  "environment needs its own order value")
        seen.add(item["order"])


def _kind(ce: dict) -> str:
    """EC2, Fargate or ECS Managed Instances: what a queue can't mix (ref §4.1)."""
    # UNMANAGED compute environments run on the user's EC2 instances, so they count as EC2.
    resources = ce.get("computeResources") or {}
    if ce["type"] != "MANAGED":
        return "EC2"
    if resources.get("type") in FARGATE_TYPES:
        return "Fargate"
    return "ECS Managed Instances" if resources.get("type") == MANAGED_INSTANCES else "EC2"


def _check_policy(backend: Backend, ctx: RequestContext, policy_arn: str, queue_type: str) -> None:
    """schedulingPolicyArn takes an ARN only (ref §2.2)."""
    policy = resolve(backend, ctx, arns.SCHEDULING_POLICY, policy_arn) if policy_arn.startswith("arn:") else None
    if policy is None:
        raise ClientException(f"Scheduling policy {policy_arn} does not exist (schedulingPolicyArn "
                              "takes the ARN of a scheduling policy)")
    if policy.get("quotaSharePolicy") and queue_type != SAGEMAKER:
        # ref §13.4: quota management is a SAGEMAKER_TRAINING queue feature.
        raise ClientException(f"schedulingPolicyArn: {policy_arn} has a quotaSharePolicy, which only "
                              f"{SAGEMAKER} job queues can use; this is a {queue_type} job queue")


def _check_time_limit_actions(actions: list, queue_type: str) -> list:
    """ref §4.1, §11.5: RUNNABLE only, 600-86400 s, CANCEL (TERMINATE for SageMaker queues)."""
    expected = "TERMINATE" if queue_type == SAGEMAKER else "CANCEL"
    for i, action in enumerate(actions):
        where = f"jobStateTimeLimitActions[{i}]"
        if action["state"] != "RUNNABLE":
            raise ClientException(f"{where}.state must be RUNNABLE, got {action['state']}")
        seconds = action["maxTimeSeconds"]
        if not TIME_LIMIT_MIN <= seconds <= TIME_LIMIT_MAX:
            raise ClientException(f"{where}.maxTimeSeconds must be between {TIME_LIMIT_MIN} and "
                                  f"{TIME_LIMIT_MAX}, got {seconds}")
        if action["action"] != expected:
            raise ClientException(f"{where}.action must be {expected} for {queue_type} job queues "
                                  f"(TERMINATE is only for {SAGEMAKER} job queues), got {action['action']}")
        if not (action.get("reason") or "").strip():
            raise ClientException(f"{where}.reason must not be empty")
    return list(actions)
