"""The schedule thread's clock (pipelines/schedules.py) without moto: --time-scale runs the
schedule clock N times faster from the server's start, cron times in a schedule's time zone,
and a rate that fell behind skips the firings it missed rather than bursting."""

from __future__ import annotations

import datetime as dt

from batchemu.pipelines.schedules import Schedules

START = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.timezone.utc).timestamp()  # a Monday, 08:00 UTC


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def test_the_scaled_clock_and_back():
    clock = Clock(START)
    s = Schedules(deliveries=None, time_scale=60, clock=clock)
    clock.now = START + 1.5
    assert s.schedule_now() == START + 90
    assert s.real_time(START + 120) == START + 2


def test_a_rate_fires_one_period_after_it_is_seen_then_every_period():
    clock = Clock(START)
    s = Schedules(deliveries=None, time_scale=60, clock=clock)
    key = ("arn", "rate(1 minute)", "UTC")
    assert s._first_due(key, START) == START + 60            # one scaled minute: 1 s of real time
    assert s._following(key, START + 60, START + 60) == START + 120
    assert s._following(key, START + 60, START + 250) == START + 300  # missed ones are skipped


def test_cron_times_follow_the_schedules_time_zone():
    s = Schedules(deliveries=None, clock=Clock(START))
    utc = s._following(("arn", "cron(0 9 ? * MON-FRI *)", "UTC"), START, START)
    assert dt.datetime.fromtimestamp(utc, dt.timezone.utc).isoformat() == "2026-03-02T09:00:00+00:00"
    new_york = s._following(("arn", "cron(0 9 ? * MON-FRI *)", "America/New_York"), START, START)
    assert dt.datetime.fromtimestamp(new_york, dt.timezone.utc).isoformat() == "2026-03-02T14:00:00+00:00"
    once = s._following(("arn", "at(2026-03-02T08:30:00)", "UTC"), START, START)
    assert once == START + 1800
    assert s._following(("arn", "at(2026-03-02T08:30:00)", "UTC"), once, once) is None
