"""Lake tables under the local stack, as README shows them: syncs of ds_pg_demo into its Iceberg table (full,
then a keyed incremental merge, then a full sync after deletes), read with pyiceberg against the emulator, the
three table routes over HTTP, and `synchub tables list | show | head | query`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
import requests

from tests.e2e.conftest import ROOT, RunningStack, follow, lake_table, stack  # noqa: F401 - stack: this module's own

pytestmark = pytest.mark.e2e


def sync(stack: RunningStack, task_type: str) -> dict:
    created = requests.post(
        stack.url("/api/sync/tasks"),
        json={"data_source_id": "ds_pg_demo", "task_type": task_type},  # the seed sets its destination: iceberg
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return follow(stack, created.json()["id"])[-1]


def read_table(stack: RunningStack):
    """ds_pg_demo's table as it stands."""
    return lake_table(stack, "ds_pg_demo").scan().to_arrow()


def synchub(stack: RunningStack, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "AWS_"))}
    env.update(SYNCHUB_URL=stack.base_url, AWS_ENDPOINT_URL=f"http://127.0.0.1:{stack.moto_port}", COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "synchub_cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def demo_database(stack: RunningStack):
    import psycopg

    config = requests.get(stack.url("/api/sync/data-sources/ds_pg_demo"), timeout=10).json()["connection_config"]
    return psycopg.connect(
        host=config["host"], port=config["port"], dbname=config["database"], user=config["user"], autocommit=True
    )


def test_ds_pg_demo_lands_in_a_typed_table_merged_by_key(stack):
    done = sync(stack, "full_sync")
    assert done["status"] == "success", done
    table = read_table(stack)
    assert table.num_rows == 10_000
    types = {field.name: str(field.type) for field in table.schema}
    assert types["id"] == "int32" and types["account_id"] == "int64" and types["amount"] == "decimal128(10, 2)"
    assert types["updated_at"].startswith("timestamp[us, tz=") and types["customer"] in ("string", "large_string")

    with demo_database(stack) as connection:
        connection.execute(
            "UPDATE demo_orders SET amount = 12345.67, updated_at = updated_at + interval '1 year' WHERE id <= 10"
        )
        connection.execute(
            "INSERT INTO demo_orders SELECT n, 'customer-new', 1.00, 'EUR', now() FROM generate_series(10001, 10005) n"
        )
        done = sync(stack, "incremental_sync")
        assert done["status"] == "success" and done["processed_rows"] == 15, done
        rows = read_table(stack).to_pylist()
        ids = [row["id"] for row in rows]
        assert len(rows) == 10_005 and len(set(ids)) == 10_005
        assert sum(row["amount"] == Decimal("12345.67") for row in rows) == 10

        connection.execute("DELETE FROM demo_orders WHERE id > 9905")
        done = sync(stack, "full_sync")
        assert done["status"] == "success", done
        assert read_table(stack).num_rows == 9_905

    listed = requests.get(stack.url("/api/sync/tables"), timeout=10).json()["items"]
    assert [(t["name"], t["rows"]) for t in listed] == [("ds_pg_demo", 9_905)]
    shown = requests.get(stack.url("/api/sync/tables/ds_pg_demo"), timeout=10).json()
    assert {c["name"]: c["type"] for c in shown["columns"]}["amount"] == "decimal(10,2)"
    assert shown["snapshots"][0]["task_id"] == done["id"]
    preview = requests.get(stack.url("/api/sync/tables/ds_pg_demo/preview?limit=5"), timeout=30)
    assert preview.status_code == 200 and len(preview.json()["rows"]) == 5
    missing = requests.get(stack.url("/api/sync/tables/nope"), timeout=10)
    assert missing.status_code == 404 and missing.json()["code"] == "TABLE_NOT_FOUND"
    assert requests.get(stack.url("/api/sync/tables/ds_pg_demo/preview?limit=5000"), timeout=10).status_code == 422

    listing = synchub(stack, "tables", "list")
    assert listing.returncode == 0 and "ds_pg_demo" in listing.stdout and "9,905" in listing.stdout, listing.stderr
    described = synchub(stack, "tables", "show", "ds_pg_demo")
    assert described.returncode == 0 and "decimal(10,2)" in described.stdout, described.stderr
    head = json.loads(synchub(stack, "tables", "head", "ds_pg_demo", "-n", "3", "--json").stdout)
    assert len(head["rows"]) == 3
    query = synchub(
        stack, "tables", "query", "SELECT count(*) AS n, sum(amount) > 0 AS positive FROM ds_pg_demo", "--json"
    )
    assert query.returncode == 0, query.stderr
    assert json.loads(query.stdout)["rows"] == [{"n": 9905, "positive": True}]
    assert synchub(stack, "tables", "show", "nope").returncode == 3
    assert synchub(stack, "tables", "query", "SELECT 1 FROM nope").returncode == 3


def test_a_table_outlives_a_restart_of_the_stack(tmp_path):
    """`make run` keeps its state: the lake table's catalog entry comes back with its files, and syncs go on
    committing to it."""
    from tests.e2e.conftest import start_stack, stop_stack

    pytest.importorskip("pgserver", reason="the embedded PostgreSQL comes from pgserver (x86_64 Linux, macOS)")
    state = tmp_path / "state"
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = start_stack(tmp_path / "one", "--state-dir", str(state), "--no-brokers")
    try:
        assert sync(first, "full_sync")["status"] == "success"
    finally:
        stop_stack(first)
    second = start_stack(tmp_path / "two", "--state-dir", str(state), "--no-brokers")
    try:
        shown = requests.get(second.url("/api/sync/tables/ds_pg_demo"), timeout=10)
        assert shown.status_code == 200 and shown.json()["rows"] == 10_000, shown.text
        assert read_table(second).num_rows == 10_000
        again = sync(second, "full_sync")
        assert again["status"] == "success", again
        assert (
            requests.get(second.url("/api/sync/tables/ds_pg_demo"), timeout=10).json()["snapshots"][0]["task_id"]
            == again["id"]
        )
    finally:
        stop_stack(second)


def test_a_cdc_sync_of_ds_pg_demo_carries_updates_inserts_and_deletes(stack):
    """README's CDC example: copy ds_pg_demo, then 100 updates, 50 inserts and 30 deletes made with SQL reach
    the table within one poll interval plus 10 s; cancelling drops the replication slot."""
    import time

    from local.demo import DEMO_ORDERS_INSERT

    poll_interval = 5
    with demo_database(stack) as connection:
        connection.execute("DELETE FROM demo_orders")  # the seed's 10,000 rows, whatever earlier tests changed
        connection.execute(DEMO_ORDERS_INSERT, (10_000,))
        created = requests.post(
            stack.url("/api/sync/tasks"),
            json={
                "data_source_id": "ds_pg_demo",
                "task_type": "realtime_sync",
                "parameters": {"capture": "cdc", "poll_interval": poll_interval},
            },
            timeout=10,
        )
        assert created.status_code == 201, created.text
        task_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while (task := requests.get(stack.url(f"/api/sync/tasks/{task_id}"), timeout=10).json())["status"] in (
            "pending",
            "running",
        ) and (task.get("capture") or {}).get("phase") != "changes":
            assert time.monotonic() < deadline, task
            time.sleep(0.3)
        assert task["status"] == "running" and task["processed_rows"] == 10_000, task
        assert read_table(stack).num_rows == 10_000

        changes = (  # as README makes them, with local.demo_sql
            "UPDATE demo_orders SET amount = 777.77, customer = 'cdc' WHERE id <= 100; "
            "INSERT INTO demo_orders SELECT n, 'cdc-new', 1.00, 'EUR', now(), 1 FROM generate_series(10001, 10050) n; "
            "DELETE FROM demo_orders WHERE id BETWEEN 9001 AND 9030"
        )
        ran = subprocess.run(
            [sys.executable, "-m", "local.demo_sql", changes, "--url", stack.base_url],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ran.returncode == 0, ran.stderr
        changed = time.monotonic()
        while True:
            rows = read_table(stack).to_pylist()
            by_id = {row["id"]: row for row in rows}
            if (
                len(rows) == 10_020
                and sum(row["customer"] == "cdc" and row["amount"] == Decimal("777.77") for row in rows) == 100
                and not any(9001 <= key <= 9030 for key in by_id)
            ):
                break
            assert time.monotonic() - changed < poll_interval + 10, (len(rows), task)
            time.sleep(0.5)
        assert len(by_id) == 10_020
        task = requests.get(stack.url(f"/api/sync/tasks/{task_id}"), timeout=10).json()
        assert task["capture"]["changes_applied"]["update"] >= 100 and task["capture"]["lag_bytes"] is not None

        assert requests.post(stack.url(f"/api/sync/tasks/{task_id}/cancel"), timeout=10).status_code == 202
        assert follow(stack, task_id)[-1]["status"] == "cancelled"
        slots = connection.execute("SELECT slot_name FROM pg_replication_slots").fetchall()
        assert slots == [], f"the cancelled CDC task left {slots}"
