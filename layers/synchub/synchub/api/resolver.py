"""Resolver factory, request guards and RFC 9457 problem details.

Every handler builds its app with :func:`create_app`, so every route maps errors the same way:
``SyncHubError`` subclasses carry their status and code; request validation becomes 400 (malformed JSON)
or 422 (schema violations) with the offending fields; anything unexpected becomes an opaque 500.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from botocore.exceptions import ClientError

from synchub.auth.callers import ANONYMOUS, Caller, caller_from_event
from synchub.errors import SyncHubError, busy
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
    """APIGatewayRestResolver that checks the caller's scope (unless ``public``), then refuses oversize and
    non-JSON bodies, before anything parses them."""

    def __init__(self, *args: Any, public: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.public = public

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        correlation = self._correlate(event)
        result = self._guarded_resolve(event, context)
        result.setdefault("headers", {})[CORRELATION_HEADER] = correlation
        return result

    @staticmethod
    def _correlate(event: dict[str, Any]) -> str:
        """Set the request's correlation id on the logger: the client's X-Correlation-Id, else API Gateway's
        request id."""
        sent = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == CORRELATION_HEADER.lower()),
                    None)
        correlation = usable_correlation_id(sent) or usable_correlation_id(
            (event.get("requestContext") or {}).get("requestId")) or str(uuid.uuid4())
        logger.set_correlation_id(correlation)
        return correlation

    def _guarded_resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            caller = caller_from_event(event, "none" if self.public else get_settings().auth_mode)
        except SyncHubError as error:
            return self._direct(event, problem_response(
                error.status, error.code, error.title, error.detail, **error.extra))
        self.append_context(caller=caller)
        body = event.get("body")
        if body:
            limit = get_settings().max_body_bytes
            size = len(body.encode("utf-8")) if isinstance(body, str) else len(body)
            if event.get("isBase64Encoded"):
                size = size * 3 // 4
            if size > limit:
                return self._direct(event, problem_response(
                    413, "PAYLOAD_TOO_LARGE", "Payload too large",
                    f"The request body has {size} bytes; the limit is {limit}."))
            headers = {k.lower(): v for k, v in (event.get("headers") or {}).items() if isinstance(v, str)}
            content_type = headers.get("content-type", "")
            if content_type and not _is_json(content_type):
                return self._direct(event, problem_response(
                    415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type",
                    f"Send the body as JSON with 'Content-Type: application/json' (got '{content_type[:100]}')."))
            if not _is_utf8(body, bool(event.get("isBase64Encoded"))) or _has_lone_surrogate(body):
                return self._direct(event, problem_response(
                    400, "MALFORMED_REQUEST", "Malformed request",
                    "The request body is not UTF-8 encoded JSON (or escapes an unpaired UTF-16 surrogate)."))
        return super().resolve(event, context)

    @staticmethod
    def _direct(event: dict[str, Any], response: Response) -> dict[str, Any]:
        return {
            "statusCode": response.status_code,
            "headers": {**{k: v for k, v in response.headers.items() if isinstance(v, str)},
                        "Content-Type": PROBLEM_JSON},
            "multiValueHeaders": {},
            "body": response.body,
            "isBase64Encoded": False,
        }


def create_app(*, public: bool = False) -> SyncHubResolver:
    """The resolver every route function uses, with the shared error mapping registered; ``public`` routes
    (the API's own documentation) take no caller."""
    app = SyncHubResolver(enable_validation=True, public=public)

    @app.exception_handler(SyncHubError)
    def _domain_error(error: SyncHubError) -> Response:
        return problem_response(error.status, error.code, error.title, error.detail, error.errors, **error.extra)

    @app.exception_handler(RequestValidationError)
    def _validation_error(error: RequestValidationError) -> Response:
        errors = list(error.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            reason = next((e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), None)
            return problem_response(400, "MALFORMED_REQUEST", "Malformed request",
                                    f"The request body is not valid JSON ({reason or 'decode error'}).")
        return problem_response(422, "VALIDATION_FAILED", "Validation failed",
                                "The request does not match the schema; see 'errors'.", _field_errors(errors))

    @app.not_found
    def _no_route(error: NotFoundError) -> Response:
        return problem_response(404, "NOT_FOUND", "Not found", "No such route.")

    @app.exception_handler(ClientError)
    def _aws_error(error: ClientError) -> Response:
        code = error.response.get("Error", {}).get("Code", "")
        unavailable = busy(error)
        if unavailable is not None:
            logger.warning("AWS throttled a request", extra={"aws_error": code})
            return problem_response(unavailable.status, unavailable.code, unavailable.title, unavailable.detail,
                                    headers={"Retry-After": "1"})
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
