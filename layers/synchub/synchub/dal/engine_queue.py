"""Submission of tasks to the engine's SQS queue, and the queue's live figures."""

from __future__ import annotations

import json
from typing import Any

from synchub import aws
from synchub.observability import CORRELATION_ATTRIBUTE, correlation_id
from synchub.settings import Settings


def task_message(
    task: dict[str, Any], *, hop: int = 0, checkpoint: dict[str, Any] | None = None, run_id: str | None = None
) -> dict[str, Any]:
    """The engine message for ``task``: which task, which attempt, how many continuations so far, and
    (to continue a run) which run holds its lease."""
    message: dict[str, Any] = {"task_id": task["id"], "attempt": int(task.get("attempt") or 1), "hop": hop}
    if run_id is not None:
        message["run_id"] = run_id
    if checkpoint is not None:
        message["checkpoint"] = checkpoint
    return message


class EngineQueue:
    def __init__(self, settings: Settings):
        self.settings = settings

    def submit(
        self,
        task: dict[str, Any],
        *,
        delay_seconds: int = 0,
        hop: int = 0,
        checkpoint: dict[str, Any] | None = None,
        run_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Send the task's message to the sync queue; returns the SQS message id."""
        message = {**task_message(task, hop=hop, checkpoint=checkpoint, run_id=run_id), **(extra or {})}
        params: dict[str, Any] = {}
        correlation = task.get("correlation_id") or correlation_id()
        if correlation:
            # The engine logs its run of the task under the id of the request that created it.
            params["MessageAttributes"] = {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": correlation}}
        response = aws.client("sqs").send_message(
            QueueUrl=self.settings.sync_queue_url,
            MessageBody=json.dumps(message, separators=(",", ":")),
            DelaySeconds=max(0, min(aws.SQS_MAX_DELAY_SECONDS, delay_seconds)),
            **params,
        )
        return response["MessageId"]

    def submit_many(
        self, task: dict[str, Any], *, run_id: str, extras: list[dict[str, Any]], hop: int = 0
    ) -> list[str]:
        """Send one message of the task's run per entry of ``extras`` (a parallel sync's ranges), ten to a
        request; returns the SQS message ids. Raises if SQS refused any (a run's fan-out is sent again whole)."""
        params: dict[str, Any] = {}
        correlation = task.get("correlation_id") or correlation_id()
        if correlation:
            params["MessageAttributes"] = {CORRELATION_ATTRIBUTE: {"DataType": "String", "StringValue": correlation}}
        sent: list[str] = []
        for start in range(0, len(extras), 10):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": json.dumps(
                        {**task_message(task, hop=hop, run_id=run_id), **extra}, separators=(",", ":")
                    ),
                    **params,
                }
                for n, extra in enumerate(extras[start : start + 10])
            ]
            response = aws.client("sqs").send_message_batch(QueueUrl=self.settings.sync_queue_url, Entries=entries)
            if response.get("Failed"):
                failed = response["Failed"][0]
                raise RuntimeError(
                    f"SQS refused a message of the fan-out: {failed.get('Code')} {failed.get('Message')}"
                )
            sent.extend(entry["MessageId"] for entry in response.get("Successful") or [])
        return sent

    def queue_figures(self) -> dict[str, int]:
        """Visible, in-flight and delayed message counts of the sync queue (approximate, as SQS says)."""
        response = aws.client("sqs").get_queue_attributes(
            QueueUrl=self.settings.sync_queue_url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
        attributes = response.get("Attributes", {})
        return {
            "queue_length": int(attributes.get("ApproximateNumberOfMessages", 0))
            + int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
            "in_flight": int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }
