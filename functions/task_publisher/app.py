"""Task change feed: the tasks table's stream → WebSocket pushes, EventBridge events, webhooks, metrics."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.notify.publisher import task_publisher
from synchub.observability import logger, metrics


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return task_publisher().publish(event.get("Records") or [])
