"""Domain errors. Each carries its HTTP status and stable ``code``; ``synchub.api`` renders them as RFC 9457."""

from __future__ import annotations

from typing import Any


class SyncHubError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    code: str = "INTERNAL_ERROR"
    title: str = "Internal error"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class MalformedRequest(SyncHubError):
    status, code, title = 400, "MALFORMED_REQUEST", "Malformed request"


class NotFound(SyncHubError):
    status, code, title = 404, "NOT_FOUND", "Not found"


class TaskNotFound(NotFound):
    code, title = "TASK_NOT_FOUND", "Task not found"


class DataSourceNotFound(NotFound):
    code, title = "DATA_SOURCE_NOT_FOUND", "Data source not found"


class Conflict(SyncHubError):
    status, code, title = 409, "CONFLICT", "Conflict"


class InvalidState(Conflict):
    code, title = "INVALID_STATE", "Invalid task state"


class DataSourceInUse(Conflict):
    code, title = "DATA_SOURCE_IN_USE", "Data source in use"


class CaptureInUse(Conflict):
    code, title = "CDC_STREAM_IN_USE", "Change log already read"


class DataSourceExists(Conflict):
    code, title = "DATA_SOURCE_EXISTS", "Data source exists"


class PayloadTooLarge(SyncHubError):
    status, code, title = 413, "PAYLOAD_TOO_LARGE", "Payload too large"


class UnsupportedMediaType(SyncHubError):
    status, code, title = 415, "UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"


class ValidationFailed(SyncHubError):
    status, code, title = 422, "VALIDATION_FAILED", "Validation failed"


class DestinationForbidden(ValidationFailed):
    """A host the request names is one the outbound policy never connects to (synchub.outbound)."""

    code, title = "DESTINATION_NOT_ALLOWED", "Destination not allowed"


def read_only_changed(fields: list[str]) -> ValidationFailed:
    """A replacement tried to change read-only fields (what GET answered may be sent back unchanged)."""
    return ValidationFailed(
        f"Read-only field(s) {', '.join(fields)} cannot be changed: send them as GET answered them, or leave them out.",
        errors=[
            {"loc": ["body", name], "msg": "read-only: differs from the stored value", "type": "read_only"}
            for name in fields
        ],
    )


class UnknownDataSource(ValidationFailed):
    """A request names a data source that does not exist (422: the body is well-formed but unusable)."""

    code, title = "DATA_SOURCE_NOT_FOUND", "Data source not found"


class UnknownInterface(ValidationFailed):
    code, title = "INTERFACE_NOT_FOUND", "Interface not found"


class ServiceUnavailable(SyncHubError):
    status, code, title = 503, "SERVICE_UNAVAILABLE", "Service unavailable"


# AWS's answers that mean "too busy now": the caller may retry the same request shortly.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TransactionConflict",
        "TransactionCanceledException",
        "RequestThrottled",
    }
)


def busy(error: Exception) -> ServiceUnavailable | None:
    """The 503 an AWS client error stands for when AWS throttled the request, else None (the one place that
    decides it, for whole requests and for the items of a batch)."""
    response = getattr(error, "response", None)
    code = (response or {}).get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
    if code in THROTTLING_CODES:
        return ServiceUnavailable("The service is busy; retry shortly.", aws_error=code)
    return None
