"""Interface routes, and tasks that read through an interface."""

from __future__ import annotations

import pytest

from local.orders_server import OrdersServer
from tests.functional.test_engine import assert_exact, drain, immediate_retries  # noqa: F401
from tests.functional.test_tasks_api import assert_problem

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

ORDERS = {
    "id": "orders",
    "name": "Orders",
    "url_suffix": "/orders",
    "records_path": "items",
    "total_path": "meta.total",
    "primary_key": "id",
    "cursor_field": "updated_at",
    "pagination": {"style": "page", "size_param": "page_size", "page_size": 100},
}
BASE = "/api/sync/data-sources/ds_api/interfaces"


@pytest.fixture
def orders(api):
    server = OrdersServer(rows=777)
    api.post(
        "/api/sync/data-sources",
        {"id": "ds_api", "name": "api", "type": "http", "connection_config": {"base_url": server.base_url}},
    )
    yield server
    server.close()


def test_interface_crud(api, orders):
    created = api.post(BASE, ORDERS)
    assert created.status == 201, created.text
    assert created.headers["location"] == f"{BASE}/orders"
    assert created.json["pagination"]["style"] == "page" and created.json["data_source_id"] == "ds_api"
    assert api.get(f"{BASE}/orders").json == created.json
    generated = api.post(BASE, {"name": "customers", "url_suffix": "/customers"}).json
    assert generated["id"].startswith("if_")
    listing = api.get(f"{BASE}?size=1").json
    assert len(listing["interfaces"]) == 1 and listing["pagination"]["next_token"]
    rest = api.get(f"{BASE}?size=1&next_token={listing['pagination']['next_token']}").json
    assert {i["id"] for i in listing["interfaces"] + rest["interfaces"]} == {"orders", generated["id"]}
    replaced = api.put(f"{BASE}/orders", {**{k: v for k, v in ORDERS.items() if k != "id"}, "name": "All orders"})
    assert replaced.status == 200 and replaced.json["name"] == "All orders"
    assert replaced.json["created_at"] == created.json["created_at"]
    assert api.delete(f"{BASE}/orders").status == 204
    assert_problem(api.get(f"{BASE}/orders"), 404, "INTERFACE_NOT_FOUND")
    assert_problem(api.delete(f"{BASE}/orders"), 404, "INTERFACE_NOT_FOUND")


def test_interface_errors(api, orders):
    assert_problem(api.post("/api/sync/data-sources/ds_nope/interfaces", ORDERS), 404, "DATA_SOURCE_NOT_FOUND")
    assert_problem(api.get("/api/sync/data-sources/ds_nope/interfaces"), 404, "DATA_SOURCE_NOT_FOUND")
    api.post(BASE, ORDERS)
    assert_problem(api.post(BASE, ORDERS), 409, "INTERFACE_EXISTS")
    for bad in (
        {**ORDERS, "id": "x y"},
        {**ORDERS, "pagination": {"style": "sideways"}},
        {**ORDERS, "headers": {"Authorization": "Bearer leak"}},
        {**ORDERS, "table_name": "t;drop"},
        {**ORDERS, "table_name": "t", "query": "select 1"},
        {**ORDERS, "unknown": 1},
        {"url_suffix": "/x"},
    ):
        assert_problem(api.post(BASE, {**bad, "id": bad.get("id", "bad")}), 422, "VALIDATION_FAILED")
    assert_problem(api.put(f"{BASE}/missing", {"name": "m"}), 404, "INTERFACE_NOT_FOUND")


def test_task_reads_through_its_interface(api, aws, orders):
    api.post(BASE, ORDERS)
    assert_problem(
        api.post("/api/sync/tasks", {"data_source_id": "ds_api", "interface_id": "nope", "task_type": "full_sync"}),
        422,
        "INTERFACE_NOT_FOUND",
    )
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_api",
            "interface_id": "orders",
            "task_type": "full_sync",
            "parameters": {"batch_size": 250},
        },
    ).json
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success" and done["result"]["prefix"] == f"ds_api/orders/{task['id']}"
    assert_exact(aws, done, 777)


def test_task_fails_clearly_when_its_interface_was_deleted(api, aws, orders):
    api.post(BASE, ORDERS)
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_api", "interface_id": "orders", "task_type": "full_sync"}
    ).json
    api.delete(f"{BASE}/orders")
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and "interface 'orders' no longer exists" in done["error_message"]


def test_put_takes_back_what_get_answered_and_refuses_changed_read_only_fields(api, orders):
    shown = api.post(BASE, ORDERS).json
    again = api.put(f"{BASE}/orders", {**shown, "name": "All orders"})
    assert again.status == 200, again.text
    assert again.json["name"] == "All orders" and again.json["created_at"] == shown["created_at"]
    moved = api.put(f"{BASE}/orders", {**again.json, "data_source_id": "ds_elsewhere"})
    assert_problem(moved, 422, "VALIDATION_FAILED")
    assert moved.json["errors"][0]["loc"] == ["body", "data_source_id"]


def test_patch_changes_part_of_an_interface(api, orders):
    api.post(BASE, ORDERS)
    patched = api.patch(f"{BASE}/orders", {"pagination": {"page_size": 50}, "cursor_field": None})
    assert patched.status == 200, patched.text
    assert patched.json["pagination"]["page_size"] == 50 and patched.json["pagination"]["style"] == "page"
    assert "cursor_field" not in patched.json and patched.json["primary_key"] == "id"
    assert_problem(api.patch(f"{BASE}/orders", {"query": "SELECT 1", "table_name": "t"}), 422, "VALIDATION_FAILED")
