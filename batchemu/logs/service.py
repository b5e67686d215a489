"""CloudWatch Logs operations, one function per operation (`op_name(backend, ctx, params) -> dict`, found
by the provider by snake_case name): log groups, log streams, events (put, get, filter),
retention and tags. Params and results use the model's member names; no HTTP here.

Retention is stored and reported, and PutLogEvents rejects events older than it as AWS does,
but stored events are never deleted when they age out.
"""

from __future__ import annotations

import base64
import binascii
import json

from batchemu.logs import patterns, reading
from batchemu.logs.backend import LogsBackend, paginate
from batchemu.logs.errors import (InvalidParameter, ResourceAlreadyExists, TooManyTags, Validation,
                                  group_not_found, invalid_token)

# The byte size of an event as CloudWatch Logs counts it: UTF-8 message + 26 bytes.
EVENT_OVERHEAD = 26
MAX_EVENTS = 10_000
MAX_PAGE_BYTES = 1_048_576      # a page of events, and a PutLogEvents batch (API_PutLogEvents)
MAX_TAGS = 50
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653)


def _message_bytes(message: str) -> int:
    return len(message.encode("utf-8")) + EVENT_OVERHEAD


def _event_bytes(event) -> int:
    return _message_bytes(event.message)


# -- log groups ------------------------------------------------------------------------------

def create_log_group(backend: LogsBackend, ctx, params):
    name = params["logGroupName"]
    if name.startswith("aws/"):  # API_CreateLogGroup naming rules
        raise InvalidParameter("Log group names can't start with the string aws/")
    created = backend.tables.create_group(ctx.account, ctx.region, name, ctx.now_ms, params.get("kmsKeyId"),
                                    params.get("logGroupClass") or "STANDARD",
                                    bool(params.get("deletionProtectionEnabled")), params.get("tags"))
    if not created:
        raise ResourceAlreadyExists("The specified log group already exists")
    return {}


def delete_log_group(backend: LogsBackend, ctx, params):
    group = backend.existing_group(ctx, params["logGroupName"])
    if group["deletion_protection"]:
        raise Validation(f"Log group {group['name']} has deletion protection enabled; turn it off "
                         "with PutLogGroupDeletionProtection first")
    backend.tables.delete_group(ctx.account, ctx.region, group["name"])
    return {}


def put_log_group_deletion_protection(backend: LogsBackend, ctx, params):
    name = backend.group_name(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]})
    backend.existing_group(ctx, name)
    backend.tables.update_group(ctx.account, ctx.region, name,
                          deletion_protection=int(params["deletionProtectionEnabled"]))
    return {}


def describe_log_groups(backend: LogsBackend, ctx, params):
    prefix, pattern = params.get("logGroupNamePrefix"), params.get("logGroupNamePattern")
    identifiers = params.get("logGroupIdentifiers")
    if prefix is not None and pattern is not None:
        raise InvalidParameter("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive; "
                               "specify only one of them.")
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise InvalidParameter("logGroupIdentifiers cannot be combined with logGroupNamePrefix or "
                               "logGroupNamePattern.")
    groups = backend.tables.groups(ctx.account, ctx.region)
    if prefix is not None:
        groups = [g for g in groups if g["name"].startswith(prefix)]
    if pattern:  # a case-sensitive substring search
        groups = [g for g in groups if pattern in g["name"]]
    if params.get("logGroupClass"):
        groups = [g for g in groups if g["group_class"] == params["logGroupClass"]]
    if identifiers is not None:
        wanted = {(backend.group_name_from_arn(ctx, i) if i.startswith("arn:") else i) for i in identifiers}
        groups = [g for g in groups if g["name"] in wanted]
    chosen, token = paginate(groups, lambda g: (g["name"],), params.get("nextToken"), params.get("limit", 50),
                             False, "groups")
    out = []
    for g in chosen:
        arn = backend.group_arn(ctx, g["name"])
        if pattern is not None:
            # API_DescribeLogGroups: with a pattern only these three are returned.
            out.append({"logGroupName": g["name"], "creationTime": g["created"], "arn": arn + ":*"})
            continue
        out.append({"logGroupName": g["name"], "creationTime": g["created"],
                    "retentionInDays": g["retention_days"], "metricFilterCount": 0, "arn": arn + ":*",
                    "logGroupArn": arn, "kmsKeyId": g["kms_key_id"], "logGroupClass": g["group_class"],
                    "deletionProtectionEnabled": g["deletion_protection"],
                    "storedBytes": backend.tables.stored_bytes(ctx.account, ctx.region, g["name"])})
    return {"logGroups": out, "nextToken": token}


def put_retention_policy(backend: LogsBackend, ctx, params):
    days = params["retentionInDays"]
    if days not in RETENTION_DAYS:
        raise InvalidParameter(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed "
                               f"to satisfy constraint: Member must satisfy enum value set: "
                               f"[{', '.join(map(str, RETENTION_DAYS))}]")
    backend.existing_group(ctx, params["logGroupName"])
    backend.tables.update_group(ctx.account, ctx.region, params["logGroupName"], retention_days=days)
    return {}


def delete_retention_policy(backend: LogsBackend, ctx, params):
    backend.existing_group(ctx, params["logGroupName"])
    backend.tables.update_group(ctx.account, ctx.region, params["logGroupName"], retention_days=None)
    return {}


# -- log streams -----------------------------------------------------------------------------

def create_log_stream(backend: LogsBackend, ctx, params):
    backend.existing_group(ctx, params["logGroupName"])
    if not backend.tables.create_stream(ctx.account, ctx.region, params["logGroupName"], params["logStreamName"], ctx.now_ms):
        raise ResourceAlreadyExists("The specified log stream already exists")
    return {}


def delete_log_stream(backend: LogsBackend, ctx, params):
    backend.existing_stream(ctx, params["logGroupName"], params["logStreamName"])
    backend.tables.delete_stream(ctx.account, ctx.region, params["logGroupName"], params["logStreamName"])
    return {}


def describe_log_streams(backend: LogsBackend, ctx, params):
    """firstEventTimestamp/lastEventTimestamp/lastIngestionTime count stored events: a Docker
    job's output is stored when it ends (AWS updates these eventually too)."""
    group = backend.group_name(ctx, params)
    backend.existing_group(ctx, group)
    order, prefix = params.get("orderBy", "LogStreamName"), params.get("logStreamNamePrefix")
    if order == "LastEventTime" and prefix is not None:
        raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    streams = backend.tables.streams(ctx.account, ctx.region, group)
    if prefix is not None:
        streams = [s for s in streams if s["name"].startswith(prefix)]
    if order == "LastEventTime":
        # A stream without events sorts by its creation time (a job that just started is recent).
        key = lambda s: (s["last_ts"] if s["last_ts"] is not None else s["created"], s["name"])  # noqa: E731
    else:
        key = lambda s: (s["name"],)  # noqa: E731
    descending = bool(params.get("descending"))
    chosen, token = paginate(streams, key, params.get("nextToken"), params.get("limit", 50), descending,
                             f"streams/{order}/{descending}")
    out = [{"logStreamName": s["name"], "creationTime": s["created"],
            "firstEventTimestamp": s["first_ts"], "lastEventTimestamp": s["last_ts"],
            "lastIngestionTime": s["last_ingested"],
            "uploadSequenceToken": f"{s['upload_seq']:056d}" if s["upload_seq"] else None,
            "arn": backend.stream_arn(ctx, group, s["name"]),
            "storedBytes": 0}  # API LogStream: "always reported as zero" for streams since 2019
           for s in chosen]
    return {"logStreams": out, "nextToken": token}


# -- events ----------------------------------------------------------------------------------

def put_log_events(backend: LogsBackend, ctx, params):
    """API_PutLogEvents: chronological order, 1 MB batch, 24 h span; events more than 14 days
    old (or older than the retention) or 2 hours ahead are rejected, the rest are stored.
    The sequence token is ignored, as AWS does now."""
    group = backend.existing_group(ctx, params["logGroupName"])
    backend.existing_stream(ctx, params["logGroupName"], params["logStreamName"])
    events = params["logEvents"]
    for before, after in zip(events, events[1:]):
        if after["timestamp"] < before["timestamp"]:
            raise InvalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
    size = sum(_message_bytes(e["message"]) for e in events)
    if size > MAX_PAGE_BYTES:
        raise InvalidParameter(f"Upload too large: {size} bytes exceeds limit of {MAX_PAGE_BYTES}")
    now = ctx.now_ms
    too_old_before = now - 14 * DAY_MS
    expired_before = now - group["retention_days"] * DAY_MS if group["retention_days"] else None
    too_new_after = now + 2 * HOUR_MS
    rejected, accepted = {}, []
    for i, event in enumerate(events):
        ts = event["timestamp"]
        if ts < too_old_before:
            rejected["tooOldLogEventEndIndex"] = i + 1  # exclusive (RejectedLogEventsInfo)
        elif expired_before is not None and ts < expired_before:
            rejected["expiredLogEventEndIndex"] = i + 1
        elif ts > too_new_after:
            rejected.setdefault("tooNewLogEventStartIndex", i)  # inclusive
        else:
            accepted.append(event)
    if accepted and accepted[-1]["timestamp"] - accepted[0]["timestamp"] > DAY_MS:
        raise InvalidParameter("The batch of log events in a single PutLogEvents request cannot span "
                               "more than 24 hours.")
    backend.tables.append(ctx.account, ctx.region, params["logGroupName"], params["logStreamName"],
                    [(e["timestamp"], e["message"]) for e in accepted], now)
    seq = backend.tables.next_upload_seq(ctx.account, ctx.region, params["logGroupName"], params["logStreamName"])
    return {"nextSequenceToken": f"{seq:056d}", "rejectedLogEventsInfo": rejected or None}


def get_log_events(backend: LogsBackend, ctx, params):
    group = backend.group_name(ctx, params)
    stream = backend.existing_stream(ctx, group, params["logStreamName"])
    events, forward, backward = reading.page(
        backend.source(ctx, stream), params.get("startTime"), params.get("endTime"), params.get("nextToken"),
        bool(params.get("startFromHead")), params.get("limit", MAX_EVENTS), MAX_PAGE_BYTES, _event_bytes)
    return {"events": [{"timestamp": e.ts, "message": e.message, "ingestionTime": e.ingested} for e in events],
            "nextForwardToken": forward, "nextBackwardToken": backward}


def filter_log_events(backend: LogsBackend, ctx, params):
    """Events of a group's streams, interleaved by (timestamp, stream, arrival); startTime and
    endTime are both inclusive. Unknown names in logStreamNames are ignored."""
    group = backend.group_name(ctx, params)
    backend.existing_group(ctx, group)
    names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive; "
                               "specify only one of them.")
    matches = patterns.matcher(params.get("filterPattern"))
    streams = {s["name"]: s for s in backend.tables.streams(ctx.account, ctx.region, group)
               if (names is None or s["name"] in names) and (prefix is None or s["name"].startswith(prefix))}
    boundary = _decode_filter_token(params["nextToken"]) if params.get("nextToken") else None
    start = min(params.get("startTime") or 0, reading.MAX_TS)
    end = min(params.get("endTime", reading.MAX_TS), reading.MAX_TS)
    lo_ts = max(start, boundary[0]) if boundary else start
    # Straight from the store, a chunk at a time (running jobs' output is stored as it comes).
    stored = (e for e in reading.positioned(backend.tables.group_events(ctx.account, ctx.region, group, lo_ts, end))
              if e.stream in streams)
    limit, found, size, token = params.get("limit", MAX_EVENTS), [], 0, None
    for event in stored:
        if boundary and _filter_key(event) < boundary:
            continue
        if not matches(event.message):
            continue
        size += _event_bytes(event)
        if len(found) == limit or (size > MAX_PAGE_BYTES and found):
            token = _encode_filter_token(_filter_key(event))
            break
        found.append(event)
    return {"events": [{"logStreamName": e.stream, "timestamp": e.ts, "message": e.message,
                        "ingestionTime": e.ingested,
                        "eventId": f"{e.ts:020d}{streams[e.stream]['seq']:016d}{e.k:020d}"}
                       for e in found],
            # API FilterLogEvents: "no longer supported ... returns an empty list" (2020).
            "searchedLogStreams": [],
            "nextToken": token}


def _filter_key(event) -> tuple:
    return (event.ts, event.stream, event.k)


def _encode_filter_token(key: tuple) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_filter_token(token: str) -> tuple:
    try:
        ts, stream, k = json.loads(base64.urlsafe_b64decode(token.encode()))
        if not (isinstance(ts, int) and isinstance(stream, str) and isinstance(k, int)
                and 0 <= ts <= reading.MAX_TS and k >= 0):
            raise ValueError(token)
        return (ts, stream, k)
    except (binascii.Error, ValueError, TypeError):
        raise invalid_token()


# -- tags ------------------------------------------------------------------------------------

def _tagged_group(backend: LogsBackend, ctx, arn: str) -> dict:
    name = backend.group_name_from_arn(ctx, arn)
    if name is None:
        raise InvalidParameter(f"Invalid resource ARN {arn}: batchemu tags log groups of this account "
                               f"and region (arn:aws:logs:<region>:<account>:log-group:<name>)")
    group = backend.tables.group(ctx.account, ctx.region, name)
    if group is None:
        raise group_not_found()
    return group


def _add_tags(backend: LogsBackend, ctx, group: dict, tags: dict) -> None:
    merged = dict(group["tags"], **tags)
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"A log group can have no more than {MAX_TAGS} tags.")
    backend.tables.update_group(ctx.account, ctx.region, group["name"], tags=merged)


def _remove_tags(backend: LogsBackend, ctx, group: dict, keys) -> None:
    backend.tables.update_group(ctx.account, ctx.region, group["name"],
                          tags={k: v for k, v in group["tags"].items() if k not in set(keys)})


def tag_resource(backend: LogsBackend, ctx, params):
    _add_tags(backend, ctx, _tagged_group(backend, ctx, params["resourceArn"]), params["tags"])
    return {}


def untag_resource(backend: LogsBackend, ctx, params):
    _remove_tags(backend, ctx, _tagged_group(backend, ctx, params["resourceArn"]), params["tagKeys"])
    return {}


def list_tags_for_resource(backend: LogsBackend, ctx, params):
    return {"tags": _tagged_group(backend, ctx, params["resourceArn"])["tags"]}


def tag_log_group(backend: LogsBackend, ctx, params):  # the deprecated, name-based variants
    _add_tags(backend, ctx, backend.existing_group(ctx, params["logGroupName"]), params["tags"])
    return {}


def untag_log_group(backend: LogsBackend, ctx, params):
    _remove_tags(backend, ctx, backend.existing_group(ctx, params["logGroupName"]), params["tags"])
    return {}


def list_tags_log_group(backend: LogsBackend, ctx, params):
    return {"tags": backend.existing_group(ctx, params["logGroupName"])["tags"]}
