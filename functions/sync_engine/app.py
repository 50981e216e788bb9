"""The engine: SQS batch of task messages → sync runs, reporting partial batch failures."""

import json

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.engine.runner import UNEXPECTED_CAUSE, RetryLater, engine_runner, retry_later_backoff
from synchub.observability import CORRELATION_ATTRIBUTE, logger, metrics, usable_correlation_id

# A message the engine could not finish goes back to the queue as a batch item failure, with backoff; the
# invocation itself succeeds, so Lambda's Errors count only crashes and timeouts (EngineErrorsAlarm), not a
# source's transient errors. Unexpected errors are counted apart (EngineUnexpectedErrors, same alarm).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def run_record(record: SQSRecord, lambda_context: LambdaContext) -> str:
    message = json.loads(record.body)
    # Logged under the id of the request that created the task (its message carries it).
    attribute = record["messageAttributes"].get(CORRELATION_ATTRIBUTE) or {}
    logger.set_correlation_id(usable_correlation_id(attribute.get("stringValue")) or record.message_id)
    logger.append_keys(task_id=message.get("task_id") if isinstance(message, dict) else None)
    try:
        return engine_runner().handle(message, record.message_id, lambda_context.get_remaining_time_in_millis)
    except Exception as error:
        expected = isinstance(error, RetryLater)
        if not expected:
            metrics.add_metric(name="EngineUnexpectedErrors", unit=MetricUnit.Count, value=1)
        delay = retry_later_backoff(record.receipt_handle, int(record.attributes.approximate_receive_count or 1))
        engine_runner().note_retry(message, record.message_id, str(error) if expected else UNEXPECTED_CAUSE, delay)
        raise


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=run_record, processor=processor, context=context)
