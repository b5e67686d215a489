"""CloudWatch Logs operations, one function per operation (`op_name(b, ctx, p) -> dict`, found
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

def create_log_group(b: LogsBackend, ctx, p):
    name = p["logGroupName"]
    if name.startswith("aws/"):  # API_CreateLogGroup naming rules
        raise InvalidParameter("Log group names can't start with the string aws/")
    created = b.tables.create_group(ctx.account, ctx.region, name, ctx.now_ms, p.get("kmsKeyId"),
                                    p.get("logGroupClass") or "STANDARD",
                                    bool(p.get("deletionProtectionEnabled")), p.get("tags"))
    if not created:
        raise ResourceAlreadyExists("The specified log group already exists")
    return {}


def delete_log_group(b: LogsBackend, ctx, p):
    group = b.existing_group(ctx, p["logGroupName"])
    if group["deletion_protection"]:
        raise Validation(f"Log group {group['name']} has deletion protection enabled; turn it off "
                         "with PutLogGroupDeletionProtection first")
    b.tables.delete_group(ctx.account, ctx.region, group["name"])
    return {}


def put_log_group_deletion_protection(b: LogsBackend, ctx, p):
    name = b.group_name(ctx, {"logGroupIdentifier": p["logGroupIdentifier"]})
    b.existing_group(ctx, name)
    b.tables.update_group(ctx.account, ctx.region, name,
                          deletion_protection=int(p["deletionProtectionEnabled"]))
    return {}


def describe_log_groups(b: LogsBackend, ctx, p):
    prefix, pattern = p.get("logGroupNamePrefix"), p.get("logGroupNamePattern")
    identifiers = p.get("logGroupIdentifiers")
    if prefix is not None and pattern is not None:
        raise InvalidParameter("LogGroupNamePrefix and LogGroupNamePattern are mutually exclusive; "
                               "specify only one of them.")
    if identifiers is not None and (prefix is not None or pattern is not None):
        raise InvalidParameter("logGroupIdentifiers cannot be combined with logGroupNamePrefix or "
                               "logGroupNamePattern.")
    groups = b.tables.groups(ctx.account, ctx.region)
    if prefix is not None:
        groups = [g for g in groups if g["name"].startswith(prefix)]
    if pattern:  # a case-sensitive substring search
        groups = [g for g in groups if pattern in g["name"]]
    if p.get("logGroupClass"):
        groups = [g for g in groups if g["group_class"] == p["logGroupClass"]]
    if identifiers is not None:
        wanted = {(b.group_name_from_arn(ctx, i) if i.startswith("arn:") else i) for i in identifiers}
        groups = [g for g in groups if g["name"] in wanted]
    chosen, token = paginate(groups, lambda g: (g["name"],), p.get("nextToken"), p.get("limit", 50),
                             False, "groups")
    out = []
    for g in chosen:
        arn = b.group_arn(ctx, g["name"])
        if pattern is not None:
            # API_DescribeLogGroups: with a pattern only these three are returned.
            out.append({"logGroupName": g["name"], "creationTime": g["created"], "arn": arn + ":*"})
            continue
        out.append({"logGroupName": g["name"], "creationTime": g["created"],
                    "retentionInDays": g["retention_days"], "metricFilterCount": 0, "arn": arn + ":*",
                    "logGroupArn": arn, "kmsKeyId": g["kms_key_id"], "logGroupClass": g["group_class"],
                    "deletionProtectionEnabled": g["deletion_protection"],
                    "storedBytes": b.tables.stored_bytes(ctx.account, ctx.region, g["name"])})
    return {"logGroups": out, "nextToken": token}


def put_retention_policy(b: LogsBackend, ctx, p):
    days = p["retentionInDays"]
    if days not in RETENTION_DAYS:
        raise InvalidParameter(f"1 validation error detected: Value '{days}' at 'retentionInDays' failed "
                               f"to satisfy constraint: Member must satisfy enum value set: "
                               f"[{', '.join(map(str, RETENTION_DAYS))}]")
    b.existing_group(ctx, p["logGroupName"])
    b.tables.update_group(ctx.account, ctx.region, p["logGroupName"], retention_days=days)
    return {}


def delete_retention_policy(b: LogsBackend, ctx, p):
    b.existing_group(ctx, p["logGroupName"])
    b.tables.update_group(ctx.account, ctx.region, p["logGroupName"], retention_days=None)
    return {}


# -- log streams -----------------------------------------------------------------------------

def create_log_stream(b: LogsBackend, ctx, p):
    b.existing_group(ctx, p["logGroupName"])
    if not b.tables.create_stream(ctx.account, ctx.region, p["logGroupName"], p["logStreamName"], ctx.now_ms):
        raise ResourceAlreadyExists("The specified log stream already exists")
    return {}


def delete_log_stream(b: LogsBackend, ctx, p):
    b.existing_stream(ctx, p["logGroupName"], p["logStreamName"])
    b.tables.delete_stream(ctx.account, ctx.region, p["logGroupName"], p["logStreamName"])
    return {}


def describe_log_streams(b: LogsBackend, ctx, p):
    """firstEventTimestamp/lastEventTimestamp/lastIngestionTime count stored events: a Docker
    job's output is stored when it ends (AWS updates these eventually too)."""
    group = b.group_name(ctx, p)
    b.existing_group(ctx, group)
    order, prefix = p.get("orderBy", "LogStreamName"), p.get("logStreamNamePrefix")
    if order == "LastEventTime" and prefix is not None:
        raise InvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
    streams = b.tables.streams(ctx.account, ctx.region, group)
    if prefix is not None:
        streams = [s for s in streams if s["name"].startswith(prefix)]
    if order == "LastEventTime":
        # A stream without events sorts by its creation time (a job that just started is recent).
        key = lambda s: (s["last_ts"] if s["last_ts"] is not None else s["created"], s["name"])  # noqa: E731
    else:
        key = lambda s: (s["name"],)  # noqa: E731
    descending = bool(p.get("descending"))
    chosen, token = paginate(streams, key, p.get("nextToken"), p.get("limit", 50), descending,
                             f"streams/{order}/{descending}")
    out = [{"logStreamName": s["name"], "creationTime": s["created"],
            "firstEventTimestamp": s["first_ts"], "lastEventTimestamp": s["last_ts"],
            "lastIngestionTime": s["last_ingested"],
            "uploadSequenceToken": f"{s['upload_seq']:056d}" if s["upload_seq"] else None,
            "arn": b.stream_arn(ctx, group, s["name"]),
            "storedBytes": 0}  # API LogStream: "always reported as zero" for streams since 2019
           for s in chosen]
    return {"logStreams": out, "nextToken": token}


# -- events ----------------------------------------------------------------------------------

def put_log_events(b: LogsBackend, ctx, p):
    """API_PutLogEvents: chronological order, 1 MB batch, 24 h span; events more than 14 days
    old (or older than the retention) or 2 hours ahead are rejected, the rest are stored.
    The sequence token is ignored, as AWS does now."""
    group = b.existing_group(ctx, p["logGroupName"])
    b.existing_stream(ctx, p["logGroupName"], p["logStreamName"])
    events = p["logEvents"]
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
    b.tables.append(ctx.account, ctx.region, p["logGroupName"], p["logStreamName"],
                    [(e["timestamp"], e["message"]) for e in accepted], now)
    seq = b.tables.next_upload_seq(ctx.account, ctx.region, p["logGroupName"], p["logStreamName"])
    return {"nextSequenceToken": f"{seq:056d}", "rejectedLogEventsInfo": rejected or None}


def get_log_events(b: LogsBackend, ctx, p):
    group = b.group_name(ctx, p)
    stream = b.existing_stream(ctx, group, p["logStreamName"])
    events, forward, backward = reading.page(
        b.source(ctx, stream), p.get("startTime"), p.get("endTime"), p.get("nextToken"),
        bool(p.get("startFromHead")), p.get("limit", MAX_EVENTS), MAX_PAGE_BYTES, _event_bytes)
    return {"events": [{"timestamp": e.ts, "message": e.message, "ingestionTime": e.ingested} for e in events],
            "nextForwardToken": forward, "nextBackwardToken": backward}


def filter_log_events(b: LogsBackend, ctx, p):
    """Events of a group's streams, interleaved by (timestamp, stream, arrival); startTime and
    endTime are both inclusive. Unknown names in logStreamNames are ignored."""
    group = b.group_name(ctx, p)
    b.existing_group(ctx, group)
    names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive; "
                               "specify only one of them.")
    matches = patterns.matcher(p.get("filterPattern"))
    streams = {s["name"]: s for s in b.tables.streams(ctx.account, ctx.region, group)
               if (names is None or s["name"] in names) and (prefix is None or s["name"].startswith(prefix))}
    boundary = _decode_filter_token(p["nextToken"]) if p.get("nextToken") else None
    start = min(p.get("startTime") or 0, reading.MAX_TS)
    end = min(p.get("endTime", reading.MAX_TS), reading.MAX_TS)
    lo_ts = max(start, boundary[0]) if boundary else start
    # Straight from the store, a chunk at a time (running jobs' output is stored as it comes).
    stored = (e for e in reading.positioned(b.tables.group_events(ctx.account, ctx.region, group, lo_ts, end))
              if e.stream in streams)
    limit, found, size, token = p.get("limit", MAX_EVENTS), [], 0, None
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

def _tagged_group(b: LogsBackend, ctx, arn: str) -> dict:
    name = b.group_name_from_arn(ctx, arn)
    if name is None:
        raise InvalidParameter(f"Invalid resource ARN {arn}: batchemu tags log groups of this account "
                               f"and region (arn:aws:logs:<region>:<account>:log-group:<name>)")
    group = b.tables.group(ctx.account, ctx.region, name)
    if group is None:
        raise group_not_found()
    return group


def _add_tags(b: LogsBackend, ctx, group: dict, tags: dict) -> None:
    merged = dict(group["tags"], **tags)
    if len(merged) > MAX_TAGS:
        raise TooManyTags(f"A log group can have no more than {MAX_TAGS} tags.")
    b.tables.update_group(ctx.account, ctx.region, group["name"], tags=merged)


def _remove_tags(b: LogsBackend, ctx, group: dict, keys) -> None:
    b.tables.update_group(ctx.account, ctx.region, group["name"],
                          tags={k: v for k, v in group["tags"].items() if k not in set(keys)})


def tag_resource(b: LogsBackend, ctx, p):
    _add_tags(b, ctx, _tagged_group(b, ctx, p["resourceArn"]), p["tags"])
    return {}


def untag_resource(b: LogsBackend, ctx, p):
    _remove_tags(b, ctx, _tagged_group(b, ctx, p["resourceArn"]), p["tagKeys"])
    return {}


def list_tags_for_resource(b: LogsBackend, ctx, p):
    return {"tags": _tagged_group(b, ctx, p["resourceArn"])["tags"]}


def tag_log_group(b: LogsBackend, ctx, p):  # the deprecated, name-based variants
    _add_tags(b, ctx, b.existing_group(ctx, p["logGroupName"]), p["tags"])
    return {}


def untag_log_group(b: LogsBackend, ctx, p):
    _remove_tags(b, ctx, b.existing_group(ctx, p["logGroupName"]), p["tags"])
    return {}


def list_tags_log_group(b: LogsBackend, ctx, p):
    return {"tags": b.existing_group(ctx, p["logGroupName"])["tags"]}
