"""StatisticsService: window statistics from the aggregate plus the engine's live figures."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from synchub.dal.data_sources import DataSourceStore
from synchub.dal.engine_queue import EngineQueue
from synchub.dal.statistics import StatisticsStore
from synchub.dal.tasks import TaskStore
from synchub.errors import DataSourceNotFound, ValidationFailed
from synchub.models.aggregate import daily_series, scope_of, summarise
from synchub.settings import Settings, get_settings
from synchub.timeutil import as_utc, iso, utcnow

DEFAULT_WINDOW = timedelta(days=7)
MAX_WINDOW_DAYS = 366


class StatisticsService:
    def __init__(self, settings: Settings | None = None, engine: EngineQueue | None = None):
        self.settings = settings or get_settings()
        self.store = StatisticsStore(self.settings)
        self.tasks = TaskStore(self.settings)
        self.data_sources = DataSourceStore(self.settings)
        self.engine = engine or EngineQueue(self.settings)

    def statistics(
        self,
        *,
        data_source_id: str | None,
        start_time: datetime | None,
        end_time: datetime | None,
        schedule_id: str | None = None,
    ) -> dict[str, Any]:
        """Statistics of the tasks created in the window (of one data source, or of one schedule's runs),
        widened to whole UTC days (the buckets)."""
        if data_source_id and schedule_id:
            message = "Filter by data_source_id or by schedule_id, not both (a schedule has one data source)."
            raise ValidationFailed(
                message, errors=[{"loc": ["query", "schedule_id"], "msg": message, "type": "value_error"}]
            )
        end = as_utc(end_time) if end_time else utcnow()
        start = as_utc(start_time) if start_time else end - DEFAULT_WINDOW
        if start > end:
            raise ValidationFailed(
                "start_time must not be after end_time.",
                errors=[{"loc": ["query", "start_time"], "msg": "after end_time", "type": "value_error"}],
            )
        if (end.date() - start.date()).days + 1 > MAX_WINDOW_DAYS:
            raise ValidationFailed(
                f"The window may span at most {MAX_WINDOW_DAYS} days.",
                errors=[{"loc": ["query", "start_time"], "msg": "window too long", "type": "value_error"}],
            )
        first_day, last_day = start.date(), end.date()
        period_start = datetime.combine(first_day, time.min, tzinfo=timezone.utc)
        period_end = datetime.combine(last_day, time.max, tzinfo=timezone.utc)
        if data_source_id and self.data_sources.get(data_source_id) is None:
            raise DataSourceNotFound(
                f"Data source '{data_source_id}' does not exist.",
                errors=[{"loc": ["query", "data_source_id"], "msg": "unknown data source", "type": "not_found"}],
            )
        scope = scope_of(data_source_id, schedule_id)
        days = self.store.window(scope, first_day.isoformat(), last_day.isoformat())
        result = summarise(sum(days.values(), Counter()), iso(period_start), iso(period_end))
        result["daily"] = daily_series(days, first_day, last_day)
        result["data_source_id"] = data_source_id
        if schedule_id:
            result["schedule_id"] = schedule_id
        result["engine_statistics"] = self.engine_statistics(data_source_id, schedule_id)
        return result

    def engine_statistics(self, data_source_id: str | None = None, schedule_id: str | None = None) -> dict[str, Any]:
        """Live engine figures: running and pending tasks and their summed speed (of one data source or one
        schedule, if given); the queue and the concurrency are the engine's, shared by every source."""
        gauges = self.store.gauges(scope_of(data_source_id, schedule_id))
        running = int(gauges.get("st_running", 0))
        figures = self.engine.queue_figures()
        return {
            "running_tasks": running,
            "pending_tasks": int(gauges.get("st_pending", 0)),
            "queue_length": figures["queue_length"],
            "in_flight": figures["in_flight"],
            "max_concurrent": self.settings.engine_max_concurrency,
            "speed": self._running_speed(data_source_id, schedule_id) if running else 0.0,
        }

    def _running_speed(self, data_source_id: str | None, schedule_id: str | None = None) -> float:
        """Rows per second over the running tasks (bounded: at most the engine's concurrency is running)."""
        running = self.tasks.running(
            limit=min(100, self.settings.engine_max_concurrency * 2),
            projection="speed, schedule_id",
            data_source_id=data_source_id,
        )
        return round(
            sum(
                float(task.get("speed") or 0)
                for task in running
                if not schedule_id or task.get("schedule_id") == schedule_id
            ),
            2,
        )


@lru_cache(maxsize=1)
def statistics_service() -> StatisticsService:
    return StatisticsService()
