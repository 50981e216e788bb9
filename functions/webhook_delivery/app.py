"""Webhook delivery: POST each queued webhook, signed, all of a batch in parallel within one deadline; a failed
one returns with a doubling backoff."""

import json
from functools import partial

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.backoff import delay_redelivery
from synchub.notify.webhooks import DeliveryBatch, Undeliverable, webhook_sender
from synchub.observability import logger
from synchub.settings import get_settings

# A webhook endpoint that is down is expected, not an error of this function: every failed record is reported.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def deliver(batch: DeliveryBatch, record: SQSRecord) -> int:
    settings = get_settings()
    try:
        delivery_id = json.loads(record.body).get("delivery_id")
    except (ValueError, AttributeError):
        delivery_id = None
    try:
        return batch.outcome(record.message_id)
    except Undeliverable as error:
        logger.error("webhook dropped", extra={"delivery_id": delivery_id, "error": str(error)})
        return 0
    except Exception as error:
        attempt = int(record.attributes.approximate_receive_count or 1)
        delay = delay_redelivery(
            settings.webhook_queue_url, record.receipt_handle, attempt, settings.webhook_retry_base_seconds
        )
        logger.warning(
            "webhook delivery failed; retrying",
            extra={"delivery_id": delivery_id, "attempt": attempt, "retry_in_seconds": delay, "error": str(error)},
        )
        raise


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    batch = webhook_sender().send_all(
        {record["messageId"]: record["body"] for record in event["Records"]},
        seconds_left=context.get_remaining_time_in_millis() / 1000,
    )
    return process_partial_response(
        event=event, record_handler=partial(deliver, batch), processor=processor, context=context
    )
