"""Following one task to its end: from the WebSocket feed when there is one, else by polling."""

from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterator

from synchub_cli.client import SyncHubClient

TERMINAL = ("success", "failed", "cancelled")


def updates(
    client: SyncHubClient, task_id: str, ws_url: str | None, *, poll_seconds: float = 1.0, timeout: float | None = None
) -> Iterator[dict[str, Any]]:
    """The task's states, from now until it finishes (the last one yielded is terminal).

    With a WebSocket it subscribes first, then reads the task once (so no change falls between the two), then
    follows the pushes; a quiet feed is checked with a GET every few seconds. Without one, or when it cannot
    connect, it polls.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    feed = _subscribe(client, task_id, ws_url) if ws_url else None
    try:
        task = client.request("GET", f"/tasks/{task_id}")[1]
        yield task
        last_sequence = -1
        while task["status"] not in TERMINAL:
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"task {task_id} still {task['status']} after {timeout} s")
            message = None
            if feed is not None:
                try:
                    message = _receive(feed, 5.0)
                except Exception:  # noqa: BLE001 - the feed dropped: poll from here on
                    feed.close()
                    feed = None
            if message is None:
                if feed is None:
                    time.sleep(poll_seconds)
                task = client.request("GET", f"/tasks/{task_id}")[1]
            elif message.get("task_id") == task_id and int(message.get("sequence") or 0) > last_sequence:
                last_sequence = int(message.get("sequence") or 0)
                task = message["task"]
            else:
                continue
            yield task
    finally:
        if feed is not None:
            feed.close()


def _subscribe(client: SyncHubClient, task_id: str, ws_url: str) -> Any | None:
    from websockets.sync.client import connect

    url = ws_url + (f"/?token={client.token}" if client.token else "")
    try:
        feed = connect(url, open_timeout=5, legacy=True)
        feed.send(json.dumps({"action": "subscribe", "task_ids": [task_id]}))
        reply = json.loads(feed.recv(timeout=5))
    except Exception:  # noqa: BLE001 - no feed: polling does the same job
        return None
    if reply.get("type") != "subscribed":
        feed.close()
        return None
    return feed


def _receive(feed: Any, seconds: float) -> dict[str, Any] | None:
    """The next message, or None after ``seconds`` of quiet (raises when the connection dropped)."""
    try:
        return json.loads(feed.recv(timeout=seconds))
    except TimeoutError:
        return None


def follow(
    client: SyncHubClient,
    task_id: str,
    ws_url: str | None,
    on_update: Callable[[dict[str, Any]], None],
    timeout: float | None = None,
) -> dict[str, Any]:
    """Call ``on_update`` with each state; returns the final one."""
    final: dict[str, Any] = {}
    for task in updates(client, task_id, ws_url, timeout=timeout):
        on_update(task)
        final = task
    return final
