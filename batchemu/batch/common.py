"""Rules and look-ups shared by the resource modules: names (ref §15), tags (ref §15),
name-or-ARN resolution with the asynchronous status applied (ref §1.5, §1.7)."""

from __future__ import annotations

import re

from batchemu.batch.backend import Backend
from batchemu.batch.errors import ClientException, wrapped
from batchemu.context import RequestContext
from batchemu.vocabulary import arns, lifecycle

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
MAX_TAGS = 50


def check_name(value: str, field: str) -> None:
    if not NAME.fullmatch(value or ""):
        raise ClientException(
            f"{field} must be 1 to 128 characters long, start with a letter or number, and "
            f"contain only letters, numbers, hyphens (-) and underscores (_); got {value!r}")


def check_new(backend: "Backend", ctx: "RequestContext", kind: str, name: str, field: str, label: str,
              limit: int) -> list[dict]:
    """A create's common rules: a valid name, not taken, and under the regional quota (ref §15).
    Returns the live documents of that kind."""
    check_name(name, field)
    existing = load_all(backend, ctx, kind)
    if any(d.get(field) == name for d in existing):
        raise ClientException(f"Object already exists: {label} {name} already exists")
    if len(existing) >= limit:
        raise ClientException(f"You have reached the limit of {limit} {label}s in {ctx.region}; "
                              "delete one first")
    return existing


def check_tags(tags: dict | None, field: str = "tags") -> dict:
    """Validate a tag map (ref §15): at most 50, key 1-128, value <= 256, no `aws:` keys."""
    tags = dict(tags or {})
    counted = [k for k in tags if not k.lower().startswith("aws:")]
    if len(counted) > MAX_TAGS:
        raise ClientException(f"{field}: a resource can have at most {MAX_TAGS} tags, got {len(counted)}")
    for key, value in tags.items():
        if not (1 <= len(key) <= 128):
            raise ClientException(f"{field}: tag keys must be 1 to 128 characters, got {key!r}")
        if key.lower().startswith("aws:"):
            raise ClientException(f"{field}: tag keys beginning with 'aws:' are reserved for AWS use: {key!r}")
        if value is None or len(value) > 256:
            raise ClientException(f"{field}: tag values must be 0 to 256 characters (key {key!r})")
    return tags


def load(backend: Backend, ctx: RequestContext, kind: str, key: str) -> dict | None:
    """The live document (status settled), or None if it does not exist or is gone."""
    doc = backend.store.get(ctx.account, ctx.region, kind, key)
    if doc is None or lifecycle.is_gone(doc, ctx.now_ms):
        return None
    return lifecycle.settle(doc, ctx.now_ms)


def load_all(backend: Backend, ctx: RequestContext, kind: str) -> list[dict]:
    docs = backend.store.list(ctx.account, ctx.region, kind)
    return [lifecycle.settle(d, ctx.now_ms) for d in docs if not lifecycle.is_gone(d, ctx.now_ms)]


def resolve(backend: Backend, ctx: RequestContext, kind: str, ident: str) -> dict | None:
    """A name or ARN of this account/region -> live document, or None."""
    key = arns.key_of(ctx, kind, ident or "")
    return load(backend, ctx, kind, key) if key else None


def live(backend: Backend, ctx: RequestContext, kind: str, ident: str, label: str) -> dict:
    """The resource named or ARN'd by `ident`, unless it is missing or being deleted: then
    "<label> <ident> does not exist" (Terraform reads that as "already gone", ref §1.5)."""
    doc = resolve(backend, ctx, kind, ident)
    if doc is None or doc["status"] in ("DELETING", "DELETED"):
        raise ClientException(f"{label} {ident} does not exist")
    return doc


def check_not_settling(doc: dict, verb: str) -> None:
    """An update or delete of a resource still CREATING/UPDATING is refused (ref §3.4, §4.4)."""
    if lifecycle.is_settling(doc):
        raise ClientException(f"Cannot {verb}, resource is being modified")


def save(backend: Backend, ctx: RequestContext, kind: str, key: str, arn: str, doc: dict) -> None:
    backend.store.put(ctx.account, ctx.region, kind, key, arn, doc)


def check_list_or_max(params: dict, list_member: str, label: str, ctx: RequestContext) -> None:
    """ref §1.6: an explicit list and maxResults cannot both be given."""
    if params.get(list_member) and params.get("maxResults") is not None:
        raise wrapped(ctx, f"{label} and MaxResults cannot both be set")


def describe(backend: Backend, ctx: RequestContext, kind: str, params: dict, list_member: str, name_field: str) -> list:
    """The live documents a Describe* call asks for: all of them, or those named (by name or
    ARN) in params[list_member] (<= 100); unknown ones are left out, not an error (ref §1.5)."""
    wanted = check_describe_list(params, list_member)
    docs = load_all(backend, ctx, kind)
    if wanted:
        keys = {arns.key_of(ctx, kind, w) for w in wanted}
        docs = [d for d in docs if d[name_field] in keys]
    return docs


def check_describe_list(params: dict, list_member: str, limit: int = 100) -> list:
    items = params.get(list_member) or []
    if len(items) > limit:
        raise ClientException(f"{list_member}: at most {limit} items can be described at once, got {len(items)}")
    return items
