"""Quota shares (ref §13.4): create, describe, update, delete, list. A quota share is a virtual
queue inside a quota-management job queue (SAGEMAKER_TRAINING, a quotaSharePolicy, a service
environment with per-instance-type capacity), with its own capacity and a sharing strategy.

Owns the share document, stored under kind `quota-share` with key `<queue>/<name>` and ARN
`.../job-queue/<queue>/quota-share/<name>`. Placement by share is the engine's (engine.quota).
"""

from __future__ import annotations

from batchemu.batch.backend import Backend
from batchemu.batch.common import check_name, check_not_settling, check_tags, load, resolve, save
from batchemu.batch.errors import ClientException
from batchemu.batch.service_environments import INSTANCE_TYPE, is_quota_managed
from batchemu.context import RequestContext
from batchemu.vocabulary import arns, lifecycle

KIND = arns.QUOTA_SHARE
MAX_PER_QUEUE = 20          # ref §4.5, §13.4, §15
MAX_LIMITS = 5              # capacityLimits: 1 to 5 entries (ref §13.4)
BORROWING = "LEND_AND_BORROW"
OUTPUT = ("quotaShareName", "quotaShareArn", "jobQueueArn", "capacityLimits", "resourceSharingConfiguration",
          "preemptionConfiguration", "state", "status")


def create_quota_share(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["quotaShareName"]
    check_name(name, "quotaShareName")
    queue = _quota_queue(backend, ctx, params["jobQueue"])
    with backend.store.transaction():
        existing = shares_of(backend, ctx, queue)
        if any(d["quotaShareName"] == name for d in existing):
            raise ClientException(f"Object already exists: quota share {name} already exists in job queue "
                                  f"{queue['jobQueueName']}")
        if len(existing) >= MAX_PER_QUEUE:
            raise ClientException(f"Job queue {queue['jobQueueName']} already has {MAX_PER_QUEUE} quota shares, "
                                  "the most a job queue can have")
        arn = arns.make(ctx, arns.JOB_QUEUE, f"{queue['jobQueueName']}/quota-share/{name}")
        doc = {
            "quotaShareName": name,
            "quotaShareArn": arn,
            "jobQueueArn": queue["jobQueueArn"],
            "capacityLimits": _capacity_limits(backend, ctx, queue, params["capacityLimits"]),
            "resourceSharingConfiguration": _sharing(params["resourceSharingConfiguration"]),
            "preemptionConfiguration": dict(params["preemptionConfiguration"]),
            "state": params.get("state") or "ENABLED",
            "tags": check_tags(params.get("tags")),
            "createdAt": ctx.now_ms,
        }
        lifecycle.begin(doc, "CREATING", "VALID", ctx.now_ms, backend.settle_ms)
        save(backend, ctx, KIND, _key(queue["jobQueueName"], name), arn, doc)
    backend.changed()
    return {"quotaShareName": name, "quotaShareArn": arn}


def describe_quota_share(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["quotaShareArn"])
    return {k: doc.get(k) for k in OUTPUT + ("tags",)}


def list_quota_shares(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    queue = resolve(backend, ctx, arns.JOB_QUEUE, params["jobQueue"])
    if queue is None:
        raise ClientException(f"JobQueue {params['jobQueue']} not found.")
    return {"quotaShares": [{k: d.get(k) for k in OUTPUT} for d in shares_of(backend, ctx, queue)]}


def update_quota_share(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    with backend.store.transaction():
        doc = _existing(backend, ctx, params["quotaShareArn"])
        check_not_settling(doc, "update")
        queue = _queue_of(backend, ctx, doc)
        if params.get("capacityLimits") is not None:
            doc["capacityLimits"] = _capacity_limits(backend, ctx, queue, params["capacityLimits"])
        if params.get("resourceSharingConfiguration") is not None:
            doc["resourceSharingConfiguration"] = _sharing(params["resourceSharingConfiguration"])
        if params.get("preemptionConfiguration") is not None:
            doc["preemptionConfiguration"] = dict(params["preemptionConfiguration"])
        if params.get("state"):
            doc["state"] = params["state"]
        lifecycle.begin(doc, "UPDATING", "VALID", ctx.now_ms, backend.settle_ms)
        save(backend, ctx, KIND, _key(queue["jobQueueName"], doc["quotaShareName"]), doc["quotaShareArn"], doc)
    backend.changed()
    return {"quotaShareName": doc["quotaShareName"], "quotaShareArn": doc["quotaShareArn"]}


def delete_quota_share(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    with backend.store.transaction():
        doc = _existing(backend, ctx, params["quotaShareArn"])
        check_not_settling(doc, "delete")
        if doc["state"] != "DISABLED":
            # Model: "You must first disable submissions for the share by updating the state to DISABLED".
            raise ClientException(f"Cannot delete, quota share {doc['quotaShareName']} is ENABLED; disable it "
                                  "with UpdateQuotaShare first")
        queue = _queue_of(backend, ctx, doc)
        lifecycle.begin(doc, "DELETING", "DELETED", ctx.now_ms, backend.settle_ms)
        save(backend, ctx, KIND, _key(queue["jobQueueName"], doc["quotaShareName"]), doc["quotaShareArn"], doc)
    backend.changed()  # "All jobs in the share are eventually terminated" (model): the engine does it
    return {}


# -- used by SubmitServiceJob and the snapshot ----------------------------------------------------

def shares_of(backend: Backend, ctx: RequestContext, queue: dict) -> list:
    """The live quota shares of a queue, in creation order."""
    out = []
    for doc in backend.store.list(ctx.account, ctx.region, KIND, key_prefix=queue["jobQueueName"] + "/"):
        if lifecycle.is_gone(doc, ctx.now_ms) or not _belongs(doc, queue):
            continue
        doc = lifecycle.settle(doc, ctx.now_ms)
        if doc["status"] != "DELETED":
            out.append(doc)
    return out


def find(backend: Backend, ctx: RequestContext, queue: dict, name: str) -> dict | None:
    doc = load(backend, ctx, KIND, _key(queue["jobQueueName"], name))
    if doc is None or not _belongs(doc, queue) or doc["status"] in ("DELETING", "DELETED"):
        return None
    return doc


def load_for_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str) -> dict | None:
    """The quota share with this ARN (tags module hook)."""
    try:
        return _existing(backend, ctx, arn)
    except ClientException:
        return None


def save_tags(backend: Backend, ctx: RequestContext, kind: str, arn: str, doc: dict) -> None:
    queue, _, name = arns.parse(arn)[4].partition("/quota-share/")
    backend.store.put(ctx.account, ctx.region, KIND, _key(queue, name), arn, doc)


# -- rules -------------------------------------------------------------------------------------------

def _key(queue_name: str, share_name: str) -> str:
    return f"{queue_name}/{share_name}"


def _belongs(doc: dict, queue: dict) -> bool:
    """A share of this queue, not of a deleted queue of the same name."""
    return doc["jobQueueArn"] == queue["jobQueueArn"] and doc["createdAt"] >= (queue.get("createdAt") or 0)


def _existing(backend: Backend, ctx: RequestContext, arn: str) -> dict:
    """quotaShareArn takes an ARN only (ref §2.2)."""
    parsed = arns.parse(arn or "")
    if parsed and (parsed[1], parsed[2], parsed[3]) == (ctx.region, ctx.account, arns.JOB_QUEUE):
        queue, sep, name = parsed[4].partition("/quota-share/")
        if sep:
            doc = load(backend, ctx, KIND, _key(queue, name))
            if doc is not None and doc["status"] not in ("DELETING", "DELETED"):
                return doc
    raise ClientException(f"Quota share {arn} does not exist (quotaShareArn takes the ARN of a quota share)")


def _queue_of(backend: Backend, ctx: RequestContext, doc: dict) -> dict:
    queue = resolve(backend, ctx, arns.JOB_QUEUE, doc["jobQueueArn"])
    if queue is None:
        raise ClientException(f"Job queue {doc['jobQueueArn']} of quota share {doc['quotaShareName']} does not exist")
    return queue


def _quota_queue(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    """ref §13.4: a VALID SAGEMAKER_TRAINING queue with a quotaSharePolicy on a quota-management
    service environment."""
    queue = resolve(backend, ctx, arns.JOB_QUEUE, ident)
    if queue is None or queue.get("status") in ("DELETING", "DELETED"):
        raise ClientException(f"JobQueue {ident} not found.")
    if queue.get("status") != "VALID":
        raise ClientException(f"jobQueue: job queue {queue['jobQueueName']} is {queue.get('status')}; a job queue "
                              "must be in the VALID state before you can associate it with a quota share")  # model
    policy_arn = queue.get("schedulingPolicyArn")
    parsed = arns.parse(policy_arn) if policy_arn else None
    policy = load(backend, ctx, arns.SCHEDULING_POLICY, parsed[4]) if parsed else None
    environment = environment_of(backend, ctx, queue)
    if (queue.get("jobQueueType") != "SAGEMAKER_TRAINING" or not policy or not policy.get("quotaSharePolicy")
            or environment is None or not is_quota_managed(environment)):
        raise ClientException(f"jobQueue: job queue {queue['jobQueueName']} isn't a quota management job queue; "
                              "quota shares need a SAGEMAKER_TRAINING job queue with a quotaSharePolicy scheduling "
                              "policy on a service environment whose capacity limits are instance types")
    return queue


def environment_of(backend: Backend, ctx: RequestContext, queue: dict) -> dict | None:
    """The queue's service environment (a SAGEMAKER_TRAINING queue has at most one)."""
    for entry in queue.get("serviceEnvironmentOrder") or []:
        parsed = arns.parse(entry["serviceEnvironment"])
        doc = load(backend, ctx, arns.SERVICE_ENVIRONMENT, parsed[4]) if parsed else None
        if doc is not None:
            return doc
    return None


def _capacity_limits(backend: Backend, ctx: RequestContext, queue: dict, limits: list) -> list:
    if not 1 <= len(limits or []) <= MAX_LIMITS:
        raise ClientException(f"capacityLimits must list 1 to {MAX_LIMITS} capacity limits, got {len(limits or [])}")
    environment = environment_of(backend, ctx, queue)
    offered = {c["capacityUnit"] for c in (environment or {}).get("capacityLimits") or []}
    units = set()
    for i, limit in enumerate(limits):
        unit, most = limit["capacityUnit"], limit["maxCapacity"]
        if not INSTANCE_TYPE.fullmatch(unit):
            raise ClientException(f"capacityLimits[{i}].capacityUnit must be a SageMaker instance type such as "
                                  f"ml.m5.large, got {unit!r}")
        if unit not in offered:
            raise ClientException(f"capacityLimits[{i}].capacityUnit {unit} isn't one of the capacity units of the "
                                  f"job queue's service environment ({', '.join(sorted(offered))})")
        if unit in units:
            raise ClientException(f"capacityLimits: capacityUnit {unit} is listed more than once")
        if most < 0:
            raise ClientException(f"capacityLimits[{i}].maxCapacity must be at least 0, got {most}")
        units.add(unit)
    return [{"maxCapacity": c["maxCapacity"], "capacityUnit": c["capacityUnit"]} for c in limits]


def _sharing(config: dict) -> dict:
    strategy, borrow = config["strategy"], config.get("borrowLimit")
    if borrow is not None and strategy != BORROWING:
        raise ClientException(f"resourceSharingConfiguration.borrowLimit can only be set with the {BORROWING} "
                              f"strategy, not {strategy}")  # model
    if strategy == BORROWING:
        borrow = -1 if borrow is None else borrow  # default: unlimited (model)
        if borrow < -1:
            raise ClientException("resourceSharingConfiguration.borrowLimit must be -1 (unlimited) or a "
                                  f"percentage of at least 0, got {borrow}")
        return {"strategy": strategy, "borrowLimit": borrow}
    return {"strategy": strategy}

