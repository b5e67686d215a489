"""Rules every Submit*Job shares (SubmitJob in batch.jobs, SubmitServiceJob in
batch.service_jobs): the request size, the target queue, its scheduling policy and the
shareIdentifier rules. One copy each; a kind's own rules stay in its module. No HTTP here.
"""

from __future__ import annotations

import json

from batchemu.vocabulary import arns
from batchemu.batch.backend import Backend
from batchemu.batch.common import load, resolve
from batchemu.batch.errors import ClientException, wrapped
from batchemu.context import RequestContext

MAX_SUBMIT_BYTES = 30 * 1024      # ref §6.1, §13.3, §15


def check_size(ctx: RequestContext, params: dict) -> None:
    size = len(json.dumps(params, separators=(",", ":")).encode())
    if size > MAX_SUBMIT_BYTES:
        raise wrapped(ctx, f"Job size must be less than 30 KiB, got {-(-size // 1024)} KiB")


def live_queue(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    """The job queue named or ARN'd by `ident`, unless it is gone."""
    queue = resolve(backend, ctx, arns.JOB_QUEUE, ident)
    if queue is None or queue.get("status") in ("DELETING", "DELETED"):
        raise ClientException(f"JobQueue {ident} not found.")  # ref §1.5
    return queue


def check_enabled(queue: dict) -> dict:
    if queue.get("state") != "ENABLED":
        raise ClientException(f"JobQueue {queue['jobQueueName']} is not in ENABLED state; new jobs can't be "
                              "submitted to a DISABLED queue")  # ref §4.4
    return queue


def scheduling_policy(backend: Backend, ctx: RequestContext, queue: dict) -> dict | None:
    """The queue's scheduling policy, if it has one."""
    arn = queue.get("schedulingPolicyArn")
    parsed = arns.parse(arn) if arn else None
    return load(backend, ctx, arns.SCHEDULING_POLICY, parsed[4]) if parsed else None


def check_share_presence(policy: dict | None, share: str | None) -> str | None:
    """A fair-share queue needs a shareIdentifier; any other queue refuses one (ref §11.4)."""
    fair_share = bool(policy and policy.get("fairsharePolicy") is not None)
    if fair_share and not share:
        raise ClientException("shareIdentifier is required for job queues with a fair-share "
                              "scheduling policy")  # ref §11.4, wording suggested in Appendix B
    if not fair_share and share:
        raise ClientException("shareIdentifier can't be specified for a job queue without a fair-share "
                              "scheduling policy")  # model: "Don't specify this parameter if ..."
    return share
