"""Change data capture from PostgreSQL into a lake table: a CDC realtime sync copies the table, then applies
inserts, updates (a key change and an unchanged TOASTed value among them), deletes and a truncate from the
table's logical replication slot, so the lake table stays equal to the source row by row. A crash before the
table commit, one after it and before the slot moves, and a duplicate delivery each leave it equal and commit
nothing twice; cancelling drops the slot; a slot dropped behind SyncHub's back fails the task with its code."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from synchub.connectors.capture import capture_name
from tests.databases import PostgresTable, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import drain
from tests.lake import (  # noqa: F401 - fixtures
    caught_up,
    commit_ids,
    crash_once,
    lake_api,
    lake_aws,
    moto_server,
    no_backoff,
    read_table,
    wait_for_status,
)

pytestmark = pytest.mark.local_destinations
SLOT = capture_name("ds_cdc", "default")


@pytest.fixture
def orders(postgres):
    table = PostgresTable(postgres, "cdc_orders")
    table.connection.execute("ALTER TABLE cdc_orders ADD COLUMN note text")
    table.insert(1, 1000)
    for slot in table.connection.execute(
        "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE 'synchub_%%'"
    ).fetchall():
        table.connection.execute("SELECT pg_drop_replication_slot(%s)", slot)
    yield table
    table.close()


def start(api, postgres, **parameters):
    body = {
        "id": "ds_cdc",
        "name": "orders by CDC",
        "type": "postgresql",
        "connection_config": postgres,
        "params_config": {"table_name": "cdc_orders", "capture": "cdc", "destination": {"format": "iceberg"}},
    }
    assert api.post("/api/sync/data-sources", body).status == 201
    created = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_cdc",
            "task_type": "realtime_sync",
            "parameters": {"poll_interval": 1, "batch_size": 400, **parameters},
        },
    )
    assert created.status == 201, created.text
    return created.json


def source_rows(table) -> list[tuple]:
    return [
        tuple(row)
        for row in table.connection.execute(
            "SELECT id, customer, amount, updated_at, note FROM cdc_orders ORDER BY id"
        ).fetchall()
    ]


def lake_rows() -> list[tuple]:
    table = read_table("ds_cdc").sort_by("id")
    columns = [table[name].to_pylist() for name in ("id", "customer", "amount", "updated_at", "note")]
    return list(zip(*columns))


def poll_until_equal(api, aws, table, task_id, seconds=40):
    """Deliver the engine's messages until the lake equals the source; the task."""
    return caught_up(api, aws, task_id, lambda: lake_rows() == source_rows(table), seconds)


def change_everything(table):
    """Updates, inserts, deletes, a key change and an update that leaves a TOASTed value unsent."""
    connection = table.connection
    connection.execute("UPDATE cdc_orders SET amount = amount + 1000, customer = 'changed' WHERE id <= 100")
    table.insert(1001, 1050)
    connection.execute("DELETE FROM cdc_orders WHERE id BETWEEN 200 AND 229")
    connection.execute("UPDATE cdc_orders SET id = 5000 WHERE id = 300")
    # a value stored out of line (incompressible text over 2 kB), then an update of another column
    connection.execute(
        "UPDATE cdc_orders SET note = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 200) g) WHERE id = 400"
    )
    connection.execute("UPDATE cdc_orders SET amount = 1.11 WHERE id = 400")
    connection.execute("DELETE FROM cdc_orders WHERE id = 1001")
    connection.execute("INSERT INTO cdc_orders VALUES (1001, 'back', 1.5, now(), 'again')")


def slot_exists(table) -> bool:
    return bool(table.connection.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [SLOT]).fetchall())


def test_a_cdc_sync_copies_then_applies_every_kind_of_change(lake_api, lake_aws, postgres, orders):
    task = start(lake_api, postgres)
    copied = poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert len(lake_rows()) == 1000 and slot_exists(orders)
    schema = {field.name: str(field.type) for field in read_table("ds_cdc").schema}
    assert schema["amount"] == "decimal128(10, 2)" and schema["updated_at"] == "timestamp[us, tz=UTC]"
    assert "__synchub_op" not in schema
    assert copied["capture"]["slot"] == SLOT

    change_everything(orders)
    task = poll_until_equal(lake_api, lake_aws, orders, task["id"])
    rows = {row[0]: row for row in lake_rows()}
    assert len(rows) == 1000 + 50 - 30
    assert rows[1][1] == "changed" and rows[1][2] == Decimal("1001.25")
    assert 200 not in rows and 300 not in rows and rows[5000][1] == "customer-09"
    assert rows[400][2] == Decimal("1.11") and len(rows[400][4]) == 6400  # the unsent value kept
    applied = task["capture"]["changes_applied"]
    assert applied["insert"] >= 51 and applied["delete"] >= 32 and applied["update"] >= 103
    assert task["capture"]["lag_bytes"] is not None and task["capture"]["lag_seconds"] >= 0

    orders.connection.execute("TRUNCATE cdc_orders")
    orders.insert(1, 10)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert len(lake_rows()) == 10

    assert lake_api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    wait_for_status(lake_api, lake_aws, task["id"], "cancelled")
    assert not slot_exists(orders), "the cancelled task left its replication slot holding WAL"


def test_a_slot_dropped_behind_synchub_fails_the_task_with_its_code(lake_api, lake_aws, postgres, orders):
    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    orders.connection.execute("SELECT pg_drop_replication_slot(%s)", [SLOT])
    done = wait_for_status(lake_api, lake_aws, task["id"], "failed")
    assert done["status"] == "failed" and done["error_code"] == "CDC_SLOT_LOST"
    assert "copies the table first" in done["error_message"]


def commits_of(task_id: str) -> list:
    return commit_ids("ds_cdc", task_id)


@pytest.mark.parametrize("crash", ["before_commit", "before_slot_advance"])
def test_a_crash_around_the_commit_leaves_the_table_equal_to_the_source(
    lake_api, lake_aws, postgres, orders, monkeypatch, crash
):
    from synchub.connectors.postgres_cdc import PostgresChangeSource
    from synchub.tables.destination import TableDestination

    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    change_everything(orders)
    if crash == "before_commit":
        crashes = crash_once(
            monkeypatch, TableDestination, "finish", "engine died with the changes written, before the table commit"
        )
    else:
        crashes = crash_once(
            monkeypatch, PostgresChangeSource, "committed", "engine died after the table commit, before the slot moved"
        )
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert crashes["left"] == 0, "the crash never happened"
    made = commits_of(task["id"])
    assert len(made) == len(set(made)), f"a commit was made twice: {made}"


def test_a_duplicate_delivery_commits_nothing_twice(lake_api, lake_aws, postgres, orders):
    import boto3

    from local.stack import _sqs_record
    from tests.functional.test_engine import _invoke_unlocked

    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    change_everything(orders)
    deadline, messages = time.monotonic() + 10, []
    while not messages:  # the next poll's message, once its delay has passed
        assert time.monotonic() < deadline
        messages = (
            boto3.client("sqs")
            .receive_message(QueueUrl=lake_aws.refs["SyncQueue"], WaitTimeSeconds=1)
            .get("Messages", [])
        )
    event = {"Records": [_sqs_record(messages[0], "arn:aws:sqs:us-east-1:123456789012:x", "us-east-1")]}
    for _ in range(3):  # delivered, then twice more
        _invoke_unlocked(event)
    assert lake_rows() == source_rows(orders)
    made = commits_of(task["id"])
    assert len(made) == len(set(made)), f"a commit was made twice: {made}"


@pytest.fixture(scope="module")
def postgres_without_logical_decoding(tmp_path_factory):
    """A PostgreSQL as installed (wal_level replica): what CDC cannot read."""
    pgserver = pytest.importorskip("pgserver")
    from urllib.parse import parse_qs, urlparse

    server = pgserver.get_server(str(tmp_path_factory.mktemp("pgreplica")), cleanup_mode="stop")
    uri = urlparse(server.get_uri())
    yield {
        "host": parse_qs(uri.query)["host"][0],
        "port": uri.port or 5432,
        "database": "postgres",
        "user": "postgres",
        "sslmode": "disable",
    }
    server.cleanup()


def test_the_connection_test_names_what_cdc_needs(api, aws, postgres, orders, postgres_without_logical_decoding):
    import psycopg

    from tests.functional.test_connection_test import connection_test_of

    settings = postgres_without_logical_decoding
    with psycopg.connect(
        host=settings["host"], port=settings["port"], dbname="postgres", user="postgres", autocommit=True
    ) as connection:
        connection.execute("CREATE TABLE IF NOT EXISTS cdc_orders (id int PRIMARY KEY, note text)")
    plain = connection_test_of(api, "postgresql", settings, table_name="cdc_orders", capture="cdc")
    assert plain["ok"] is False and plain["error_code"] == "CDC_NOT_READY", plain
    assert plain["error_message"].startswith("CDC needs wal_level = logical; this server has wal_level = replica")
    assert "rds.logical_replication" in plain["error_message"]
    assert connection_test_of(api, "postgresql", settings, table_name="cdc_orders")["ok"] is True  # polling is fine

    good = connection_test_of(api, "postgresql", postgres, table_name="cdc_orders", capture="cdc")
    assert good["ok"] is True and good["rows_read"] == 5, good
    assert not slot_exists(orders), "a connection test made a replication slot"
    orders.connection.execute("ALTER TABLE cdc_orders REPLICA IDENTITY NOTHING")
    nothing = connection_test_of(api, "postgresql", postgres, table_name="cdc_orders", capture="cdc")
    assert "REPLICA IDENTITY NOTHING" in nothing["error_message"], nothing


def test_deleting_a_failed_task_or_cancelling_a_paused_one_drops_its_slot(lake_api, lake_aws, postgres, orders):
    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/pause").status == 202
    wait_for_status(lake_api, lake_aws, task["id"], "paused")
    assert slot_exists(orders)  # a paused task keeps its place in the log
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 200
    drain(lake_aws)
    assert not slot_exists(orders), "cancelling the paused task left its slot"

    orders.connection.execute("DELETE FROM cdc_orders WHERE id > 10")
    second = lake_api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_cdc", "task_type": "realtime_sync", "parameters": {"poll_interval": 1}},
    ).json
    poll_until_equal(lake_api, lake_aws, orders, second["id"])
    orders.connection.execute("ALTER TABLE cdc_orders ADD COLUMN amount_text text")  # fine: a new column
    orders.connection.execute("ALTER TABLE cdc_orders ALTER COLUMN amount TYPE text")  # no widening takes this
    orders.connection.execute("UPDATE cdc_orders SET amount = 'n/a' WHERE id = 1")
    failed = wait_for_status(lake_api, lake_aws, second["id"], "failed")
    assert failed["error_code"] == "SCHEMA_CONFLICT", failed
    assert slot_exists(orders)  # a failed task keeps its slot, for a retry to go on from
    assert lake_api.delete(f"/api/sync/tasks/{second['id']}").status == 204
    drain(lake_aws)
    assert not slot_exists(orders), "deleting the failed task left its slot"


def test_deleting_the_data_source_or_turning_cdc_off_drops_its_slots(lake_api, lake_aws, postgres, orders):
    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    interface = lake_api.post(
        "/api/sync/data-sources/ds_cdc/interfaces",
        {"id": "eu", "name": "EU orders", "table_name": "cdc_orders", "capture": "cdc"},
    )
    assert interface.status == 201, interface.text
    eu = lake_api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_cdc",
            "interface_id": "eu",
            "task_type": "realtime_sync",
            "parameters": {"poll_interval": 1},
        },
    ).json
    deadline = time.monotonic() + 30
    while (lake_api.get(f"/api/sync/tasks/{eu['id']}").json.get("capture") or {}).get("phase") != "changes":
        assert time.monotonic() < deadline
        drain(lake_aws)
        time.sleep(0.2)
    for running in (task, eu):
        lake_api.post(f"/api/sync/tasks/{running['id']}/pause")
    wait_for_status(lake_api, lake_aws, eu["id"], "paused")
    wait_for_status(lake_api, lake_aws, task["id"], "paused")
    eu_slot = capture_name("ds_cdc", "eu")
    slots = {row[0] for row in orders.connection.execute("SELECT slot_name FROM pg_replication_slots").fetchall()}
    assert {SLOT, eu_slot} <= slots

    busy = lake_api.patch("/api/sync/data-sources/ds_cdc", {"params_config": {"capture": "poll"}})
    assert busy.status == 409 and busy.json["code"] == "DATA_SOURCE_IN_USE", busy.text  # paused tasks read the log
    for paused in (task, eu):
        assert lake_api.post(f"/api/sync/tasks/{paused['id']}/cancel").status == 200
    drain(lake_aws)  # the cancels' own drops
    orders.connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [SLOT])  # left behind
    orders.connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [eu_slot])

    off = lake_api.patch("/api/sync/data-sources/ds_cdc", {"params_config": {"capture": "poll"}})
    assert off.status == 200, off.text
    assert not slot_exists(orders) and slot_exists_named(orders, eu_slot)  # the interface says cdc itself

    assert lake_api.delete("/api/sync/data-sources/ds_cdc/interfaces/eu").status == 204
    assert not slot_exists_named(orders, eu_slot)

    lake_api.patch("/api/sync/data-sources/ds_cdc", {"params_config": {"capture": "cdc"}})
    orders.connection.execute("SELECT pg_create_logical_replication_slot(%s, 'pgoutput')", [SLOT])
    moved = dict(postgres, port=1)  # a database that does not answer: the slot cannot be dropped
    assert lake_api.patch("/api/sync/data-sources/ds_cdc", {"connection_config": moved}).status == 200
    refused = lake_api.delete("/api/sync/data-sources/ds_cdc")
    assert refused.status == 409 and refused.json["code"] == "CDC_SLOT_NOT_DROPPED", refused.text
    assert SLOT in refused.json["detail"] and "keep_slots=true" in refused.json["detail"]
    assert lake_api.patch("/api/sync/data-sources/ds_cdc", {"connection_config": postgres}).status == 200
    assert lake_api.delete("/api/sync/data-sources/ds_cdc").status == 204
    assert not slot_exists(orders), "deleting the data source left its slot"


def slot_exists_named(table, name) -> bool:
    return bool(table.connection.execute("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", [name]).fetchall())


@pytest.mark.parametrize("keyless", ["no primary key", "replica identity nothing"])
def test_a_table_without_a_key_to_apply_changes_by_fails_with_its_code(lake_api, lake_aws, postgres, orders, keyless):
    if keyless == "no primary key":
        orders.connection.execute("ALTER TABLE cdc_orders DROP CONSTRAINT cdc_orders_pkey")
    else:
        orders.connection.execute("ALTER TABLE cdc_orders REPLICA IDENTITY NOTHING")
    task = start(lake_api, postgres)
    done = wait_for_status(lake_api, lake_aws, task["id"], "failed")
    assert done["error_code"] == "CDC_NO_KEY", done
    assert ("primary key" if keyless == "no primary key" else "REPLICA IDENTITY DEFAULT") in done["error_message"]
    assert not slot_exists(orders), "a task that cannot apply changes left a slot"


def test_a_second_cdc_task_on_a_stream_being_read_is_refused(lake_api, lake_aws, postgres, orders):
    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    second = lake_api.post("/api/sync/tasks", {"data_source_id": "ds_cdc", "task_type": "realtime_sync"})
    assert second.status == 409 and second.json["code"] == "CDC_STREAM_IN_USE", second.text
    assert task["id"] in second.json["detail"]
    polled = lake_api.post(  # polling the same stream reads no change log: allowed beside it
        "/api/sync/tasks",
        {"data_source_id": "ds_cdc", "task_type": "full_sync"},
    )
    assert polled.status == 201, polled.text
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    wait_for_status(lake_api, lake_aws, task["id"], "cancelled")
    again = lake_api.post("/api/sync/tasks", {"data_source_id": "ds_cdc", "task_type": "realtime_sync"})
    assert again.status == 201, again.text


def test_a_quiet_table_on_a_busy_database_lets_its_slot_move_on(lake_api, lake_aws, postgres, orders):
    """WAL written for other tables does not pile up behind the slot of a table that does not change."""
    task = start(lake_api, postgres)
    poll_until_equal(lake_api, lake_aws, orders, task["id"])
    connection = orders.connection
    connection.execute("DROP TABLE IF EXISTS busy_elsewhere")
    connection.execute("CREATE TABLE busy_elsewhere (id int, note text)")
    connection.execute("INSERT INTO busy_elsewhere SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g")
    written = connection.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + 20
    while True:
        drain(lake_aws)
        confirmed = connection.execute(
            "SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = %s", [SLOT]
        ).fetchone()[0]
        if confirmed >= written:
            break
        assert time.monotonic() < deadline, f"the slot stayed at {confirmed}, behind {written}"
        time.sleep(0.3)
    assert lake_rows() == source_rows(orders)
    connection.execute("DROP TABLE busy_elsewhere")
