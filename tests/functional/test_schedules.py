"""Schedules: the resource and its EventBridge Scheduler schedule kept in step, one task per firing, the overlap
rules, paused schedules, a schedule's runs and statistics, and the local scheduler that fires them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import boto3
import pytest

from tests.conftest import FUNCTIONS
from tests.functional.test_engine import drain, orders, register  # noqa: F401 - orders is a fixture
from tests.functional.test_tasks_api import assert_problem
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

NIGHTLY = {
    "id": "sch_nightly",
    "name": "Nightly orders",
    "data_source_id": "ds_orders",
    "task_type": "full_sync",
    "parameters": {"batch_size": 500},
    "expression": "cron(0 2 * * ? *)",
    "timezone": "Europe/Paris",
}


@pytest.fixture
def source(api, orders):
    register(api, orders)


def fire(schedule_id, scheduled_time):
    """One delivery of a firing, as EventBridge Scheduler invokes the fire function."""
    return FUNCTIONS["FireScheduleFunction"].invoke({"schedule_id": schedule_id, "scheduled_time": scheduled_time})


def in_scheduler(aws, schedule_id):
    return boto3.client("scheduler").get_schedule(Name=schedule_id, GroupName=aws.refs["ScheduleGroup"])


def test_a_schedule_and_its_scheduler_schedule_are_kept_in_step(api, aws, source):
    created = api.post("/api/sync/schedules", NIGHTLY)
    assert created.status == 201, created.text
    schedule = created.json
    assert created.headers["location"] == "/api/sync/schedules/sch_nightly"
    assert schedule["state"] == "enabled" and schedule["overlap"] == "skip" and schedule["runs"] == 0
    next_run = datetime.fromisoformat(schedule["next_run_at"].replace("Z", "+00:00"))
    assert next_run.astimezone(timezone(timedelta(hours=1))).hour in (2, 3)  # 02:00 in Paris: CET or CEST
    deployed = in_scheduler(aws, "sch_nightly")
    assert deployed["ScheduleExpression"] == "cron(0 2 * * ? *)" and deployed["State"] == "ENABLED"
    assert deployed["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert deployed["Target"]["Arn"].endswith("FireScheduleFunction")
    assert '"scheduled_time": "<aws.scheduler.scheduled-time>"' in deployed["Target"]["Input"]

    replaced = api.put(
        "/api/sync/schedules/sch_nightly", {**schedule, "expression": "rate(15 minutes)", "overlap": "allow"}
    )
    assert replaced.status == 200, replaced.text
    assert in_scheduler(aws, "sch_nightly")["ScheduleExpression"] == "rate(15 minutes)"
    paused = api.post("/api/sync/schedules/sch_nightly/pause").json
    assert paused["state"] == "paused" and paused["next_run_at"] is None
    assert in_scheduler(aws, "sch_nightly")["State"] == "DISABLED"
    resumed = api.post("/api/sync/schedules/sch_nightly/resume").json
    assert resumed["state"] == "enabled" and resumed["next_run_at"]
    assert in_scheduler(aws, "sch_nightly")["State"] == "ENABLED"
    assert [s["id"] for s in api.get("/api/sync/schedules").json["schedules"]] == ["sch_nightly"]

    assert api.delete("/api/sync/schedules/sch_nightly").status == 204
    assert_problem(api.get("/api/sync/schedules/sch_nightly"), 404, "SCHEDULE_NOT_FOUND")
    with pytest.raises(boto3.client("scheduler").exceptions.ResourceNotFoundException):
        in_scheduler(aws, "sch_nightly")


def test_a_change_that_loses_a_race_is_a_409_and_scheduler_keeps_the_winner(api, aws, source, monkeypatch):
    """A PUT reads the schedule, then a pause lands before the PUT writes: the PUT is 409 (not a 500), the
    stored schedule is the paused one, and Scheduler holds what is stored, not the loser's expression."""
    from synchub.schedules.service import ScheduleService

    schedule = api.post("/api/sync/schedules", NIGHTLY).json
    original, raced = ScheduleService.put_in_scheduler, []

    def pause_meanwhile(self, record, *, new):
        if not new and not raced and record.get("expression") == "rate(15 minutes)":
            raced.append(api.post("/api/sync/schedules/sch_nightly/pause").status)
        return original(self, record, new=new)

    monkeypatch.setattr(ScheduleService, "put_in_scheduler", pause_meanwhile)
    lost = api.put("/api/sync/schedules/sch_nightly", {**schedule, "expression": "rate(15 minutes)"})
    assert raced == [200]
    assert_problem(lost, 409, "CONFLICT")
    stored = api.get("/api/sync/schedules/sch_nightly").json
    assert stored["state"] == "paused" and stored["expression"] == "cron(0 2 * * ? *)"
    deployed = in_scheduler(aws, "sch_nightly")
    assert deployed["ScheduleExpression"] == "cron(0 2 * * ? *)" and deployed["State"] == "DISABLED"


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"expression": "cron(0 2 * * * *)"}, "'?'"),
        ({"expression": "rate(5 minute)"}, "rate(5 minutes)"),
        ({"expression": "every night"}, "rate(value unit)"),
        ({"timezone": "Europe/Atlantis"}, "unknown time zone"),
        ({"start_date": "2027-01-02T00:00:00Z", "end_date": "2027-01-01T00:00:00Z"}, "end_date must come after"),
        ({"expression": "at(2027-01-01T00:00:00)", "end_date": "2027-02-01T00:00:00Z"}, "runs once"),
        ({"start_date": "2027-01-02T00:00:00"}, "timezone"),  # a date without an offset is ambiguous
        ({"overlap": "sometimes"}, "overlap"),
    ],
)
def test_invalid_schedules_are_422_with_the_reason_and_change_nothing(api, aws, source, change, reason):
    response = api.post("/api/sync/schedules", {**NIGHTLY, **change})
    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert reason in response.text, body
    assert api.get("/api/sync/schedules").json["schedules"] == []
    assert boto3.client("scheduler").list_schedules(GroupName=aws.refs["ScheduleGroup"])["Schedules"] == []


def test_a_schedule_of_an_unknown_data_source_is_refused(api, aws):
    response = api.post("/api/sync/schedules", NIGHTLY)
    assert_problem(response, 422, "DATA_SOURCE_NOT_FOUND")


def test_one_firing_delivered_twice_creates_one_task(api, aws, source):
    api.post("/api/sync/schedules", {**NIGHTLY, "overlap": "allow"})
    first = fire("sch_nightly", "2026-12-03T01:00:00Z")
    again = fire("sch_nightly", "2026-12-03T01:00:00Z")
    assert first["outcome"] == "created" and again == {
        "outcome": "duplicate",
        "schedule_id": "sch_nightly",
        "task_id": first["task_id"],
    }
    runs = api.get("/api/sync/tasks?schedule_id=sch_nightly").json
    assert [t["id"] for t in runs["tasks"]] == [first["task_id"]] and runs["pagination"]["total"] == 1
    task = runs["tasks"][0]
    assert task["schedule_id"] == "sch_nightly" and task["config"] == {"batch_size": 500}
    schedule = api.get("/api/sync/schedules/sch_nightly").json
    assert schedule["runs"] == 1 and schedule["last_task_id"] == first["task_id"]
    assert schedule["last_run_at"] == "2026-12-03T01:00:00Z" and schedule["last_outcome"] == "created"
    drain(aws)
    assert api.get(f"/api/sync/tasks/{first['task_id']}").json["status"] == "success"
    stats = api.get("/api/sync/tasks/statistics?schedule_id=sch_nightly").json
    assert stats["total_tasks"] == 1 and stats["successful_tasks"] == 1 and stats["schedule_id"] == "sch_nightly"
    statistics_match_the_stored_tasks(api, aws)


def test_overlap_skip_records_the_skip_while_the_previous_run_is_active(api, aws, source):
    api.post("/api/sync/schedules", NIGHTLY)  # overlap: skip (the default)
    first = fire("sch_nightly", "2026-12-03T01:00:00Z")
    skipped = fire("sch_nightly", "2026-12-04T01:00:00Z")  # the first is still pending
    assert skipped["outcome"] == "skipped" and skipped["active_task_id"] == first["task_id"]
    assert fire("sch_nightly", "2026-12-04T01:00:00Z")["outcome"] == "duplicate"  # the skip is recorded once
    schedule = api.get("/api/sync/schedules/sch_nightly").json
    assert schedule["runs"] == 1 and schedule["skipped_runs"] == 1 and schedule["last_outcome"] == "skipped"
    assert api.get("/api/sync/tasks?schedule_id=sch_nightly").json["pagination"]["total"] == 1
    busy = api.post("/api/sync/schedules/sch_nightly/trigger")
    assert_problem(busy, 409, "SCHEDULE_BUSY")
    assert first["task_id"] in busy.json["detail"]
    drain(aws)
    third = fire("sch_nightly", "2026-12-05T01:00:00Z")
    assert third["outcome"] == "created"
    assert api.get("/api/sync/tasks?schedule_id=sch_nightly").json["pagination"]["total"] == 2


def test_overlap_queue_runs_the_next_one_after_the_previous_finishes(api, aws, source, monkeypatch):
    import synchub.engine.runner as runner

    monkeypatch.setattr(runner, "QUEUED_RECHECK_SECONDS", 0)  # the waiting run looks again at once (no delay)
    api.post("/api/sync/schedules", {**NIGHTLY, "overlap": "queue"})
    first = fire("sch_nightly", "2026-12-03T01:00:00Z")
    queued = fire("sch_nightly", "2026-12-04T01:00:00Z")
    assert queued["outcome"] == "queued"
    drain(aws)
    one = api.get(f"/api/sync/tasks/{first['task_id']}").json
    two = api.get(f"/api/sync/tasks/{queued['task_id']}").json
    assert one["status"] == two["status"] == "success"
    assert two["start_time"] >= one["end_time"]  # it waited for the first to finish


def test_overlap_allow_runs_both(api, aws, source):
    api.post("/api/sync/schedules", {**NIGHTLY, "overlap": "allow"})
    assert fire("sch_nightly", "2026-12-03T01:00:00Z")["outcome"] == "created"
    assert fire("sch_nightly", "2026-12-04T01:00:00Z")["outcome"] == "created"
    assert api.get("/api/sync/tasks?schedule_id=sch_nightly").json["pagination"]["total"] == 2


def test_a_paused_schedule_fires_nothing_but_trigger_runs_it_now(api, aws, source):
    api.post("/api/sync/schedules", NIGHTLY)
    api.post("/api/sync/schedules/sch_nightly/pause")
    assert fire("sch_nightly", "2026-12-03T01:00:00Z") == {"outcome": "paused", "schedule_id": "sch_nightly"}
    triggered = api.post("/api/sync/schedules/sch_nightly/trigger")
    assert triggered.status == 201 and triggered.json["outcome"] == "created"
    assert triggered.json["task"]["schedule_id"] == "sch_nightly"
    drain(aws)
    assert api.get(f"/api/sync/tasks/{triggered.json['task']['id']}").json["status"] == "success"


def test_a_data_source_with_schedules_is_not_deleted(api, aws, source):
    api.post("/api/sync/schedules", NIGHTLY)
    refused = api.delete("/api/sync/data-sources/ds_orders")
    assert_problem(refused, 409, "DATA_SOURCE_IN_USE")
    assert "sch_nightly" in refused.json["detail"]
    assert api.delete("/api/sync/schedules/sch_nightly").status == 204
    assert api.delete("/api/sync/data-sources/ds_orders").status == 204


def test_schedule_runs_filter_alone(api, aws, source):
    assert_problem(api.get("/api/sync/tasks?schedule_id=sch_nightly&status=pending"), 422, "VALIDATION_FAILED")
    assert_problem(
        api.get("/api/sync/tasks/statistics?schedule_id=sch_x&data_source_id=ds_orders"), 422, "VALIDATION_FAILED"
    )


def test_the_local_scheduler_fires_rate_schedules_each_period_and_not_while_paused(api, aws, source):
    from local.scheduler import LocalScheduler

    started = datetime.now(timezone.utc)
    scheduler = LocalScheduler(
        aws.refs["ScheduleGroup"],
        {aws.attributes["FireScheduleFunction"]["Arn"]: FUNCTIONS["FireScheduleFunction"]},
        started=started,
    )
    api.post("/api/sync/schedules", {**NIGHTLY, "expression": "rate(1 minute)", "overlap": "allow"})
    created = datetime.now(timezone.utc)
    assert len(scheduler.tick(created + timedelta(seconds=5))) == 1  # a rate schedule runs at once
    assert scheduler.tick(created + timedelta(seconds=30)) == []
    assert len(scheduler.tick(created + timedelta(seconds=65))) == 1
    api.post("/api/sync/schedules/sch_nightly/pause")
    assert scheduler.tick(created + timedelta(seconds=185)) == []
    api.post("/api/sync/schedules/sch_nightly/resume")
    assert len(scheduler.tick(created + timedelta(seconds=245))) == 1
    drain(aws)
    runs = api.get("/api/sync/tasks?schedule_id=sch_nightly").json["tasks"]
    assert len(runs) == 3 and {t["status"] for t in runs} == {"success"}


def test_the_local_scheduler_fires_an_at_schedule_once(api, aws, source):
    from local.scheduler import LocalScheduler

    now = datetime.now(timezone.utc)
    when = (now + timedelta(minutes=2)).replace(second=0, microsecond=0)
    api.post(
        "/api/sync/schedules", {**NIGHTLY, "expression": f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})", "timezone": "UTC"}
    )
    scheduler = LocalScheduler(
        aws.refs["ScheduleGroup"],
        {aws.attributes["FireScheduleFunction"]["Arn"]: FUNCTIONS["FireScheduleFunction"]},
        started=now,
    )
    assert scheduler.tick(now + timedelta(seconds=30)) == []
    assert scheduler.tick(when + timedelta(seconds=1)) == [("sch_nightly", when.strftime("%Y-%m-%dT%H:%M:%SZ"))]
    assert scheduler.tick(when + timedelta(days=3)) == []
    assert api.get("/api/sync/schedules/sch_nightly").json["next_run_at"] is None
