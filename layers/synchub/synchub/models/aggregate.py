"""Pure arithmetic of the statistics aggregate.

Every task contributes counters to two kinds of item per scope (everything, and its data source):

* a *day bucket* for the UTC day it was created: ``tasks``, ``st_<status>``, ``ty_<type>``, and once it
  is terminal its ``rows`` and, when it ran, ``dur_ms``/``dur_n``;
* a *gauge*: ``st_<status>`` of its current status, whatever its age (list totals, engine figures).

A write that changes a task applies ``contribution(after) - contribution(before)`` in the same
transaction, so the sums always equal a recount of the stored tasks.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Any, Iterable

from synchub.models.tasks import TASK_STATUSES, TASK_TYPES, TERMINAL_STATUSES
from synchub.timeutil import day_of, parse_iso

SCOPE_ALL = "ALL"


def scope_of_data_source(data_source_id: str) -> str:
    return f"DS#{data_source_id}"


def scope_of_schedule(schedule_id: str) -> str:
    return f"SCH#{schedule_id}"


def scope_of(data_source_id: str | None = None, schedule_id: str | None = None) -> str:
    """The aggregate a filter reads: one schedule's runs, one data source's tasks, or all tasks."""
    if schedule_id:
        return scope_of_schedule(schedule_id)
    return scope_of_data_source(data_source_id) if data_source_id else SCOPE_ALL


def scopes(task: dict[str, Any]) -> tuple[str, ...]:
    """The aggregates a task counts in: all tasks, its data source's, and its schedule's if a schedule made it."""
    found = (SCOPE_ALL, scope_of_data_source(task["data_source_id"]))
    return (*found, scope_of_schedule(task["schedule_id"])) if task.get("schedule_id") else found


def duration_ms(task: dict[str, Any]) -> int | None:
    if not task.get("start_time") or not task.get("end_time"):
        return None
    delta = parse_iso(task["end_time"]) - parse_iso(task["start_time"])
    return max(0, round(delta.total_seconds() * 1000))


def bucket_contribution(task: dict[str, Any] | None) -> Counter:
    counters: Counter = Counter()
    if not task:
        return counters
    counters["tasks"] += 1
    counters[f"st_{task['status']}"] += 1
    counters[f"ty_{task['task_type']}"] += 1
    if task["status"] in TERMINAL_STATUSES:
        counters["rows"] += int(task.get("processed_rows") or 0)
        duration = duration_ms(task)
        if duration is not None:
            counters["dur_ms"] += duration
            counters["dur_n"] += 1
    return counters


def gauge_contribution(task: dict[str, Any] | None) -> Counter:
    counters: Counter = Counter()
    if task:
        counters[f"st_{task['status']}"] += 1
    return counters


def difference(after: Counter, before: Counter) -> dict[str, int]:
    keys = set(after) | set(before)
    delta = {key: after.get(key, 0) - before.get(key, 0) for key in keys}
    return {key: value for key, value in sorted(delta.items()) if value}


def deltas(before: dict[str, Any] | None, after: dict[str, Any] | None) -> tuple[str, dict[str, int], dict[str, int]]:
    """(created day, day-bucket delta, gauge delta) for a task going from ``before`` to ``after``."""
    reference = after or before
    assert reference is not None
    day = day_of(reference["created_at"])
    return (
        day,
        difference(bucket_contribution(after), bucket_contribution(before)),
        difference(gauge_contribution(after), gauge_contribution(before)),
    )


def recount(tasks: Iterable[dict[str, Any]]) -> Counter:
    """What the day buckets of a window should sum to, counted from the tasks themselves."""
    total: Counter = Counter()
    for task in tasks:
        total.update(bucket_contribution(task))
    return total


def summarise(counters: dict[str, int], start_time: str, end_time: str) -> dict[str, Any]:
    """The statistics document of the contract from summed day-bucket counters."""
    successful = int(counters.get("st_success", 0))
    failed = int(counters.get("st_failed", 0))
    finished_runs = int(counters.get("dur_n", 0))
    decided = successful + failed
    return {
        "total_tasks": int(counters.get("tasks", 0)),
        "successful_tasks": successful,
        "failed_tasks": failed,
        "cancelled_tasks": int(counters.get("st_cancelled", 0)),
        "success_rate": round(100.0 * successful / decided, 2) if decided else None,  # nothing finished yet
        "avg_duration_sec": round(counters.get("dur_ms", 0) / finished_runs / 1000.0, 3) if finished_runs else 0.0,
        "processed_rows": int(counters.get("rows", 0)),
        "status_breakdown": [
            {"status": status, "count": int(counters.get(f"st_{status}", 0))} for status in TASK_STATUSES
        ],
        "task_type_breakdown": [
            {"task_type": task_type, "count": int(counters.get(f"ty_{task_type}", 0))} for task_type in TASK_TYPES
        ],
        "period": {"start_time": start_time, "end_time": end_time},
    }


def daily_series(days: dict[str, Counter], first_day: date, last_day: date) -> list[dict[str, Any]]:
    """One entry per UTC day of the window (days without tasks as zeros), oldest first: tasks created that
    day and how they stand, and the rows their finished runs processed."""
    series = []
    day = first_day
    while day <= last_day:
        counters = days.get(day.isoformat()) or Counter()
        series.append(
            {
                "date": day.isoformat(),
                "total_tasks": int(counters.get("tasks", 0)),
                "successful_tasks": int(counters.get("st_success", 0)),
                "failed_tasks": int(counters.get("st_failed", 0)),
                "cancelled_tasks": int(counters.get("st_cancelled", 0)),
                "processed_rows": int(counters.get("rows", 0)),
            }
        )
        day += timedelta(days=1)
    return series
