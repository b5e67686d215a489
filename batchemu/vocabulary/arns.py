"""ARNs of Batch resources (ref §2.1) and name-or-ARN resolution (ref §2.2)."""

from __future__ import annotations

from batchemu.context import RequestContext

COMPUTE_ENVIRONMENT = "compute-environment"
JOB_QUEUE = "job-queue"
JOB_DEFINITION = "job-definition"
JOB = "job"
SCHEDULING_POLICY = "scheduling-policy"
CONSUMABLE_RESOURCE = "consumable-resource"
SERVICE_ENVIRONMENT = "service-environment"
SERVICE_JOB = "service-job"
# Stored under this kind; its ARN is `job-queue/<queue>/quota-share/<name>` (ref §2.1).
QUOTA_SHARE = "quota-share"


def make(ctx: RequestContext, kind: str, name: str) -> str:
    return f"arn:{ctx.partition}:batch:{ctx.region}:{ctx.account}:{kind}/{name}"


def parse(arn: str):
    """(partition, region, account, kind, name) or None when `arn` is not a Batch ARN."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "batch" or "/" not in parts[5]:
        return None
    kind, name = parts[5].split("/", 1)
    return parts[1], parts[3], parts[4], kind, name


def key_of(ctx: RequestContext, kind: str, ident: str) -> str | None:
    """The store key (the name) for a name or an ARN of this caller's account and region.
    None when it is an ARN of another kind, account or region (so: not found)."""
    if not ident.startswith("arn:"):
        return ident
    parsed = parse(ident)
    if not parsed:
        return None
    _partition, region, account, arn_kind, name = parsed
    if arn_kind != kind or region != ctx.region or account != ctx.account:
        return None
    return name
