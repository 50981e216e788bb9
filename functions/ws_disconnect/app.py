"""WebSocket $disconnect: the connection and its subscriptions are forgotten."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.notify.websocket import SubscriptionService
from synchub.observability import logger
from synchub.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    connection_id = event["requestContext"]["connectionId"]
    SubscriptionService(get_settings()).disconnect(connection_id)
    logger.info("WebSocket disconnected", extra={"connection_id": connection_id})
    return {"statusCode": 200}
