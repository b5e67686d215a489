"""Tags of any taggable resource by ARN (ref §1.2 tag endpoints, §15): TagResource,
UntagResource, ListTagsForResource.

Owns only the top-level `tags` member of other modules' documents; must not change anything
else in them (status, settle timers). Each kind says how to load and save its document.
"""

from __future__ import annotations

from batchemu.batch import jobs, quota_shares, service_jobs
from batchemu.batch.backend import Backend
from batchemu.batch.common import check_tags
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.vocabulary import arns, lifecycle

# The store key of each kind stored in the resources table, derived from its document.
# Job definitions are tagged per revision (ref §15), keyed "<name>:<revision>".
_KEYS = {
    arns.COMPUTE_ENVIRONMENT: lambda d: d["computeEnvironmentName"],
    arns.JOB_QUEUE: lambda d: d["jobQueueName"],
    arns.SCHEDULING_POLICY: lambda d: d["name"],
    arns.JOB_DEFINITION: lambda d: f"{d['jobDefinitionName']}:{d['revision']}",
    arns.CONSUMABLE_RESOURCE: lambda d: d["consumableResourceName"],
    arns.SERVICE_ENVIRONMENT: lambda d: d["serviceEnvironmentName"],
}


def _load_resource(backend: Backend, ctx: RequestContext, kind: str, arn: str) -> dict | None:
    found = backend.store.get_by_arn(arn)
    if found is None or found[0] != kind:
        return None
    doc = found[1]
    settled = lifecycle.settle(dict(doc), ctx.now_ms)  # a copy: the stored timers stay as they are
    if lifecycle.is_gone(doc, ctx.now_ms) or settled.get("status") == "DELETED":
        return None
    return doc


def _save_resource(backend: Backend, ctx: RequestContext, kind: str, arn: str, doc: dict) -> None:
    backend.store.put(ctx.account, ctx.region, kind, _KEYS[kind](doc), arn, doc)


# kind -> (load(backend, ctx, kind, arn) -> doc | None, save(backend, ctx, kind, arn, doc)). Jobs and
# service jobs live in tables of their own and a quota share has its own key and lifecycle, so
# those modules bring their own pair; a kind missing here "does not exist" to the tag operations.
TAGGABLE = {kind: (_load_resource, _save_resource) for kind in _KEYS}
TAGGABLE[arns.JOB] = (jobs.load_for_tags, jobs.save_tags)
TAGGABLE[arns.SERVICE_JOB] = (service_jobs.load_for_tags, service_jobs.save_tags)
TAGGABLE[arns.QUOTA_SHARE] = (quota_shares.load_for_tags, quota_shares.save_tags)


def tag_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    arn = params["resourceArn"]
    with backend.store.transaction():  # read-merge-write of one document
        kind, doc = _find(backend, ctx, arn)
        # ref §15: TagResource merges; keys not in the request are kept, a repeated key overwrites.
        doc["tags"] = check_tags({**(doc.get("tags") or {}), **params["tags"]})
        TAGGABLE[kind][1](backend, ctx, kind, arn, doc)
    backend.changed()
    return {}


def untag_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    arn = params["resourceArn"]
    reserved = [k for k in params["tagKeys"] if k.lower().startswith("aws:")]
    if reserved:
        raise ClientException(f"tagKeys: tag keys beginning with 'aws:' are reserved for AWS use "
                              f"and can't be removed: {reserved[0]!r}")  # ref §15
    with backend.store.transaction():
        kind, doc = _find(backend, ctx, arn)
        doc["tags"] = {k: v for k, v in (doc.get("tags") or {}).items() if k not in params["tagKeys"]}
        TAGGABLE[kind][1](backend, ctx, kind, arn, doc)
    backend.changed()
    return {}


def list_tags_for_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    _kind, doc = _find(backend, ctx, params["resourceArn"])
    return {"tags": doc.get("tags") or {}}


def _find(backend: Backend, ctx: RequestContext, arn: str) -> tuple[str, dict]:
    parsed = arns.parse(arn)
    if parsed is None:
        raise ClientException(f"Resource {arn} does not exist: resourceArn must be the ARN of an "
                              "AWS Batch resource")
    partition, region, account, kind, name = parsed
    if kind == arns.JOB and (":" in name or "#" in name):
        # Model text (TagResource): array and MNP children are `<id>:<index>` / `<id>#<node>`.
        raise ClientException(f"Resource {arn}: ARNs for child jobs of array and multi-node parallel "
                              "(MNP) jobs aren't supported")
    if kind == arns.JOB_QUEUE and "/quota-share/" in name:
        kind = arns.QUOTA_SHARE  # `job-queue/<queue>/quota-share/<name>` (ref §2.1)
    doc = None
    # Another account's or region's resource is as unknown to the caller as a missing one.
    if (partition, region, account) == (ctx.partition, ctx.region, ctx.account) and kind in TAGGABLE:
        doc = TAGGABLE[kind][0](backend, ctx, kind, arn)
    if doc is None:
        raise ClientException(f"Resource {arn} does not exist")
    return kind, doc
