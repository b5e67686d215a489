"""EventBridge schedule expressions (pipelines/cron.py): what AWS accepts and refuses, and the
next fire time, including `?`, `L`, `LW`, `W`, `#`, names, steps and the year field."""

from __future__ import annotations

import datetime as dt

import pytest

from batchemu.pipelines import cron


def nxt(expression: str, after: str) -> str:
    found = cron.parse(expression).next_after(dt.datetime.fromisoformat(after))
    return found.isoformat(timespec="minutes") if found else None


@pytest.mark.parametrize("expression, after, expected", [
    ("cron(0 10 * * ? *)", "2026-03-01T09:59", "2026-03-01T10:00"),      # every day at 10:00 UTC
    ("cron(0 10 * * ? *)", "2026-03-01T10:00", "2026-03-02T10:00"),      # strictly after
    ("cron(15 12 * * ? *)", "2026-12-31T13:00", "2027-01-01T12:15"),
    ("cron(0/15 * * * ? *)", "2026-03-01T10:01", "2026-03-01T10:15"),    # every 15 minutes
    ("cron(0 18 ? * MON-FRI *)", "2026-03-06T18:00", "2026-03-09T18:00"),  # Fri 18:00 -> Mon
    ("cron(0 8 1 * ? *)", "2026-03-01T08:00", "2026-04-01T08:00"),       # first of the month
    ("cron(0/10 * ? * MON-FRI *)", "2026-03-07T00:00", "2026-03-09T00:00"),  # Saturday -> Monday
    ("cron(0/5 8-17 ? * MON-FRI *)", "2026-03-09T17:55", "2026-03-10T08:00"),
    ("cron(0 9 ? * 2#1 *)", "2026-03-01T00:00", "2026-03-02T09:00"),     # first Monday of March 2026
    ("cron(0 9 ? * MON#2 *)", "2026-03-01T00:00", "2026-03-09T09:00"),   # second Monday
    ("cron(0 0 L * ? *)", "2026-02-10T00:00", "2026-02-28T00:00"),       # last day of February
    ("cron(0 0 L * ? *)", "2028-02-10T00:00", "2028-02-29T00:00"),       # ... of a leap year
    ("cron(0 0 LW * ? *)", "2026-05-01T00:00", "2026-05-29T00:00"),      # May 31 2026 is a Sunday
    ("cron(0 0 15W * ? *)", "2026-08-01T00:00", "2026-08-14T00:00"),     # Aug 15 2026: Saturday
    ("cron(0 0 1W * ? *)", "2026-07-31T00:00", "2026-08-03T00:00"),      # Aug 1 2026: Saturday -> Mon 3rd
    ("cron(0 0 ? * 6L *)", "2026-03-01T00:00", "2026-03-27T00:00"),      # last Friday of March
    ("cron(0 0 ? * L *)", "2026-03-01T00:00", "2026-03-28T00:00"),       # last Saturday
    ("cron(30 6 ? JAN,JUL SUN 2027)", "2026-03-01T00:00", "2027-01-03T06:30"),
    ("cron(0 0 29 2 ? 2027-2029)", "2026-01-01T00:00", "2028-02-29T00:00"),
    ("cron(0 0 1 1 ? 2026)", "2026-01-01T00:00", None),                  # the years ran out
    ("cron(* * * * ? *)", "2026-03-01T10:00:30", "2026-03-01T10:01"),
])
def test_next_fire_time(expression, after, expected):
    assert nxt(expression, after) == expected


@pytest.mark.parametrize("expression, reason", [
    ("cron(0 10 * * *)", "6 fields"),
    ("cron(0 10 * * * *)", "exactly one of day-of-month and day-of-week"),
    ("cron(0 10 ? * ? *)", "exactly one of day-of-month and day-of-week"),
    ("cron(60 10 * * ? *)", "minutes: 60"),
    ("cron(0 24 * * ? *)", "hours: 24"),
    ("cron(0 0 32 * ? *)", "day-of-month: 32"),
    ("cron(0 0 ? * 8 *)", "day-of-week: 8"),
    ("cron(0 0 ? * MON#6 *)", "k from 1 to 5"),
    ("cron(0 0 1 13 ? *)", "month: 13"),
    ("cron(0 0 1 1 ? 2200)", "year: 2200"),
    ("cron(0/0 * * * ? *)", "step"),
    ("cron(5-1 * * * ? *)", "upwards"),
    ("rate(1 minutes)", "singular"),
    ("rate(5 minute)", "plural"),
    ("rate(0 minutes)", "positive"),
    ("rate(1 week)", "minute(s), hour(s) or day(s)"),
    ("every 5 minutes", "rate(...), cron(...) or at(...)"),
    ("at(2026-13-01T00:00:00)", "yyyy-mm-ddThh:mm:ss"),
])
def test_refused_expressions_say_why(expression, reason):
    with pytest.raises(cron.InvalidExpression, match=reason.replace("(", r"\(").replace(")", r"\)")):
        cron.parse(expression)


def test_rate_periods():
    assert cron.parse("rate(5 minutes)").seconds == 300 and cron.parse("rate(1 minute)").seconds == 60
    assert cron.parse("rate(1 day)").seconds == 86400 and cron.parse("rate(2 hours)").seconds == 7200


def test_at_fires_once():
    at = cron.parse("at(2026-03-01T10:00:00)")
    assert at.next_after(dt.datetime(2026, 3, 1, 9)) == dt.datetime(2026, 3, 1, 10)
    assert at.next_after(dt.datetime(2026, 3, 1, 10)) is None
