"""Exponential backoff for SQS messages a function failed: visible again after base × 2^(n-1) seconds."""

from __future__ import annotations

from synchub import aws
from synchub.observability import logger


def delay_redelivery(queue_url: str, receipt_handle: str, receive_count: int, base_seconds: int) -> int:
    """Set the failed message's visibility to the backoff for its ``receive_count``-th delivery (at most
    15 minutes); returns the delay. On error the message returns after the queue's visibility timeout."""
    delay = min(aws.SQS_MAX_DELAY_SECONDS, base_seconds * 2 ** max(0, receive_count - 1))
    try:
        aws.client("sqs").change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay
        )
    except Exception:  # noqa: BLE001
        logger.warning("could not set the retry backoff", exc_info=True)
    return delay
