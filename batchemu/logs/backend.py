"""LogsBackend: what the Logs operations share: the tables, ARNs, resolving a log group by
name or ARN, and where a stream's events come from (stored, plus a running container's lines
when its runner only reports output at exit). No HTTP here."""

from __future__ import annotations

import base64
import binascii
import json
import logging

from batchemu.logs import reading
from batchemu.logs.errors import InvalidParameter, group_not_found, invalid_token, stream_not_found
from batchemu.store.jobs import Jobs
from batchemu.store.logs import LogTables
from batchemu.vocabulary import job_states as states

log = logging.getLogger("batchemu.logs")


class LogsBackend:
    def __init__(self, store, runner=None):
        self.tables = LogTables(store)
        self.jobs = Jobs(store)
        self.runner = runner

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

    def _stores_output_late(self) -> bool:
        """True when the runner reports a job's output only at exit (Docker), so a running
        attempt's lines must be asked from it."""
        return self.runner is not None and not getattr(self.runner, "streams_output_live", False)

    def running_attempts(self) -> dict:
        """job id -> attempt of every STARTING/RUNNING job whose output is not stored yet."""
        if not self._stores_output_late():
            return {}
        return {j["jobId"]: j["_attempt"] for j in self.jobs.active()
                if j["status"] in (states.STARTING, states.RUNNING)}

    def _running_attempt(self, job_id: str) -> int | None:
        if not self._stores_output_late():
            return None
        job = self.jobs.get(job_id)
        return job["_attempt"] if job and job["status"] in (states.STARTING, states.RUNNING) else None

    def source(self, ctx, stream: dict, running: dict | None = None):
        """One stream's events: stored, plus a running attempt's output so far when its
        runner has not reported it yet. `running` (running_attempts()) saves a job lookup per
        stream when a whole group is read."""
        key = (ctx.account, ctx.region, stream["group_name"], stream["name"])
        job_id = stream.get("job_id")
        if job_id is None:
            return reading.StoredSource(self.tables, *key)
        attempt = running.get(job_id) if running is not None else self._running_attempt(job_id)
        if attempt is None or attempt != stream["attempt"]:
            return reading.StoredSource(self.tables, *key)
        try:
            live = self.runner.logs(job_id, attempt)
        except Exception:  # the engine is unreachable for a moment: serve what is stored
            log.warning("could not read the live output of %s attempt %s", job_id, attempt, exc_info=True)
            return reading.StoredSource(self.tables, *key)
        stored = self.tables.events(*key, 0, reading.MAX_TS)
        return reading.ListSource(reading.merge_live(stored, live, stream["name"]))


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
