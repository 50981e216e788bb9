"""POST /api/sync/tasks/cleanup: finished tasks created before a date go, a bounded number per call, through
the status index (no Scan); pending and running tasks never; statistics follow."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from local.seeding import bulk_load_tasks
from synchub import aws as synchub_aws
from synchub.tasks.lifecycle import task_lifecycle
from synchub.timeutil import iso
from tests.functional.test_tasks_api import assert_problem
from tests.helpers import TickingClock, all_tasks, statistics_match_the_stored_tasks

STATUSES = ("pending", "running", "success", "failed", "cancelled")
OLD = datetime(2026, 1, 10, 12, tzinfo=timezone.utc)


def load(monkeypatch, count, created):
    """``count`` tasks created at ``created`` (plus a second per task), statuses in turn."""
    with monkeypatch.context() as patch:
        patch.setattr(task_lifecycle(), "clock", TickingClock(created, timedelta(seconds=1)))
        bulk_load_tasks(count, data_source_id="ds_test", statuses=STATUSES)


def test_cleanup_removes_exactly_the_matching_finished_tasks_over_several_calls(api, aws, data_source, monkeypatch):
    # 5,000 tasks, of which 500 are old (the emulator copies the whole table for every transaction, so the
    # deletions are kept to 200 to keep the test quick)
    load(monkeypatch, 500, OLD)
    load(monkeypatch, 4_500, OLD + timedelta(days=30))
    stored = all_tasks(aws.refs["TasksTable"])
    assert len(stored) == 5_000
    cutoff = "2026-02-01"
    doomed = {t["id"] for t in stored if t["status"] in ("success", "failed") and t["created_at"] < cutoff}
    assert len(doomed) == 200

    operations = []
    synchub_aws.client("dynamodb").meta.events.register(
        "before-call.dynamodb", lambda model, **_: operations.append(model.name)
    )
    deleted, calls, token = [], 0, None
    while True:
        body = {"before_date": cutoff, "statuses": ["failed", "success"], "limit": 20}
        if token:
            body["next_token"] = token
        response = api.post("/api/sync/tasks/cleanup", body)
        assert response.status == 200, response.text
        result = response.json
        calls += 1
        assert result["deleted"] <= 20 and result["skipped"] == 0
        deleted += result["deleted_ids"]
        token = result.get("next_token")
        if result["done"]:
            assert token is None
            break
        assert token
    assert calls >= 10
    assert set(deleted) == doomed and len(deleted) == len(doomed)
    assert "Scan" not in operations
    remaining = all_tasks(aws.refs["TasksTable"])
    assert {t["id"] for t in remaining} == {t["id"] for t in stored} - doomed
    assert sum(t["status"] in ("pending", "running") for t in remaining) == 2_000  # none of them touched
    statistics_match_the_stored_tasks(api, aws)


def test_a_date_time_bound_and_the_default_statuses(api, aws, data_source, monkeypatch):
    load(monkeypatch, 10, OLD)  # 12:00:01 … 12:00:10
    bound = iso(OLD + timedelta(seconds=5, milliseconds=500))
    result = api.post("/api/sync/tasks/cleanup", {"before_date": bound}).json
    # created 12:00:01 to 12:00:05 with statuses pending, running, success, failed, cancelled
    assert (
        result["deleted"] == 3 and result["done"] is True and result["statuses"] == ["cancelled", "failed", "success"]
    )
    assert len(all_tasks(aws.refs["TasksTable"])) == 7
    assert api.post("/api/sync/tasks/cleanup", {"before_date": bound}).json["deleted"] == 0
    statistics_match_the_stored_tasks(api, aws)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"before_date": "yesterday"},
        {"before_date": "2026-01-01T05:00:00"},  # a time needs its zone
        {"before_date": "2026-01-01", "statuses": ["pending"]},
        {"before_date": "2026-01-01", "statuses": []},
        {"before_date": "2026-01-01", "limit": 0},
        {"before_date": "2026-01-01", "limit": 101},
        {"before_date": "2026-01-01", "extra": 1},
    ],
)
def test_bad_requests_are_422_and_delete_nothing(api, aws, data_source, monkeypatch, body):
    load(monkeypatch, 10, OLD)
    assert_problem(api.post("/api/sync/tasks/cleanup", body), 422, "VALIDATION_FAILED")
    assert len(all_tasks(aws.refs["TasksTable"])) == 10


def test_a_token_only_continues_its_own_cleanup(api, aws, data_source, monkeypatch):
    load(monkeypatch, 30, OLD)
    first = api.post("/api/sync/tasks/cleanup", {"before_date": "2026-02-01", "limit": 2}).json
    assert first["deleted"] == 2 and first["next_token"]
    other = {"before_date": "2026-03-01", "limit": 2, "next_token": first["next_token"]}
    assert_problem(api.post("/api/sync/tasks/cleanup", other), 422, "VALIDATION_FAILED")
    forged = {"before_date": "2026-02-01", "limit": 2, "next_token": "not-a-token"}
    assert_problem(api.post("/api/sync/tasks/cleanup", forged), 422, "VALIDATION_FAILED")
