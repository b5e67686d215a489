"""docker_output's cursor without Docker: what each read of `docker logs --since` reports,
given what was reported (or stored) before. Every line exactly once, in time order."""

from __future__ import annotations

from batchemu.runners.base import OutputMark
from batchemu.runners.docker_output import OVERLAP_NS, _Cursor, parse_lines_ns

MS = 1_000_000
T = 1_700_000_000_000 * MS        # an epoch in ns


def read(cursor: _Cursor, log: list) -> list:
    """One read: the lines of `log` [(ns, text)] from the cursor's start, as Docker returns them."""
    return cursor.take([line for line in log if line[0] >= cursor.since_ns() - MS])


def test_each_line_is_reported_once_across_overlapping_reads():
    cursor, log = _Cursor("c", None), [(T, "a"), (T + 1, "b")]
    assert read(cursor, log) == [(T // MS, "a"), (T // MS, "b")]
    log += [(T + 2, "c")]
    assert read(cursor, log) == [(T // MS, "c")]
    assert read(cursor, log) == []


def test_a_line_written_late_with_an_earlier_stamp_is_still_reported():
    """stdout and stderr are stamped by two copiers: one can reach the file after a newer one."""
    cursor, log = _Cursor("c", None), [(T + 5 * MS, "newer")]
    assert read(cursor, log) == [(T // MS + 5, "newer")]
    log.insert(0, (T + 4 * MS, "older, written late"))
    assert read(cursor, log) == [(T // MS + 4, "older, written late")]


def test_lines_older_than_the_overlap_are_not_read_again():
    cursor = _Cursor("c", None)
    read(cursor, [(T, "old")])
    read(cursor, [(T, "old"), (T + 2 * OVERLAP_NS, "new")])
    assert cursor.since_ns() == T + OVERLAP_NS and set(cursor.recent) == {(T + 2 * OVERLAP_NS, "new")}


def test_after_a_restart_reading_resumes_after_the_stored_mark():
    """The store holds "a" and "b" of millisecond 7 (ms precision only): "b2", in the same
    millisecond, and everything later is reported; nothing before."""
    log = [(T + 6 * MS, "before"), (T + 7 * MS + 10, "a"), (T + 7 * MS + 20, "b"), (T + 7 * MS + 30, "b2"),
           (T + 9 * MS, "after")]
    cursor = _Cursor("c", OutputMark(T // MS + 7, ("a", "b")))
    assert read(cursor, log) == [(T // MS + 7, "b2"), (T // MS + 9, "after")]
    assert read(cursor, log + [(T + 10 * MS, "later")]) == [(T // MS + 10, "later")]


def test_a_mark_with_a_repeated_text_skips_only_as_many():
    cursor = _Cursor("c", OutputMark(T // MS, ("x",)))
    assert read(cursor, [(T + 1, "x"), (T + 2, "x")]) == [(T // MS, "x")]


def test_parse_lines_ns_keeps_nanoseconds_and_continuations():
    raw = b"2023-11-14T22:13:20.000000001Z one\n2023-11-14T22:13:20.5Z two\ncontinued\n"
    assert parse_lines_ns(raw) == [(T + 1, "one"), (T + 500 * MS, "two"), (T + 500 * MS, "continued")]
