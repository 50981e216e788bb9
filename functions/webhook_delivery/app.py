"""Webhook delivery: POST each queued webhook, signed; a failed one returns with a doubling backoff."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.backoff import delay_redelivery
from synchub.notify.webhooks import Undeliverable, webhook_sender
from synchub.observability import logger
from synchub.settings import get_settings

# A webhook endpoint that is down is expected, not an error of this function: every failed record is reported.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def deliver(record: SQSRecord) -> int:
    settings = get_settings()
    delivery = json.loads(record.body)
    try:
        return webhook_sender().send(delivery)
    except Undeliverable as error:
        logger.error("webhook dropped", extra={"delivery_id": delivery.get("delivery_id"), "error": str(error)})
        return 0
    except Exception as error:
        attempt = int(record.attributes.approximate_receive_count or 1)
        delay = delay_redelivery(settings.webhook_queue_url, record.receipt_handle, attempt,
                                 settings.webhook_retry_base_seconds)
        logger.warning("webhook delivery failed; retrying", extra={
            "delivery_id": delivery.get("delivery_id"), "attempt": attempt, "retry_in_seconds": delay,
            "error": str(error)})
        raise


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
