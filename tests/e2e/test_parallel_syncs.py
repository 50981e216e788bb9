"""A parallel sync under the local stack, as README shows it: ds_123 (the demo HTTP API, 10,000 rows at about
30 ms a page) read by 8 engine invocations at once into a lake table, its progress followed over the
WebSocket, the table read back with pyiceberg. How much faster than one invocation is measured by
`make bench` (bench/parallel.py), not here."""

from __future__ import annotations

import json
import time

import pytest
import requests
from websockets.sync.client import connect

from tests.e2e.conftest import lake_table, stack  # noqa: F401 - stack: this module's own

pytestmark = pytest.mark.e2e


def test_a_sync_of_ds_123_over_8_ranges_commits_10000_rows_once_with_rising_progress(stack):
    created = requests.post(
        stack.url("/api/sync/tasks"),
        json={
            "data_source_id": "ds_123",
            "task_type": "full_sync",
            "parameters": {"parallelism": 8, "destination": {"format": "iceberg", "table": "orders_parallel"}},
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    watcher = connect(stack.ws_url, open_timeout=10, legacy=True)
    watcher.send(json.dumps({"action": "subscribe", "task_ids": [task_id]}))
    assert json.loads(watcher.recv(timeout=10))["type"] == "subscribed"
    messages, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        message = json.loads(watcher.recv(timeout=60))
        messages.append(message)
        if message["type"] == "task.status" and message["new_status"] in ("success", "failed", "cancelled"):
            break
    watcher.close()
    done = messages[-1]["task"]
    assert messages[-1]["new_status"] == "success", done
    assert done["processed_rows"] == 10_000 and done["progress"] == 100
    assert done["ranges"]["count"] == 8 and done["ranges"]["finished"] == 8 and sum(done["ranges"]["rows"]) == 10_000
    seen = [m["task"] for m in messages if m["type"] == "task.progress"]
    rows, progress = [t["processed_rows"] for t in seen], [t["progress"] for t in seen]
    assert len(set(rows)) >= 2, messages  # the subscriber sees the ranges' rows add up, not just the end
    assert rows == sorted(rows) and progress == sorted(progress)  # never back, though 8 invocations report
    assert all(0 <= r <= 10_000 for r in rows) and rows[-1] > 0

    table = lake_table(stack, "orders_parallel")
    ids = table.scan().to_arrow()["id"].to_pylist()
    assert len(ids) == 10_000 and sorted(ids) == list(range(1, 10_001))
    commits = {
        snapshot.summary.additional_properties.get("synchub.commit-id")
        for snapshot in table.snapshots()
        if snapshot.summary and snapshot.summary.additional_properties.get("synchub.task-id") == task_id
    }
    assert len(commits) == 1 and len(table.snapshots()) >= 1  # one commit: readers never saw part of it
