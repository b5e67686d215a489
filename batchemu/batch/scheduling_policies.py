"""Scheduling policies (ref §11.4): create, describe, list, update, delete.

Owns the policy document and its validation (fair-share weights, share identifiers, the
quota-share strategy). Must not schedule: the scheduler reads `fairsharePolicy` from here.
Policies have no status in the model, so they are created and deleted at once.
"""

from __future__ import annotations

import re

from batchemu.batch.backend import Backend
from batchemu.batch.common import (check_describe_list, check_name, check_tags, load_all,
                                   resolve, save)
from batchemu.batch.errors import ClientException
from batchemu.context import RequestContext
from batchemu.vocabulary import arns

KIND = arns.SCHEDULING_POLICY
# ref §11.4 / §15 ranges (FairsharePolicy and ShareAttributes documentation in the model).
SHARE_DECAY_MAX = 604_800
COMPUTE_RESERVATION_MAX = 99
WEIGHT_MIN, WEIGHT_MAX = 0.0001, 999.9999
# "limited to 255 alphanumeric characters, and can be followed by an asterisk (*)"; read, as
# Terraform does, as at most 255 characters in all with the `*` only at the end.
SHARE_IDENTIFIER = re.compile(r"(?=.{1,255}$)[A-Za-z0-9]*\*?")


def create_scheduling_policy(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    name = params["name"]
    check_name(name, "name")
    if any(d["name"] == name for d in load_all(backend, ctx, KIND)):  # moto misses this (peers §1.5)
        raise ClientException(f"Object already exists: scheduling policy {name} already exists")
    fairshare, quotashare = params.get("fairsharePolicy"), params.get("quotaSharePolicy")
    if fairshare is not None and quotashare is not None:
        raise ClientException("Only one of fairsharePolicy or quotaSharePolicy can be set")  # model text
    arn = arns.make(ctx, KIND, name)
    doc = {
        "name": name,
        "arn": arn,
        # Echoed as given: AWS documents defaults (weight 1.0, 600 s window) but no evidence
        # shows it filling them in; the scheduler applies them. A policy given neither member
        # is a fair-share policy with default settings, `{}` (the model makes both optional,
        # and Terraform's aws_batch_scheduling_policy can send neither).
        "fairsharePolicy": _check_fairshare(fairshare or {}) if quotashare is None else None,
        "quotaSharePolicy": _check_quotashare(quotashare) if quotashare is not None else None,
        "tags": check_tags(params.get("tags")),
    }
    save(backend, ctx, KIND, name, arn, doc)
    backend.changed()
    return {"name": name, "arn": arn}


def describe_scheduling_policies(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    wanted = set(check_describe_list(params, "arns"))
    # ARNs only (ref §2.2): a bare name matches nothing, like any unknown ARN (ref §1.5).
    docs = [d for d in load_all(backend, ctx, KIND) if d["arn"] in wanted]
    return {"schedulingPolicies": docs}


def list_scheduling_policies(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    return {"schedulingPolicies": [{"arn": d["arn"]} for d in load_all(backend, ctx, KIND)]}


def update_scheduling_policy(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["arn"])
    fairshare, quotashare = params.get("fairsharePolicy"), params.get("quotaSharePolicy")
    if fairshare is not None and quotashare is not None:
        raise ClientException("Only one of fairsharePolicy or quotaSharePolicy can be set")
    if doc.get("quotaSharePolicy") is not None:
        # The model: "Once set during creation, a quotaSharePolicy cannot be removed or changed
        # to a fairsharePolicy" (and the other way round).
        if quotashare is None:
            raise ClientException(f"Scheduling policy {doc['name']} has a quotaSharePolicy, which "
                                  "can't be removed or changed to a fairsharePolicy")
        doc["quotaSharePolicy"] = _check_quotashare(quotashare)
    else:
        if quotashare is not None:
            raise ClientException(f"Scheduling policy {doc['name']} is a fair-share policy; it "
                                  "can't be changed to a quotaSharePolicy")
        # UpdateSchedulingPolicy replaces the policy (ref §11.4); none given means defaults.
        doc["fairsharePolicy"] = _check_fairshare(fairshare or {})
    save(backend, ctx, KIND, doc["name"], doc["arn"], doc)
    backend.changed()
    return {}


def delete_scheduling_policy(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    doc = _existing(backend, ctx, params["arn"])
    for queue in load_all(backend, ctx, arns.JOB_QUEUE):
        if queue["status"] != "DELETED" and queue.get("schedulingPolicyArn") == doc["arn"]:
            # "You can't delete a scheduling policy that's used in any job queues." (model)
            raise ClientException(f"Cannot delete, scheduling policy {doc['name']} is used by job "
                                  f"queue {queue['jobQueueName']}")
    backend.store.delete(ctx.account, ctx.region, KIND, doc["name"])
    backend.changed()
    return {}


# -- rules -----------------------------------------------------------------------------------

def _existing(backend: Backend, ctx: RequestContext, arn: str) -> dict:
    # ARN only (ref §2.2); an unknown one is a ClientException, never moto's 500 (peers §1.5).
    doc = resolve(backend, ctx, KIND, arn) if arn.startswith("arn:") else None
    if doc is None:
        raise ClientException(f"Scheduling policy {arn} does not exist")
    return doc


def _check_fairshare(policy: dict) -> dict:
    decay = policy.get("shareDecaySeconds")
    if decay is not None and not 0 <= decay <= SHARE_DECAY_MAX:
        raise ClientException(f"fairsharePolicy.shareDecaySeconds must be between 0 and "
                              f"{SHARE_DECAY_MAX}, got {decay}")
    reservation = policy.get("computeReservation")
    if reservation is not None and not 0 <= reservation <= COMPUTE_RESERVATION_MAX:
        raise ClientException(f"fairsharePolicy.computeReservation must be between 0 and "
                              f"{COMPUTE_RESERVATION_MAX}, got {reservation}")
    shares = policy.get("shareDistribution") or []
    for i, share in enumerate(shares):
        where = f"fairsharePolicy.shareDistribution[{i}]"
        ident = share["shareIdentifier"]
        if not SHARE_IDENTIFIER.fullmatch(ident):
            raise ClientException(f"{where}.shareIdentifier must be at most 255 alphanumeric "
                                  f"characters, optionally ending with an asterisk (*); got {ident!r}")
        weight = share.get("weightFactor")
        if weight is not None and not WEIGHT_MIN <= weight <= WEIGHT_MAX:
            raise ClientException(f"{where}.weightFactor must be between {WEIGHT_MIN} and "
                                  f"{WEIGHT_MAX}, got {weight}")
    _check_no_overlap([s["shareIdentifier"] for s in shares])
    return dict(policy)


def _check_no_overlap(identifiers: list[str]) -> None:
    """ref §11.4: "you can't have one that specifies a shareIdentifier of UserA* and another
    that specifies a shareIdentifier of UserA1" (nor the same identifier twice)."""
    for i, first in enumerate(identifiers):
        for second in identifiers[i + 1:]:
            if first == second:
                raise ClientException(f"fairsharePolicy.shareDistribution: share identifier {first} "
                                      "is listed more than once")
            if _covers(first, second) or _covers(second, first):
                raise ClientException(f"fairsharePolicy.shareDistribution: share identifiers {first} "
                                      f"and {second} overlap; the list can't overlap")


def _covers(prefix_entry: str, other: str) -> bool:
    return prefix_entry.endswith("*") and other.rstrip("*").startswith(prefix_entry[:-1])


def _check_quotashare(policy: dict) -> dict:
    # The enum (FIFO only) is checked by the wire layer; nothing else to validate (ref §13.4).
    return dict(policy)
