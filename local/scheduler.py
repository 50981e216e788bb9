"""EventBridge Scheduler for the local stack: the emulator keeps the schedules (what the API created in the
stack's group); this fires each enabled one at its times, as Scheduler would, by invoking its target function
with its input and the scheduled time filled in."""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

from synchub.models.schedule_expressions import Expression, InvalidExpression, zone
from synchub.schedules.service import SCHEDULED_TIME
from synchub.timeutil import as_utc

log = logging.getLogger("local")


def _aware(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


class LocalScheduler:
    def __init__(self, group: str, targets: dict[str, Any], *, started: datetime | None = None):
        self.group = group
        self.targets = targets  # function ARN -> local function
        self.started = started or datetime.now(timezone.utc)
        self.checked: dict[str, datetime] = {}  # schedule name -> fired up to this time
        self.lock = threading.Lock()

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        while not stop.wait(interval):
            try:
                self.tick(datetime.now(timezone.utc))
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("local scheduler tick failed")

    def tick(self, now: datetime) -> list[tuple[str, str]]:
        """Fire what is due up to ``now``; returns (schedule, scheduled time) pairs fired."""
        client = boto3.client("scheduler")
        fired = []
        with self.lock:
            names = [
                item["Name"]
                for page in client.get_paginator("list_schedules").paginate(GroupName=self.group)
                for item in page.get("Schedules", [])
            ]
            for name in names:
                detail = client.get_schedule(Name=name, GroupName=self.group)
                created = _aware(detail.get("CreationDate")) or now
                since = self.checked.get(name) or max(self.started, created - timedelta(seconds=1))
                self.checked[name] = now
                if detail.get("State") != "ENABLED":
                    continue
                try:
                    expression = Expression.parse(detail["ScheduleExpression"])
                    tz = zone(detail.get("ScheduleExpressionTimezone"))
                except InvalidExpression:
                    log.warning("schedule %s has an expression the local scheduler cannot read", name)
                    continue
                start = _aware(detail.get("StartDate")) or created
                for moment in expression.runs(since, tz=tz, start=start, end=_aware(detail.get("EndDate"))):
                    if moment > now:
                        break
                    scheduled = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                    self._invoke(detail["Target"], scheduled, name)
                    fired.append((name, scheduled))
        return fired

    def _invoke(self, target: dict[str, Any], scheduled: str, name: str) -> None:
        function = self.targets.get(target["Arn"])
        if function is None:
            log.warning("schedule %s targets %s, which is not a function of this stack", name, target["Arn"])
            return
        event = json.loads(target.get("Input", "{}").replace(SCHEDULED_TIME, scheduled))
        try:
            function.invoke(event)
        except Exception:  # noqa: BLE001 - Scheduler would retry; the next firing comes anyway
            log.exception("schedule %s: its target failed for %s", name, scheduled)
