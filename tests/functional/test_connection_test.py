"""POST /data-sources/{id}/test: the first rows of a source, read as a sync reads them, or why it fails."""

from __future__ import annotations

import pytest

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
