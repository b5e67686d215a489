"""LogsBackend: what the Logs operations share: the tables, ARNs, resolving a log group by
name or ARN, and where a stream's events come from (the store, even for a running job). No HTTP
here, and no runner: a request never reaches Docker."""

from __future__ import annotations

import base64
import binascii
import json

from batchemu.logs import reading
from batchemu.logs.errors import InvalidParameter, group_not_found, invalid_token, stream_not_found
from batchemu.store.logs import LogTables


class LogsBackend:
    def __init__(self, store):
        self.tables = LogTables(store)

    # -- names and ARNs ----------------------------------------------------------------------

    @staticmethod
    def group_arn(ctx, name: str) -> str:
        """Without the trailing `:*` (logGroupArn, tagging); `arn` adds it."""
        return f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account}:log-group:{name}"

    def stream_arn(self, ctx, group: str, stream: str) -> str:
        return f"{self.group_arn(ctx, group)}:log-stream:{stream}"

    def group_name_from_arn(self, ctx, arn: str) -> str | None:
        """The group an ARN of this account and region names (with or without `:*`), else None."""
        prefix = self.group_arn(ctx, "")
        if not arn.startswith(prefix):
            return None
        name = arn[len(prefix):]
        return name[:-2] if name.endswith(":*") else name

    def group_name(self, ctx, p: dict, required: bool = True) -> str | None:
        """logGroupName or logGroupIdentifier (a name or an ARN): exactly one of them."""
        name, ident = p.get("logGroupName"), p.get("logGroupIdentifier")
        if name is not None and ident is not None:
            raise InvalidParameter("LogGroupName and LogGroupIdentifier are mutually exclusive; "
                                   "specify only one of them.")
        if name is None and ident is None:
            if not required:
                return None
            raise InvalidParameter("Either LogGroupName or LogGroupIdentifier must be specified.")
        if ident is not None and ident.startswith("arn:"):
            name = self.group_name_from_arn(ctx, ident)
            if name is None:
                raise group_not_found()
            return name
        return name if name is not None else ident

    def existing_group(self, ctx, name: str) -> dict:
        group = self.tables.group(ctx.account, ctx.region, name)
        if group is None:
            raise group_not_found()
        return group

    def existing_stream(self, ctx, group: str, name: str) -> dict:
        self.existing_group(ctx, group)
        stream = self.tables.stream(ctx.account, ctx.region, group, name)
        if stream is None:
            raise stream_not_found()
        return stream

    # -- where events come from --------------------------------------------------------------

    def source(self, ctx, stream: dict) -> reading.StoredSource:
        """One stream's events. Runners report a running job's output as it is written (the
        engine stores it), so the store has it all: a request never asks a runner (or Docker)."""
        return reading.StoredSource(self.tables, ctx.account, ctx.region, stream["group_name"], stream["name"])


# -- list paging (Describe*) ------------------------------------------------------------------

def paginate(items: list, sort_key, token: str | None, limit: int, descending: bool, order: str):
    """(page, nextToken) over items sorted by sort_key; the token remembers the last key
    returned, so items added or removed meanwhile do not shift the pages."""
    items = sorted(items, key=sort_key, reverse=descending)
    if token is not None:
        last = _decode_page_token(token, order)
        try:
            items = [i for i in items if (sort_key(i) < last if descending else sort_key(i) > last)]
        except TypeError:  # a forged token whose key does not compare with ours
            raise invalid_token()
    chosen = items[:limit]
    if len(items) > limit:
        body = json.dumps({"o": order, "k": list(sort_key(chosen[-1]))}).encode()
        return chosen, base64.urlsafe_b64encode(body).decode()
    return chosen, None


def _decode_page_token(token: str, order: str) -> tuple:
    try:
        doc = json.loads(base64.urlsafe_b64decode(token.encode()))
        if doc["o"] != order:
            raise ValueError("a token of another listing")
        return tuple(doc["k"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid_token()
