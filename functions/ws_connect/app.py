"""WebSocket $connect: the caller is checked like a REST read route; the connection is recorded."""

import json

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.errors import SyncHubError
from synchub.notify.websocket import SubscriptionService, caller_of_connect, problem_message
from synchub.observability import logger
from synchub.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    settings = get_settings()
    connection_id = event["requestContext"]["connectionId"]
    try:
        caller = caller_of_connect(event, settings)
    except SyncHubError as error:
        logger.info("WebSocket refused", extra={"status": error.status, "code": error.code})
        return {"statusCode": error.status, "body": json.dumps(problem_message(error))}
    SubscriptionService(settings).connect(connection_id, caller)
    logger.info("WebSocket connected", extra={"connection_id": connection_id, "caller": caller.id})
    return {"statusCode": 200}
