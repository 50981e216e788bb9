"""DELETE /api/sync/tasks/{id}: finished tasks only; the task and its share of the statistics go together."""

from __future__ import annotations

import pytest

from local.seeding import run_task
from tests.functional.test_tasks_api import assert_problem, create
from tests.helpers import statistics_match_the_stored_tasks


@pytest.mark.parametrize("outcome", ["success", "failed", "cancelled"])
def test_a_finished_task_is_deleted_with_its_statistics(api, aws, data_source, outcome):
    kept = create(api)
    run_task(kept["id"], outcome="success", rows=7)
    task = create(api)
    if outcome == "cancelled":
        assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 200
    else:
        run_task(task["id"], outcome=outcome, rows=40)
    before = api.get("/api/sync/tasks/statistics").json

    response = api.delete(f"/api/sync/tasks/{task['id']}")
    assert response.status == 204 and not response.text

    assert_problem(api.get(f"/api/sync/tasks/{task['id']}"), 404, "TASK_NOT_FOUND")
    assert [t["id"] for t in api.get("/api/sync/tasks").json["tasks"]] == [kept["id"]]
    after = api.get("/api/sync/tasks/statistics").json
    assert after["total_tasks"] == before["total_tasks"] - 1
    assert after["processed_rows"] == 7
    statistics_match_the_stored_tasks(api, aws)
    statistics_match_the_stored_tasks(api, aws, "ds_test")
    assert_problem(api.delete(f"/api/sync/tasks/{task['id']}"), 404, "TASK_NOT_FOUND")


@pytest.mark.parametrize("state", ["pending", "running"])
def test_an_unfinished_task_is_409_and_stays(api, aws, data_source, state):
    task = create(api)
    if state == "running":
        run_task(task["id"], outcome="running")
    body = assert_problem(api.delete(f"/api/sync/tasks/{task['id']}"), 409, "INVALID_STATE")
    assert body["current_status"] == state
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == state
    statistics_match_the_stored_tasks(api, aws)


@pytest.mark.parametrize("task_id", ["task_123", "task_01J0000000000000000000000", "nope"])
def test_unknown_or_malformed_ids_are_404(api, data_source, task_id):
    assert_problem(api.delete(f"/api/sync/tasks/{task_id}"), 404, "TASK_NOT_FOUND")


def test_a_retried_task_can_be_deleted_and_its_retry_still_runs_from_scratch(api, aws, data_source):
    failed = create(api)
    run_task(failed["id"], outcome="failed", rows=3)
    retry = api.post(f"/api/sync/tasks/{failed['id']}/retry", {}).json
    assert api.delete(f"/api/sync/tasks/{failed['id']}").status == 204
    assert api.get(f"/api/sync/tasks/{retry['id']}").json["retry_of"] == failed["id"]
    statistics_match_the_stored_tasks(api, aws)
