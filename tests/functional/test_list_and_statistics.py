"""Listing (indexes, paging, next_token) and statistics (windows, filters, engine figures)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from local.seeding import SEEDING_LEASE_OWNER, run_task
from synchub.tasks.lifecycle import task_lifecycle
from tests.conftest import TEMPLATE
from tests.functional.test_tasks_api import CREATE, assert_problem

ENGINE_MAX_CONCURRENCY = TEMPLATE["Parameters"]["EngineMaxConcurrency"]["Default"]  # the stack's setting


@pytest.fixture
def two_sources(api):
    for ds in ("ds_a", "ds_b"):
        assert (
            api.post(
                "/api/sync/data-sources",
                {
                    "id": ds,
                    "name": ds,
                    "type": "http",
                    "connection_config": {"base_url": "https://example.com"},
                },
            ).status
            == 201
        )


def make_tasks(api, plan):
    """plan: list of (data source, final status); returns created tasks newest last."""
    created = []
    for ds, status in plan:
        task = api.post("/api/sync/tasks", {**CREATE, "data_source_id": ds}).json
        if status == "cancelled":
            api.post(f"/api/sync/tasks/{task['id']}/cancel")
        elif status != "pending":
            run_task(task["id"], outcome=status, rows=7)
        created.append((task["id"], ds, status))
    return created


def walk(api, query):
    """All tasks of a listing by following next_token; returns (ids, pages)."""
    ids, pages = [], []
    page = api.get(f"/api/sync/tasks?{query}").json
    while True:
        pages.append(page)
        ids.extend(task["id"] for task in page["tasks"])
        token = page["pagination"].get("next_token")
        if not token:
            return ids, pages
        page = api.get(f"/api/sync/tasks?{query}&next_token={token}").json


def test_listing_filters_and_orders_newest_first(api, two_sources):
    plan = [
        ("ds_a", "pending"),
        ("ds_b", "success"),
        ("ds_a", "failed"),
        ("ds_a", "success"),
        ("ds_b", "cancelled"),
        ("ds_a", "running"),
        ("ds_b", "pending"),
        ("ds_a", "success"),
    ] * 2
    created = make_tasks(api, plan)
    newest_first = [task_id for task_id, _, _ in reversed(created)]
    cases = {
        "": newest_first,
        "status=success": [t for t, _, s in reversed(created) if s == "success"],
        "data_source_id=ds_a": [t for t, d, _ in reversed(created) if d == "ds_a"],
        "data_source_id=ds_b&status=pending": [t for t, d, s in reversed(created) if d == "ds_b" and s == "pending"],
        "status=paused": [],
    }
    for query, expected in cases.items():
        for size in (1, 3, 100):
            ids, pages = walk(api, f"size={size}&{query}")
            assert ids == expected, (query, size)
            assert all(p["pagination"]["total"] == len(expected) for p in pages)
            assert pages[0]["pagination"]["total_pages"] == (len(expected) + size - 1) // size
            assert [p["pagination"]["page"] for p in pages] == list(range(1, len(pages) + 1))
        for page_number in (1, 2, 3):
            page = api.get(f"/api/sync/tasks?size=3&page={page_number}&{query}").json
            assert [t["id"] for t in page["tasks"]] == expected[(page_number - 1) * 3 : page_number * 3]
            assert page["pagination"]["page"] == page_number


def test_listing_defaults(api, two_sources):
    make_tasks(api, [("ds_a", "pending")] * 12)
    page = api.get("/api/sync/tasks").json
    assert len(page["tasks"]) == 10
    assert page["pagination"] == {**page["pagination"], "page": 1, "size": 10, "total": 12, "total_pages": 2}
    assert page["pagination"]["next_token"]


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "size=0",
        "size=101",
        "size=ten",
        "status=done",
        "status=pending%27%20OR%201%3D1",
        "data_source_id=%3Cscript%3E",
        "data_source_id=" + "a" * 200,
        "next_token=garbage",
        "next_token=eyJpIjoiQnlBbGwifQ",
        "page=1000000&size=100",
    ],
)
def test_listing_bad_queries_are_422(api, query):
    assert_problem(api.get(f"/api/sync/tasks?{query}"), 422, "VALIDATION_FAILED")


def test_next_token_is_bound_to_its_filter(api, two_sources):
    make_tasks(api, [("ds_a", "pending")] * 3)
    token = api.get("/api/sync/tasks?size=1&data_source_id=ds_a").json["pagination"]["next_token"]
    assert_problem(api.get(f"/api/sync/tasks?size=1&status=pending&next_token={token}"), 422, "VALIDATION_FAILED")


def test_statistics_count_the_window_and_the_data_source(api, two_sources):
    make_tasks(
        api,
        [
            ("ds_a", "success"),
            ("ds_a", "failed"),
            ("ds_b", "cancelled"),
            ("ds_b", "pending"),
            ("ds_a", "running"),
            ("ds_a", "success"),
        ],
    )
    stats = api.get("/api/sync/tasks/statistics").json
    assert stats["total_tasks"] == 6
    assert (stats["successful_tasks"], stats["failed_tasks"], stats["cancelled_tasks"]) == (2, 1, 1)
    assert stats["success_rate"] == pytest.approx(66.67)
    assert stats["processed_rows"] == 3 * 7
    assert stats["avg_duration_sec"] >= 0
    breakdown = {entry["status"]: entry["count"] for entry in stats["status_breakdown"]}
    assert breakdown == {"pending": 1, "running": 1, "success": 2, "failed": 1, "cancelled": 1, "paused": 0}
    assert {e["task_type"]: e["count"] for e in stats["task_type_breakdown"]}["full_sync"] == 6
    engine = stats["engine_statistics"]
    assert engine["running_tasks"] == 1 and engine["pending_tasks"] == 1
    assert (
        engine["queue_length"] == 6 and engine["in_flight"] == 0 and engine["max_concurrent"] == ENGINE_MAX_CONCURRENCY
    )
    assert set(engine) == {"running_tasks", "pending_tasks", "queue_length", "in_flight", "max_concurrent", "speed"}

    only_b = api.get("/api/sync/tasks/statistics?data_source_id=ds_b").json
    assert only_b["total_tasks"] == 2 and only_b["cancelled_tasks"] == 1 and only_b["data_source_id"] == "ds_b"
    # a data source's statistics give its own running and pending tasks and speed; the queue is the engine's
    running = api.get("/api/sync/tasks?status=running").json["tasks"][0]
    task_lifecycle().record_progress(running["id"], lease_owner=SEEDING_LEASE_OWNER, seq=0, changes={"speed": 12.5})
    figures = {
        ds: api.get(f"/api/sync/tasks/statistics?data_source_id={ds}").json["engine_statistics"]
        for ds in ("ds_a", "ds_b")
    }
    assert (figures["ds_a"]["running_tasks"], figures["ds_a"]["pending_tasks"], figures["ds_a"]["speed"]) == (
        1,
        0,
        12.5,
    )
    assert (figures["ds_b"]["running_tasks"], figures["ds_b"]["pending_tasks"], figures["ds_b"]["speed"]) == (0, 1, 0.0)
    assert figures["ds_a"]["queue_length"] == figures["ds_b"]["queue_length"] == 6
    assert api.get("/api/sync/tasks/statistics").json["engine_statistics"]["speed"] == 12.5

    past = datetime.now(timezone.utc) - timedelta(days=30)
    old = api.get(
        "/api/sync/tasks/statistics?start_time={}&end_time={}".format(
            (past - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), past.strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    ).json
    assert old["total_tasks"] == 0
    assert old["period"]["start_time"].endswith("T00:00:00.000Z")
    assert old["period"]["end_time"].endswith("T23:59:59.999Z")


def test_statistics_of_an_unknown_data_source_are_404_and_of_nothing_finished_have_no_rate(api, two_sources):
    assert_problem(api.get("/api/sync/tasks/statistics?data_source_id=ds_nope"), 404, "DATA_SOURCE_NOT_FOUND")
    make_tasks(api, [("ds_a", "pending"), ("ds_a", "running")])
    assert api.get("/api/sync/tasks/statistics?data_source_id=ds_a").json["success_rate"] is None


def test_a_page_past_the_walk_limit_says_the_limit_and_the_way_on(api, two_sources):
    response = api.get("/api/sync/tasks?page=1002&size=10")
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert "at most 10,000 tasks" in response.json["detail"] and "next_token" in response.json["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "start_time=yesterday",
        "end_time=2026-13-01T00:00:00Z",
        "start_time=2026-02-01T00:00:00Z&end_time=2026-01-01T00:00:00Z",
        "start_time=2020-01-01T00:00:00Z&end_time=2026-01-01T00:00:00Z",
        "data_source_id=%00",
    ],
)
def test_statistics_bad_queries_are_422(api, query):
    assert_problem(api.get(f"/api/sync/tasks/statistics?{query}"), 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "path, unknown, takes",
    [
        (
            "/api/sync/tasks?stauts=failed",
            "stauts",
            "created_after, created_before, data_source_id, next_token, page, schedule_id, size, status, task_type",
        ),
        (
            "/api/sync/tasks/statistics?source=ds_a&start_time=2026-12-01T00:00:00Z",
            "source",
            "data_source_id, end_time, schedule_id, start_time",
        ),
        ("/api/sync/data-sources?sise=5", "sise", "page, size"),
    ],
)
def test_an_unknown_query_parameter_is_422_naming_it_instead_of_widening_the_answer(
    api, two_sources, path, unknown, takes
):
    response = api.get(path)
    assert_problem(response, 422, "VALIDATION_FAILED")
    (error,) = response.json["errors"]
    assert error["loc"] == ["query", unknown] and error["type"] == "extra_forbidden"
    assert error["msg"] == f"Unknown query parameter '{unknown}' (this route takes {takes})"


def test_a_route_without_query_parameters_refuses_any(api, two_sources):
    task = api.post("/api/sync/tasks", {**CREATE, "data_source_id": "ds_a"}).json
    response = api.get(f"/api/sync/tasks/{task['id']}?verbose=1")
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert response.json["errors"][0]["msg"] == "Unknown query parameter 'verbose' (this route takes none)"
