"""A simulated network for outbound-policy tests: scripted name answers, public addresses carried to servers on
127.0.0.1, and a listener that records every connection (and what was sent to it) so a test can tell that
nothing reached a forbidden address."""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from http.server import ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlparse

import pytest

from tests.helpers import QuietHandler

PUBLIC_ADDRESS = "93.184.216.34"  # a public address; connections to it reach the test's public server
PRIVATE_ADDRESS = "10.20.30.40"  # a private one; connections to it reach the recorder


class _ServedOnLoopback:
    """A server on 127.0.0.1 (a free port), served from a daemon thread until ``close()``."""

    server: socketserver.TCPServer

    def _serve(self, server: socketserver.TCPServer) -> None:
        self.server = server
        server.daemon_threads = True  # type: ignore[attr-defined]
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Recorder(_ServedOnLoopback):
    """A TCP listener on 127.0.0.1 that records each connection and its first bytes, and answers HTTP
    requests with a JSON page (so a leak would look like success to the caller)."""

    def __init__(self) -> None:
        self.connections: list[bytes] = []
        recorder = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(1.0)
                try:
                    data = self.request.recv(65536)
                except OSError:
                    data = b""
                recorder.connections.append(data)
                if data[:4] in (b"GET ", b"POST"):
                    body = json.dumps({"items": [{"id": 999, "stolen": True}]}).encode()
                    self.request.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                        + str(len(body)).encode()
                        + b"\r\nConnection: close\r\n\r\n"
                        + body
                    )

        self._serve(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler))


class PublicServer(_ServedOnLoopback):
    """An HTTP source on 'the Internet' (127.0.0.1, reached through PUBLIC_ADDRESS:80): ``/items`` a page of
    rows, ``/redirect?code=301&to=URL`` a redirect, ``/linked?to=URL`` a page whose next link is ``to``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        public = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                url = urlparse(self.path)
                query = {k: v[-1] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                public.requests.append({"path": url.path, "headers": dict(self.headers)})
                if url.path == "/redirect":
                    self.send_response(int(query["code"]))
                    self.send_header("Location", query["to"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                page: dict[str, Any] = {"items": [{"id": 1}, {"id": 2}]}
                if url.path == "/linked":
                    page["next"] = query["to"]
                body = json.dumps(page).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815

        self._serve(ThreadingHTTPServer(("127.0.0.1", 0), Handler))


class SimulatedNetwork:
    """Name answers by script (a list, or a callable giving the next answer) over the guard's resolver, and
    connections to chosen (address, port) pairs carried to 127.0.0.1 ports: the code under test sees the
    public or private address it resolved, and the test's server answers."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import synchub.outbound

        self.names: dict[str, list[str] | Callable[[], list[str]]] = {}
        self.routes: dict[tuple[str, int], int] = {}
        self.lookups: list[str] = []
        real_resolve = synchub.outbound._resolve
        network = self

        def resolve(
            host: Any,
            port: Any,
            family: int = 0,
            type: int = 0,
            proto: int = 0,  # noqa: A002
            flags: int = 0,
        ) -> list[Any]:
            name = str(host).lower()
            answer = network.names.get(name)
            if answer is None:
                return real_resolve(host, port, family, type, proto, flags)
            network.lookups.append(name)
            addresses = answer() if callable(answer) else answer
            return [
                entry
                for address in addresses
                for entry in real_resolve(address, port, family, type, proto, flags | socket.AI_NUMERICHOST)
            ]

        def carried(address: Any) -> Any:
            if isinstance(address, tuple) and (address[0], address[1]) in network.routes:
                return ("127.0.0.1", network.routes[(address[0], address[1])])
            return address

        real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
        monkeypatch.setattr(synchub.outbound, "_resolve", resolve)
        monkeypatch.setattr(socket.socket, "connect", lambda self, address: real_connect(self, carried(address)))
        monkeypatch.setattr(socket.socket, "connect_ex", lambda self, address: real_connect_ex(self, carried(address)))

    def name(self, name: str, *answers: str) -> None:
        self.names[name] = list(answers)

    def changing_name(self, name: str, first: str, then: str) -> None:
        """A name whose first lookup answers ``first`` and every later one ``then`` (DNS rebinding)."""
        answers = iter([first])
        self.names[name] = lambda: [next(answers, then)]

    def route(self, address: str, port: int, local_port: int) -> None:
        self.routes[(address, port)] = local_port
