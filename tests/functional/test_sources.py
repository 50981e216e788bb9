"""Each source and each task type syncs a known dataset: the destination holds exactly the source rows."""

from __future__ import annotations

import gzip
import json
import time

import boto3
import pytest

from local.orders_server import PAGINATIONS, OrdersServer
from synchub.connectors.base import PermanentSourceError
from tests.databases import MySqlTable, PostgresTable, mysql, postgres  # noqa: F401 - fixtures
from tests.functional.test_engine import drain, immediate_retries  # noqa: F401
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

INITIAL = 1234


class HttpKind:
    def __init__(self, request):
        self.server = OrdersServer(rows=INITIAL)
        request.addfinalizer(self.server.close)

    def data_source(self):
        return {
            "type": "http",
            "connection_config": {"base_url": self.server.base_url},
            "params_config": {
                "records_path": "items",
                "total_path": "meta.total",
                "primary_key": "id",
                "cursor_field": "updated_at",
                **PAGINATIONS["page"],
            },
        }

    def add_rows(self, last):
        self.server.rows = last


class SqlKind:
    def __init__(self, request, settings, table_class, type_name):
        self.settings = settings
        self.type_name = type_name
        self.table = table_class(settings, f"orders_{request.node.name.split('[')[0][-20:]}")
        self.table.insert(1, INITIAL)
        self.last = INITIAL
        request.addfinalizer(self.table.close)

    def data_source(self):
        return {
            "type": self.type_name,
            "connection_config": dict(self.settings),
            "params_config": {"table_name": self.table.name, "primary_key": "id", "cursor_field": "updated_at"},
        }

    def add_rows(self, last):
        self.table.insert(self.last + 1, last)
        self.last = last


@pytest.fixture(params=["http", "postgresql", "mysql"])
def source(request, api):
    if request.param == "http":
        kind = HttpKind(request)
    elif request.param == "postgresql":
        kind = SqlKind(request, request.getfixturevalue("postgres"), PostgresTable, "postgresql")
    else:
        kind = SqlKind(request, request.getfixturevalue("mysql"), MySqlTable, "mysql")
    response = api.post("/api/sync/data-sources", {"id": "ds_src", "name": "source", **kind.data_source()})
    assert response.status == 201, response.text
    return kind


def run(api, aws, task_type="full_sync", **parameters):
    task = api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_src", "task_type": task_type, "parameters": {"batch_size": 300, **parameters}},
    ).json
    drain(aws)
    return api.get(f"/api/sync/tasks/{task['id']}").json


def written_ids(aws, task):
    """Ids of the rows in the parts the task's result lists (its manifest, or its own prefix)."""
    s3 = boto3.client("s3")
    bucket = aws.refs["DataLakeBucket"]
    if task["result"].get("manifest"):
        manifest = json.loads(s3.get_object(Bucket=bucket, Key=task["result"]["manifest"])["Body"].read())
        keys = [part["key"] for part in manifest["parts"]]
    else:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=task["result"]["prefix"] + "/part-").get("Contents", [])
        keys = sorted(o["Key"] for o in listing)
    ids = []
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        ids.extend(json.loads(line)["id"] for line in body.splitlines())
    return ids


def failing_after(monkeypatch, good_reads):
    """Make the source fail permanently after ``good_reads`` successful batches."""
    import synchub.engine.runner as runner

    original = runner.open_source

    def wrapped(*args, **kwargs):
        real = original(*args, **kwargs)
        reads = {"n": 0}
        real_read = real.read

        def read(*a, **k):
            reads["n"] += 1
            if reads["n"] > good_reads:
                raise PermanentSourceError("the source broke mid-run")
            return real_read(*a, **k)

        real.read = read
        return real

    monkeypatch.setattr(runner, "open_source", wrapped)
    return lambda: monkeypatch.setattr(runner, "open_source", original)


def test_full_sync(api, aws, source):
    done = run(api, aws)
    assert done["status"] == "success", done
    assert written_ids(aws, done) == list(range(1, INITIAL + 1))
    assert done["processed_rows"] == INITIAL and done["total_rows"] == INITIAL
    statistics_match_the_stored_tasks(api, aws)


def test_incremental_copies_only_new_rows_and_failures_keep_the_watermark(api, aws, source, monkeypatch):
    first = run(api, aws, "incremental_sync")
    assert first["status"] == "success" and written_ids(aws, first) == list(range(1, INITIAL + 1))
    assert run(api, aws, "incremental_sync")["processed_rows"] == 0  # nothing new
    source.add_rows(INITIAL + 500)
    second = run(api, aws, "incremental_sync")
    assert written_ids(aws, second) == list(range(INITIAL + 1, INITIAL + 501))
    source.add_rows(INITIAL + 900)
    restore = failing_after(monkeypatch, good_reads=1)
    broken = run(api, aws, "incremental_sync")
    assert broken["status"] == "failed" and 0 < broken["processed_rows"] < 400  # some rows written, then it broke
    restore()
    third = run(api, aws, "incremental_sync")
    assert third["status"] == "success"
    assert written_ids(aws, third) == list(range(INITIAL + 501, INITIAL + 901))
    statistics_match_the_stored_tasks(api, aws)


def test_a_full_sync_sets_the_watermark_so_the_next_incremental_copies_only_what_is_new(api, aws, source):
    full = run(api, aws)
    assert full["status"] == "success" and full["processed_rows"] == INITIAL
    assert full["result"]["watermark"]  # the newest updated_at it copied
    assert run(api, aws, "incremental_sync")["processed_rows"] == 0
    source.add_rows(INITIAL + 10)
    incremental = run(api, aws, "incremental_sync")
    assert incremental["processed_rows"] == 10
    assert written_ids(aws, incremental) == list(range(INITIAL + 1, INITIAL + 11))
    statistics_match_the_stored_tasks(api, aws)


def test_realtime_polls_for_new_rows_until_cancelled(api, aws, source):
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_src",
            "task_type": "realtime_sync",
            "parameters": {"batch_size": 400, "poll_interval": 1},
        },
    ).json
    drain(aws)
    waiting = api.get(f"/api/sync/tasks/{task['id']}").json
    assert waiting["status"] == "running" and waiting["current_phase"] == "waiting"
    assert waiting["processed_rows"] == INITIAL
    source.add_rows(INITIAL + 250)
    time.sleep(1.2)
    drain(aws)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == INITIAL + 250
    assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    time.sleep(1.2)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled"
    assert written_ids(aws, done) == list(range(1, INITIAL + 251))
    # what realtime committed moved the watermark: an incremental run finds nothing more
    assert run(api, aws, "incremental_sync")["processed_rows"] == 0
    statistics_match_the_stored_tasks(api, aws)


def test_retry_resumes_from_the_failed_checkpoint_or_restarts(api, aws, source, monkeypatch):
    restore = failing_after(monkeypatch, good_reads=2)
    failed = run(api, aws)
    assert failed["status"] == "failed" and failed["processed_rows"] == 600
    restore()
    retry = api.post(f"/api/sync/tasks/{failed['id']}/retry").json
    drain(aws)
    resumed = api.get(f"/api/sync/tasks/{retry['id']}").json
    assert resumed["status"] == "success" and resumed["processed_rows"] == INITIAL
    assert written_ids(aws, resumed) == list(range(1, INITIAL + 1))  # 600 inherited + the rest, once each
    restore = failing_after(monkeypatch, good_reads=1)
    failed_again = run(api, aws)
    restore()
    fresh = api.post(f"/api/sync/tasks/{failed_again['id']}/retry", {"restart": True}).json
    drain(aws)
    restarted = api.get(f"/api/sync/tasks/{fresh['id']}").json
    assert restarted["status"] == "success" and written_ids(aws, restarted) == list(range(1, INITIAL + 1))
    # one part of its own and none of the failed attempt's (the resumed retry lists the failed attempt's part too)
    assert restarted["result"]["parts"] == 1 and resumed["result"]["parts"] == 2
    statistics_match_the_stored_tasks(api, aws)


def test_a_source_on_a_closed_port_shows_retrying_with_its_cause_and_fails_naming_it(api, aws):
    import socket

    from tests.functional.test_engine import engine_source

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_closed",
            "name": "closed",
            "type": "postgresql",
            "connection_config": {
                "host": "127.0.0.1",
                "port": closed_port,
                "database": "postgres",
                "user": "postgres",
                "sslmode": "disable",
            },
            "params_config": {"table_name": "orders", "primary_key": "id"},
        },
    )
    assert response.status == 201, response.text
    task = api.post("/api/sync/tasks", {"data_source_id": "ds_closed", "task_type": "full_sync"}).json
    engine = engine_source(aws)
    counts = []
    while engine.poll_once():
        seen = api.get(f"/api/sync/tasks/{task['id']}").json
        assert seen["status"] == "running" and seen["current_phase"] == "retrying", seen
        assert "refused" in seen["error_message"].lower() and seen["next_attempt_at"], seen
        counts.append(seen["error_count"])
    assert counts == [1, 2, 3, 4, 5]
    assert engine_source(aws, "DeadLetterFunction").poll_once() == 1
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "ENGINE_GAVE_UP"
    assert "refused" in done["error_message"].lower(), done["error_message"]


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_table_without_a_configured_primary_key_pages_by_the_one_its_catalog_gives(api, aws, request, kind):
    settings = request.getfixturevalue("postgres" if kind == "postgresql" else "mysql")
    table = (PostgresTable if kind == "postgresql" else MySqlTable)(settings, f"orders_nokey_{kind[:2]}")
    request.addfinalizer(table.close)
    table.insert(1, 700)
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_nokey",
            "name": "no key",
            "type": kind,
            "connection_config": dict(settings),
            "params_config": {"table_name": table.name},
        },
    )
    assert response.status == 201, response.text
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_nokey", "task_type": "full_sync", "parameters": {"batch_size": 300}}
    ).json
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    assert written_ids(aws, done) == list(range(1, 701))


class NoTlsServer:
    """A PostgreSQL server's first answer to a client asking for TLS when it has none: 'N'."""

    def __init__(self):
        import socket
        import threading

        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(8)  # SSLRequest
                connection.sendall(b"N")

    def close(self):
        self.listener.close()


@pytest.mark.parametrize("refusal", ["no TLS on the server", "unknown database", "unknown role"])
def test_what_retrying_cannot_change_fails_at_once(api, aws, postgres, request, refusal):
    """A TLS setting the server does not share, an unknown database or role: permanent, no retries."""
    from tests.functional.test_engine import engine_source

    if refusal == "no TLS on the server":
        server = NoTlsServer()
        request.addfinalizer(server.close)
        config, words = {**postgres, "host": "127.0.0.1", "port": server.port, "sslmode": "require"}, "SSL"
    elif refusal == "unknown database":
        config, words = {**postgres, "database": "no_such_database"}, "does not exist"
    else:
        config, words = {**postgres, "user": "no_such_role"}, "does not exist"
    created = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_refused",
            "name": "refused",
            "type": "postgresql",
            "connection_config": config,
            "params_config": {"table_name": "orders", "primary_key": "id"},
        },
    )
    assert created.status == 201, created.text
    task = api.post("/api/sync/tasks", {"data_source_id": "ds_refused", "task_type": "full_sync"}).json
    assert engine_source(aws).poll_once() == 1 and engine_source(aws).poll_once() == 0  # one delivery, no retry
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "SOURCE_ERROR", done
    assert words in done["error_message"] and done["error_count"] == 1, done
