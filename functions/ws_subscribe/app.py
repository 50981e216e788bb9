"""WebSocket ``subscribe`` / ``unsubscribe``: follow tasks, a data source, or everything; the reply is sent back."""

import json

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.notify.websocket import SubscriptionService
from synchub.observability import logger
from synchub.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    connection_id = event["requestContext"]["connectionId"]
    reply = SubscriptionService(get_settings()).handle(connection_id, event.get("body"))
    logger.info("subscription message", extra={"connection_id": connection_id, "reply": reply.get("type")})
    return {"statusCode": 200, "body": json.dumps(reply, separators=(",", ":"))}
