"""Resolver factory, request checks (Powertools middlewares) and RFC 9457 problem details.

Every handler builds its app with :func:`create_app`, so every route checks requests and maps errors the same
way: ``SyncHubError`` subclasses carry their status and code; input validation becomes 400 (malformed JSON)
or 422 (schema violations) with the offending fields; AWS throttling becomes 503; anything unexpected becomes
an opaque 500.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any, Callable, Mapping

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from botocore.exceptions import ClientError

from synchub import snapstart
from synchub.api.params import InvalidRequest, validated_inputs
from synchub.auth.callers import ANONYMOUS, Caller, caller_from_event
from synchub.errors import MalformedRequest, PayloadTooLarge, SyncHubError, UnsupportedMediaType, busy
from synchub.observability import CORRELATION_HEADER, logger, usable_correlation_id
from synchub.settings import get_settings

PROBLEM_JSON = "application/problem+json"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": f"urn:synchub:problem:{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    return Response(status_code=status, content_type=PROBLEM_JSON, body=_dumps(body), headers=headers or {})


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=_dumps(body), headers=headers or {})


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cleaned = []
    for error in errors:
        loc = [part for part in error.get("loc", ()) if not isinstance(part, str) or part]
        message = str(error.get("msg") or error.get("type") or "invalid")
        cleaned.append({"loc": loc, "msg": message[:300], "type": str(error.get("type", "value_error"))})
    return cleaned


def _first_problem(fields: list[dict[str, Any]]) -> str:
    """The detail of a 422: its first field problem in words, and how many more the ``errors`` list holds."""
    if not fields:
        return "The request does not match the schema; see 'errors'."
    first = fields[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0] if first["loc"] else "request")
    more = (
        f" (and {len(fields) - 1} more problem{'s' if len(fields) > 2 else ''}; see 'errors')"
        if len(fields) > 1
        else ""
    )
    return f"{where}: {first['msg']}{more}"


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def _is_utf8(body: str | bytes, base64_encoded: bool) -> bool:
    if not base64_encoded:
        return True
    try:
        base64.b64decode(body).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return False
    return True


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(body: str | bytes) -> bool:
    """JSON may escape half a UTF-16 pair (``"\\ud800"``): valid JSON, but no text anyone can store."""
    if not isinstance(body, str) or not _SURROGATE_ESCAPE.search(body):
        return False
    try:
        text = json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:  # not JSON at all: the request validation says so
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class SyncHubResolver(APIGatewayRestResolver):
    """APIGatewayRestResolver whose answers carry the request's correlation id. Everything about the request
    itself - the caller, the body's size, type and encoding, the route's declared inputs - is checked by the
    middlewares :func:`create_app` installs, before anything parses the body."""

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        correlation = self._correlate(event)
        result = super().resolve(event, context)
        result.setdefault("headers", {})[CORRELATION_HEADER] = correlation
        return result

    @staticmethod
    def _correlate(event: Mapping[str, Any]) -> str:
        """Set the request's correlation id on the logger: the client's X-Correlation-Id, else API Gateway's
        request id."""
        sent = next(
            (v for k, v in (event.get("headers") or {}).items() if k.lower() == CORRELATION_HEADER.lower()), None
        )
        correlation = (
            usable_correlation_id(sent)
            or usable_correlation_id((event.get("requestContext") or {}).get("requestId"))
            or str(uuid.uuid4())
        )
        logger.set_correlation_id(correlation)
        return correlation


def _caller_check(public: bool) -> Callable[[SyncHubResolver, NextMiddleware], Response]:
    """Middleware: who is calling, and may they call this route (unless it is ``public``)."""

    def check(app: SyncHubResolver, next_middleware: NextMiddleware) -> Response:
        caller = caller_from_event(app.current_event.raw_event, "none" if public else get_settings().auth_mode)
        app.append_context(caller=caller)
        return next_middleware(app)

    return check


def _body_check(app: SyncHubResolver, next_middleware: NextMiddleware) -> Response:
    """Middleware: refuse an oversize, non-JSON or non-UTF-8 body before anything parses it."""
    event = app.current_event.raw_event
    body = event.get("body")
    if body:
        limit = get_settings().max_body_bytes
        size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
        if event.get("isBase64Encoded"):
            size = size * 3 // 4
        if size > limit:
            raise PayloadTooLarge(f"The request body has {size} bytes; the limit is {limit}.")
        headers = {k.lower(): v for k, v in (event.get("headers") or {}).items() if isinstance(v, str)}
        content_type = headers.get("content-type", "")
        if not _is_json(content_type):  # none at all too: a cross-site form or no-cors fetch sends a body without it
            got = f"got '{content_type[:100]}'" if content_type else "none was sent"
            raise UnsupportedMediaType(f"Send the body as JSON with 'Content-Type: application/json' ({got}).")
        if not _is_utf8(body, bool(event.get("isBase64Encoded"))) or _has_lone_surrogate(body):
            raise MalformedRequest(
                "The request body is not UTF-8 encoded JSON (or escapes an unpaired UTF-16 surrogate)."
            )
    return next_middleware(app)


def _input_check(app: SyncHubResolver, next_middleware: NextMiddleware) -> Response:
    """Middleware: the route's declared inputs (synchub.api.params), validated, become its arguments."""
    route = app.context["_route"]
    app.context["_route_args"] = {
        **app.context.get("_route_args", {}),
        **validated_inputs(route.func, app.current_event.raw_event),
    }
    return next_middleware(app)


def create_app(*, public: bool = False) -> SyncHubResolver:
    """The resolver every route function uses: the request checks as middlewares, and the shared error mapping;
    ``public`` routes (the API's own documentation) take no caller. Under SnapStart, the function's restores
    each reseed and reconnect (:mod:`synchub.snapstart`)."""
    snapstart.register()
    app = SyncHubResolver()
    app.use(middlewares=[_caller_check(public), _body_check, _input_check])

    @app.exception_handler(SyncHubError)
    def _domain_error(error: SyncHubError) -> Response:
        return problem_response(error.status, error.code, error.title, error.detail, error.errors, **error.extra)

    @app.exception_handler(InvalidRequest)
    def _invalid_request(error: InvalidRequest) -> Response:
        errors = error.errors
        if any(e.get("type") == "json_invalid" for e in errors):
            reason = next((e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), None)
            return problem_response(
                400,
                "MALFORMED_REQUEST",
                "Malformed request",
                f"The request body is not valid JSON ({reason or 'decode error'}).",
            )
        fields = _field_errors(errors)
        return problem_response(422, "VALIDATION_FAILED", "Validation failed", _first_problem(fields), fields)

    @app.not_found
    def _no_route(error: NotFoundError) -> Response:
        return problem_response(404, "NOT_FOUND", "Not found", "No such route.")

    @app.exception_handler(ClientError)
    def _aws_error(error: ClientError) -> Response:
        code = error.response.get("Error", {}).get("Code", "")
        unavailable = busy(error)
        if unavailable is not None:
            logger.warning("AWS throttled a request", extra={"aws_error": code})
            return problem_response(
                unavailable.status,
                unavailable.code,
                unavailable.title,
                unavailable.detail,
                headers={"Retry-After": "1"},
            )
        logger.exception("AWS request failed", extra={"aws_error": code})
        return problem_response(500, "INTERNAL_ERROR", "Internal error", "An unexpected error occurred.")

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return problem_response(500, "INTERNAL_ERROR", "Internal error", "An unexpected error occurred.")

    return app


def caller_of(app: APIGatewayRestResolver) -> str:
    """Who is calling (set from the authorizer context by :class:`SyncHubResolver` for this request)."""
    caller = app.context.get("caller")
    return caller.id if isinstance(caller, Caller) else ANONYMOUS
