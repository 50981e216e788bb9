"""Test helpers: recounting what is stored (tasks are put into states by local.seeding), and small HTTP servers
on 127.0.0.1 (fixed content; an endpoint that records what is sent to it)."""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3

from synchub.dal.codec import from_item
from synchub.models.aggregate import recount, summarise
from synchub.timeutil import Clock


def all_tasks(table: str) -> list[dict[str, Any]]:
    """Every stored task (a Scan: test-only, to recount)."""
    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table, "ConsistentRead": True}
    while True:
        response = client.scan(**kwargs)
        items.extend(from_item(item) for item in response["Items"])
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def gauges_recount(tasks: list[dict[str, Any]]) -> Counter:
    counts: Counter = Counter()
    for task in tasks:
        counts[f"st_{task['status']}"] += 1
    return counts


def statistics_match_the_stored_tasks(api, aws, data_source_id=None):
    """Statistics (over a window holding every task) and listing totals equal a count of the stored tasks."""
    tasks = [t for t in all_tasks(aws.refs["TasksTable"]) if data_source_id in (None, t["data_source_id"])]
    query = f"?data_source_id={data_source_id}" if data_source_id else ""
    window = ""
    if tasks:  # a window holding every stored task
        days = sorted(t["created_at"][:10] for t in tasks)
        window = f"{'&' if query else '?'}start_time={days[0]}T00:00:00Z&end_time={days[-1]}T23:59:59Z"
    got = api.get(f"/api/sync/tasks/statistics{query}{window}").json
    got.pop("engine_statistics"), got.pop("data_source_id")
    daily = got.pop("daily")
    assert got == summarise(recount(tasks), got["period"]["start_time"], got["period"]["end_time"])
    # The daily series: every day of the window once, each equal to a recount of the tasks created that day.
    assert [d["date"] for d in daily] == sorted(d["date"] for d in daily)
    assert daily[0]["date"] == got["period"]["start_time"][:10] and daily[-1]["date"] == got["period"]["end_time"][:10]
    for day in daily:
        expected = summarise(recount(t for t in tasks if t["created_at"][:10] == day["date"]), "", "")
        assert {k: v for k, v in day.items() if k != "date"} == {
            k: expected[k]
            for k in ("total_tasks", "successful_tasks", "failed_tasks", "cancelled_tasks", "processed_rows")
        }, day
    listing = api.get(f"/api/sync/tasks{query}").json
    assert listing["pagination"]["total"] == len(tasks)
    for status, count in gauges_recount(tasks).items():
        filtered = api.get(f"/api/sync/tasks?status={status[3:]}{'&' + query[1:] if query else ''}").json
        assert filtered["pagination"]["total"] == count, status


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve_on_loopback(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """``handler`` served on 127.0.0.1 (a free port) from a daemon thread; ``shutdown()`` stops it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class StaticContent:
    """Fixed bodies by path on 127.0.0.1 (GET): the user pool's keys, a layer's zip. ``content`` may change."""

    def __init__(self, content: dict[str, bytes], content_type: str = "application/octet-stream") -> None:
        self.content = content
        static = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:  # noqa: N802
                body = static.content[self.path]
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = serve_on_loopback(Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def close(self) -> None:
        self.server.shutdown()


class RecordingEndpoint:
    """An HTTP endpoint on 127.0.0.1 (a user's webhook, CloudFormation's response URL): records every POST
    and PUT; answers the queued ``statuses``, then 200."""

    def __init__(self, path: str = "/") -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        endpoint = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                status = endpoint.statuses.pop(0) if endpoint.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_PUT = do_POST  # noqa: N815

        self.server = serve_on_loopback(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()


class TickingClock(Clock):
    """A clock for services under test: each reading is ``step`` after the one before, from ``start``."""

    def __init__(self, start, step) -> None:
        self.moment = start
        self.step = step

    def now(self):
        self.moment += self.step
        return self.moment
