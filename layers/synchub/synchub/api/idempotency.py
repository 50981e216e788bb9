"""Idempotent writes: an ``Idempotency-Key`` header makes a repeated request return the first response.

Built on the Powertools idempotency utility and its DynamoDB table (``IDEMPOTENCY_TABLE``). A record is
keyed by the caller, the operation and the header's value, so two callers never share keys; it holds a
hash of the request (method, route, parameters, canonical JSON body) to tell a repeat from a different
request that reuses the key (409 ``IDEMPOTENCY_KEY_REUSED``). Records live 24 hours. Only successful
responses are kept: a request that failed may be sent again with the same key and runs again. While the
first request with a key is still running, a duplicate gets 409 ``IDEMPOTENCY_KEY_IN_USE``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Callable, Optional

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)

from synchub import aws
from synchub.api.params import Header
from synchub.api.resolver import json_response
from synchub.errors import Conflict, ServiceUnavailable
from synchub.settings import get_settings

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAYED_HEADER = "Idempotent-Replayed"


class IdempotencyKeyReused(Conflict):
    code, title = "IDEMPOTENCY_KEY_REUSED", "Idempotency key reused"


class IdempotencyKeyInUse(Conflict):
    code, title = "IDEMPOTENCY_KEY_IN_USE", "Idempotency key in use"


# The header as a route parameter: validated (422) and documented with the route.
IdempotencyKey = Annotated[
    Optional[str],
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Repeat a request safely: the same key within 24 hours returns the first response.",
    ),
]


def _mark_replayed(response: Any, idempotent_data: Any) -> Any:  # Powertools' IdempotentHookFunction
    return {**response, "headers": {**response.get("headers", {}), REPLAYED_HEADER: "true"}}


def idempotent(
    key: str | None,
    *,
    caller: str,
    operation: str,
    request: Any,
    lambda_context: Any,
    respond: Callable[[], tuple[int, Any, dict[str, str]]],
) -> Response:
    """Run ``respond`` (→ status, body, headers) at most once per (caller, operation, key) within 24 hours."""
    if key is None:
        return json_response(*respond())
    settings = get_settings()
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_ttl_seconds,
        hash_function="sha256",
        response_hook=_mark_replayed,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)
    store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=aws.client("dynamodb"))

    @idempotent_function(data_keyword_argument="payload", config=config, persistence_store=store)
    def run(payload: dict[str, Any]) -> dict[str, Any]:
        status, body, headers = respond()
        return {"status": status, "body": body, "headers": headers}

    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    try:
        result = run(payload={"key": json.dumps([caller, operation, key]), "request": canonical})
    except IdempotencyValidationError:
        raise IdempotencyKeyReused(
            f"{HEADER} '{key}' was used for a different request in the last 24 hours; use a new key."
        ) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyKeyInUse(
            f"A request with {HEADER} '{key}' is still being processed; retry shortly.", headers={"Retry-After": "1"}
        ) from None
    except IdempotencyPersistenceLayerError as error:
        cause = error.__cause__ or error
        raise ServiceUnavailable(
            "The idempotency store is unavailable; retry shortly.", headers={"Retry-After": "1"}
        ) from cause
    return json_response(result["status"], result["body"], headers=result.get("headers") or {})
