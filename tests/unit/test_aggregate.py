"""Arithmetic of the statistics aggregate."""

from synchub.models.aggregate import bucket_contribution, deltas, recount, summarise

BASE = {"id": "task_1", "data_source_id": "ds", "task_type": "full_sync", "created_at": "2026-03-01T10:00:00.000Z"}


def test_create_then_finish_moves_counters_by_the_difference():
    pending = {**BASE, "status": "pending"}
    day, bucket, gauge = deltas(None, pending)
    assert day == "2026-03-01"
    assert bucket == {"tasks": 1, "st_pending": 1, "ty_full_sync": 1} and gauge == {"st_pending": 1}
    running = {**pending, "status": "running", "start_time": "2026-03-02T00:00:00.000Z"}
    assert deltas(pending, running)[1:] == ({"st_pending": -1, "st_running": 1}, {"st_pending": -1, "st_running": 1})
    done = {**running, "status": "success", "end_time": "2026-03-02T00:01:30.500Z", "processed_rows": 42}
    day, bucket, _ = deltas(running, done)
    assert day == "2026-03-01"  # the creation day, however late it finishes
    assert bucket == {"st_running": -1, "st_success": 1, "rows": 42, "dur_ms": 90_500, "dur_n": 1}


def test_progress_of_a_running_task_changes_nothing():
    running = {**BASE, "status": "running", "processed_rows": 5}
    assert deltas(running, {**running, "processed_rows": 500})[1:] == ({}, {})


def test_summary_of_a_recount():
    tasks = [
        {
            **BASE,
            "status": "success",
            "processed_rows": 10,
            "start_time": "2026-03-01T10:00:00Z",
            "end_time": "2026-03-01T10:00:10Z",
        },
        {
            **BASE,
            "status": "failed",
            "processed_rows": 3,
            "start_time": "2026-03-01T10:00:00Z",
            "end_time": "2026-03-01T10:00:20Z",
        },
        {**BASE, "status": "cancelled", "task_type": "realtime_sync"},
        {**BASE, "status": "pending"},
    ]
    summary = summarise(recount(tasks), "s", "e")
    assert summary["total_tasks"] == 4 and summary["successful_tasks"] == 1 and summary["failed_tasks"] == 1
    assert summary["success_rate"] == 50.0 and summary["avg_duration_sec"] == 15.0
    assert summary["processed_rows"] == 13
    assert {e["task_type"]: e["count"] for e in summary["task_type_breakdown"]} == {
        "full_sync": 3,
        "incremental_sync": 0,
        "realtime_sync": 1,
    }
    assert summary["period"] == {"start_time": "s", "end_time": "e"}


def test_empty_summary_has_no_division_by_zero():
    summary = summarise(recount([]), "s", "e")
    assert summary["success_rate"] is None  # nothing finished: no rate, rather than 0 %
    assert summary["avg_duration_sec"] == 0.0 and summary["total_tasks"] == 0


def test_terminal_without_start_counts_no_duration():
    assert "dur_n" not in bucket_contribution({**BASE, "status": "cancelled", "end_time": "2026-03-01T11:00:00Z"})
