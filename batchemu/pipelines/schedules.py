"""The schedule thread: EventBridge rules with a `rate(...)`/`cron(...)` ScheduleExpression and
EventBridge Scheduler schedules (`rate`, `cron` in their time zone, one-time `at`), kept in
moto, fire their targets when due. One thread per server, started and stopped by the
composition root; it sleeps until the next due time, or until a rule or schedule changes
(moto's put/enable/disable/delete methods are wrapped to wake it).

--time-scale N: schedules run on a clock that runs N times faster from the server's start
(rate(1 minute) fires every 60/N s; cron minutes pass N times faster too); the events' `time`
stays real time. Durable: nothing here. Rules and schedules are moto's, in memory; the wrapped
writers hand each accepted change to `on_change` (durable.py keeps a copy and puts it back after
a restart; firings missed meanwhile are not replayed, and a rate counts from when the new
server first sees the rule). The jobs they submitted are batchemu's and survive. Knows no HTTP
and no Batch: firing is Deliveries' (targets.py).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from zoneinfo import ZoneInfo

from batchemu import services
from batchemu.pipelines import cron, durable
from batchemu.pipelines.targets import Delivery

log = logging.getLogger("batchemu.pipelines")
UTC = dt.timezone.utc
IDLE_SECONDS = 3600.0  # nothing scheduled: sleep until woken


class Schedules:
    """Fires due schedules through `deliveries` (targets.Deliveries)."""

    def __init__(self, deliveries, time_scale: float = 1.0, clock=time.time):
        self.deliveries = deliveries
        self.time_scale = time_scale
        self.clock = clock
        self._anchor = clock()
        self._next: dict[tuple, float] = {}  # (arn, expression, tz) -> due, in schedule-clock seconds
        self._cond = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.on_change = None  # (moto backend) -> None, after a rule or schedule changed

    # -- the scaled clock ----------------------------------------------------------------------

    def schedule_now(self) -> float:
        """Now on the schedule clock (epoch seconds), N times faster than real from the start."""
        real = self.clock()
        return self._anchor + (real - self._anchor) * self.time_scale

    def real_time(self, schedule_s: float) -> float:
        return self._anchor + (schedule_s - self._anchor) / self.time_scale

    # -- life ------------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="batchemu-schedules", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                due_in = self.tick()
            except Exception:
                log.exception("the schedule thread failed; retrying in a second")
                due_in = 1.0
            with self._cond:
                if self._closed:
                    return
                self._cond.wait(max(0.0, due_in))
                if self._closed:
                    return

    # -- one pass --------------------------------------------------------------------------------

    def tick(self) -> float:
        """Fire whatever is due; returns the real seconds until the next due time."""
        if not services.moto_loaded():
            return IDLE_SECONDS
        now = self.schedule_now()
        seen = set()
        soonest = None
        for key, fire in self._entries():
            seen.add(key)
            due = self._next.get(key)
            if due is None:
                due = self._first_due(key, now)
                if due is None:
                    continue
                self._next[key] = due
            if due <= now:
                fire()
                after = self._following(key, due, now)
                if after is None:
                    self._next[key] = float("inf")
                    continue
                self._next[key] = due = after
            soonest = due if soonest is None else min(soonest, due)
        for key in list(self._next):
            if key not in seen:
                del self._next[key]  # deleted, disabled or changed: counts afresh if it comes back
        if soonest is None:
            return IDLE_SECONDS
        return self.real_time(soonest) - self.clock()

    def _first_due(self, key: tuple, now: float) -> float | None:
        parsed = _parse(key[1])
        if isinstance(parsed, cron.Rate):
            return now + parsed.seconds  # AWS: the first firing one period after the rule is created
        return self._following(key, now, now)

    def _following(self, key: tuple, after: float, now: float) -> float | None:
        """The due time after `after` (a firing missed while the server was busy is not repeated)."""
        parsed = _parse(key[1])
        if isinstance(parsed, cron.Rate):
            nxt = after + parsed.seconds
            while nxt <= now:
                nxt += parsed.seconds
            return nxt
        zone = ZoneInfo(key[2]) if key[2] not in ("", "UTC") else UTC
        local = dt.datetime.fromtimestamp(max(after, now), zone).replace(tzinfo=None)
        found = parsed.next_after(local)
        if found is None:
            return None
        return found.replace(tzinfo=zone).timestamp()

    def _entries(self):
        """(key, fire) for every enabled scheduled rule and schedule in moto."""
        # lazy for start-up time: moto is loaded (checked by tick)
        from moto.events.models import events_backends
        from moto.scheduler.models import scheduler_backends

        for account, regions in list(events_backends.items()):
            for region, backend in list(regions.items()):
                bus = backend.event_buses.get("default")
                for rule in list(bus.rules.values()) if bus else ():
                    if rule.scheduled_expression and rule.state == "ENABLED" and _parse(rule.scheduled_expression):
                        yield (rule.arn, rule.scheduled_expression, "UTC"), _rule_firing(self, rule)
        for account, regions in list(scheduler_backends.items()):
            for region, backend in list(regions.items()):
                for group in list(backend.schedule_groups.values()):
                    for schedule in list(group.schedules.values()):
                        if schedule.state == "ENABLED" and _parse(schedule.schedule_expression) \
                                and _within(schedule, self.clock()):
                            key = (schedule.arn, schedule.schedule_expression,
                                   schedule.schedule_expression_timezone or "UTC")
                            yield key, _schedule_firing(self, account, region, backend, group, schedule)


def _parse(expression: str):
    try:
        return cron.parse(expression)
    except cron.InvalidExpression:
        return None


def _within(schedule, now: float) -> bool:
    """A schedule's StartDate/EndDate window (moto keeps them as given: epoch or datetime)."""
    def seconds(value):
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            return value.timestamp()
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    start, end = seconds(schedule.start_date), seconds(schedule.end_date)
    return (start is None or now >= start) and (end is None or now <= end)


def _rule_firing(schedules: Schedules, rule):
    def fire():
        now = schedules.clock()
        # The event EventBridge sends a scheduled rule's targets (User Guide, "Scheduled Event").
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": rule.account_id, "time": int(now),
                 "region": rule.region_name, "resources": [rule.arn], "detail": {}, "ingestion-time": now}
        schedules.deliveries.send(rule, event)
    return fire


def _schedule_firing(schedules: Schedules, account, region, backend, group, schedule):
    def fire():
        now = schedules.clock()
        schedules.deliveries.attempt(Delivery(account, region, schedule.arn, schedule.name, dict(schedule.target),
                                              {"id": str(uuid.uuid4()), "time": now}, now, kind="schedule"))
        if isinstance(_parse(schedule.schedule_expression), cron.At) \
                and schedule.action_after_completion == "DELETE":
            backend.delete_schedule(group.name, schedule.name)  # as Scheduler does after a one-time run
    return fire


# -- moto's rule and schedule writers, wrapped ------------------------------------------------------

_installed: list[Schedules] = []
_wrapped: set = set()
EVENTS_WRITERS = ("put_rule", "put_targets", "remove_targets", "enable_rule", "disable_rule", "delete_rule",
                  "create_event_bus", "delete_event_bus", "tag_resource", "untag_resource")
SCHEDULER_WRITERS = ("create_schedule", "update_schedule", "delete_schedule")


def install(schedules: Schedules) -> None:
    """Wrap moto's rule and schedule writers (moto loaded): expressions are checked as
    EventBridge checks them, every server's thread wakes, and the newest server's `on_change`
    (durable.py) sees the backend that changed."""
    # lazy for start-up time (called once moto is loaded)
    from moto.events.models import EventsBackend
    from moto.scheduler.models import EventBridgeSchedulerBackend

    uninstall(schedules)
    _installed.append(schedules)
    for cls, names in ((EventsBackend, EVENTS_WRITERS), (EventBridgeSchedulerBackend, SCHEDULER_WRITERS)):
        for name in names:
            if (cls, name) not in _wrapped:
                _wrapped.add((cls, name))
                setattr(cls, name, durable.watched(getattr(cls, name), after=_changed, before=_check_request))


def uninstall(schedules: Schedules) -> None:
    if schedules in _installed:
        _installed.remove(schedules)


def _changed(backend) -> None:
    """After moto accepted a change: every server's thread wakes, the newest one's `on_change`
    (durable.py) sees the backend."""
    for schedules in list(_installed):
        schedules.wake()
    if _installed and _installed[-1].on_change is not None:
        _installed[-1].on_change(backend)


def _check_request(writer: str, args: tuple, kwargs: dict) -> None:
    """EventBridge's and Scheduler's refusals that moto lets through: a bad expression (moto
    checks rules with a loose regex and schedules not at), a Batch target without
    BatchParameters; the message says what is wrong."""
    if writer == "put_targets":
        targets = kwargs.get("targets", args[2] if len(args) > 2 else None) or []
        for target in targets:
            if ":batch:" in str(target.get("Arn")) and ":job-queue/" in str(target.get("Arn")) \
                    and not target.get("BatchParameters"):
                # lazy for start-up time (moto is loaded)
                from moto.events.exceptions import ValidationException
                raise ValidationException(f"Parameter(s) BatchParameters must be specified for target: "
                                          f"{target.get('Id')}.")
    if writer == "put_rule" and kwargs.get("scheduled_expression"):
        expression = kwargs["scheduled_expression"]
        try:
            if isinstance(cron.parse(expression), cron.At):
                raise cron.InvalidExpression("rules take rate(...) or cron(...)")
        except cron.InvalidExpression as err:
            # lazy for start-up time (moto is loaded)
            from moto.events.exceptions import ValidationException
            raise ValidationException(f"Parameter ScheduleExpression is not valid. Reason: {err}") from None
    if writer in ("create_schedule", "update_schedule") and kwargs.get("schedule_expression"):
        expression = kwargs["schedule_expression"]
        # lazy for start-up time (moto is loaded)
        from moto.scheduler.exceptions import ValidationException
        try:
            cron.parse(expression)
        except cron.InvalidExpression as err:
            raise ValidationException(f"Invalid Schedule Expression {expression}: {err}") from None
        zone = kwargs.get("schedule_expression_timezone")
        if zone and zone != "UTC":
            try:
                ZoneInfo(zone)
            except (ValueError, KeyError, OSError):
                raise ValidationException(f"Invalid ScheduleExpressionTimezone {zone}") from None
