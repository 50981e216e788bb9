"""The WebSocket side: who may connect, what a connection follows, and pushing changes to it.

A client subscribes with ``{"action": "subscribe", "task_ids": [...], "data_source_ids": [...], "all": true}``
(any of the three) and is answered ``{"type": "subscribed", "topics": [...]}``; ``unsubscribe`` takes the
same fields. Every caller who may read tasks may follow any of them, as on the REST API.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from synchub import aws
from synchub.auth.callers import ANONYMOUS, Caller, Unauthenticated, iam_caller
from synchub.dal.subscriptions import ConnectionGone, SubscriptionStore
from synchub.errors import SyncHubError, ValidationFailed
from synchub.ids import NAME_ID_PATTERN, TASK_ID_PATTERN
from synchub.observability import logger
from synchub.settings import Settings

MAX_TOPICS = 100
TaskId = Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN.pattern)]
DataSourceId = Annotated[str, StringConstraints(pattern=NAME_ID_PATTERN.pattern)]


class SubscriptionRequest(BaseModel):
    """What a connection starts (``subscribe``) or stops (``unsubscribe``) following."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["subscribe", "unsubscribe"]
    task_ids: Annotated[list[TaskId], Field(max_length=50)] = []
    data_source_ids: Annotated[list[DataSourceId], Field(max_length=50)] = []
    all: bool = False

    def topics(self) -> set[str]:
        found = {f"task:{t}" for t in self.task_ids} | {f"data_source:{d}" for d in self.data_source_ids}
        return found | ({"all"} if self.all else set())


class ConnectionClosed(SyncHubError):
    status, code, title = 410, "CONNECTION_CLOSED", "Connection closed"


class TokenExpired(SyncHubError):
    status, code, title = 401, "TOKEN_EXPIRED", "Token expired"


def problem_message(error: SyncHubError) -> dict[str, Any]:
    """A refusal as a WebSocket message: the problem details of the REST API with ``type: error``."""
    body: dict[str, Any] = {
        "type": "error",
        "status": error.status,
        "code": error.code,
        "title": error.title,
        "detail": error.detail,
    }
    if error.errors:
        body["errors"] = error.errors
    return body


class SubscriptionService:
    def __init__(self, settings: Settings, store: SubscriptionStore | None = None):
        self.settings = settings
        self.store = store or SubscriptionStore(settings)

    def connect(self, connection_id: str, caller: Caller) -> None:
        self.store.open(connection_id, caller.id or ANONYMOUS, caller.expires_at)

    def disconnect(self, connection_id: str) -> None:
        self.store.close(connection_id)

    def handle(self, connection_id: str, body: str | None) -> dict[str, Any]:
        """Apply a subscribe/unsubscribe message; the reply to send back (an ``error`` message if refused)."""
        try:
            try:
                request = SubscriptionRequest.model_validate_json(body or "")
            except ValidationError as error:
                raise ValidationFailed(
                    "The message does not match the subscribe/unsubscribe schema.",
                    errors=[
                        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
                        for e in error.errors(include_url=False, include_context=False, include_input=False)
                    ],
                ) from error
            topics = request.topics()
            if request.action == "subscribe":
                if not topics:
                    raise ValidationFailed("Name task_ids, data_source_ids or all: true.")
                connection = self.store.connection(connection_id)
                if connection is None:
                    raise ConnectionClosed("The connection is no longer open.")
                current = connection.topics
                if len(current | topics) > MAX_TOPICS:
                    raise ValidationFailed(f"A connection follows at most {MAX_TOPICS} topics.")
                self.store.subscribe(connection_id, topics - current, connection.token_expires_at)
                return {"type": "subscribed", "topics": sorted(current | topics)}
            self.store.unsubscribe(connection_id, topics)
            return {"type": "unsubscribed", "topics": sorted(topics)}
        except ConnectionGone:
            return problem_message(ConnectionClosed("The connection is no longer open."))
        except SyncHubError as error:
            return problem_message(error)


@dataclass
class PushReport:
    sent: int = 0
    gone: list[str] = field(default_factory=list)
    failed: int = 0


class WebSocketPusher:
    """Posts messages to connections through the WebSocket API's management endpoint."""

    def __init__(self, settings: Settings, store: SubscriptionStore | None = None, workers: int = 8):
        self.settings = settings
        self.store = store or SubscriptionStore(settings)
        self.workers = workers

    def _client(self) -> Any:
        return aws.client("apigatewaymanagementapi", endpoint_url=self.settings.websocket_endpoint)

    def _send_all(self, connection_id: str, messages: list[dict[str, Any]]) -> tuple[int, bool, int]:
        client = self._client()
        sent = failed = 0
        for message in messages:
            try:
                client.post_to_connection(
                    ConnectionId=connection_id, Data=json.dumps(message, separators=(",", ":")).encode()
                )
                sent += 1
            except client.exceptions.GoneException:
                return sent, True, failed
            except Exception:  # noqa: BLE001 - a push is best effort; the next change brings the state again
                logger.warning("push to a connection failed", extra={"connection_id": connection_id}, exc_info=True)
                failed += 1
        return sent, False, failed

    def close_expired(self, connection_ids: Iterable[str]) -> int:
        """Tell each connection its token has expired, close it, and forget it; returns how many."""
        closed = 0
        for connection_id in sorted(connection_ids):
            if self.settings.websocket_endpoint:
                client = self._client()
                try:
                    client.post_to_connection(
                        ConnectionId=connection_id,
                        Data=json.dumps(
                            problem_message(
                                TokenExpired("The access token has expired: connect again with a fresh one.")
                            ),
                            separators=(",", ":"),
                        ).encode(),
                    )
                    client.delete_connection(ConnectionId=connection_id)
                except Exception:  # noqa: BLE001 - gone already, or closing failed: its records go either way
                    logger.info("closing an expired connection failed", extra={"connection_id": connection_id})
            self.store.close(connection_id)
            closed += 1
        return closed

    def push(self, plan: dict[str, list[dict[str, Any]]]) -> PushReport:
        """Send each connection its messages in order (connections in parallel); forget gone connections."""
        report = PushReport()
        if not plan or not self.settings.websocket_endpoint:
            return report
        with ThreadPoolExecutor(max_workers=min(self.workers, len(plan))) as pool:
            results = list(pool.map(lambda item: (item[0], *self._send_all(*item)), plan.items()))
        for connection_id, sent, gone, failed in results:
            report.sent += sent
            report.failed += failed
            if gone:
                report.gone.append(connection_id)
                self.store.close(connection_id)
        return report


def caller_of_connect(event: dict[str, Any], settings: Settings) -> Caller:
    """Who opens a WebSocket, checked as the REST API checks a read route (raises 401/403 problems)."""
    if settings.auth_mode == "cognito":
        from synchub.auth.tokens import (  # PyJWT and cryptography: only to check a token
            bearer_token,
            verify_access_token,
        )

        token = bearer_token(event.get("headers"), event.get("queryStringParameters"))
        if token is None:
            raise Unauthenticated("Send an access token: 'Authorization: Bearer <token>' or '?token=<token>'.")
        return verify_access_token(token, settings)
    if settings.auth_mode == "iam":
        return iam_caller(event)
    return Caller(ANONYMOUS)
