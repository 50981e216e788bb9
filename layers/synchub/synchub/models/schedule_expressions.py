"""EventBridge Scheduler's schedule expressions, parsed and evaluated as Scheduler does.

``rate(value unit)`` (minutes, hours, days: fixed durations from the start date, so a day is 24 hours across
daylight-saving changes), ``cron(minutes hours day-of-month month day-of-week year)`` evaluated in the
schedule's time zone (``?``, ``L``, ``W``, ``#``, ranges, lists, steps, month and day names; day-of-week 1-7
is SUN-SAT; a local time skipped by a spring-forward change does not run, a time repeated by a fall-back
change runs once) and ``at(yyyy-mm-ddThh:mm:ss)`` (once, in the schedule's time zone).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MONTHS = {
    name: number
    for number, name in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1
    )
}
DAYS = {name: number for number, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
CRON = re.compile(r"^cron\((.*)\)$")
SEARCH_YEARS = 200  # how far ahead a next run is looked for before an expression is called never-firing


class InvalidExpression(ValueError):
    """The expression is not one Scheduler accepts; the message says why."""


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidExpression(f"unknown time zone '{name}' (use an IANA name such as Europe/Paris)") from error


# ---- cron fields --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    values: frozenset[int]  # the plain values (after ranges, lists and steps)
    question: bool = False  # ?: the other day field decides
    last: bool = False  # L (day of month: last day; day of week: Saturday, or nL: the last weekday n)
    last_weekday: int | None = None  # day of week "5L": the last Thursday of the month
    nearest_weekday: int | None = None  # day of month "15W"
    nth: tuple[int, int] | None = None  # day of week "3#2": (weekday, n)


def _number(text: str, names: dict[str, int], low: int, high: int, what: str) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise InvalidExpression(f"'{text}' is not a valid {what} ({low}-{high})")
    return value


def _field(
    text: str, low: int, high: int, what: str, names: dict[str, int] | None = None, *, question: bool = False
) -> Field:
    names = names or {}
    if text == "?":
        if not question:
            raise InvalidExpression(f"'?' is only allowed in the day-of-month and day-of-week fields, not {what}")
        return Field(frozenset(), question=True)
    if text == "*":
        return Field(frozenset(range(low, high + 1)))
    values: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) < 1:
                raise InvalidExpression(f"'{step_text}' is not a valid step in the {what} field")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names, low, high, what), _number(last, names, low, high, what)
            if end < start:
                raise InvalidExpression(f"the range '{part}' in the {what} field runs backwards")
        else:
            start = _number(part, names, low, high, what)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return Field(frozenset(values))


def _day_of_month(text: str) -> Field:
    if text == "L":
        return Field(frozenset(), last=True)
    if text.endswith("W") and text[:-1].isdigit():
        day = int(text[:-1])
        if not 1 <= day <= 31:
            raise InvalidExpression(f"'{text}' is not a valid day of month")
        return Field(frozenset(), nearest_weekday=day)
    if "L" in text or "W" in text:
        raise InvalidExpression(f"'{text}' is not a valid day-of-month (L alone, or nW)")
    return _field(text, 1, 31, "day of month", question=True)


def _day_of_week(text: str) -> Field:
    if text == "L":
        return Field(frozenset({7}))  # the last day of the week: Saturday
    if "#" in text:
        if "," in text:
            raise InvalidExpression("a day-of-week with '#' takes one expression only (e.g. 3#2, not 3#1,6#3)")
        day, n = text.split("#", 1)
        weekday = _number(day, DAYS, 1, 7, "day of week")
        if not n.isdigit() or not 1 <= int(n) <= 5:
            raise InvalidExpression(f"'{text}': the week number after '#' is 1-5")
        return Field(frozenset(), nth=(weekday, int(n)))
    if text.endswith("L") and len(text) > 1:
        return Field(frozenset(), last_weekday=_number(text[:-1], DAYS, 1, 7, "day of week"))
    return _field(text, 1, 7, "day of week", DAYS, question=True)


@dataclass(frozen=True)
class Cron:
    minutes: Field
    hours: Field
    days: Field
    months: Field
    weekdays: Field
    years: Field

    @classmethod
    def parse(cls, body: str) -> "Cron":
        parts = body.split()
        if len(parts) != 6:
            raise InvalidExpression(
                f"cron() takes 6 fields (minutes hours day-of-month month day-of-week year), not {len(parts)}"
            )
        minute, hour, day, month, weekday, year = parts
        if (day == "?") == (weekday == "?"):
            raise InvalidExpression("one of day-of-month and day-of-week must be '?' and the other not")
        return cls(
            _field(minute, 0, 59, "minute"),
            _field(hour, 0, 23, "hour"),
            _day_of_month(day),
            _field(month, 1, 12, "month", MONTHS),
            _day_of_week(weekday),
            _field(year, 1970, 2199, "year"),
        )

    def matches_day(self, day: date) -> bool:
        if day.year not in self.years.values or day.month not in self.months.values:
            return False
        if self.days.question:  # the day of week decides
            return _weekday_matches(self.weekdays, day)
        return _day_matches(self.days, day)

    def times(self, after: datetime, tz: ZoneInfo) -> Iterator[datetime]:
        """The run times after ``after`` (aware), in order, as UTC datetimes."""
        local = after.astimezone(tz)
        day = local.date()
        last_year = min(2199, local.year + SEARCH_YEARS)
        while day.year <= last_year:
            if day.year not in self.years.values:
                day = date(day.year + 1, 1, 1)
                continue
            if self.matches_day(day):
                for hour in sorted(self.hours.values):
                    for minute in sorted(self.minutes.values):
                        moment = _existing_local(day, hour, minute, tz)
                        if moment is not None and moment > after:
                            yield moment.astimezone(timezone.utc)
            day += timedelta(days=1)


def _weekday_of(day: date) -> int:
    """1 (Sunday) to 7 (Saturday), as cron counts."""
    return (day.weekday() + 1) % 7 + 1


def _weekday_matches(field: Field, day: date) -> bool:
    weekday = _weekday_of(day)
    if field.nth is not None:
        wanted, n = field.nth
        return weekday == wanted and (day.day - 1) // 7 + 1 == n
    if field.last_weekday is not None:
        return weekday == field.last_weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    return weekday in field.values


def _day_matches(field: Field, day: date) -> bool:
    length = calendar.monthrange(day.year, day.month)[1]
    if field.last:
        return day.day == length
    if field.nearest_weekday is not None:
        target = min(field.nearest_weekday, length)
        wanted = date(day.year, day.month, target)
        if wanted.weekday() == 5:  # Saturday: the Friday before, or the Monday after on the 1st
            wanted = wanted - timedelta(days=1) if target > 1 else wanted + timedelta(days=2)
        elif wanted.weekday() == 6:  # Sunday: the Monday after, or the Friday before on the last day
            wanted = wanted + timedelta(days=1) if target < length else wanted - timedelta(days=2)
        return day == wanted
    return day.day in field.values


def _existing_local(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime | None:
    """The local time as an aware datetime, or None when a spring-forward change skips it; a time a fall-back
    change repeats is its first occurrence."""
    naive = datetime(day.year, day.month, day.day, hour, minute)
    first = naive.replace(tzinfo=tz, fold=0)
    if first.astimezone(timezone.utc).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return first


# ---- expressions --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Expression:
    text: str
    kind: str  # rate | cron | at
    every: timedelta | None = None
    cron: Cron | None = None
    at: datetime | None = None  # naive local time

    @classmethod
    def parse(cls, text: str) -> "Expression":
        text = (text or "").strip()
        if match := RATE.match(text):
            value, unit = int(match.group(1)), match.group(2)
            if value < 1:
                raise InvalidExpression("a rate needs a positive value")
            if value == 1 and unit.endswith("s") or value > 1 and not unit.endswith("s"):
                singular = unit.rstrip("s")
                raise InvalidExpression(
                    f"write rate(1 {singular})" if value == 1 else f"write rate({value} {singular}s)"
                )
            seconds = {"minute": 60, "hour": 3600, "day": 86400}[unit.rstrip("s")]
            return cls(text, "rate", every=timedelta(seconds=value * seconds))
        if match := AT.match(text):
            try:
                moment = datetime.fromisoformat(match.group(1))
            except ValueError as error:
                raise InvalidExpression(f"'{match.group(1)}' is not a valid date and time") from error
            return cls(text, "at", at=moment)
        if match := CRON.match(text):
            return cls(text, "cron", cron=Cron.parse(match.group(1)))
        raise InvalidExpression(
            "an expression is rate(value unit), cron(minutes hours day-of-month month "
            "day-of-week year) or at(yyyy-mm-ddThh:mm:ss)"
        )

    def runs(
        self, after: datetime, *, tz: ZoneInfo, start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[datetime]:
        """Run times (UTC) strictly after ``after`` within [start, end]: a rate counts from ``start``."""
        after = max(after, start - timedelta(microseconds=1)) if start else after
        if self.kind == "at":
            moment = (self.at or datetime.min).replace(tzinfo=tz)
            times: Iterator[datetime] = iter([moment.astimezone(timezone.utc)] if moment > after else [])
        elif self.kind == "rate":
            times = _rate_times(self.every or timedelta(minutes=1), after, start)
        else:
            times = (self.cron or Cron.parse("* * * * ? *")).times(after, tz)
        for moment in times:
            if end is not None and moment > end:
                return
            yield moment

    def next_run(
        self, after: datetime, *, tz: ZoneInfo, start: datetime | None = None, end: datetime | None = None
    ) -> datetime | None:
        return next(self.runs(after, tz=tz, start=start, end=end), None)


def _rate_times(every: timedelta, after: datetime, start: datetime | None) -> Iterator[datetime]:
    """``start``, ``start + every``, … (a schedule without a start date counts from its creation: it runs at
    once, then every period); the ones after ``after``."""
    origin = start or after
    moment = origin
    if moment <= after:
        moment = origin + ((after - origin) // every + 1) * every
    while True:
        yield moment
        moment += every
