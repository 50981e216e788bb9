"""TaskPublisher: one batch of the tasks table's stream → WebSocket pushes, EventBridge events, webhooks.

Records are handled in stream order. Durable publications (events, queued webhooks) are made record by
record; when one fails, the batch reports that record as its first failure, so Lambda retries from it and
nothing before it is published twice. WebSocket pushes are best effort and go out for every record
before the failure: a client that misses one gets the task's whole state with the next change.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from synchub.dal.data_sources import DataSourceStore
from synchub.dal.subscriptions import SubscriptionStore
from synchub.notify.events import StateChangePublisher
from synchub.notify.feed import TaskChange, change_of
from synchub.notify.webhooks import WebhookQueue
from synchub.notify.websocket import WebSocketPusher
from synchub.observability import logger, metrics
from synchub.settings import Settings, get_settings
from synchub.timeutil import parse_iso

OUTCOME_METRICS = {"success": "TasksSucceeded", "failed": "TasksFailed", "cancelled": "TasksCancelled"}


class TaskPublisher:
    def __init__(self, settings: Settings, metrics: Any = None):
        self.settings = settings
        self.connections = SubscriptionStore(settings)
        self.pusher = WebSocketPusher(settings, self.connections)
        self.events = StateChangePublisher(settings)
        self.webhooks = WebhookQueue(settings)
        self.data_sources = DataSourceStore(settings)
        self.metrics = metrics

    def publish(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Publish a batch; returns Lambda's partial-failure answer (``batchItemFailures``)."""
        published: list[TaskChange] = []
        failure: dict[str, Any] | None = None
        data_sources: dict[str, dict[str, Any] | None] = {}
        for record in records:
            change = change_of(record)
            if change is None:
                continue
            try:
                if change.kind == "status":
                    self.events.publish([change])
                if change.terminal:
                    self._queue_webhook(change, data_sources)
            except Exception:
                logger.exception(
                    "publishing a task change failed; the batch resumes from it",
                    extra={"task_id": change.task["id"], "sequence": change.sequence},
                )
                failure = {"itemIdentifier": str((record.get("dynamodb") or {}).get("SequenceNumber"))}
                break
            published.append(change)
        report = self._push(published)
        self._count(published)
        logger.info(
            "task changes published",
            extra={
                "changes": len(published),
                "pushed": report.sent,
                "gone_connections": len(report.gone),
                "failed_pushes": report.failed,
                "retrying_from": failure and failure["itemIdentifier"],
            },
        )
        return {"batchItemFailures": [failure] if failure else []}

    def _push(self, changes: list[TaskChange]) -> Any:
        subscribers: dict[str, set[str]] = {}
        token_expired: set[str] = set()
        plan: dict[str, list[dict[str, Any]]] = {}
        for change in changes:
            for topic in change.topics():
                if topic not in subscribers:
                    subscribers[topic], expired = self.connections.followers([topic])
                    token_expired |= expired
            targets = set().union(*(subscribers[t] for t in change.topics()))
            message = change.message()
            for connection_id in sorted(targets):
                plan.setdefault(connection_id, []).append(message)
        if token_expired:
            self.pusher.close_expired(token_expired)
        return self.pusher.push(plan)

    def _queue_webhook(self, change: TaskChange, data_sources: dict[str, dict[str, Any] | None]) -> None:
        data_source_id = change.task["data_source_id"]
        if data_source_id not in data_sources:
            data_sources[data_source_id] = self.data_sources.get(data_source_id)
        source = data_sources[data_source_id] or {}
        url = change.notify_url or source.get("notify_url")
        if not url:
            return
        secret_arn = source.get("notify_secret_arn") or self.settings.webhook_secret_arn
        self.webhooks.enqueue(change, url, secret_arn)

    def _count(self, changes: list[TaskChange]) -> None:
        if self.metrics is None:
            return
        for change in changes:
            if change.kind != "status":
                continue
            if change.old_status is None:
                self.metrics.add_metric(name="TasksCreated", unit=MetricUnit.Count, value=1)
            outcome = OUTCOME_METRICS.get(change.new_status)
            if outcome:
                self.metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
                start, end = change.task.get("start_time"), change.task.get("end_time")
                if change.new_status == "success" and start and end:
                    seconds = (parse_iso(end) - parse_iso(start)).total_seconds()
                    self.metrics.add_metric(name="SyncDuration", unit=MetricUnit.Seconds, value=max(0.0, seconds))


@lru_cache(maxsize=1)
def task_publisher() -> TaskPublisher:
    """The process-wide publisher, counting into the Powertools metrics (built on first use)."""

    return TaskPublisher(get_settings(), metrics=metrics)
