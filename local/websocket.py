"""The template's WebSocket API, locally: ``ws://127.0.0.1:8081`` plus the management endpoint.

Routes come from template.yaml (``AWS::ApiGatewayV2::Route`` → integration → function). A handshake
becomes a ``$connect`` event (a non-200 answer refuses it with that status), each message is routed by
``$request.body.action`` to its function (a route with ``RouteResponseSelectionExpression`` sends the
function's body back), and a close becomes ``$disconnect`` - the events API Gateway sends, with the same
``requestContext`` fields. The management endpoint is what ``apigatewaymanagementapi`` calls
(``POST/GET/DELETE @connections/{id}``, ``GoneException`` for closed ones); the stack serves it under
``/_local/websocket`` of its HTTP port, so the publisher's ``post_to_connection`` runs for real.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.lambda_runtime import LocalFunction

# Browser pages allowed to open the local feed: the dashboard and tools served from this machine.
LOOPBACK_ORIGIN_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
log = logging.getLogger("local")
MANAGEMENT_PATH = "/_local/websocket"
STAGE = "v1"


@dataclass(frozen=True)
class WebSocketRoutes:
    """Route key → function logical id, and which routes send the function's answer back."""

    functions: dict[str, str]
    two_way: frozenset[str]
    selection_field: str  # the body field of RouteSelectionExpression ($request.body.<field>)


def websocket_routes(template: dict[str, Any], api_logical_id: str = "WebSocketApi") -> WebSocketRoutes:
    resources = template["Resources"]
    api = resources[api_logical_id]["Properties"]
    found = re.fullmatch(r"\$request\.body\.(\w+)", str(api.get("RouteSelectionExpression", "")))
    assert found, "only $request.body.<field> route selection is emulated"
    routes: dict[str, str] = {}
    two_way = set()
    for resource in resources.values():
        props = resource.get("Properties") or {}
        if resource["Type"] != "AWS::ApiGatewayV2::Route" or props.get("ApiId") != {"Ref": api_logical_id}:
            continue
        target = props["Target"]
        target = target.get("Fn::Sub") if isinstance(target, dict) else target
        integration = re.search(r"\$\{(\w+)\}", str(target)).group(1)  # type: ignore[union-attr]
        uri = resources[integration]["Properties"]["IntegrationUri"]
        uri = uri.get("Fn::Sub") if isinstance(uri, dict) else uri
        routes[props["RouteKey"]] = re.search(r"\$\{(\w+)\.Arn\}", str(uri)).group(1)  # type: ignore[union-attr]
        if props.get("RouteResponseSelectionExpression"):
            two_way.add(props["RouteKey"])
    return WebSocketRoutes(routes, frozenset(two_way), found.group(1))


def _connection_id() -> str:
    # API Gateway's ids look like 'L0SM9cOFvHcCIhw=': 10 random bytes, base64.
    return base64.b64encode(os.urandom(10)).decode()


class LocalWebSocketApi:
    """Serves the WebSocket API on ``host:port`` and answers the management endpoint's requests."""

    def __init__(
        self,
        template: dict[str, Any],
        functions: dict[str, LocalFunction],
        *,
        host: str = "127.0.0.1",
        port: int = 8081,
    ) -> None:
        self.routes = websocket_routes(template)
        self.functions = functions
        self.host, self.port = host, port
        self.connections: dict[str, Any] = {}
        self.connected_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.server: Any = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def start(self) -> None:
        from websockets.sync.server import serve

        self.server = serve(
            self._session,
            self.host,
            self.port,
            process_request=self._connect,
            server_header="SyncHubLocal/1.0",
            compression=None,
        )
        self.port = self.server.socket.getsockname()[1]
        threading.Thread(target=self.server.serve_forever, name="websocket", daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()

    # ---- events -------------------------------------------------------------------------------
    def _context(self, connection_id: str, route_key: str, event_type: str, source_ip: str) -> dict[str, Any]:
        now = time.time()
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "connectionId": connection_id,
            "messageId": str(uuid.uuid4()) if event_type == "MESSAGE" else None,
            "extendedRequestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": int(self.connected_at.get(connection_id, now) * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": source_ip},
            "requestId": str(uuid.uuid4()),
            "domainName": f"{self.host}:{self.port}",
            "apiId": "local",
        }

    def _invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        function = self.functions[self.routes.functions[route_key]]
        try:
            result = function.invoke(event)
        except Exception:
            log.exception("%s raised", function.spec.logical_id)
            return {"statusCode": 500}
        return result if isinstance(result, dict) else {"statusCode": 200}

    def _connect(self, connection: Any, request: Any) -> Any:
        """``process_request``: the ``$connect`` route decides whether the handshake goes on; a browser page from
        another origin (its ``Origin`` header names a host other than this machine) is refused first."""
        origin = request.headers.get("Origin")
        if origin and (urlsplit(origin).hostname or "").lower() not in LOOPBACK_ORIGIN_HOSTS:
            return connection.respond(403, "origin not allowed: the local stack's feed is for pages on this machine\n")
        connection_id = _connection_id()
        connection.synchub_id = connection_id
        self.connected_at[connection_id] = time.time()
        split = urlsplit(request.path)
        headers: dict[str, str] = {}
        for name, value in request.headers.raw_items():
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        event = {
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
            "requestContext": self._context(connection_id, "$connect", "CONNECT", connection.remote_address[0]),
            "isBase64Encoded": False,
        }
        if "$connect" in self.routes.functions:
            result = self._invoke("$connect", event) or {}
            status = int(result.get("statusCode", 200))
            if status != 200:
                self.connected_at.pop(connection_id, None)
                return connection.respond(status, (result.get("body") or "") + "\n")
        with self._lock:  # reachable through the management endpoint as soon as $connect said yes
            self.connections[connection_id] = connection
        return None

    def _session(self, connection: Any) -> None:
        connection_id = connection.synchub_id
        source_ip = connection.remote_address[0]
        try:
            for message in connection:
                self._message(connection, connection_id, message, source_ip)
        except Exception:  # noqa: BLE001 - the client went away mid-message
            log.debug("WebSocket %s ended", connection_id, exc_info=True)
        finally:
            with self._lock:
                self.connections.pop(connection_id, None)
            if "$disconnect" in self.routes.functions:
                context = self._context(connection_id, "$disconnect", "DISCONNECT", source_ip)
                context.update(
                    disconnectStatusCode=connection.close_code or 1006, disconnectReason=connection.close_reason or ""
                )
                self._invoke("$disconnect", {"headers": {}, "requestContext": context, "isBase64Encoded": False})
            self.connected_at.pop(connection_id, None)

    def _message(self, connection: Any, connection_id: str, message: str | bytes, source_ip: str) -> None:
        text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
        try:
            body = json.loads(text)
            action = body.get(self.routes.selection_field) if isinstance(body, dict) else None
        except ValueError:
            action = None
        route_key = action if isinstance(action, str) and action in self.routes.functions else "$default"
        context = self._context(connection_id, route_key, "MESSAGE", source_ip)
        if route_key not in self.routes.functions:
            # What API Gateway answers when no route (and no $default) matches.
            connection.send(
                json.dumps({"message": "Forbidden", "connectionId": connection_id, "requestId": context["requestId"]})
            )
            return
        result = self._invoke(route_key, {"body": text, "requestContext": context, "isBase64Encoded": False}) or {}
        if route_key in self.routes.two_way and result.get("body") is not None:
            connection.send(str(result["body"]))

    # ---- the management endpoint --------------------------------------------------------------
    def manage(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Answer ``{METHOD} @connections/{id}`` (the path after the endpoint's base)."""
        found = re.fullmatch(r"/@connections/([^/]+)", path)
        if not found:
            return _error(404, "NotFoundException", "No such management route.")
        connection_id = unquote(found.group(1))
        with self._lock:
            connection = self.connections.get(connection_id)
        if connection is None:
            return _error(410, "GoneException", f"Connection {connection_id} is gone.")
        if method == "POST":
            try:
                connection.send(body.decode("utf-8"))
            except Exception:  # noqa: BLE001 - closed while we looked
                return _error(410, "GoneException", f"Connection {connection_id} is gone.")
            return 200, {}, b""
        if method == "GET":
            connected = self.connected_at.get(connection_id, time.time())
            info = {
                "connectedAt": _iso(connected),
                "lastActiveAt": _iso(time.time()),
                "identity": {"sourceIp": connection.remote_address[0], "userAgent": ""},
            }
            return 200, {"Content-Type": "application/json"}, json.dumps(info).encode()
        if method == "DELETE":
            connection.close()
            return 204, {}, b""
        return _error(405, "MethodNotAllowed", f"{method} is not supported.")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return (
        status,
        {"Content-Type": "application/json", "x-amzn-ErrorType": code},
        json.dumps({"message": message}).encode(),
    )


def serve_management(api: LocalWebSocketApi, host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    """A stand-alone HTTP server for the management endpoint (the tests' use); returns (server, endpoint URL)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            log.debug(fmt, *args)

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = api.manage(self.command, urlsplit(self.path).path, body)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _answer  # noqa: N815

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="websocket-management", daemon=True).start()
    return server, f"http://{host}:{server.server_address[1]}"
