"""Live task status over a real WebSocket to the local stack (`make run`), as a dashboard or script watches a sync."""

from __future__ import annotations

import json
import time

import requests
from websockets.sync.client import connect


def _wait_finished(stack, task_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        task = requests.get(stack.url(f"/api/sync/tasks/{task_id}"), timeout=10).json()
        if task["status"] in ("success", "failed", "cancelled"):
            return task
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} did not finish in {timeout} s")


def _subscribe(stack, **body):
    client = connect(stack.ws_url, open_timeout=10, legacy=True)
    client.send(json.dumps({"action": "subscribe", **body}))
    reply = json.loads(client.recv(timeout=10))
    assert reply["type"] == "subscribed", reply
    return client


def test_a_subscriber_watches_the_seed_sync_rise_to_success_and_no_one_else_hears_of_it(stack):
    # Another task, finished before: its subscriber must hear nothing of the watched sync.
    other = requests.post(stack.url("/api/sync/tasks"), json={"data_source_id": "ds_123", "task_type": "full_sync"})
    assert other.status_code == 201, other.text
    assert _wait_finished(stack, other.json()["id"])["status"] == "success"
    bystander = _subscribe(stack, task_ids=[other.json()["id"]])

    # The seed's example: 10 reads of 1,000 rows, a few seconds in all (progress is stored about once a second).
    created = requests.post(
        stack.url("/api/sync/tasks"),
        json={"data_source_id": "ds_123", "task_type": "full_sync", "parameters": {"batch_size": 1000, "timeout": 300}},
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    watcher = _subscribe(stack, task_ids=[task_id])
    messages = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        message = json.loads(watcher.recv(timeout=60))
        messages.append(message)
        if message["type"] == "task.status" and message["new_status"] in ("success", "failed", "cancelled"):
            break
    assert {m["task_id"] for m in messages} == {task_id}
    assert messages[-1]["type"] == "task.status" and messages[-1]["new_status"] == "success", messages[-1]
    assert messages[-1]["task"]["processed_rows"] == 10_000 and messages[-1]["task"]["progress"] == 100
    progress = [m["task"]["progress"] for m in messages if m["type"] == "task.progress"]
    rows = [m["task"]["processed_rows"] for m in messages if m["type"] == "task.progress"]
    assert len(progress) >= 2, messages  # the subscriber sees the sync move, not just its end
    assert progress == sorted(progress) and rows == sorted(rows) and len(set(rows)) == len(rows)
    assert all(0 < r < 10_000 for r in rows) and 0 < progress[0] < 100
    sequences = [int(m["sequence"]) for m in messages]
    assert sequences == sorted(sequences)

    # The bystander heard nothing of the watched sync. (Its own task's last change may still reach it: the
    # publisher works from the stream, a little behind the GET that saw that task finish.)
    heard = []
    while True:
        try:
            heard.append(json.loads(bystander.recv(timeout=1)))
        except TimeoutError:
            break
    assert all(m["task_id"] == other.json()["id"] for m in heard), heard
    watcher.close()
    bystander.close()


def test_a_page_from_another_origin_cannot_open_the_local_feed(stack):
    import pytest
    from websockets.exceptions import InvalidStatus

    with pytest.raises(InvalidStatus) as refused:
        connect(stack.ws_url, open_timeout=10, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    local_page = connect(stack.ws_url, open_timeout=10, origin=stack.base_url)  # the dashboard's own origin
    local_page.close()
