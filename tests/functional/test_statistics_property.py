"""Property: after any sequence of creates, updates, cancels, retries and engine moves, the statistics
equal a recount of the stored tasks, for every window and data-source filter tried."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from synchub.errors import SyncHubError
from synchub.models.aggregate import recount, summarise
from synchub.models.data_sources import CreateDataSourceRequest
from synchub.models.tasks import CreateTaskRequest
from synchub.timeutil import Clock as ServiceClock
from tests.helpers import all_tasks, gauges_recount

DATA_SOURCES = ("ds_a", "ds_b")
START = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


class Clock(ServiceClock):
    """The services' clock, moved by the machine's rules."""

    def __init__(self):
        self.moment = START

    def now(self):
        return self.moment


class StatisticsMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        from moto import mock_aws

        from tests.conftest import start_local_aws

        self.mock = mock_aws()
        self.mock.start()
        self.mock.reset()  # a clean emulator per example, even if an earlier one did not stop
        self.patches = pytest.MonkeyPatch()
        self.stack = start_local_aws(self.patches)
        from synchub.sources.data_sources import data_source_service
        from synchub.stats.service import statistics_service
        from synchub.tasks.lifecycle import task_lifecycle
        from synchub.tasks.use_cases import task_service

        self.clock = Clock()
        self.lifecycle = task_lifecycle()
        self.patches.setattr(self.lifecycle, "clock", self.clock)
        self.service = task_service()
        self.statistics = statistics_service()
        for ds in DATA_SOURCES:
            data_source_service().create(
                CreateDataSourceRequest(
                    id=ds,
                    name=ds,
                    type="http",
                    connection_config={"base_url": "https://example.com"},
                    params_config={"cursor_field": "updated_at"},
                ),
                "prop",
            )
        self.ids: list[str] = []

    def teardown(self):
        self.patches.undo()
        self.mock.stop()

    # ---- moves ---------------------------------------------------------------------------------
    @rule(
        ds=st.sampled_from(DATA_SOURCES), task_type=st.sampled_from(["full_sync", "incremental_sync", "realtime_sync"])
    )
    def create(self, ds, task_type):
        task = self.service.create_task(CreateTaskRequest(data_source_id=ds, task_type=task_type), "prop")
        self.ids.append(task["id"])

    @rule(hours=st.integers(min_value=1, max_value=40))
    def advance_clock(self, hours):
        self.clock.moment += timedelta(hours=hours)

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0), batch=st.integers(min_value=1, max_value=500))
    def update(self, pick, batch):
        try:
            self.service.update_task(self.ids[pick % len(self.ids)], {"batch_size": batch})
        except SyncHubError:
            pass

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0))
    def cancel(self, pick):
        try:
            self.service.cancel_task(self.ids[pick % len(self.ids)])
        except SyncHubError:
            pass

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0), restart=st.booleans())
    def retry(self, pick, restart):
        try:
            task = self.service.retry_task(self.ids[pick % len(self.ids)], restart=restart, created_by="prop")
            self.ids.append(task["id"])
        except SyncHubError:
            pass

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0))
    def delete(self, pick):
        try:
            self.service.delete_task(self.ids[pick % len(self.ids)])  # finished tasks only; others refuse
        except SyncHubError:
            pass

    @precondition(lambda self: self.ids)
    @rule(pick=st.integers(min_value=0))
    def start(self, pick):
        self.lifecycle.start_task(self.ids[pick % len(self.ids)], lease_owner="engine", lease_seconds=600)

    @precondition(lambda self: self.ids)
    @rule(
        pick=st.integers(min_value=0),
        outcome=st.sampled_from(["success", "failed", "cancelled"]),
        rows=st.integers(min_value=0, max_value=10_000),
        minutes=st.integers(min_value=0, max_value=300),
    )
    def finish(self, pick, outcome, rows, minutes):
        self.clock.moment += timedelta(minutes=minutes)
        self.lifecycle.finish_task(
            self.ids[pick % len(self.ids)], lease_owner="engine", status=outcome, changes={"processed_rows": rows}
        )

    # ---- the property ---------------------------------------------------------------------------
    @invariant()
    def statistics_equal_a_recount(self):
        tasks = all_tasks(self.stack.refs["TasksTable"])
        first, last = START.date(), self.clock.moment.date()
        span = (last - first).days
        windows = {
            (first, last),
            (last, last),
            (first + timedelta(days=span // 2), last),
            (first - timedelta(days=3), first - timedelta(days=1)),
        }
        for ds in (None, *DATA_SOURCES):
            scoped = [t for t in tasks if ds is None or t["data_source_id"] == ds]
            for low, high in windows:
                got = self.statistics.statistics(
                    data_source_id=ds,
                    start_time=datetime.combine(low, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=5),
                    end_time=datetime.combine(high, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=5),
                )
                got.pop("engine_statistics")
                got.pop("data_source_id")
                daily = got.pop("daily")
                in_window = [t for t in scoped if low <= date.fromisoformat(t["created_at"][:10]) <= high]
                expected = summarise(recount(in_window), got["period"]["start_time"], got["period"]["end_time"])
                assert got == expected, (ds, low, high)
                assert [d["date"] for d in daily] == [
                    (low + timedelta(days=n)).isoformat() for n in range((high - low).days + 1)
                ]
                for day in daily:
                    that_day = summarise(recount(t for t in in_window if t["created_at"][:10] == day["date"]), "", "")
                    assert day["total_tasks"] == that_day["total_tasks"], (ds, day)
                    assert day["processed_rows"] == that_day["processed_rows"], (ds, day)
                    assert day["successful_tasks"] == that_day["successful_tasks"], (ds, day)
            listing = self.service.list_tasks(page=1, size=5, data_source_id=ds, status=None, next_token=None)
            assert listing["pagination"]["total"] == len(scoped)
            for status, count in gauges_recount(scoped).items():
                listing = self.service.list_tasks(page=1, size=5, data_source_id=ds, status=status[3:], next_token=None)
                assert listing["pagination"]["total"] == count
        engine = self.statistics.engine_statistics()
        counts = gauges_recount(tasks)
        assert (engine["running_tasks"], engine["pending_tasks"]) == (counts["st_running"], counts["st_pending"])


def test_statistics_always_equal_a_recount():
    run_state_machine_as_test(
        StatisticsMachine,
        settings=settings(
            max_examples=12, stateful_step_count=20, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
