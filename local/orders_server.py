"""A real HTTP source for tests and benchmarks: paginated JSON orders on 127.0.0.1, with injectable failures."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from local.demo import demo_row


class OrdersServer:
    """``/orders`` by page, ``/orders-offset`` by offset, ``/orders-cursor`` by cursor token and
    ``/orders-link`` by next link; ``fail(status, times)`` makes the next requests fail."""

    def __init__(self, rows: int):
        self.rows = rows
        self.row = demo_row  # row n (1-based) as served; tests may serve other rows
        self.failures: list[int] = []
        self.delay = 0.0
        self.requests = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                with server.lock:
                    server.requests += 1
                    failure = server.failures.pop(0) if server.failures else None
                if server.delay:
                    time.sleep(server.delay)
                if failure:
                    self.send_response(failure)
                    self.end_headers()
                    return
                status, payload = server.respond(self.path)
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def fail(self, status: int, times: int = 1) -> None:
        self.failures.extend([status] * times)

    def respond(self, raw_path: str):
        url = urlparse(raw_path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/orders":
            page, size = int(query.get("page", 1)), int(query.get("page_size", 100))
            first = (page - 1) * size + 1
        elif url.path == "/orders-offset":
            size = int(query.get("limit", 100))
            first = int(query.get("offset", 0)) + 1
        elif url.path in ("/orders-cursor", "/orders-link"):
            size = int(query.get("limit", 100))
            first = int(query.get("after", 0)) + 1
        else:
            return 404, {"error": "not found"}
        last = min(self.rows, first + size - 1)
        data = [self.row(n) for n in range(first, last + 1)]
        payload = {"items": data, "meta": {"total": self.rows}}
        more = last < self.rows
        if url.path == "/orders-cursor":
            payload["next_cursor"] = str(last) if more else None
        if url.path == "/orders-link":
            payload["links"] = {"next": f"/orders-link?after={last}&limit={size}" if more else None}
        return 200, payload

    def close(self):
        self.httpd.shutdown()


PAGINATIONS = {
    "page": {"url_suffix": "/orders", "pagination": {"style": "page", "size_param": "page_size", "page_size": 100}},
    "offset": {
        "url_suffix": "/orders-offset",
        "pagination": {"style": "offset", "offset_param": "offset", "size_param": "limit", "page_size": 70},
    },
    "cursor": {
        "url_suffix": "/orders-cursor",
        "pagination": {
            "style": "cursor",
            "cursor_param": "after",
            "cursor_path": "next_cursor",
            "size_param": "limit",
            "page_size": 90,
        },
    },
    "next_link": {
        "url_suffix": "/orders-link",
        "query_params": {"limit": 80},
        "pagination": {"style": "next_link", "next_link_path": "links.next", "size_param": None},
    },
}
