"""POST /data-sources/{id}/test: the first rows of a source, read as a sync reads them, or why it fails."""

from __future__ import annotations

import pytest

from tests.databases import mysql, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import orders, register  # noqa: F401 - orders is a fixture

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations


def test_a_working_source_answers_with_a_sample(api, aws, orders):
    register(api, orders)
    response = api.post("/api/sync/data-sources/ds_orders/test")
    assert response.status == 200, response.text
    result = response.json
    assert result["ok"] is True and result["rows_read"] >= 5 and len(result["sample"]) == 5
    assert result["total_rows"] == 2345 and result["more"] is True and result["latency_ms"] >= 0
    assert result["sample"][0]["id"] == 1  # the source's first row, as the engine would read it
    assert "secret-token" not in str(result)  # the stored credential is used, never shown


def test_a_failing_source_is_an_answer_not_an_error(api, aws, orders):
    register(api, orders)
    orders.fail(401, times=1)
    refused = api.post("/api/sync/data-sources/ds_orders/test").json
    assert refused["ok"] is False and refused["error_kind"] == "permanent" and "401" in refused["error_message"]
    orders.fail(503, times=10)
    busy = api.post("/api/sync/data-sources/ds_orders/test").json
    assert busy["ok"] is False and busy["error_kind"] == "transient"


def test_an_interface_stream_and_unknown_names(api, aws, orders):
    register(api, orders)
    interface = {"id": "first", "name": "First", "url_suffix": "/orders", "records_path": "items"}
    assert api.post("/api/sync/data-sources/ds_orders/interfaces", interface).status == 201
    result = api.post("/api/sync/data-sources/ds_orders/test?interface_id=first").json
    assert result["ok"] is True and result["interface_id"] == "first"
    missing = api.post("/api/sync/data-sources/ds_orders/test?interface_id=nope")
    assert missing.status == 422 and missing.json["code"] == "INTERFACE_NOT_FOUND"
    unknown = api.post("/api/sync/data-sources/ds_nope/test")
    assert unknown.status == 404 and unknown.json["code"] == "DATA_SOURCE_NOT_FOUND"


@pytest.fixture(params=["postgresql", "mysql"])
def sql_table(request):
    """A table ``checked`` (id primary key, updated_at, customer, doc JSON) on a real server; yields
    (type, connection settings)."""
    from tests.databases import mysql_settings

    if request.param == "postgresql":
        import psycopg

        settings = request.getfixturevalue("postgres")
        with psycopg.connect(
            host=settings["host"],
            port=settings["port"],
            dbname=settings["database"],
            user=settings["user"],
            autocommit=True,
        ) as connection:
            connection.execute("DROP TABLE IF EXISTS checked")
            connection.execute(
                "CREATE TABLE checked (id int PRIMARY KEY, updated_at timestamptz, customer text, doc jsonb)"
            )
            connection.execute("INSERT INTO checked VALUES (1, now(), 'a', '{}')")
    else:
        import pymysql

        if mysql_settings() is None:
            pytest.skip("no MySQL/MariaDB server answers on 127.0.0.1:3306")
        settings = request.getfixturevalue("mysql")
        connection = pymysql.connect(
            host=settings["host"],
            port=settings["port"],
            user=settings["user"],
            password=settings["password"],
            database=settings["database"],
            autocommit=True,
        )
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS checked")
            cursor.execute(
                "CREATE TABLE checked (id INT PRIMARY KEY, updated_at DATETIME, customer VARCHAR(20), doc JSON)"
            )
            cursor.execute("INSERT INTO checked VALUES (1, NOW(), 'a', '{}')")
        connection.close()
    return request.param, settings


def connection_test_of(api, kind, settings, **params):
    """Save data source ds_checked reading ``params`` and answer its connection test."""
    body = {"name": "checked", "type": kind, "connection_config": dict(settings), "params_config": params}
    saved = api.put("/api/sync/data-sources/ds_checked", body)
    if saved.status == 404:
        saved = api.post("/api/sync/data-sources", {"id": "ds_checked", **body})
    assert saved.status in (200, 201), saved.text
    return api.post("/api/sync/data-sources/ds_checked/test").json


def test_the_connection_test_names_a_missing_table_cursor_or_key_in_its_own_words(api, aws, sql_table):
    kind, settings = sql_table
    good = connection_test_of(api, kind, settings, table_name="checked", cursor_field="updated_at", primary_key="id")
    assert good["ok"] is True and good["rows_read"] == 1, good
    missing_table = connection_test_of(api, kind, settings, table_name="no_such_table", cursor_field="updated_at")
    assert missing_table["ok"] is False and missing_table["error_kind"] == "permanent"
    assert "table 'no_such_table' does not exist" in missing_table["error_message"]
    assert "primary key" not in missing_table["error_message"]
    missing_cursor = connection_test_of(api, kind, settings, table_name="checked", cursor_field="changed_at")
    assert missing_cursor["error_message"].startswith("cursor_field 'changed_at' is not a column of table 'checked'")
    missing_key = connection_test_of(api, kind, settings, table_name="checked", primary_key="order_id")
    assert missing_key["error_message"].startswith("primary_key 'order_id' is not a column of table 'checked'")
    not_unique = connection_test_of(api, kind, settings, table_name="checked", primary_key="customer")
    assert not_unique["error_message"].startswith("primary_key 'customer' is not unique in table 'checked'")
    if kind == "postgresql":  # MariaDB's JSON is a longtext, which orders as text
        unordered = connection_test_of(api, kind, settings, table_name="checked", cursor_field="doc")
        assert unordered["error_message"].startswith("cursor_field 'doc' is jsonb, which has no order"), unordered
