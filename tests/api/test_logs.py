"""CloudWatch Logs through a real boto3 `logs` client against a live server: groups, streams,
PutLogEvents rules, GetLogEvents paging in both directions until the token repeats,
FilterLogEvents patterns and pages, Describe* ordering and pages, retention, tags, errors;
and job output: readable while the job runs, per attempt, in the configured awslogs group,
after a restart, and live from a running Docker container."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from botocore.exceptions import ClientError

from batchemu.testing import running_server
from tests.helpers import sigv4_headers
from tests.e2e.support import (docker_client, make_definition, make_queue, new_account, wait_done,
                               wait_for, wait_until)

NOW = int(time.time() * 1000)
JOB_GROUP = "/aws/batch/job"


@pytest.fixture()
def logs(server):
    return server.client("logs", access_key=new_account())


def error(exc) -> tuple:
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def put(logs, group, stream, *messages, start=NOW, create=True):
    if create:
        if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
            logs.create_log_group(logGroupName=group)
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    return logs.put_log_events(logGroupName=group, logStreamName=stream,
                               logEvents=[{"timestamp": start + i, "message": m} for i, m in enumerate(messages)])


def messages(response) -> list:
    return [e["message"] for e in response["events"]]


# -- groups and streams -----------------------------------------------------------------------

def test_create_and_describe_group_and_stream(logs):
    logs.create_log_group(logGroupName="app/one", tags={"team": "a"})
    logs.create_log_stream(logGroupName="app/one", logStreamName="s1")
    (group,) = logs.describe_log_groups()["logGroups"]
    assert group["logGroupName"] == "app/one"
    assert group["arn"].endswith(":log-group:app/one:*") and group["logGroupArn"] == group["arn"][:-2]
    assert group["arn"].startswith("arn:aws:logs:us-east-1:")
    assert group["storedBytes"] == 0 and "retentionInDays" not in group
    assert abs(group["creationTime"] - time.time() * 1000) < 60_000
    (stream,) = logs.describe_log_streams(logGroupName="app/one")["logStreams"]
    assert stream["logStreamName"] == "s1" and stream["storedBytes"] == 0
    assert stream["arn"] == group["logGroupArn"] + ":log-stream:s1"
    assert "firstEventTimestamp" not in stream and "lastEventTimestamp" not in stream


def test_groups_are_per_account(server, logs):
    logs.create_log_group(logGroupName="mine")
    other = server.client("logs", access_key=new_account())
    assert other.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as exc:
        other.create_log_stream(logGroupName="mine", logStreamName="s")
    assert error(exc)[:2] == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_duplicates_and_unknowns_are_errors(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName="g")
    assert error(exc) == ("ResourceAlreadyExistsException", "The specified log group already exists", 400)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName="g", logStreamName="s")
    assert error(exc)[0] == "ResourceAlreadyExistsException"
    cases = [
        (logs.get_log_events, {"logGroupName": "nope", "logStreamName": "s"}, "The specified log group does not exist."),
        (logs.get_log_events, {"logGroupName": "g", "logStreamName": "nope"}, "The specified log stream does not exist."),
        (logs.delete_log_stream, {"logGroupName": "g", "logStreamName": "nope"}, "The specified log stream does not exist."),
        (logs.delete_log_group, {"logGroupName": "nope"}, "The specified log group does not exist."),
        (logs.describe_log_streams, {"logGroupName": "nope"}, "The specified log group does not exist."),
        (logs.filter_log_events, {"logGroupName": "nope"}, "The specified log group does not exist."),
        (logs.put_log_events, {"logGroupName": "g", "logStreamName": "nope",
                               "logEvents": [{"timestamp": NOW, "message": "x"}]},
         "The specified log stream does not exist."),
    ]
    for call, kwargs, text in cases:
        with pytest.raises(ClientError) as exc:
            call(**kwargs)
        assert error(exc) == ("ResourceNotFoundException", text, 400), call


def test_delete_stream_and_group_remove_their_events(logs):
    put(logs, "g", "a", "one")
    logs.create_log_stream(logGroupName="g", logStreamName="b")
    logs.put_log_events(logGroupName="g", logStreamName="b", logEvents=[{"timestamp": NOW, "message": "two"}])
    logs.delete_log_stream(logGroupName="g", logStreamName="a")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="g")["logStreams"]] == ["b"]
    assert messages(logs.filter_log_events(logGroupName="g")) == ["two"]
    logs.delete_log_group(logGroupName="g")
    assert logs.describe_log_groups()["logGroups"] == []
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="b")
    assert messages(logs.get_log_events(logGroupName="g", logStreamName="b")) == []


def test_deletion_protection_blocks_delete(logs):
    logs.create_log_group(logGroupName="kept", deletionProtectionEnabled=True)
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName="kept")
    assert error(exc)[0] == "ValidationException"
    logs.put_log_group_deletion_protection(logGroupIdentifier="kept", deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName="kept")
    assert logs.describe_log_groups()["logGroups"] == []


@pytest.mark.parametrize("call, kwargs, text", [
    ("create_log_group", {"logGroupName": "bad name!"}, "Member must satisfy regular expression pattern"),
    ("create_log_group", {"logGroupName": "aws/mine"}, "can't start with the string aws/"),
    ("create_log_stream", {"logGroupName": "g", "logStreamName": "a:b"}, "at 'logStreamName'"),
    ("get_log_events", {"logGroupName": "g", "logStreamName": "s", "limit": 10001}, "Member must have value between 1 and 10000"),
    ("get_log_events", {"logGroupName": "g", "logGroupIdentifier": "g", "logStreamName": "s"}, "mutually exclusive"),
    ("get_log_events", {"logStreamName": "s"}, "must be specified"),
    ("get_log_events", {"logGroupName": "g", "logStreamName": "s", "nextToken": "f/123"},
     "The specified nextToken is invalid."),
    ("describe_log_streams", {"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "a"},
     "Cannot order by LastEventTime with a logStreamNamePrefix."),
    ("describe_log_streams", {"logGroupName": "g", "limit": 51}, "Member must have value between 1 and 50"),
    ("describe_log_groups", {"logGroupNamePrefix": "a", "logGroupNamePattern": "b"}, "mutually exclusive"),
    ("filter_log_events", {"logGroupName": "g", "logStreamNames": ["s"], "logStreamNamePrefix": "s"},
     "mutually exclusive"),
    ("filter_log_events", {"logGroupName": "g", "filterPattern": "{ $.level = \"ERROR\" }"}, "JSON"),
    ("filter_log_events", {"logGroupName": "g", "nextToken": "garbage"}, "The specified nextToken is invalid."),
    ("put_retention_policy", {"logGroupName": "g", "retentionInDays": 2},
     "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30"),
])
def test_invalid_parameters(logs, call, kwargs, text):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    with pytest.raises(ClientError) as exc:
        getattr(logs, call)(**kwargs)
    code, message, status = error(exc)
    assert (code, status) == ("InvalidParameterException", 400)
    assert text in message


def test_retention_is_stored_and_reported(logs):
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=14)
    assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName="g")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName="nope", retentionInDays=1)
    assert error(exc)[0] == "ResourceNotFoundException"


def test_tags_by_arn_and_by_name(logs):
    logs.create_log_group(logGroupName="g", tags={"a": "1"})
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    logs.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    with pytest.raises(ClientError) as exc:  # the `arn` form (with :*) fails the model's pattern, as on AWS
        logs.list_tags_for_resource(resourceArn=arn + ":*")
    assert error(exc)[0] == "InvalidParameterException"
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.tag_log_group(logGroupName="g", tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName="g")["tags"] == {"b": "2", "c": "3"}
    logs.untag_log_group(logGroupName="g", tags=["b", "c"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {}
    with pytest.raises(ClientError) as exc:
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(51)})
    assert error(exc)[0] == "InvalidParameterException"  # the model caps a request at 50
    logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    with pytest.raises(ClientError) as exc:
        logs.tag_resource(resourceArn=arn, tags={"one-more": "v"})
    assert error(exc)[0] == "TooManyTagsException"
    with pytest.raises(ClientError) as exc:
        logs.list_tags_for_resource(resourceArn=arn.replace(":g", ":missing"))
    assert error(exc)[0] == "ResourceNotFoundException"


# -- PutLogEvents ------------------------------------------------------------------------------

def test_put_log_events_rules(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    first = logs.put_log_events(logGroupName="g", logStreamName="s",
                                logEvents=[{"timestamp": NOW, "message": "a"}])
    second = logs.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="ignored",
                                 logEvents=[{"timestamp": NOW + 1, "message": "b"}])
    assert first["nextSequenceToken"] != second["nextSequenceToken"]
    assert "rejectedLogEventsInfo" not in second
    bad = [
        ([{"timestamp": NOW + 5, "message": "late"}, {"timestamp": NOW, "message": "early"}],
         "Log events in a single PutLogEvents request must be in chronological order."),
        ([{"timestamp": NOW - 25 * 3600_000, "message": "x"}, {"timestamp": NOW, "message": "y"}],
         "cannot span more than 24 hours"),
        ([{"timestamp": NOW, "message": "x" * 600_000}, {"timestamp": NOW, "message": "y" * 600_000}],
         "Upload too large: 1200052 bytes exceeds limit of 1048576"),
    ]
    for events, text in bad:
        with pytest.raises(ClientError) as exc:
            logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=events)
        code, message, _ = error(exc)
        assert code == "InvalidParameterException" and text in message
    out = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": NOW - 15 * 86400_000, "message": "too old"},
        {"timestamp": NOW + 2, "message": "kept"},
        {"timestamp": NOW + 3 * 3600_000, "message": "too new"}])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1, "tooNewLogEventStartIndex": 2}
    stored = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)
    assert messages(stored) == ["a", "b", "kept"]
    assert all(abs(e["ingestionTime"] - time.time() * 1000) < 60_000 for e in stored["events"])


def test_put_log_events_rejects_events_older_than_the_retention(logs):
    logs.create_log_group(logGroupName="g")
    logs.put_retention_policy(logGroupName="g", retentionInDays=1)
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    out = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": NOW - 2 * 86400_000, "message": "expired"},
        {"timestamp": NOW, "message": "kept"}])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    assert messages(logs.get_log_events(logGroupName="g", logStreamName="s")) == ["kept"]


# -- GetLogEvents ------------------------------------------------------------------------------

def read_forward(logs, limit, token=None, **kwargs):
    """Pages forward until the token comes back unchanged; (pages, last token)."""
    pages = []
    while True:
        extra = {"nextToken": token} if token else {}
        out = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True, limit=limit,
                                  **extra, **kwargs)
        if token is not None and out["nextForwardToken"] == token:
            assert out["events"] == []
            return pages, token
        pages.append(messages(out))
        token = out["nextForwardToken"]


def test_get_log_events_forward_until_the_token_repeats(logs):
    # Three events share a timestamp: positions inside one millisecond must page correctly.
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": NOW, "message": "m0"}, {"timestamp": NOW + 1, "message": "m1"},
        {"timestamp": NOW + 1, "message": "m2"}, {"timestamp": NOW + 1, "message": "m3"},
        {"timestamp": NOW + 2, "message": "m4"}])
    pages, token = read_forward(logs, limit=2)
    assert pages == [["m0", "m1"], ["m2", "m3"], ["m4"]]
    # Nothing new: the same token again, and again.
    again = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True, nextToken=token)
    assert again["events"] == [] and again["nextForwardToken"] == token
    # New events (one with the same millisecond as the last) show up behind the token.
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": NOW + 2, "message": "m5"}, {"timestamp": NOW + 3, "message": "m6"}])
    pages, _ = read_forward(logs, limit=10, token=token)
    assert pages == [["m5", "m6"]]


def test_get_log_events_backward_from_the_tail(logs):
    put(logs, "g", "s", *[f"m{i}" for i in range(7)])
    out = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3)  # the latest, oldest first
    assert messages(out) == ["m4", "m5", "m6"]
    pages, token = [], out["nextBackwardToken"]
    while True:
        out = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3, nextToken=token)
        if out["nextBackwardToken"] == token:
            assert out["events"] == []
            break
        pages.append(messages(out))
        token = out["nextBackwardToken"]
    assert pages == [["m1", "m2", "m3"], ["m0"]]
    # From the start, forward again with the other token.
    forward = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3, nextToken=out["nextForwardToken"],
                                  startFromHead=True)
    assert messages(forward) == ["m0", "m1", "m2"]


def test_get_log_events_time_range_and_identifier(logs):
    put(logs, "g", "s", "t0", "t1", "t2", "t3")
    out = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=NOW + 1, endTime=NOW + 3,
                              startFromHead=True)
    assert messages(out) == ["t1", "t2"]  # startTime inclusive, endTime exclusive
    arn = logs.describe_log_groups()["logGroups"][0]["logGroupArn"]
    by_arn = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s")
    by_name = logs.get_log_events(logGroupIdentifier="g", logStreamName="s")
    assert messages(by_arn) == messages(by_name) == ["t0", "t1", "t2", "t3"]


def test_get_log_events_empty_stream_then_events_arrive(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    out = logs.get_log_events(logGroupName="g", logStreamName="s", startFromHead=True)
    assert out["events"] == [] and out["nextForwardToken"].startswith("f/")
    assert out["nextBackwardToken"].startswith("b/")
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": NOW, "message": "late"}])
    later = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=out["nextForwardToken"])
    assert messages(later) == ["late"]


def test_get_log_events_pages_by_size(logs):
    logs.create_log_group(logGroupName="g")
    logs.create_log_stream(logGroupName="g", logStreamName="s")
    big = "x" * 400_000
    for i in range(3):
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": NOW + i, "message": big}])
    pages, _ = read_forward(logs, limit=10_000)
    assert [len(p) for p in pages] == [2, 1]  # 1 MB per page


# -- FilterLogEvents ---------------------------------------------------------------------------

@pytest.fixture()
def app_logs(logs):
    put(logs, "g", "web-1", "GET /a 200", "ERROR db timeout", "GET /b 500", start=NOW)
    put(logs, "g", "web-2", "ERROR disk full", "WARN slow request", start=NOW + 1)
    put(logs, "g", "worker", "job done", "ERROR Exit code 1", start=NOW + 10)
    return logs


@pytest.mark.parametrize("pattern, expected", [
    # By timestamp, then stream name: web-1 before web-2 within a millisecond.
    (None, ["GET /a 200", "ERROR db timeout", "ERROR disk full", "GET /b 500", "WARN slow request",
            "job done", "ERROR Exit code 1"]),
    ("ERROR", ["ERROR db timeout", "ERROR disk full", "ERROR Exit code 1"]),
    ("ERROR disk", ["ERROR disk full"]),
    ('"Exit code 1"', ["ERROR Exit code 1"]),
    ("?WARN ?500", ["GET /b 500", "WARN slow request"]),
    ("ERROR -disk", ["ERROR db timeout", "ERROR Exit code 1"]),
    ("%GET /[ab] 5..%", ["GET /b 500"]),
    ("error", []),  # case-sensitive
])
def test_filter_patterns(app_logs, pattern, expected):
    kwargs = {"filterPattern": pattern} if pattern is not None else {}
    out = app_logs.filter_log_events(logGroupName="g", **kwargs)
    assert messages(out) == expected
    assert out["searchedLogStreams"] == []


def test_filter_streams_time_range_and_fields(app_logs):
    out = app_logs.filter_log_events(logGroupName="g", logStreamNames=["web-2", "worker", "unknown"])
    assert [(e["logStreamName"], e["message"]) for e in out["events"]] == [
        ("web-2", "ERROR disk full"), ("web-2", "WARN slow request"), ("worker", "job done"),
        ("worker", "ERROR Exit code 1")]
    event = out["events"][0]
    assert event["timestamp"] == NOW + 1 and event["ingestionTime"] >= NOW
    assert messages(app_logs.filter_log_events(logGroupName="g", logStreamNamePrefix="web-1")) == [
        "GET /a 200", "ERROR db timeout", "GET /b 500"]
    # startTime and endTime are both inclusive here.
    assert messages(app_logs.filter_log_events(logGroupName="g", startTime=NOW + 1, endTime=NOW + 2)) == [
        "ERROR db timeout", "ERROR disk full", "GET /b 500", "WARN slow request"]
    every = app_logs.filter_log_events(logGroupName="g")["events"]
    assert len({e["eventId"] for e in every}) == len(every) == 7


def test_filter_pages_with_next_token(app_logs):
    pages, kwargs = [], {}
    while True:
        out = app_logs.filter_log_events(logGroupName="g", limit=3, **kwargs)
        pages.append(messages(out))
        if "nextToken" not in out:
            break
        kwargs = {"nextToken": out["nextToken"]}
    assert [len(p) for p in pages] == [3, 3, 1]
    paginated = app_logs.get_paginator("filter_log_events").paginate(
        logGroupName="g", filterPattern="ERROR", PaginationConfig={"PageSize": 1})
    assert [e["message"] for page in paginated for e in page["events"]] == [
        "ERROR db timeout", "ERROR disk full", "ERROR Exit code 1"]


# -- Describe* ordering and pages ------------------------------------------------------------------

def test_describe_log_streams_order_and_pages(logs):
    logs.create_log_group(logGroupName="g")
    for name, ts in (("b", NOW + 5), ("a", NOW + 9), ("c", NOW + 1)):
        logs.create_log_stream(logGroupName="g", logStreamName=name)
        logs.put_log_events(logGroupName="g", logStreamName=name, logEvents=[{"timestamp": ts, "message": "x"}])
    names = lambda **kw: [s["logStreamName"] for s in logs.describe_log_streams(logGroupName="g", **kw)["logStreams"]]  # noqa: E731
    assert names() == ["a", "b", "c"]
    assert names(descending=True) == ["c", "b", "a"]
    assert names(orderBy="LastEventTime") == ["c", "b", "a"]
    assert names(orderBy="LastEventTime", descending=True) == ["a", "b", "c"]
    assert names(logStreamNamePrefix="b") == ["b"]
    (a,) = [s for s in logs.describe_log_streams(logGroupName="g")["logStreams"] if s["logStreamName"] == "a"]
    assert a["firstEventTimestamp"] == a["lastEventTimestamp"] == NOW + 9 and a["lastIngestionTime"] >= NOW
    paged = logs.get_paginator("describe_log_streams").paginate(
        logGroupName="g", orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 2})
    assert [[s["logStreamName"] for s in page["logStreams"]] for page in paged] == [["a", "b"], ["c"]]


def test_describe_log_groups_filters_and_pages(logs):
    for name in ("/aws/batch/job", "/app/api", "/app/worker", "other"):
        logs.create_log_group(logGroupName=name)
    groups = lambda **kw: [g["logGroupName"] for g in logs.describe_log_groups(**kw)["logGroups"]]  # noqa: E731
    assert groups() == ["/app/api", "/app/worker", "/aws/batch/job", "other"]
    assert groups(logGroupNamePrefix="/app/") == ["/app/api", "/app/worker"]
    assert groups(logGroupNamePattern="work") == ["/app/worker"]
    assert set(logs.describe_log_groups(logGroupNamePattern="work")["logGroups"][0]) == {
        "logGroupName", "creationTime", "arn"}
    assert groups(logGroupIdentifiers=["other", "/app/api"]) == ["/app/api", "other"]
    paged = logs.get_paginator("describe_log_groups").paginate(PaginationConfig={"PageSize": 3})
    assert [len(page["logGroups"]) for page in paged] == [3, 1]
    logs.create_log_stream(logGroupName="other", logStreamName="s")
    logs.put_log_events(logGroupName="other", logStreamName="s", logEvents=[{"timestamp": NOW, "message": "12345"}])
    (other,) = logs.describe_log_groups(logGroupNamePrefix="other")["logGroups"]
    assert other["storedBytes"] == 5


# -- the protocol as seen over HTTP ----------------------------------------------------------------

def raw(server, target, body=b"{}"):
    headers = sigv4_headers("POST", server.url + "/", body, service="logs", headers={
        "X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"})
    request = urllib.request.Request(server.url + "/", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_unimplemented_and_unknown_operations_answer_json(server):
    status, headers, body = raw(server, "Logs_20140328.StartQuery",
                                b'{"logGroupName":"g","startTime":1,"endTime":2,"queryString":"x"}')
    assert status == 501 and body["__type"] == "NotImplemented" and "StartQuery" in body["message"]
    assert headers["Content-Type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-ErrorType"] == "NotImplemented" and headers["x-amzn-RequestId"]
    status, _, body = raw(server, "Logs_20140328.NoSuchThing")
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, _, body = raw(server, "Logs_20140328.CreateLogGroup", b"not json")
    assert (status, body["__type"]) == (400, "InvalidParameterException")
    status, _, body = raw(server, "Logs_20140328.CreateLogGroup", b"{}")
    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert "logGroupName" in body["message"]


# -- job output ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def process_server():
    with running_server(runner="process", stop_grace_seconds=2) as server:
        yield server


@pytest.fixture()
def job_env(process_server):
    account = new_account()
    batch = process_server.client("batch", access_key=account)
    make_queue(batch, "q", max_vcpus=4)
    return batch, process_server.client("logs", access_key=account)


def task_id(job: dict) -> str:
    return job["container"]["taskArn"].rsplit("/", 1)[1]


def read_all(logs, group, stream, token=None):
    """Forward from `token` (or the head) until the token repeats: (lines, last token)."""
    lines = []
    while True:
        kwargs = {"nextToken": token} if token else {}
        out = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kwargs)
        lines += messages(out)
        if out["nextForwardToken"] == token:
            return lines, token
        token = out["nextForwardToken"]


def test_job_output_is_readable_while_the_job_runs(job_env):
    batch, logs = job_env
    make_definition(batch, "slow-echo", ["sh", "-c", "echo one; sleep 2; echo two"], image="ignored:latest")
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="slow-echo")["jobId"]
    job = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 30, "RUNNING")
    stream = job["container"]["logStreamName"]
    assert stream == f"slow-echo/default/{task_id(job)}"  # ref §6.10
    # The stream exists from the start of the attempt.
    listed = logs.describe_log_streams(logGroupName=JOB_GROUP)["logStreams"]
    assert [s["logStreamName"] for s in listed] == [stream]
    assert JOB_GROUP in [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]

    def first_line():
        out = logs.get_log_events(logGroupName=JOB_GROUP, logStreamName=stream, startFromHead=True)
        return out if messages(out) else None
    early = wait_until(first_line, 10, "the first line")
    still = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
    assert messages(early) == ["one"] and still == "RUNNING"
    done = wait_done(batch, job_id, timeout=30)
    assert done["status"] == "SUCCEEDED"
    rest, _ = read_all(logs, JOB_GROUP, stream, early["nextForwardToken"])
    assert rest == ["two"]
    assert read_all(logs, JOB_GROUP, stream)[0] == ["one", "two"]
    hits = logs.filter_log_events(logGroupName=JOB_GROUP, filterPattern="two")["events"]
    assert [(e["logStreamName"], e["message"]) for e in hits] == [(stream, "two")]


def test_each_attempt_has_its_own_stream(job_env):
    batch, logs = job_env
    make_definition(batch, "flaky", ["sh", "-c", "echo attempt $AWS_BATCH_JOB_ATTEMPT; exit 3"],
                    image="ignored:latest")
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="flaky",
                              retryStrategy={"attempts": 2})["jobId"]
    job = wait_done(batch, job_id, timeout=30)
    assert job["status"] == "FAILED" and len(job["attempts"]) == 2
    streams = [a["container"]["logStreamName"] for a in job["attempts"]]
    assert len(set(streams)) == 2 and streams[-1] == job["container"]["logStreamName"]
    for number, stream in enumerate(streams, start=1):
        assert read_all(logs, JOB_GROUP, stream)[0] == [f"attempt {number}"]


def test_awslogs_group_and_stream_prefix_are_honoured(job_env):
    batch, logs = job_env
    make_definition(batch, "custom", ["sh", "-c", "echo to-custom"], image="ignored:latest",
                    logConfiguration={"logDriver": "awslogs", "options": {
                        "awslogs-group": "/custom/jobs", "awslogs-stream-prefix": "pfx"}})
    job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="custom")["jobId"]
    job = wait_done(batch, job_id, timeout=30)
    stream = job["container"]["logStreamName"]
    assert stream == f"pfx/default/{task_id(job)}"
    assert read_all(logs, "/custom/jobs", stream)[0] == ["to-custom"]
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/custom/")["logGroups"]
    assert group["logGroupName"] == "/custom/jobs"


def test_job_output_and_own_groups_survive_a_restart(tmp_path):
    account = new_account()
    with running_server(runner="process", data_dir=tmp_path, stop_grace_seconds=2) as server:
        batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "echo", ["sh", "-c", "echo kept across restarts"], image="ignored:latest")
        job = wait_done(batch, batch.submit_job(jobName="j", jobQueue="q", jobDefinition="echo")["jobId"])
        put(logs, "mine", "s", "my own line")
    with running_server(runner="process", data_dir=tmp_path) as server:
        logs = server.client("logs", access_key=account)
        stream = job["container"]["logStreamName"]
        assert read_all(logs, JOB_GROUP, stream)[0] == ["kept across restarts"]
        assert messages(logs.get_log_events(logGroupName="mine", logStreamName="s")) == ["my own line"]
        assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == [JOB_GROUP, "mine"]


@pytest.mark.docker
def test_docker_job_output_is_readable_while_the_container_runs():
    docker_client()  # skips (or fails under BATCHEMU_REQUIRE_DOCKER=1) without an engine and image
    with running_server(runner="docker", stop_grace_seconds=1) as server:
        account = new_account()
        batch, logs = server.client("batch", access_key=account), server.client("logs", access_key=account)
        make_queue(batch, "q", max_vcpus=2)
        make_definition(batch, "live", ["sh", "-c", "echo one; sleep 3; echo two"])
        job_id = batch.submit_job(jobName="j", jobQueue="q", jobDefinition="live")["jobId"]
        job = wait_for(batch, job_id, lambda j: j["status"] == "RUNNING", 60, "RUNNING")
        stream = job["container"]["logStreamName"]

        def first_line():
            out = logs.get_log_events(logGroupName=JOB_GROUP, logStreamName=stream, startFromHead=True)
            return out if messages(out) else None
        early = wait_until(first_line, 10, "the first line from the running container")
        assert messages(early) == ["one"]
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "RUNNING"
        assert messages(logs.filter_log_events(logGroupName=JOB_GROUP)) == ["one"]
        assert wait_done(batch, job_id, timeout=60)["status"] == "SUCCEEDED"
        # The same token continues once the output is stored: no line twice, none lost.
        assert read_all(logs, JOB_GROUP, stream, early["nextForwardToken"])[0] == ["two"]
        assert read_all(logs, JOB_GROUP, stream)[0] == ["one", "two"]
