"""AWS for lake-table tests: moto as a server (pyiceberg writes S3 through Arrow's own client, which the
in-process mock cannot intercept), with Glue's optimistic version check enforced as AWS does, and the
template's tables, queues, buckets and Glue database built in it."""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator

import pytest
import requests

from local.ports import free_port
from local.resources import Stack


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's server on a free port of 127.0.0.1 (one per test process); yields its endpoint."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from local import moto_dynamodb, moto_glue

    moto_dynamodb.install()
    moto_glue.install()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def lake_aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """A fresh emulator state with the template's resources; every client (boto3, pyiceberg, Arrow) uses it.
    Functions are held to their IAM policies as with the in-process ``aws`` fixture."""
    from synchub import aws as synchub_aws
    from tests.conftest import guard_policies, start_local_aws

    requests.post(f"{moto_server}/moto-api/reset", timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    synchub_aws.reset_clients()
    stack = start_local_aws(monkeypatch)
    guard = guard_policies(stack, monkeypatch)
    yield stack
    assert not guard.denied, "requests the template's IAM policies do not allow:\n" + "\n".join(
        sorted(set(guard.denied))
    )
    synchub_aws.reset_clients()
    os.environ.pop("AWS_ENDPOINT_URL", None)


def read_table(name: str, database: str = "synchub") -> Any:
    """The table's current rows as an Arrow table (pyiceberg, as a user would read it)."""
    from synchub.settings import get_settings
    from synchub.tables.commit import lake_catalog

    return lake_catalog(get_settings()).load_table((database, name)).scan().to_arrow()


@pytest.fixture
def lake_api(lake_aws: Stack) -> Any:
    """The API client of ``tests.conftest`` against the lake emulator."""
    from tests.conftest import ApiClient

    return ApiClient()


def register_empty_table(name: str, database: str = "synchub") -> None:
    """An Iceberg table with one column and no commit, written with boto3 alone (Glue and a metadata file), as
    pyiceberg would create it: what the in-process mock can hold, for routes that read no data files."""
    import json
    import uuid

    import boto3

    from synchub.settings import get_settings

    bucket = get_settings().data_lake_bucket
    location = f"s3://{bucket}/tables/{name}"
    key = f"tables/{name}/metadata/00000-{uuid.uuid4()}.metadata.json"
    metadata = {
        "format-version": 2,
        "table-uuid": str(uuid.uuid4()),
        "location": location,
        "last-sequence-number": 0,
        "last-updated-ms": 1_764_000_000_000,
        "last-column-id": 1,
        "current-schema-id": 0,
        "schemas": [
            {"type": "struct", "schema-id": 0, "fields": [{"id": 1, "name": "id", "required": False, "type": "long"}]}
        ],
        "default-spec-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}],
        "last-partition-id": 999,
        "default-sort-order-id": 0,
        "sort-orders": [{"order-id": 0, "fields": []}],
        "properties": {},
        "current-snapshot-id": -1,
        "snapshots": [],
        "snapshot-log": [],
        "metadata-log": [],
    }
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(metadata).encode())
    boto3.client("glue").create_table(
        DatabaseName=database,
        TableInput={
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"table_type": "ICEBERG", "metadata_location": f"s3://{bucket}/{key}"},
        },
    )


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed delivery comes back at once (the backoff's length is not what these tests are about); autouse
    in each module that imports it."""
    import synchub.runtime

    monkeypatch.setenv("ENGINE_RETRY_BASE_SECONDS", "0")
    synchub.runtime.reset()


def wait_for_status(api: Any, aws: Stack, task_id: str, status: str, seconds: float = 20) -> dict[str, Any]:
    """Deliver the engine's messages until the task is in ``status``; the task."""
    import time

    from tests.functional.test_engine import drain

    deadline = time.monotonic() + seconds
    while (task := api.get(f"/api/sync/tasks/{task_id}").json)["status"] != status:
        assert time.monotonic() < deadline, task
        drain(aws)
        time.sleep(0.3)
    return task


def caught_up(api: Any, aws: Stack, task_id: str, equal: Callable[[], bool], seconds: float = 40) -> dict[str, Any]:
    """Deliver the engine's messages (a poll comes back after its second) until the running CDC task has copied
    its table and ``equal()`` says the lake equals the source; the task."""
    import time

    from tests.functional.test_engine import drain

    deadline = time.monotonic() + seconds
    while True:
        drain(aws)
        task = api.get(f"/api/sync/tasks/{task_id}").json
        assert task["status"] == "running", task
        if (task.get("capture") or {}).get("phase") == "changes" and equal():
            return task
        assert time.monotonic() < deadline, f"the lake never caught up: {task}"
        time.sleep(0.3)


def crash_once(monkeypatch: pytest.MonkeyPatch, owner: type, name: str, why: str) -> dict[str, int]:
    """``owner.name`` raises once (an engine that dies there), then works; the count of crashes left."""
    original = getattr(owner, name)
    crashes = {"left": 1}

    def dies_once(self: Any, *args: Any) -> Any:
        if crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError(why)
        return original(self, *args)

    monkeypatch.setattr(owner, name, dies_once)
    return crashes


def commit_ids(name: str, task_id: str | None = None) -> list[tuple[str | None, str]]:
    """(commit id, operation) of the table's snapshots (of one task's commits): one commit may be a delete and
    an append, each a snapshot carrying its id, so a pair seen twice is a commit made twice."""
    from synchub.settings import get_settings
    from synchub.tables.commit import lake_catalog

    table = lake_catalog(get_settings()).load_table(("synchub", name))
    return [
        (snapshot.summary.additional_properties.get("synchub.commit-id"), snapshot.summary.operation.value)
        for snapshot in table.snapshots()
        if snapshot.summary
        and (task_id is None or snapshot.summary.additional_properties.get("synchub.task-id") == task_id)
    ]
