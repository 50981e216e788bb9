"""Exactly once into a lake table: a sync continued across invocations, an engine that dies between writing
its files and committing, one that dies after committing but before recording success, and duplicate
deliveries of one message each leave every row once and one commit of the task. The table is appended to
(no primary key), so a second commit of the same files would show as duplicated rows."""

from __future__ import annotations

import boto3
import pytest

from local.orders_server import PAGINATIONS, OrdersServer
from synchub.tasks.lifecycle import task_lifecycle
from tests.conftest import FUNCTIONS
from tests.functional.test_engine import OneBatchContext, _invoke_unlocked, drain, engine_source
from tests.lake import lake_api, lake_aws, moto_server, no_backoff, read_table  # noqa: F401 - fixtures

pytestmark = pytest.mark.local_destinations
ROWS = 2345


@pytest.fixture
def orders():
    server = OrdersServer(rows=ROWS)
    yield server
    server.close()


@pytest.fixture
def task(lake_api, orders):
    """An append-only incremental sync of the orders into the table ds_orders (batches of 500)."""
    body = {
        "id": "ds_orders",
        "name": "orders",
        "type": "http",
        "connection_config": {"base_url": orders.base_url},
        "params_config": {
            "records_path": "items",
            "total_path": "meta.total",
            "cursor_field": "updated_at",
            "destination": {"format": "iceberg"},
            **PAGINATIONS["page"],
        },
    }
    assert lake_api.post("/api/sync/data-sources", body).status == 201
    created = lake_api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_orders", "task_type": "incremental_sync", "parameters": {"batch_size": 500}},
    )
    assert created.status == 201, created.text
    return created.json


def commits_of(task_id: str) -> list:
    from synchub.settings import get_settings
    from synchub.tables.commit import lake_catalog

    table = lake_catalog(get_settings()).load_table(("synchub", "ds_orders"))
    return [
        snapshot
        for snapshot in table.snapshots()
        if snapshot.summary and snapshot.summary.additional_properties.get("synchub.task-id") == task_id
    ]


def redelivered(lake_api, lake_aws, task_id: str, seconds: float = 30) -> None:
    """Deliver the engine's messages until the task ends (a failed one comes back once its backoff has passed)."""
    import time

    deadline = time.monotonic() + seconds
    while lake_api.get(f"/api/sync/tasks/{task_id}").json["status"] == "running":
        assert time.monotonic() < deadline, "the failed message never came back"
        if not drain(lake_aws):
            time.sleep(0.5)


def assert_once(lake_api, task_id: str) -> None:
    done = lake_api.get(f"/api/sync/tasks/{task_id}").json
    assert done["status"] == "success", done
    ids = read_table("ds_orders")["id"].to_pylist()
    assert len(ids) == ROWS and sorted(ids) == list(range(1, ROWS + 1))
    assert len(commits_of(task_id)) == 1
    assert done["result"]["rows_added"] == ROWS


def test_a_sync_continued_across_invocations_commits_once_at_its_end(lake_api, lake_aws, task, monkeypatch):
    monkeypatch.setattr(FUNCTIONS["SyncEngineFunction"], "context", lambda: OneBatchContext())
    assert drain(lake_aws) == 5  # 2345 rows, 500 a batch, one batch per invocation
    assert_once(lake_api, task["id"])


def test_a_crash_between_writing_files_and_committing(lake_api, lake_aws, task, monkeypatch):
    from synchub.tables.destination import TableDestination

    original = TableDestination.finish
    crashes = {"left": 1}

    def dies_once(self, parts, summary):
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("engine died with every file written, before the commit")
        return original(self, parts, summary)

    monkeypatch.setattr(TableDestination, "finish", dies_once)
    assert engine_source(lake_aws).poll_once() == 1  # fails: the message comes back
    assert lake_api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "running"
    redelivered(lake_api, lake_aws, task["id"])
    assert_once(lake_api, task["id"])


def test_a_crash_after_committing_does_not_commit_again(lake_api, lake_aws, task, monkeypatch):
    service = task_lifecycle()
    original = service.finish_task
    crashes = {"left": 1}

    def dies_once(*args, **kwargs):
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("engine died after the commit, before recording success")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "finish_task", dies_once)
    assert engine_source(lake_aws).poll_once() == 1
    assert len(commits_of(task["id"])) == 1  # committed before it died
    redelivered(lake_api, lake_aws, task["id"])
    assert_once(lake_api, task["id"])


def test_duplicate_deliveries_commit_once(lake_api, lake_aws, task):
    from local.stack import _sqs_record

    message = boto3.client("sqs").receive_message(QueueUrl=lake_aws.refs["SyncQueue"], MaxNumberOfMessages=1)[
        "Messages"
    ][0]
    event = {"Records": [_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:x", "us-east-1")]}
    for _ in range(3):  # delivered, then twice more
        _invoke_unlocked(event)
    assert_once(lake_api, task["id"])
