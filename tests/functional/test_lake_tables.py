"""Syncs land in Iceberg tables: a full sync of a PostgreSQL table gives a table of its rows with the source's
types, a keyed incremental sync merges changed and new rows, a full sync after deletes replaces the contents;
a new source column is added, an incompatible type change fails the task and leaves the table."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.databases import PostgresTable, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import drain
from tests.lake import lake_api, lake_aws, moto_server, read_table  # noqa: F401 - fixtures

pytestmark = pytest.mark.local_destinations


@pytest.fixture
def orders(postgres):
    table = PostgresTable(postgres, "lake_orders")
    table.connection.execute("ALTER TABLE lake_orders ADD COLUMN big bigint")
    table.insert(1, 200)
    table.connection.execute("UPDATE lake_orders SET big = id * 10000000000")
    yield table
    table.close()


def sync(api, aws, task_type):
    task = api.post("/api/sync/tasks", {"data_source_id": "ds_lake", "task_type": task_type}).json
    drain(aws)
    return api.get(f"/api/sync/tasks/{task['id']}").json


def register(api, postgres):
    body = {
        "id": "ds_lake",
        "name": "lake orders",
        "type": "postgresql",
        "connection_config": postgres,
        "params_config": {
            "table_name": "lake_orders",
            "primary_key": "id",
            "cursor_field": "updated_at",
            "destination": {"format": "iceberg"},
        },
    }
    response = api.post("/api/sync/data-sources", body)
    assert response.status == 201, response.text


def test_full_incremental_and_full_again(lake_api, lake_aws, postgres, orders):
    register(lake_api, postgres)
    done = sync(lake_api, lake_aws, "full_sync")
    assert done["status"] == "success", done
    assert done["result"]["destination"] == "iceberg" and done["result"]["table"] == "synchub.ds_lake"
    assert done["result"]["rows_added"] == 200
    table = read_table("ds_lake")
    assert table.num_rows == 200
    types = {field.name: str(field.type) for field in table.schema}
    assert types["id"] == "int32" and types["big"] == "int64"
    assert types["amount"] == "decimal128(10, 2)" and types["updated_at"].startswith("timestamp[us, tz=")
    assert {row["id"]: row["amount"] for row in table.to_pylist()}[4] == Decimal("5.00")

    orders.connection.execute(
        "UPDATE lake_orders SET amount = 999.99, updated_at = updated_at + interval '1 year' WHERE id <= 10"
    )
    orders.insert(201, 205)
    done = sync(lake_api, lake_aws, "incremental_sync")
    assert done["status"] == "success", done
    assert (done["result"]["rows_added"], done["result"]["rows_removed"]) == (15, 10)
    rows = read_table("ds_lake").to_pylist()
    ids = [row["id"] for row in rows]
    assert len(ids) == len(set(ids)) == 205
    amounts = {row["id"]: row["amount"] for row in rows}
    assert all(amounts[n] == Decimal("999.99") for n in range(1, 11)) and amounts[11] != Decimal("999.99")

    orders.connection.execute("DELETE FROM lake_orders WHERE id > 195")
    done = sync(lake_api, lake_aws, "full_sync")
    assert done["status"] == "success", done
    assert read_table("ds_lake").num_rows == 195


def test_a_new_column_lands_and_an_incompatible_change_fails_the_task(lake_api, lake_aws, postgres, orders):
    register(lake_api, postgres)
    assert sync(lake_api, lake_aws, "full_sync")["status"] == "success"
    orders.connection.execute("ALTER TABLE lake_orders ADD COLUMN note text")
    orders.connection.execute(
        "UPDATE lake_orders SET note = 'new', updated_at = updated_at + interval '1 year' WHERE id = 7"
    )
    assert sync(lake_api, lake_aws, "incremental_sync")["status"] == "success"
    rows = {row["id"]: row for row in read_table("ds_lake").to_pylist()}
    assert rows[7]["note"] == "new" and rows[8]["note"] is None

    from synchub.settings import get_settings
    from synchub.tables.commit import lake_catalog

    before = lake_catalog(get_settings()).load_table(("synchub", "ds_lake")).current_snapshot().snapshot_id
    orders.connection.execute("ALTER TABLE lake_orders ALTER COLUMN amount TYPE text")
    failed = sync(lake_api, lake_aws, "full_sync")
    assert failed["status"] == "failed" and failed["error_code"] == "SCHEMA_CONFLICT", failed
    assert "amount" in failed["error_message"] and "decimal(10,2)" in failed["error_message"]
    after = lake_catalog(get_settings()).load_table(("synchub", "ds_lake")).current_snapshot().snapshot_id
    assert after == before


def test_the_table_routes_and_the_task_output_show_the_table(lake_api, lake_aws, postgres, orders):
    register(lake_api, postgres)
    done = sync(lake_api, lake_aws, "full_sync")
    listed = lake_api.get("/api/sync/tables")
    assert listed.status == 200, listed.text
    (entry,) = listed.json["items"]
    assert (entry["name"], entry["table"], entry["format"], entry["rows"]) == (
        "ds_lake",
        "synchub.ds_lake",
        "iceberg",
        200,
    )
    assert (entry["data_source_id"], entry["interface_id"]) == ("ds_lake", "default")
    assert entry["data_files"] >= 1 and entry["bytes"] > 0 and entry["last_commit"]["task_id"] == done["id"]

    shown = lake_api.get("/api/sync/tables/ds_lake").json
    types = {column["name"]: column["type"] for column in shown["columns"]}
    assert types == {
        "id": "int",
        "customer": "string",
        "amount": "decimal(10,2)",
        "updated_at": "timestamptz",
        "big": "long",
    }
    assert shown["snapshots"][0]["task_id"] == done["id"] and shown["snapshots"][0]["rows"] == 200

    preview = lake_api.get("/api/sync/tables/ds_lake/preview?limit=3")
    assert preview.status == 200 and len(preview.json["rows"]) == 3
    assert set(preview.json["rows"][0]) == set(types)

    output = lake_api.get(f"/api/sync/tasks/{done['id']}/output").json
    assert output["destination"] == "iceberg" and output["table"] == "synchub.ds_lake"
    assert output["snapshot_id"] == shown["snapshots"][0]["snapshot_id"] and output["rows_added"] == 200

    for path in ("/api/sync/tables/nope", "/api/sync/tables/Bad-Name", "/api/sync/tables/nope/preview"):
        missing = lake_api.get(path)
        assert missing.status == 404 and missing.json["code"] == "TABLE_NOT_FOUND", (path, missing.text)
    assert lake_api.get("/api/sync/tables/ds_lake/preview?limit=0").status == 422
    assert lake_api.get("/api/sync/tables/ds_lake/preview?limit=abc").status == 422


def test_a_destination_that_is_not_one_is_refused(api):
    base = {
        "id": "ds_bad",
        "name": "bad",
        "type": "postgresql",
        "connection_config": {"host": "db.example.com", "database": "shop"},
    }
    for destination in ({"format": "parquet"}, {"format": "iceberg", "table": "Bad-Name"}, "ftp"):
        body = {**base, "params_config": {"table_name": "t", "destination": destination}}
        refused = api.post("/api/sync/data-sources", body)
        assert refused.status == 422 and "destination" in refused.text, refused.text
    assert api.get("/api/sync/data-sources/ds_bad").status == 404
    created = api.post(
        "/api/sync/data-sources", {**base, "params_config": {"table_name": "t", "destination": {"format": "iceberg"}}}
    )
    assert created.status == 201, created.text
    task = api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_bad", "task_type": "full_sync", "parameters": {"destination": {"format": "jsonl"}}},
    )
    assert task.status == 201, task.text
    refused = api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_bad", "task_type": "full_sync", "parameters": {"destination": {"format": "csv"}}},
    )
    assert refused.status == 422


def test_a_new_data_source_lands_in_its_table_unless_it_says_jsonl(lake_api, lake_aws, postgres, orders, monkeypatch):
    body = {
        "id": "ds_lake",
        "name": "lake orders",
        "type": "postgresql",
        "connection_config": postgres,
        "params_config": {"table_name": "lake_orders", "primary_key": "id"},
    }
    created = lake_api.post("/api/sync/data-sources", body)
    assert created.status == 201 and created.json["params_config"]["destination"] == {"format": "iceberg"}
    done = sync(lake_api, lake_aws, "full_sync")
    assert done["result"]["destination"] == "iceberg" and read_table("ds_lake").num_rows == 200

    raw = lake_api.post(
        "/api/sync/data-sources",
        {**body, "id": "ds_raw", "params_config": {**body["params_config"], "destination": {"format": "jsonl"}}},
    )
    assert raw.status == 201 and raw.json["params_config"]["destination"] == {"format": "jsonl"}

    import synchub.runtime

    monkeypatch.setenv("DEFAULT_DESTINATION", "jsonl")  # the template's DefaultDestination=jsonl
    synchub.runtime.reset()
    kept = lake_api.post("/api/sync/data-sources", {**body, "id": "ds_kept"})
    assert kept.status == 201 and "destination" not in kept.json["params_config"]
    task = lake_api.post("/api/sync/tasks", {"data_source_id": "ds_kept", "task_type": "full_sync"}).json
    drain(lake_aws)
    assert lake_api.get(f"/api/sync/tasks/{task['id']}").json["result"]["destination"] == "s3"  # JSON Lines
