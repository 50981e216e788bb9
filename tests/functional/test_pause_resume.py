"""Pausing and resuming tasks: a running sync stops at its next batch with the checkpoint kept, a resume goes on
from there with each row once, and a realtime task waiting between polls pauses and cancels at once."""

from __future__ import annotations

import boto3
import pytest

from tests.functional.test_engine import assert_exact, create, drain, orders, register  # noqa: F401 - fixtures
from tests.functional.test_tasks_api import assert_problem
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations


@pytest.fixture(autouse=True)
def one_batch_parts(monkeypatch):
    """Each batch closes a part, so the engine stores the task (and sees a pause) at every batch."""
    monkeypatch.setenv("PART_SIZE_MB", "0.01")
    from synchub.settings import get_settings

    get_settings.cache_clear()


def pause_after_reads(monkeypatch, api, task_id, reads):
    """Ask for a pause (over the API) while the engine makes its ``reads``-th read of the source."""
    import synchub.engine.runner as runner

    original, calls = runner.open_source, {"n": 0}

    def opened(*args, **kwargs):
        source = original(*args, **kwargs)
        read = source.read

        def counting(*a, **k):
            calls["n"] += 1
            if calls["n"] == reads:
                assert api.post(f"/api/sync/tasks/{task_id}/pause").status == 202
            return read(*a, **k)

        source.read = counting
        return source

    monkeypatch.setattr(runner, "open_source", opened)
    return lambda: monkeypatch.setattr(runner, "open_source", original)


def test_a_running_full_sync_pauses_within_a_batch_and_resumes_with_each_row_once(api, aws, orders, monkeypatch):
    register(api, orders)
    task = create(api, batch_size=100)
    restore = pause_after_reads(monkeypatch, api, task["id"], reads=4)
    drain(aws)
    paused = api.get(f"/api/sync/tasks/{task['id']}").json
    assert paused["status"] == "paused" and paused["current_phase"] == "paused" and paused["paused_at"]
    # the pause came during read 4: that batch and at most the one read ahead are written, no more
    assert 300 <= paused["processed_rows"] <= 500
    assert not paused.get("pause_requested") and paused["end_time"] is None
    statistics_match_the_stored_tasks(api, aws)
    restore()
    again = api.post(f"/api/sync/tasks/{task['id']}/pause")
    assert again.status == 200 and again.json["status"] == "paused"  # pausing a paused task changes nothing

    resumed = api.post(f"/api/sync/tasks/{task['id']}/resume")
    assert resumed.status == 202 and resumed.json["status"] == "pending"
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    assert_exact(aws, done, 2345)  # the parts before the pause and after it: each row exactly once
    statistics_match_the_stored_tasks(api, aws)


def test_a_pending_task_pauses_at_once_and_its_queued_message_does_not_start_it(api, aws, orders):
    register(api, orders)
    task = create(api)
    paused = api.post(f"/api/sync/tasks/{task['id']}/pause")
    assert paused.status == 200 and paused.json["status"] == "paused"
    drain(aws)  # the message sent at creation finds the task paused and is dropped
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "paused"
    assert api.post(f"/api/sync/tasks/{task['id']}/resume").status == 202
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert_exact(aws, done, 2345)


def test_a_paused_task_can_be_cancelled_and_finished_ones_neither_pause_nor_resume(api, aws, orders):
    register(api, orders)
    task = create(api)
    api.post(f"/api/sync/tasks/{task['id']}/pause")
    cancelled = api.post(f"/api/sync/tasks/{task['id']}/cancel")
    assert cancelled.status == 200 and cancelled.json["status"] == "cancelled"
    body = assert_problem(api.post(f"/api/sync/tasks/{task['id']}/pause"), 409, "INVALID_STATE")
    assert "was cancelled" in body["detail"]
    assert_problem(api.post(f"/api/sync/tasks/{task['id']}/resume"), 409, "INVALID_STATE")
    pending = create(api)
    assert_problem(api.post(f"/api/sync/tasks/{pending['id']}/resume"), 409, "INVALID_STATE")
    assert_problem(api.post("/api/sync/tasks/task_01M8VZ6D9GN5AP9ASX9Y3KHQMH/pause"), 404, "TASK_NOT_FOUND")
    statistics_match_the_stored_tasks(api, aws)


def test_a_waiting_realtime_task_pauses_and_cancels_at_once(api, aws, orders):
    register(api, orders)
    task = create(api, task_type="realtime_sync", poll_interval=900)  # its next poll is 15 minutes away
    drain(aws)
    waiting = api.get(f"/api/sync/tasks/{task['id']}").json
    assert waiting["status"] == "running" and waiting["current_phase"] == "waiting"
    assert api.post(f"/api/sync/tasks/{task['id']}/pause").status == 202
    drain(aws)  # the wake-up message, not the 15-minute one
    paused = api.get(f"/api/sync/tasks/{task['id']}").json
    assert paused["status"] == "paused" and paused["processed_rows"] == 2345

    orders.rows = 2400
    assert api.post(f"/api/sync/tasks/{task['id']}/resume").status == 202
    drain(aws)
    again = api.get(f"/api/sync/tasks/{task['id']}").json
    assert again["status"] == "running" and again["current_phase"] == "waiting"
    assert again["processed_rows"] == 2400  # went on past the newest row it had seen
    assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled"
    assert_exact(aws, done, 2400)
    sqs = boto3.client("sqs")
    delayed = int(
        sqs.get_queue_attributes(QueueUrl=aws.refs["SyncQueue"], AttributeNames=["ApproximateNumberOfMessagesDelayed"])[
            "Attributes"
        ]["ApproximateNumberOfMessagesDelayed"]
    )
    assert delayed >= 1  # the sleeping poll messages are still on their way; the run did not wait for them
    statistics_match_the_stored_tasks(api, aws)


def test_paused_shows_in_the_statistics_breakdown(api, aws, orders):
    register(api, orders)
    for _ in range(2):
        api.post(f"/api/sync/tasks/{create(api)['id']}/pause")
    create(api)
    breakdown = {row["status"]: row["count"] for row in api.get("/api/sync/tasks/statistics").json["status_breakdown"]}
    assert breakdown["paused"] == 2 and breakdown["pending"] == 1
    listed = api.get("/api/sync/tasks?status=paused").json
    assert listed["pagination"]["total"] == 2 and {t["status"] for t in listed["tasks"]} == {"paused"}


def test_batch_cancel_takes_paused_tasks_and_batch_delete_refuses_them(api, aws, orders):
    register(api, orders)
    paused = create(api)
    api.post(f"/api/sync/tasks/{paused['id']}/pause")
    deleted = api.post("/api/sync/tasks/batch-delete", {"task_ids": [paused["id"]]}).json
    assert deleted["failed"][0]["code"] == "INVALID_STATE" and "is paused" in deleted["failed"][0]["detail"]
    cancelled = api.post("/api/sync/tasks/batch-cancel", {"task_ids": [paused["id"]]}).json
    assert cancelled["succeeded"][0]["task"]["status"] == "cancelled"
    statistics_match_the_stored_tasks(api, aws)


def test_a_resume_that_comes_before_the_engine_pauses_withdraws_the_pause(api, aws, orders, monkeypatch):
    """Pause, then resume before the engine reaches its batch boundary: the engine must not park the task
    (nobody would resume it again); it finishes."""
    from synchub.tasks.lifecycle import task_lifecycle

    register(api, orders)
    task = create(api, batch_size=100)
    restore = pause_after_reads(monkeypatch, api, task["id"], reads=3)
    lifecycle = task_lifecycle()
    original = lifecycle.pause_task

    def resumed_first(task_id, **kwargs):
        assert api.post(f"/api/sync/tasks/{task_id}/resume").status == 200  # withdrawn while it was running
        return original(task_id, **kwargs)

    monkeypatch.setattr(lifecycle, "pause_task", resumed_first)
    drain(aws)
    restore()
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    assert_exact(aws, done, 2345)


def test_a_paused_realtime_task_cancelled_from_the_api_leaves_the_watermark_where_it_stopped(api, aws, orders):
    register(api, orders)
    task = create(api, task_type="realtime_sync", poll_interval=900)
    drain(aws)
    assert api.post(f"/api/sync/tasks/{task['id']}/pause").status == 202
    drain(aws)
    assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 200  # paused: cancelled at once
    orders.rows = 2400
    after = create(api, task_type="incremental_sync")
    drain(aws)
    assert api.get(f"/api/sync/tasks/{after['id']}").json["processed_rows"] == 55  # only the new rows
