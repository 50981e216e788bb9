"""Schedule expressions evaluated as EventBridge Scheduler does: a table of expressions and their next runs
(checked against the calendar by hand), daylight-saving changes in named time zones, and what is refused."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from synchub.models.schedule_expressions import Expression, InvalidExpression, zone

AFTER = datetime(2026, 3, 6, 12, 0, tzinfo=timezone.utc)  # a Friday, noon UTC (1 March 2026 is a Sunday)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def runs(
    expression: str,
    count: int,
    *,
    after: datetime = AFTER,
    tz: str = "UTC",
    start: str | None = None,
    end: str | None = None,
) -> list[str]:
    found = Expression.parse(expression).runs(
        after, tz=zone(tz), start=utc(start) if start else None, end=utc(end) if end else None
    )
    return [moment.strftime("%Y-%m-%dT%H:%M") for moment in itertools.islice(found, count)]


TABLE = [
    # expression, time zone, start, expected next runs (UTC)
    ("rate(5 minutes)", "UTC", "2026-03-06T11:58:00", ["2026-03-06T12:03", "2026-03-06T12:08"]),
    ("rate(1 hour)", "UTC", "2026-03-06T12:00:00", ["2026-03-06T13:00", "2026-03-06T14:00"]),
    ("rate(1 day)", "UTC", "2026-03-05T09:00:00", ["2026-03-07T09:00", "2026-03-08T09:00"]),
    (
        "rate(1 day)",
        "Europe/Berlin",
        "2026-03-28T10:00:00",
        ["2026-03-28T10:00", "2026-03-29T10:00", "2026-03-30T10:00"],
    ),  # 24 h, whatever the clocks do
    ("cron(0 10 * * ? *)", "UTC", None, ["2026-03-07T10:00", "2026-03-08T10:00"]),
    ("cron(15 12 * * ? *)", "UTC", None, ["2026-03-06T12:15", "2026-03-07T12:15"]),
    ("cron(0 18 ? * MON-FRI *)", "UTC", None, ["2026-03-06T18:00", "2026-03-09T18:00"]),
    ("cron(0 8 1 * ? *)", "UTC", None, ["2026-04-01T08:00", "2026-05-01T08:00"]),
    ("cron(0/15 * * * ? *)", "UTC", None, ["2026-03-06T12:15", "2026-03-06T12:30"]),
    ("cron(0/10 * ? * MON-FRI *)", "UTC", None, ["2026-03-06T12:10", "2026-03-06T12:20"]),
    ("cron(0/5 8-17 ? * MON-FRI *)", "UTC", None, ["2026-03-06T12:05", "2026-03-06T12:10"]),
    ("cron(1/10 * * * ? *)", "UTC", None, ["2026-03-06T12:01", "2026-03-06T12:11"]),
    ("cron(0 0 L * ? *)", "UTC", None, ["2026-03-31T00:00", "2026-04-30T00:00"]),
    ("cron(0 0 L 2 ? 2028)", "UTC", None, ["2028-02-29T00:00"]),
    ("cron(0 9 15W * ? *)", "UTC", None, ["2026-03-16T09:00", "2026-04-15T09:00"]),  # 15 March is a Sunday
    ("cron(0 10 ? * 6#3 *)", "UTC", None, ["2026-03-20T10:00", "2026-04-17T10:00"]),  # third Friday
    ("cron(0 10 ? * 2#5 *)", "UTC", None, ["2026-03-30T10:00", "2026-06-29T10:00"]),  # fifth Monday, when any
    ("cron(0 9 ? * 6L *)", "UTC", None, ["2026-03-27T09:00", "2026-04-24T09:00"]),  # last Friday
    ("cron(0 12 ? * L *)", "UTC", None, ["2026-03-07T12:00", "2026-03-14T12:00"]),  # L alone: Saturday
    ("cron(30 9 ? * SUN,SAT *)", "UTC", None, ["2026-03-07T09:30", "2026-03-08T09:30"]),
    ("cron(0 0 1 JAN,JUL ? *)", "UTC", None, ["2026-07-01T00:00", "2027-01-01T00:00"]),
    ("cron(0 12 * * ? 2027)", "UTC", None, ["2027-01-01T12:00", "2027-01-02T12:00"]),
    ("cron(0 0 29 2 ? *)", "UTC", None, ["2028-02-29T00:00", "2032-02-29T00:00"]),
    ("cron(0 2 * * ? *)", "Europe/Berlin", None, ["2026-03-07T01:00", "2026-03-08T01:00"]),  # CET, UTC+1
    ("cron(0 9 ? * MON *)", "Asia/Kolkata", None, ["2026-03-09T03:30", "2026-03-16T03:30"]),  # UTC+5:30
    ("at(2026-03-06T13:00:00)", "UTC", None, ["2026-03-06T13:00"]),
    ("at(2026-03-06T11:00:00)", "UTC", None, []),  # past: never
    ("at(2026-03-06T13:00:00)", "America/New_York", None, ["2026-03-06T18:00"]),  # EST, UTC-5
]


@pytest.mark.parametrize("expression, tz, start, expected", TABLE, ids=[f"{e} {z}" for e, z, _, _ in TABLE])
def test_next_runs_match_eventbridge_scheduler(expression, tz, start, expected):
    assert runs(expression, len(expected) + 1, tz=tz, start=start)[: len(expected)] == expected
    if expression.startswith("at("):
        assert len(runs(expression, 5, tz=tz)) == len(expected)  # at() fires once


def test_the_first_weekday_of_a_month_starting_on_a_saturday_is_the_monday_after():
    # 1W: 1 April 2026 is a Wednesday, 1 May a Friday, 1 June a Monday, 1 July a Wednesday, 1 August a Saturday
    assert runs("cron(0 9 1W * ? *)", 5) == [
        "2026-04-01T09:00",
        "2026-05-01T09:00",
        "2026-06-01T09:00",
        "2026-07-01T09:00",
        "2026-08-03T09:00",
    ]


def test_a_local_time_skipped_by_spring_forward_does_not_run():
    # Europe/Berlin: 29 March 2026 02:00 CET -> 03:00 CEST
    assert runs("cron(30 2 * * ? *)", 2, after=utc("2026-03-28T12:00:00"), tz="Europe/Berlin") == [
        "2026-03-30T00:30",
        "2026-03-31T00:30",
    ]
    # America/New_York: 8 March 2026 02:00 EST -> 03:00 EDT; 01:30 exists (EST), then EDT the day after
    saturday = utc("2026-03-07T12:00:00")
    assert runs("cron(30 2 * * ? *)", 1, after=saturday, tz="America/New_York") == ["2026-03-09T06:30"]
    assert runs("cron(30 1 * * ? *)", 2, after=saturday, tz="America/New_York") == [
        "2026-03-08T06:30",
        "2026-03-09T05:30",
    ]


def test_a_local_time_repeated_by_fall_back_runs_once():
    # Europe/Berlin: 25 October 2026 03:00 CEST -> 02:00 CET, so 02:30 happens twice; it runs at the first
    assert runs("cron(30 2 * * ? *)", 2, after=utc("2026-10-24T12:00:00"), tz="Europe/Berlin") == [
        "2026-10-25T00:30",
        "2026-10-26T01:30",
    ]
    # every 30 minutes through the repeated hour: each local time once
    hourly = runs("cron(0/30 1-2 * * ? *)", 4, after=utc("2026-10-31T12:00:00"), tz="America/New_York")
    assert hourly == ["2026-11-01T05:00", "2026-11-01T05:30", "2026-11-01T07:00", "2026-11-01T07:30"]


def test_start_and_end_dates_bound_the_runs():
    assert runs("cron(0 10 * * ? *)", 5, start="2026-03-08T00:00:00", end="2026-03-10T23:59:59") == [
        "2026-03-08T10:00",
        "2026-03-09T10:00",
        "2026-03-10T10:00",
    ]


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("cron(0 10 * * * *)", "'?'"),
        ("cron(0 10 ? * ? *)", "'?'"),
        ("cron(0 10 * * ?)", "6 fields"),
        ("cron(60 * * * ? *)", "minute"),
        ("cron(0 24 * * ? *)", "hour"),
        ("cron(0 0 32 * ? *)", "day of month"),
        ("cron(0 0 ? * 8 *)", "day of week"),
        ("cron(0 0 ? * 3#1,6#3 *)", "one expression"),
        ("cron(0 0 ? * 3#6 *)", "1-5"),
        ("cron(0 0 1 13 ? *)", "month"),
        ("cron(0 0 1 * ? 1969)", "year"),
        ("cron(0 0 10-5 * ? *)", "backwards"),
        ("cron(0/0 * * * ? *)", "step"),
        ("rate(0 minutes)", "positive"),
        ("rate(5 minute)", "rate(5 minutes)"),
        ("rate(1 hours)", "rate(1 hour)"),
        ("rate(2 weeks)", "rate(value unit)"),
        ("at(2026-13-01T00:00:00)", "valid date"),
        ("every 5 minutes", "rate(value unit)"),
    ],
)
def test_invalid_expressions_say_why(expression, reason):
    with pytest.raises(InvalidExpression, match=None) as caught:
        Expression.parse(expression)
    assert reason in str(caught.value)


@pytest.mark.parametrize(
    "expression, hint", [("rate(1 minutes)", "write rate(1 minute)"), ("rate(5 minute)", "write rate(5 minutes)")]
)
def test_a_mistaken_plural_is_answered_with_the_one_right_spelling(expression, hint):
    with pytest.raises(InvalidExpression) as caught:
        Expression.parse(expression)
    assert str(caught.value) == hint


def test_unknown_time_zones_are_refused():
    with pytest.raises(InvalidExpression, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")
