"""Reading a stream's events in order, by position, for GetLogEvents paging.

An event's position is (timestamp, k): k counts the events of the same stream with the same
timestamp that arrived before it. Positions never change as events are added, so a token read
while a job runs stays valid after it ends. A token is a boundary between positions: `f/...` reads forward from it, `b/...` back.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from batchemu.logs.errors import invalid_token

MAX_TS = 9_999_999_999_999_999  # beyond any timestamp (fits SQLite's 64-bit integers)
_TOKEN = re.compile(r"([fb])/(\d{20})(\d{36})/s")


class Event(NamedTuple):
    ts: int
    k: int
    ingested: int
    message: str
    stream: str = ""

    @property
    def position(self) -> tuple:
        return (self.ts, self.k)


def encode(direction: str, position: tuple) -> str:
    """Opaque like AWS's (`f/<56 digits>/s`); `direction` is "f" or "b"."""
    ts, k = position
    return f"{direction}/{ts:020d}{k:036d}/s"


def decode(token: str) -> tuple[str, tuple]:
    found = _TOKEN.fullmatch(token)
    ts, k = (int(found.group(2)), int(found.group(3))) if found else (None, None)
    if found is None or ts > MAX_TS or k > MAX_TS:  # beyond what SQLite can compare
        raise invalid_token()
    return found.group(1), (ts, k)


def positioned(rows):
    """Events from rows (stream_name, ts, ingested, message) in which each (stream, timestamp)
    run is contiguous, in arrival order and complete from its first event."""
    run, k = None, 0
    for row in rows:
        key = (row[0], row[1])
        k = k + 1 if key == run else 0
        run = key
        yield Event(row[1], k, row[2], row[3], row[0])


def with_positions(rows) -> list[Event]:
    return list(positioned(rows))


class StoredSource:
    """One stream's stored events, fetched a page at a time."""

    def __init__(self, tables, account: str, region: str, group: str, stream: str):
        self.tables = tables
        self.key = (account, region, group, stream)

    def window(self, lower: tuple, upper: tuple, n: int, from_end: bool) -> list[Event]:
        if lower >= upper:
            return []
        (lo_ts, lo_k), (hi_ts, hi_k) = lower, upper
        account, region, group, stream = self.key
        if not from_end:
            # The first lo_k rows of lo_ts come before `lower`; positions count from lo_ts's first.
            rows = self.tables.events(account, region, group, stream, lo_ts, hi_ts, limit=lo_k + n)
            return [e for e in with_positions(rows) if lower <= e.position < upper][:n]
        at_hi = self.tables.count_at(*self.key, hi_ts) if hi_ts < MAX_TS else 0
        limit = max(at_hi - hi_k, 0) + n
        rows = self.tables.events(account, region, group, stream, lo_ts, hi_ts, descending=True, limit=limit)
        events = []
        for ts, group_rows in _runs(rows):
            if ts == hi_ts:
                size = at_hi
            elif group_rows[-1] is rows[-1] and len(rows) == limit:
                size = self.tables.count_at(*self.key, ts)  # the page may cut this timestamp
            else:
                size = len(group_rows)
            for i, row in enumerate(group_rows):
                events.append(Event(ts, size - 1 - i, row[2], row[3], stream))
        chosen = [e for e in events if lower <= e.position < upper][:n]
        return chosen[::-1]


def _runs(rows):
    """(ts, [rows]) for consecutive rows with the same timestamp."""
    out = []
    for row in rows:
        if out and out[-1][0] == row[1]:
            out[-1][1].append(row)
        else:
            out.append((row[1], [row]))
    return out


def page(source, start: int | None, end: int | None, token: str | None, from_head: bool,
         limit: int, max_bytes: int, event_bytes) -> tuple[list[Event], str, str]:
    """One GetLogEvents page: (events, nextForwardToken, nextBackwardToken). With nothing more
    in the token's direction, that same token comes back (how clients see the end)."""
    lower = (min(start or 0, MAX_TS), 0)
    upper = (min(end, MAX_TS), 0) if end is not None else (MAX_TS, 0)
    if token is not None:
        direction, boundary = decode(token)
    else:
        direction, boundary = ("f", lower) if from_head else ("b", upper)
    if direction == "f":
        events = source.window(max(lower, boundary), upper, limit, from_end=False)
        events = _fit(events, max_bytes, event_bytes)
    else:
        events = source.window(lower, min(upper, boundary), limit, from_end=True)
        events = _fit(events[::-1], max_bytes, event_bytes)[::-1]
    if events:
        last = events[-1]
        return events, encode("f", (last.ts, last.k + 1)), encode("b", events[0].position)
    if token is not None:
        return [], encode("f", boundary), encode("b", boundary)
    return [], encode("f", lower), encode("b", lower)


def _fit(events: list, max_bytes: int, event_bytes) -> list:
    """The leading events that fit in max_bytes (at least one)."""
    total = 0
    for i, event in enumerate(events):
        total += event_bytes(event)
        if total > max_bytes and i:
            return events[:i]
    return events
