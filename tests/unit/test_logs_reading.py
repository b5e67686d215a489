"""Logs internals without a server: event positions and GetLogEvents pages (stored and
in-memory sources agree, every event is read once in either direction), a running job's stream
read from the store, filter patterns, the job observer, and migration 3's backfill."""

from __future__ import annotations

import bisect
import json
import random
import sqlite3

import pytest

from batchemu.context import RequestContext
from batchemu.logs import reading
from batchemu.logs.backend import LogsBackend
from batchemu.logs.errors import InvalidParameter
from batchemu.logs.jobs import stream_observer
from batchemu.logs.patterns import matcher
from batchemu.store import Store
from batchemu.store.jobs import Jobs
from batchemu.store.logs import LogTables
from batchemu.store.migrations import MIGRATIONS

class ListSource:
    """The same events in memory: what StoredSource's paged SQL reads must agree with."""

    def __init__(self, events: list):
        self.events = events
        self.positions = [e.position for e in events]

    def window(self, lower: tuple, upper: tuple, n: int, from_end: bool) -> list:
        """Events with lower <= position < upper: the first n, or the last n."""
        chosen = self.events[bisect.bisect_left(self.positions, lower):bisect.bisect_left(self.positions, upper)]
        return chosen[-n:] if from_end else chosen[:n]


KEY = ("111122223333", "us-east-1", "g", "s")
CTX = RequestContext(account=KEY[0], region=KEY[1], now_ms=0)


def size(event) -> int:
    return len(event.message) + 26


@pytest.fixture()
def stream():
    """A stored stream of 60 events over 12 timestamps (many share one), out of arrival order."""
    store = Store()
    rng = random.Random(7)
    lines = [(1000 + rng.randrange(12), f"line {i}") for i in range(60)]
    sink = LogTables(store)
    for i in range(0, 60, 7):  # several batches, like several PutLogEvents calls
        sink.append(*KEY, lines[i:i + 7], 5)
    rows = LogTables(store).events(*KEY, 0, reading.MAX_TS)
    return reading.StoredSource(LogTables(store), *KEY), ListSource(reading.with_positions(rows))


def test_stored_and_in_memory_windows_agree(stream):
    stored, listed = stream
    rng = random.Random(3)
    for _ in range(300):
        a = (rng.randrange(998, 1014), rng.randrange(0, 8))
        b = (rng.randrange(998, 1014), rng.randrange(0, 8))
        lower, upper = min(a, b), max(a, b)
        n, from_end = rng.randrange(1, 12), rng.random() < 0.5
        assert stored.window(lower, upper, n, from_end) == listed.window(lower, upper, n, from_end), \
            (lower, upper, n, from_end)


@pytest.mark.parametrize("limit", [1, 4, 7, 100])
def test_pages_read_every_event_once_in_both_directions(stream, limit):
    stored, listed = stream
    everything = [e.message for e in listed.events]
    for source in (stored, listed):
        seen, token = [], None
        while True:
            events, forward, _ = reading.page(source, None, None, token, True, limit, 10**6, size)
            if forward == token:
                assert events == []
                break
            seen += [e.message for e in events]
            token = forward
        assert seen == everything
        events, _, token = reading.page(source, None, None, None, False, limit, 10**6, size)
        seen = [e.message for e in events]
        while True:
            events, _, backward = reading.page(source, None, None, token, False, limit, 10**6, size)
            if backward == token:
                break
            seen = [e.message for e in events] + seen
            token = backward
        assert seen == everything


def test_tokens_look_like_aws_and_reject_garbage():
    token = reading.encode("f", (1_700_000_000_000, 3))
    assert token.startswith("f/") and token.endswith("/s") and len(token) == 60
    assert reading.decode(token) == ("f", (1_700_000_000_000, 3))
    for bad in ("f/1/s", "x/" + "0" * 56 + "/s", token[:-2], "f/" + "9" * 56 + "/s"):
        with pytest.raises(InvalidParameter):
            reading.decode(bad)


@pytest.mark.parametrize("pattern, hits", [
    ('-"db timeout" ERROR', ["ERROR disk"]),
    ('?"db timeout" ?disk', ["ERROR db timeout", "ERROR disk"]),
    ('"say \\"hi\\""', ['say "hi"']),
    ("%^ERROR d[a-z]+ t%", ["ERROR db timeout"]),
    ('" "', ["ERROR db timeout", "ERROR disk", 'say "hi"']),
])
def test_patterns(pattern, hits):
    lines = ["ERROR db timeout", "ERROR disk", 'say "hi"']
    assert [m for m in lines if matcher(pattern)(m)] == hits


@pytest.mark.parametrize("pattern", ["[ip, user]", "{ $.a = 1 }", "%(%", 'ERROR "unclosed'])
def test_unsupported_or_malformed_patterns_are_rejected(pattern):
    with pytest.raises(InvalidParameter):
        matcher(pattern)("x")


def job_doc(status="STARTING", attempt=1, group="/aws/batch/job"):
    return {"jobId": "j-1", "jobArn": "arn:j-1", "jobName": "n", "jobQueue": "arn:q", "status": status,
            "createdAt": 1, "jobDefinition": "arn:jd", "_account": KEY[0], "_region": KEY[1],
            "_attempt": attempt, "_tasks": {str(attempt): {"logGroup": group, "logStreamName": f"jd/default/t{attempt}"}}}


def test_observer_registers_group_and_stream_once_at_starting():
    store = Store()
    tables = LogTables(store)
    tables.create_group(KEY[0], KEY[1], "/aws/batch/job", 1, tags={"keep": "me"})
    observe = stream_observer(tables, lambda: 42)
    observe(job_doc("RUNNABLE"), "PENDING")
    assert tables.streams(KEY[0], KEY[1], "/aws/batch/job") == []
    observe(job_doc(), "RUNNABLE")
    observe(job_doc("RUNNING"), "STARTING")
    observe(job_doc(attempt=2, group="/custom"), "RUNNABLE")
    (first,) = tables.streams(KEY[0], KEY[1], "/aws/batch/job")
    assert (first["name"], first["job_id"], first["attempt"], first["created"]) == ("jd/default/t1", "j-1", 1, 42)
    assert tables.group(KEY[0], KEY[1], "/aws/batch/job")["tags"] == {"keep": "me"}
    assert [s["name"] for s in tables.streams(KEY[0], KEY[1], "/custom")] == ["jd/default/t2"]


def test_a_running_attempts_stream_is_read_from_the_store_only():
    """Runners report output as it is written (the engine stores it), so the Logs API needs
    no runner: a request can never reach Docker."""
    store = Store()
    backend = LogsBackend(store)
    stream_observer(backend.tables, lambda: 1)(job_doc(), "RUNNABLE")
    Jobs(store).insert(job_doc("RUNNING"))
    (row,) = backend.tables.streams(KEY[0], KEY[1], "/aws/batch/job")
    backend.tables.append(KEY[0], KEY[1], "/aws/batch/job", row["name"], [(5, "live one"), (6, "live two")], 7)
    source = backend.source(CTX, row)
    assert isinstance(source, reading.StoredSource)
    assert [e.message for e in source.window((0, 0), (reading.MAX_TS, 0), 10, False)] == ["live one", "live two"]


def test_migration_3_registers_existing_job_streams_and_events(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    conn = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version={number}")
    doc = job_doc("RUNNING")
    conn.execute("INSERT INTO jobs (account, region, job_id, arn, name, queue_arn, status, created_at, jd_arn, doc) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?)", (KEY[0], KEY[1], "j-1", "arn:j-1", "n", "arn:q", "RUNNING", 3,
                                                  "arn:jd", json.dumps(doc)))
    conn.execute("INSERT INTO log_events (account, region, group_name, stream_name, ts, ingested, message) "
                 "VALUES (?,?,?,?,?,?,?)", (KEY[0], KEY[1], "/other", "old/stream", 1, 2, "kept"))
    conn.close()
    store = Store(path)
    assert store.schema_version == len(MIGRATIONS)
    tables = LogTables(store)
    assert [g["name"] for g in tables.groups(KEY[0], KEY[1])] == ["/aws/batch/job", "/other"]
    (job_stream,) = tables.streams(KEY[0], KEY[1], "/aws/batch/job")
    assert (job_stream["name"], job_stream["job_id"], job_stream["attempt"]) == ("jd/default/t1", "j-1", 1)
    (old,) = tables.streams(KEY[0], KEY[1], "/other")
    assert (old["name"], old["created"], old["last_ts"]) == ("old/stream", 2, 1)
