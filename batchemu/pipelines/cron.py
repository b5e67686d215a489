"""EventBridge schedule expressions: `rate(value unit)`, `cron(min hour dom month dow year)`
(six fields, UTC unless a time zone is given) and EventBridge Scheduler's `at(...)`; parsing
with AWS's rules and the next fire time after a given moment. Pure: no clock, no thread, no moto.

Why not croniter: it reads five-field Unix cron (Sunday=0, no year, both day fields ANDed or
ORed), while EventBridge has a year field, Sunday=1, `?` in exactly one of the day fields, and
`L`/`W`/`#` with their Quartz meanings; adapting its input would leave those differences to
chance, and the whole parser is smaller than the adapter plus its tests.

The rules (EventBridge User Guide, "Schedule expressions for rules"):
  minutes 0-59, hours 0-23, day-of-month 1-31, month 1-12 or JAN-DEC, day-of-week 1-7 or
  SUN-SAT (1 = Sunday), year 1970-2199; `,` `-` `*` `/` in every field; `?` only in the day
  fields and in exactly one of them (the other names days); `L` (last day of the month, `LW`
  its last weekday, `nW` the weekday nearest day n) in day-of-month; `L` (Saturday), `nL`
  (the month's last day n) and `n#k` (the k-th day n) in day-of-week.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

MONTHS = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
RATE_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
YEAR_LIMIT = 2199


class InvalidExpression(ValueError):
    """Not a schedule expression EventBridge accepts; the message says which part."""


@dataclass(frozen=True)
class Rate:
    seconds: int  # the period; a rate counts from its anchor (schedules.py: when first seen)


@dataclass(frozen=True)
class At:
    when: dt.datetime  # naive: wall time in the schedule's time zone

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        return self.when if self.when > after else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset
    hours: frozenset
    days: str | frozenset  # day-of-month: a set, or "?" (also when day_special says L/LW/W)
    months: frozenset
    weekdays: str | frozenset  # day-of-week (1 = Sunday): a set, or "?"
    years: frozenset
    day_special: tuple = ()  # ("L",), ("LW",), ("W", n)
    weekday_special: tuple = ()  # ("L", n) last day n of the month, ("#", n, k)

    def next_after(self, after: dt.datetime) -> dt.datetime | None:
        """The first matching minute strictly after `after` (naive wall time), or None when the
        years run out."""
        start = (after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1))
        day = start.date()
        while day.year <= YEAR_LIMIT:
            if day.year not in self.years:
                day = dt.date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                first = start if day == start.date() else dt.datetime.combine(day, dt.time())
                found = self._time_on(day, first)
                if found is not None:
                    return found
            day += dt.timedelta(days=1)
        return None

    def _time_on(self, day: dt.date, first: dt.datetime) -> dt.datetime | None:
        for hour in sorted(self.hours):
            if hour < first.hour:
                continue
            for minute in sorted(self.minutes):
                if hour == first.hour and minute < first.minute:
                    continue
                return dt.datetime(day.year, day.month, day.day, hour, minute)
        return None

    def _day_matches(self, day: dt.date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if self.day_special:
            kind = self.day_special[0]
            if kind == "L":
                return day.day == last
            if kind == "LW":
                return day == _nearest_weekday(day.replace(day=last))
            return day == _nearest_weekday(day.replace(day=min(self.day_special[1], last)))
        if self.days != "?":
            return day.day in self.days
        weekday = day.isoweekday() % 7 + 1  # Sunday = 1
        if self.weekday_special:
            if self.weekday_special[0] == "L":
                return weekday == self.weekday_special[1] and day.day + 7 > last
            _, wanted, k = self.weekday_special
            return weekday == wanted and (day.day - 1) // 7 + 1 == k
        return weekday in self.weekdays


def _first_of_next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _nearest_weekday(day: dt.date) -> dt.date:
    """Quartz's W: the weekday nearest `day`, never leaving its month."""
    if day.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - dt.timedelta(days=1) if day.day > 1 else day + dt.timedelta(days=2)
    if day.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the last day
        last = calendar.monthrange(day.year, day.month)[1]
        return day + dt.timedelta(days=1) if day.day < last else day - dt.timedelta(days=2)
    return day


# -- parsing -------------------------------------------------------------------------------------

def parse(expression: str):
    """A Rate, Cron or At for `expression`; InvalidExpression otherwise."""
    text = (expression or "").strip()
    match = re.fullmatch(r"(rate|cron|at)\((.*)\)", text)
    if not match:
        raise InvalidExpression("expected rate(...), cron(...) or at(...)")
    kind, body = match.groups()
    if kind == "rate":
        return parse_rate(body)
    if kind == "at":
        try:
            return At(dt.datetime.strptime(body.strip(), "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise InvalidExpression("at(...) takes yyyy-mm-ddThh:mm:ss") from None
    return parse_cron(body)


def parse_rate(body: str) -> Rate:
    match = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", body)
    if not match:
        raise InvalidExpression("rate(value unit): a positive whole number and minute(s), hour(s) or day(s)")
    value, unit = int(match.group(1)), match.group(2)
    singular = unit[:-1] if unit.endswith("s") else unit
    if value <= 0 or singular not in RATE_UNITS:
        raise InvalidExpression("rate(value unit): a positive whole number and minute(s), hour(s) or day(s)")
    # EventBridge: "If the value is equal to 1, then the unit must be singular ... greater
    # than 1, the unit must be plural."
    if (value == 1) != (unit == singular):
        raise InvalidExpression(f"rate({value} {unit}): the unit must be {'singular' if value == 1 else 'plural'}")
    return Rate(value * RATE_UNITS[singular])


def parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise InvalidExpression(f"cron(...) takes 6 fields (minutes hours day-of-month month day-of-week "
                                f"year), got {len(fields)}")
    minute, hour, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise InvalidExpression("cron(...): exactly one of day-of-month and day-of-week must be '?'")
    day_special, weekday_special = (), ()
    days: str | frozenset = "?"
    weekdays: str | frozenset = "?"
    if dom != "?":
        if dom == "L":
            day_special = ("L",)
        elif dom == "LW":
            day_special = ("LW",)
        elif re.fullmatch(r"\d{1,2}W", dom):
            n = int(dom[:-1])
            _check(n, 1, 31, "day-of-month")
            day_special = ("W", n)
        else:
            days = _field(dom, 1, 31, "day-of-month")
    else:
        if dow == "L":
            weekday_special = ("L", 7)
        elif re.fullmatch(r"\w+L", dow):
            weekday_special = ("L", _value(dow[:-1], 1, 7, DAYS, "day-of-week"))
        elif "#" in dow:
            day_name, _, k = dow.partition("#")
            if not k.isdigit() or not 1 <= int(k) <= 5:
                raise InvalidExpression(f"cron(...) day-of-week {dow!r}: n#k needs k from 1 to 5")
            weekday_special = ("#", _value(day_name, 1, 7, DAYS, "day-of-week"), int(k))
        else:
            weekdays = _field(dow, 1, 7, "day-of-week", DAYS)
    return Cron(_field(minute, 0, 59, "minutes"), _field(hour, 0, 23, "hours"), days,
                _field(month, 1, 12, "month", MONTHS), weekdays, _field(year, 1970, YEAR_LIMIT, "year"),
                day_special, weekday_special)


def _field(text: str, low: int, high: int, name: str, names: dict | None = None) -> frozenset:
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise InvalidExpression(f"cron(...) {name} {text!r}: the step after '/' must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _value(a, low, high, names, name), _value(b, low, high, names, name)
            if first > last:
                raise InvalidExpression(f"cron(...) {name} {text!r}: a range must go upwards")
        else:
            first = _value(base, low, high, names, name)
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(text: str, low: int, high: int, names: dict | None, name: str) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise InvalidExpression(f"cron(...) {name}: {text!r} is not a value from {low} to {high}")
    return _check(int(text), low, high, name)


def _check(value: int, low: int, high: int, name: str) -> int:
    if not low <= value <= high:
        raise InvalidExpression(f"cron(...) {name}: {value} is not from {low} to {high}")
    return value
