"""What each route documents about its answers; the OpenAPI document is generated from the routes
(``python -m local.openapi``), which add the answers every route shares (auth, validation, throttling).

Answers name their model (a class of ``synchub.models.responses``) rather than import it: a function never
needs those models to answer (its services build dicts), and defining them costs a cold start about 40 ms.
``make openapi`` puts the classes in before it documents the routes."""

from __future__ import annotations

from typing import Any

LOCATION = {"Location": {"description": "Path of the created resource", "schema": {"type": "string"}}}
PROBLEMS: dict[int, str] = {
    400: "The body is not valid JSON",
    401: "No valid token (UNAUTHENTICATED)",
    403: "The token lacks the route's scope (INSUFFICIENT_SCOPE)",
    404: "Unknown id (TASK_NOT_FOUND, DATA_SOURCE_NOT_FOUND, INTERFACE_NOT_FOUND)",
    409: "Wrong state or already exists (INVALID_STATE, DATA_SOURCE_EXISTS, IDEMPOTENCY_KEY_REUSED, …)",
    413: "The body is too large",
    415: "The body is not JSON",
    422: "The request does not match the schema (VALIDATION_FAILED, with errors)",
    503: "Busy; retry after Retry-After seconds",
}


def problem(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or PROBLEMS[status],
        "content": {"application/problem+json": {"model": "Problem"}},
    }


def answer(model: str | None, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"description": description}
    if model is not None:
        found["content"] = {"application/json": {"model": model}}
    if headers:
        found["headers"] = headers
    return found


KEEP_SLOTS = (
    "true: leave the PostgreSQL replication slots the data source's CDC streams made (drop them yourself); by "
    "default they are dropped first, and a database that cannot be reached answers 409 CDC_SLOT_NOT_DROPPED"
)
MERGE_PATCH = (
    "A JSON Merge Patch (RFC 7396, application/merge-patch+json or application/json): the fields to "
    "change, null to remove one; the result is validated as a PUT of the whole resource would be."
)


def responses(
    status: int,
    model: str | None,
    description: str,
    *errors: int,
    headers: dict[str, Any] | None = None,
    also: dict[int, tuple[str | None, str]] | None = None,
) -> dict[int, dict[str, Any]]:
    """The success answer (and ``also`` other successes) and the route's own problem statuses (404, 409, …),
    for a route decorator."""
    found = {status: answer(model, description, headers)}
    found.update({code: answer(*spec) for code, spec in (also or {}).items()})
    found.update({code: problem(code) for code in errors})
    return found
