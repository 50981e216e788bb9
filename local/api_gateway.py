"""API Gateway REST emulation: the template's Api events as routes, requests as proxy events."""

from __future__ import annotations

import base64
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from local.template import FunctionSpec

STAGE = "v1"


@dataclass
class Route:
    method: str
    resource: str
    function: str
    pattern: re.Pattern[str]
    literal_segments: int

    @classmethod
    def build(cls, method: str, resource: str, function: str) -> "Route":
        parts, literals = [], 0
        for segment in resource.strip("/").split("/"):
            match = re.fullmatch(r"\{([A-Za-z0-9_]+)\+?\}", segment)
            if match:
                parts.append(f"(?P<{match.group(1)}>[^/]+)")
            else:
                parts.append(re.escape(segment))
                literals += 1
        return cls(method.upper(), resource, function, re.compile("^/" + "/".join(parts) + "/?$"), literals)


def routes_of(functions: dict[str, FunctionSpec]) -> list[Route]:
    """Every Api event of every function, most literal first (so /tasks/statistics beats /tasks/{id})."""
    routes = [
        Route.build(props["Method"], props["Path"], spec.logical_id)
        for spec in functions.values()
        for props in spec.events_of("Api")
    ]
    return sorted(routes, key=lambda r: (-r.literal_segments, r.resource))


def match(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """(route, path parameters, whether the path exists for another method)."""
    path_exists = False
    for route in routes:
        found = route.pattern.match(path)
        if not found:
            continue
        if route.method in (method.upper(), "ANY"):
            return route, {k: unquote(v) for k, v in found.groupdict().items()}, True
        path_exists = True
    return None, {}, path_exists


def proxy_event(
    route: Route,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    body: bytes,
    path_parameters: dict[str, str],
    source_ip: str = "127.0.0.1",
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The API Gateway REST (v1) proxy event Lambda receives for this request; ``authorizer`` is what the
    authorizer decided (``claims`` of a user-pool token, or an IAM ``identity``)."""
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    text: str | None = None
    is_base64 = False
    if body:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_base64 = base64.b64encode(body).decode(), True
    request_id = str(uuid.uuid4())
    authorizer = authorizer or {}
    identity = {
        "sourceIp": source_ip,
        "userAgent": single_headers.get("User-Agent") or single_headers.get("user-agent"),
        **(authorizer.get("identity") or {}),
    }
    context_authorizer = {"claims": authorizer["claims"]} if authorizer.get("claims") else None
    return {
        "resource": route.resource,
        "path": unquote(path),
        "httpMethod": method.upper(),
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": route.resource,
            "httpMethod": method.upper(),
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            # the local stack serves the API at the root, like a custom domain with no base path
            "path": path,
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": request_id,
            "identity": identity,
            **({"authorizer": context_authorizer} if context_authorizer else {}),
            "domainName": "localhost",
            "apiId": "local",
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }
