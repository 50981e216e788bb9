"""Concurrent actors on one task: conditional writes let exactly one of them win."""

from __future__ import annotations

import threading

import pytest

from synchub.errors import SyncHubError
from synchub.tasks.lifecycle import task_lifecycle
from synchub.tasks.use_cases import task_service
from tests.functional.test_tasks_api import CREATE
from tests.helpers import all_tasks, gauges_recount


def race(actions):
    """Run the actions at the same moment; return each one's outcome ('won' or the exception name)."""
    barrier = threading.Barrier(len(actions))
    outcomes = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            outcomes[index] = "won" if action() else "lost"
        except SyncHubError as error:
            outcomes[index] = error.code
        except Exception as error:  # noqa: BLE001 - recorded for the assertion message
            outcomes[index] = repr(error)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("round_", range(5))
def test_cancel_and_engine_start_never_both_win(api, aws, data_source, round_):
    task = api.post("/api/sync/tasks", CREATE).json
    service = task_service()

    def cancel():
        _, status = service.cancel_task(task["id"])
        return status == 200

    def start():
        return task_lifecycle().start_task(task["id"], lease_owner=f"engine-{round_}", lease_seconds=60) is not None

    outcomes = race([cancel, start, start])
    final = api.get(f"/api/sync/tasks/{task['id']}").json
    if final["status"] == "cancelled":
        assert outcomes[0] == "won" and outcomes[1:] == ["lost", "lost"], outcomes
    else:
        assert final["status"] == "running", final
        assert sorted(outcomes[1:]) == ["lost", "won"], outcomes
        assert outcomes[0] == "lost" and final["cancel_requested"] is True  # cancel became a stop request
    assert gauges_recount(all_tasks(aws.refs["TasksTable"])) == {f"st_{final['status']}": 1}


@pytest.mark.parametrize("round_", range(5))
def test_update_cancel_and_start_race_leaves_one_consistent_outcome(api, aws, data_source, round_):
    task = api.post("/api/sync/tasks", CREATE).json
    service = task_service()

    def update():
        return service.update_task(task["id"], {"batch_size": 7}) is not None

    def cancel():
        return service.cancel_task(task["id"])[1] == 200

    def start():
        return task_lifecycle().start_task(task["id"], lease_owner="engine", lease_seconds=60) is not None

    outcomes = race([update, cancel, start])
    final = api.get(f"/api/sync/tasks/{task['id']}").json
    cancel_won, start_won = outcomes[1] == "won", outcomes[2] == "won"
    assert cancel_won != start_won, outcomes
    assert final["status"] == ("cancelled" if cancel_won else "running")
    if outcomes[0] == "won":
        assert final["config"] == {"batch_size": 7}
    else:
        assert outcomes[0] == "INVALID_STATE" and final["config"] == CREATE["parameters"]
    stats = api.get("/api/sync/tasks/statistics").json
    assert stats["total_tasks"] == 1 and stats["cancelled_tasks"] == (1 if cancel_won else 0)


def test_two_engines_finishing_one_task_only_the_lease_holder_wins(api, data_source):
    task = api.post("/api/sync/tasks", CREATE).json
    task_lifecycle().start_task(task["id"], lease_owner="engine-a", lease_seconds=60)
    outcomes = race(
        [
            lambda: task_lifecycle().finish_task(task["id"], lease_owner="engine-a", status="success", changes={}),
            lambda: task_lifecycle().finish_task(task["id"], lease_owner="engine-b", status="failed", changes={}),
        ]
    )
    assert outcomes == ["won", "lost"]
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "success"


def test_concurrent_retries_of_one_failed_task_make_one_retry(api, data_source):
    task = api.post("/api/sync/tasks", CREATE).json
    service = task_service()
    task_lifecycle().start_task(task["id"], lease_owner="e", lease_seconds=60)
    task_lifecycle().finish_task(task["id"], lease_owner="e", status="failed", changes={})
    outcomes = race([lambda: service.retry_task(task["id"], restart=False, created_by="x")] * 3)
    assert sorted(outcomes) == ["INVALID_STATE", "INVALID_STATE", "won"], outcomes
    assert api.get("/api/sync/tasks").json["pagination"]["total"] == 2
