"""Scale: the AWS requests and capacity units of task listing and statistics with few and with many tasks
stored. The goal is that they are identical: no request path reads more because the table is bigger."""

from __future__ import annotations

from typing import Any

from bench.environment import bench_stack
from bench.routes import DATA_SOURCE

STATUSES = ("success", "failed", "pending", "cancelled", "success")
PAGE_SIZE = 50
DEEP_PAGE = 15  # the page reached by following next_token 14 times: 700 tasks deep


def _requests(count: int) -> dict[str, dict[str, Any]]:
    with bench_stack(stack_name=f"synchub-scale-{count}") as bench:
        from local.seeding import bulk_load_tasks
        from synchub.models.data_sources import CreateDataSourceRequest
        from synchub.sources.data_sources import data_source_service

        data_source_service().create(CreateDataSourceRequest.model_validate(DATA_SOURCE), "bench")
        bulk_load_tasks(count, data_source_id="ds_bench", statuses=STATUSES)

        def listing(query: dict[str, Any]) -> dict[str, Any]:
            status, body, _ = bench.api("ListTasksFunction", "GET", "/api/sync/tasks", "/api/sync/tasks", query=query)
            assert status == 200, body
            return body

        def metered(action: Any) -> dict[str, Any]:
            bench.meter.start()
            action()
            return bench.meter.stop().as_dict()

        token = None
        for _ in range(DEEP_PAGE - 1):
            token = listing({"size": PAGE_SIZE, **({"next_token": token} if token else {})})["pagination"]["next_token"]
        return {
            "GET /tasks (first page)": metered(lambda: listing({"size": PAGE_SIZE})),
            "GET /tasks?status=success&data_source_id": metered(
                lambda: listing({"size": PAGE_SIZE, "status": "success", "data_source_id": "ds_bench"})
            ),
            f"GET /tasks?next_token (page {DEEP_PAGE})": metered(
                lambda: listing({"size": PAGE_SIZE, "next_token": token})
            ),
            "GET /tasks/statistics": metered(
                lambda: bench.api(
                    "TaskStatisticsFunction", "GET", "/api/sync/tasks/statistics", "/api/sync/tasks/statistics"
                )
            ),
        }


def measure(small: int, large: int) -> dict[str, Any]:
    """Requests and capacity of each read at ``small`` and ``large`` stored tasks, and whether they match."""
    few, many = _requests(small), _requests(large)
    rows = [
        {
            "request": name,
            "tasks": [small, large],
            "few": few[name],
            "many": many[name],
            "identical": few[name] == many[name],
        }
        for name in few
    ]
    return {
        "rows": rows,
        "meets_goal": all(row["identical"] for row in rows),
        "goal": "requests and capacity units identical at both sizes",
    }
