"""Job definitions (ref §5), the operations: RegisterJobDefinition, DescribeJobDefinitions,
DeregisterJobDefinition, and the SubmitJob look-up `resolve_for_submit` (ref §5.2).

Each revision is its own document under the key "<name>:<revision>"; revisions are never
deleted or renumbered (deregistering marks one INACTIVE). What a body may contain, and the
defaults it gets, are job_definition_rules'; this module owns revisions, storage and look-up.
Knows nothing of queues or jobs.
"""

from __future__ import annotations

from batchemu.batch import host_access, job_definition_rules as rules
from batchemu.batch.backend import Backend
from batchemu.batch.common import check_describe_list, check_list_or_max, check_name, save
from batchemu.batch.errors import ClientException
from batchemu.batch.job_spec import WHOLE_NUMBER
from batchemu.context import RequestContext
from batchemu.vocabulary import arns

KIND = arns.JOB_DEFINITION
ACTIVE, INACTIVE = "ACTIVE", "INACTIVE"


# -- operations ------------------------------------------------------------------------------

def register_job_definition(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    rules.check_request_size(ctx, params)
    name = params["jobDefinitionName"]
    check_name(name, "jobDefinitionName")
    body = rules.validated_body(ctx, params)
    if backend.config.deny_host_access:
        host_access.refuse(host_access.in_definition(params))
    # One transaction: two concurrent registrations of a name must not share a revision.
    with backend.store.transaction():
        revision = _next_revision(backend, ctx, name)
        key = f"{name}:{revision}"
        arn = arns.make(ctx, KIND, key)
        doc = {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision,
               "status": ACTIVE, **body}
        save(backend, ctx, KIND, key, arn, doc)
    return {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision}


def describe_job_definitions(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    if params.get("jobDefinitions"):
        # ref §1.6 / §5.2: the explicit list "can't be used with other parameters".
        check_list_or_max(params, "jobDefinitions", "JobDefinitions", ctx)
        others = [k for k in ("jobDefinitionName", "status") if params.get(k) is not None]
        if others:
            raise ClientException(f"jobDefinitions can't be used with other parameters; "
                                  f"got {' and '.join(others)} too")
        return {"jobDefinitions": _by_identifiers(backend, ctx, check_describe_list(params, "jobDefinitions"))}
    name = params.get("jobDefinitionName")
    docs = _revisions(backend, ctx, name) if name is not None else backend.store.list(ctx.account, ctx.region, KIND)
    status = params.get("status")
    if status is not None:  # a free string in the model: any other value matches nothing
        docs = [d for d in docs if d["status"] == status]
    return {"jobDefinitions": docs}


def deregister_job_definition(backend: Backend, ctx: RequestContext, params: dict) -> dict:
    """`name:revision` or a revision ARN: that revision (again on an INACTIVE one is a no-op).
    A bare name or an ARN without revision (examples-1.json deregisters "sleep10", ref §2.2):
    the latest ACTIVE revision, the one SubmitJob would use."""
    ident = params["jobDefinition"]
    with backend.store.transaction():
        name, revision = _parse(ctx, ident)
        doc = None
        if name is not None:
            doc = _revision(backend, ctx, name, revision) if revision is not None else _latest_active(backend, ctx, name)
        if doc is None:
            raise ClientException(f"Job definition {ident} does not exist")  # ref §1.5
        doc["status"] = INACTIVE
        save(backend, ctx, KIND, f"{doc['jobDefinitionName']}:{doc['revision']}", doc["jobDefinitionArn"], doc)
    return {}


def resolve_for_submit(backend: Backend, ctx: RequestContext, ident: str) -> dict:
    """SubmitJob's `jobDefinition` -> the ACTIVE revision document (ref §5.2): a bare name or
    an ARN without revision means the latest ACTIVE revision; `name:rev` or an ARN with
    revision means that one, which must be ACTIVE. Errors carry the observed texts (ref §1.5)."""
    name, revision = _parse(ctx, ident)
    doc = None
    if name is not None:
        doc = _revision(backend, ctx, name, revision) if revision is not None else _latest_active(backend, ctx, name)
    if doc is None or doc["status"] != ACTIVE:
        if ident.startswith("arn:"):
            raise ClientException(f"JobDefinition {ident} not found.")
        raise ClientException(f"JobDefinition name {ident} does not exist or is not in ACTIVE status")
    return doc


# -- look-ups --------------------------------------------------------------------------------

def _parse(ctx: RequestContext, ident: str) -> tuple[str | None, int | None]:
    """Name or ARN, with or without ":revision" -> (name, revision or None); (None, None)
    when it can't name a revision of this account and region (e.g. "name:latest")."""
    key = arns.key_of(ctx, KIND, ident or "")
    if not key:
        return None, None
    name, colon, revision = key.partition(":")
    if not colon:
        return name, None
    if not WHOLE_NUMBER.fullmatch(revision):
        return None, None
    return name, int(revision)


def _revisions(backend: Backend, ctx: RequestContext, name: str) -> list[dict]:
    # Names can't contain ":", so the prefix matches exactly this name's revisions.
    return backend.store.list(ctx.account, ctx.region, KIND, key_prefix=name + ":")


def _revision(backend: Backend, ctx: RequestContext, name: str, revision: int) -> dict | None:
    return backend.store.get(ctx.account, ctx.region, KIND, f"{name}:{revision}")


def _latest_active(backend: Backend, ctx: RequestContext, name: str) -> dict | None:
    active = [d for d in _revisions(backend, ctx, name) if d["status"] == ACTIVE]
    return max(active, key=lambda d: d["revision"], default=None)


def _next_revision(backend: Backend, ctx: RequestContext, name: str) -> int:
    # INACTIVE revisions count too: numbers are never reused (ref §5.2).
    return max((d["revision"] for d in _revisions(backend, ctx, name)), default=0) + 1


def _by_identifiers(backend: Backend, ctx: RequestContext, idents: list) -> list[dict]:
    """AWS documents ARN-with-revision or name:revision here. A bare name or an ARN without
    revision is read as "every revision of that name" (as jobDefinitionName does). Unknown
    entries are left out (ref §1.5); results come in creation order, each once."""
    keys, names = set(), set()
    for ident in idents:
        name, revision = _parse(ctx, ident)
        if name is None:
            continue
        if revision is None:
            names.add(name)
        else:
            keys.add(f"{name}:{revision}")
    return [d for d in backend.store.list(ctx.account, ctx.region, KIND)
            if d["jobDefinitionName"] in names or f"{d['jobDefinitionName']}:{d['revision']}" in keys]
