"""No Scan on any request path, and reads of GET /tasks and statistics that do not grow with the table."""

from __future__ import annotations

from datetime import timedelta

from local.seeding import bulk_load_tasks, run_task
from synchub import aws as synchub_aws
from tests.functional.test_tasks_api import CREATE


class DynamoRecorder:
    """Records every DynamoDB request the service makes: operation, key parameters, items returned."""

    def __init__(self):
        self.calls = []
        client = synchub_aws.client("dynamodb")
        client.meta.events.register("before-parameter-build.dynamodb", self._before)
        client.meta.events.register("after-call.dynamodb", self._after)

    def _before(self, model, params, **_):  # params: the API parameters as the service passed them
        self.calls.append(
            {
                "op": model.name,
                "index": params.get("IndexName"),
                "limit": params.get("Limit"),
                "keys": len(next(iter(params.get("RequestItems", {}).values()), {}).get("Keys", []))
                if model.name == "BatchGetItem"
                else None,
            }
        )

    def _after(self, model, parsed, **_):
        items = parsed.get("Items")
        if items is None and model.name == "BatchGetItem":
            items = [i for table in parsed.get("Responses", {}).values() for i in table]
        self.calls[-1]["returned"] = len(items) if items is not None else (1 if parsed.get("Item") else 0)

    def take(self):
        calls, self.calls = self.calls, []
        return calls


def exercise_every_route(api):
    """One request of every kind, success and failure, against a small dataset."""
    api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_x",
            "name": "x",
            "type": "http",
            "connection_config": {"base_url": "https://x.example", "token": "t"},
        },
    )
    task = api.post("/api/sync/tasks", CREATE).json
    other = api.post("/api/sync/tasks", CREATE).json
    api.post("/api/sync/tasks", {**CREATE, "data_source_id": "nope"})
    api.get("/api/sync/tasks")
    api.get("/api/sync/tasks?status=pending&data_source_id=ds_test&size=1")
    page = api.get("/api/sync/tasks?size=1").json
    api.get(f"/api/sync/tasks?size=1&next_token={page['pagination']['next_token']}")
    api.get("/api/sync/tasks?page=2&size=1&data_source_id=ds_test")
    api.get(f"/api/sync/tasks/{task['id']}")
    api.get("/api/sync/tasks/task_123")
    api.put(f"/api/sync/tasks/{task['id']}", {"config": {"batch_size": 1}})
    api.post(f"/api/sync/tasks/{task['id']}/cancel")
    api.post(f"/api/sync/tasks/{task['id']}/cancel")
    run_task(other["id"], outcome="failed")
    api.post(f"/api/sync/tasks/{other['id']}/retry")
    api.get("/api/sync/tasks/statistics")
    api.get("/api/sync/tasks/statistics?data_source_id=ds_test")
    api.get("/api/sync/data-sources")
    api.get("/api/sync/data-sources/ds_x")
    api.put(
        "/api/sync/data-sources/ds_x", {"name": "y", "type": "http", "connection_config": {"base_url": "https://y"}}
    )
    api.delete("/api/sync/data-sources/ds_x")


def test_no_request_path_scans(api, data_source):
    recorder = DynamoRecorder()
    exercise_every_route(api)
    operations = {call["op"] for call in recorder.take()}
    assert "Scan" not in operations
    assert {"Query", "GetItem", "TransactWriteItems", "BatchGetItem"} <= operations


# Sizes small enough that every shard of every listing holds more than a page even with 100 tasks, so
# the items read are the same too; the size=100 page is compared on its requests only.
LISTING_QUERIES = [
    "/api/sync/tasks",
    "/api/sync/tasks?status=pending&size=5",
    "/api/sync/tasks?data_source_id=ds_test",
    "/api/sync/tasks?data_source_id=ds_test&status=success&size=20",
    "/api/sync/tasks?page=3&size=5",
]
REQUESTS_ONLY = ["/api/sync/tasks?size=100"]


def read_profile(api, deep_token_pages=3):
    """DynamoDB calls of the listing and statistics routes (and a deep next_token page)."""
    recorder = DynamoRecorder()
    profile = {}
    for query in LISTING_QUERIES + REQUESTS_ONLY:
        response = api.get(query)
        assert response.status == 200
        profile[query] = recorder.take()
        if query in REQUESTS_ONLY:
            for call in profile[query]:
                call.pop("returned", None)
    token_query = "/api/sync/tasks?size=3"
    page = api.get(token_query).json
    for _ in range(deep_token_pages):
        page = api.get(f"{token_query}&next_token={page['pagination']['next_token']}").json
    recorder.take()
    page = api.get(f"{token_query}&next_token={page['pagination']['next_token']}")
    profile["deep next_token page"] = recorder.take()
    for query in ("/api/sync/tasks/statistics", "/api/sync/tasks/statistics?data_source_id=ds_test"):
        assert api.get(query).status == 200
        profile[query] = recorder.take()
    return profile


def test_listing_and_statistics_reads_do_not_grow_with_the_table(api, data_source, monkeypatch):
    """The same requests, the same reads, at 100 tasks and after the table grew to 5,000 (one test, so the
    comparison always runs)."""
    # every task on one day, whatever the time of the run: a load that crossed midnight would fill two day
    # buckets in one run and one in the other
    from synchub.tasks.lifecycle import task_lifecycle
    from synchub.timeutil import utcnow
    from tests.helpers import TickingClock

    noon = (utcnow() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(task_lifecycle(), "clock", TickingClock(noon, timedelta(milliseconds=1)))
    profiles, loaded = {}, 0
    for size in (100, 5000):
        bulk_load_tasks(size - loaded, data_source_id="ds_test", statuses=("pending", "success", "pending", "failed"))
        loaded = size
        profiles[size] = read_profile(api)
        for calls in profiles[size].values():
            assert all(call["op"] != "Scan" for call in calls)
    for key in profiles[100]:
        assert profiles[100][key] == profiles[5000][key], key
    assert profiles[100] == profiles[5000]
