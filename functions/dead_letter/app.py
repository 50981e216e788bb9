"""Dead-letter handler: a task whose engine message SQS gave up on is marked failed (never lost)."""

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.observability import logger
from synchub.tasks.lifecycle import task_lifecycle

processor = BatchProcessor(event_type=EventType.SQS)


def fail_task(record: SQSRecord) -> None:
    try:
        task_id = json.loads(record.body).get("task_id")
    except (ValueError, AttributeError):
        logger.warning("unreadable dead letter dropped", extra={"message_id": record.message_id})
        return
    if not isinstance(task_id, str):
        return
    finished = task_lifecycle().give_up(task_id)
    logger.warning("dead letter", extra={"task_id": task_id, "failed_now": finished is not None})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=fail_task, processor=processor, context=context)
