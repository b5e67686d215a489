"""Consumable resources (ref §13.1): create, describe, update, delete, list, and the jobs that
require one; plus `for_submit`, which resolves what a submitted job requires.

Owns the resource document (its total and type). In-use quantities are never stored here: they
are derived from the jobs that hold the resource (engine.consumables), so they cannot drift.
"""

from __future__ import annotations

import json

from batchemu.batch.backend import Backend
from batchemu.batch.common import check_new, check_tags, resolve, save
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.engine import consumables
from batchemu.vocabulary import arns, job_states

KIND = arns.CONSUMABLE_RESOURCE
MAX_PER_ACCOUNT = 50_000                       # ref §13.1, §15
RESOURCE_TYPES = (consumables.REPLENISHABLE, consumables.NON_REPLENISHABLE)
OPERATIONS = ("SET", "ADD", "REMOVE")
TOKEN_LIFETIME_MS = 8 * 3600 * 1000            # "A clientToken is valid for 8 hours" (model)
JOB_FILTERS = ("JOB_STATUS", "JOB_NAME")


def create_consumable_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["consumableResourceName"]
    with backend.store.transaction():
        check_new(backend, ctx, KIND, name, "consumableResourceName", "consumable resource", MAX_PER_ACCOUNT)
        total = _check_quantity(params.get("totalQuantity", 0), "totalQuantity")
        kind = params.get("resourceType") or consumables.REPLENISHABLE
        if kind not in RESOURCE_TYPES:
            # A plain string in the model, not an enum, so the wire layer can't check it.
            raise ClientException(f"resourceType must be one of {', '.join(RESOURCE_TYPES)}, got {kind!r}")
        arn = arns.make(ctx, KIND, name)
        doc = {"consumableResourceName": name, "consumableResourceArn": arn, "totalQuantity": total,
               "resourceType": kind, "createdAt": ctx.now_ms, "tags": check_tags(params.get("tags")),
               "_tokens": {}}
        save(backend, ctx, KIND, name, arn, doc)
    return {"consumableResourceName": name, "consumableResourceArn": arn}


def describe_consumable_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["consumableResource"])
    held = consumables.held(backend.store, ctx.account, ctx.region)
    return _with_quantities(doc, held)


def update_consumable_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    operation = params.get("operation")
    if operation not in OPERATIONS:
        raise ClientException(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if params.get("quantity") is None:
        raise ClientException("quantity is required: the new total (SET) or the change (ADD, REMOVE)")
    quantity = _check_quantity(params["quantity"], "quantity")
    token = params.get("clientToken")
    # The read-modify-write holds the store's lock, so it never races the scheduler, which
    # subtracts NON_REPLENISHABLE consumption from the same document.
    with backend.store.transaction():
        doc = _existing(backend, ctx, params["consumableResource"])
        tokens = {t: v for t, v in (doc.get("_tokens") or {}).items()
                  if v["at"] + TOKEN_LIFETIME_MS > ctx.now_ms}
        request = json.dumps([operation, quantity])
        if token is not None and token in tokens:
            if tokens[token]["request"] != request:
                raise ClientException(f"clientToken {token} was already used for a different update of "
                                      f"consumable resource {doc['consumableResourceName']}")
            return _update_result(doc)  # the same request again: it succeeds, applied once (model)
        total = doc["totalQuantity"]
        if operation == "SET":
            total = quantity
        elif operation == "ADD":
            total += quantity
        elif quantity > total:
            raise ClientException(f"Cannot remove {quantity} from consumable resource "
                                  f"{doc['consumableResourceName']}: its total quantity is {total}")
        else:
            total -= quantity
        doc["totalQuantity"] = total
        if token is not None:
            tokens[token] = {"request": request, "at": ctx.now_ms}
        doc["_tokens"] = tokens
        save(backend, ctx, KIND, doc["consumableResourceName"], doc["consumableResourceArn"], doc)
    backend.changed()  # more may be available now: waiting jobs can start
    return _update_result(doc)


def delete_consumable_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    with backend.store.transaction():
        doc = _existing(backend, ctx, params["consumableResource"])
        # AWS documents nothing here (ref §13.1 [unknown]); deleting a resource that unfinished
        # jobs wait for or hold would strand them, so batchemu refuses.
        waiting = [d for d in consumables.jobs_requiring(backend.store, doc["consumableResourceArn"])
                   if d["status"] not in job_states.TERMINAL]
        if waiting:
            raise ClientException(f"Cannot delete, consumable resource {doc['consumableResourceName']} is "
                                  f"required by {len(waiting)} job(s) that haven't finished (for example "
                                  f"{waiting[0]['jobId']}); wait for them or cancel them first")
        backend.store.delete(ctx.account, ctx.region, KIND, doc["consumableResourceName"])
    backend.changed()
    return {}


def list_consumable_resources(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    patterns = []
    for f in params.get("filters") or []:
        if f.get("name") != "CONSUMABLE_RESOURCE_NAME":
            raise ClientException(f"filters.name must be CONSUMABLE_RESOURCE_NAME, got {f.get('name')!r}")
        patterns += f.get("values") or []
    held = consumables.held(backend.store, ctx.account, ctx.region)
    out = []
    for doc in backend.store.list(ctx.account, ctx.region, KIND):
        if patterns and not any(_name_matches(v, doc["consumableResourceName"]) for v in patterns):
            continue
        full = _with_quantities(doc, held)
        out.append({k: full[k] for k in ("consumableResourceArn", "consumableResourceName", "totalQuantity",
                                         "inUseQuantity", "resourceType")})
    return {"consumableResources": out}


def list_jobs_by_consumable_resource(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["consumableResource"])
    arn = doc["consumableResourceArn"]
    statuses, names = set(), []
    for f in params.get("filters") or []:
        name, values = f.get("name"), f.get("values") or []
        if name not in JOB_FILTERS:
            raise ClientException(f"filters.name must be one of {', '.join(JOB_FILTERS)}, got {name!r}")
        if name == "JOB_STATUS":
            bad = [v for v in values if v not in job_states.ALL]
            if bad:
                raise ClientException(f"filters: JOB_STATUS values must be job statuses "
                                      f"({', '.join(job_states.ALL)}), got {bad[0]!r}")
            statuses.update(values)
        else:
            names += values
    jobs = [d for d in consumables.jobs_requiring(backend.store, arn)
            if (not statuses or d["status"] in statuses)
            and (not names or any(_name_matches(v, d["jobName"]) for v in names))]
    jobs.sort(key=lambda d: (d["createdAt"], d["jobId"]), reverse=True)  # newest first, like ListJobs
    return {"jobs": [_job_summary(d, arn) for d in jobs]}


# -- used by SubmitJob -------------------------------------------------------------------------

def for_submit(backend: Backend, ctx: RequestContext, definition: dict | None, override: dict | None):
    """(consumableResourceProperties with ARNs, {arn: quantity}) for a job: the definition's
    list with the override's entries replacing those for the same resource and adding the
    others. Every resource must exist and every quantity be at least 1."""
    merged: dict[str, int] = {}
    for source, props in (("the job definition's consumableResourceProperties", definition),
                          ("consumableResourcePropertiesOverride", override)):
        seen = set()
        for i, entry in enumerate((props or {}).get("consumableResourceList") or []):
            where = f"{source}.consumableResourceList[{i}]"
            ident, quantity = entry.get("consumableResource"), entry.get("quantity")
            if not ident:
                raise ClientException(f"{where}.consumableResource is required (a name or an ARN)")
            if quantity is None or quantity < 1:
                raise ClientException(f"{where}.quantity must be at least 1, got {quantity}")
            resource = resolve(backend, ctx, KIND, ident)
            if resource is None:
                raise ClientException(f"{where}: consumable resource {ident} does not exist")
            arn = resource["consumableResourceArn"]
            if arn in seen:
                raise ClientException(f"{where}: consumable resource {ident} is listed more than once")
            seen.add(arn)
            merged[arn] = quantity
    if not merged:
        return None, None
    listed = [{"consumableResource": arn, "quantity": q} for arn, q in merged.items()]
    return {"consumableResourceList": listed}, merged


# -- helpers -----------------------------------------------------------------------------------

def _existing(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    doc = resolve(backend, ctx, KIND, ident)
    if doc is None:
        raise ClientException(f"Consumable resource {ident} does not exist")
    return doc


def _check_quantity(value, field: str) -> int:
    if value is None or value < 0:
        raise ClientException(f"{field} must be a non-negative number, got {value}")  # model text
    return value


def _with_quantities(doc: dict, held: dict) -> dict:
    """ref §13.1: REPLENISHABLE: available = total - in use. NON_REPLENISHABLE: the total already
    had each started job's quantity subtracted at STARTING, so available = total; in use still
    shows what running jobs hold."""
    in_use = held.get(doc["consumableResourceArn"], 0)
    total = doc["totalQuantity"]
    available = total if doc["resourceType"] == consumables.NON_REPLENISHABLE else total - in_use
    return dict(doc, inUseQuantity=in_use, availableQuantity=max(available, 0))


def _update_result(doc: dict) -> dict:
    return {"consumableResourceName": doc["consumableResourceName"],
            "consumableResourceArn": doc["consumableResourceArn"], "totalQuantity": doc["totalQuantity"]}


def _name_matches(pattern: str, name: str) -> bool:
    """Case-insensitive; a trailing `*` matches any name that begins with what precedes it (model)."""
    if pattern.endswith("*"):
        return name.lower().startswith(pattern[:-1].lower())
    return name.lower() == pattern.lower()


def _job_summary(doc: dict, arn: str) -> dict:
    return {"jobArn": doc["jobArn"], "jobQueueArn": doc["jobQueue"], "jobName": doc["jobName"],
            "jobDefinitionArn": doc.get("jobDefinition"), "shareIdentifier": doc.get("shareIdentifier"),
            "jobStatus": doc["status"], "quantity": doc["_consumables"][arn],
            "statusReason": doc.get("statusReason"), "startedAt": doc.get("startedAt"),
            "createdAt": doc["createdAt"], "consumableResourceProperties": doc["consumableResourceProperties"]}
