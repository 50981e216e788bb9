"""Scheduled reaper: submits tasks whose submission to the engine failed."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.observability import logger
from synchub.schedule.tasks import schedule_service


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    outcome = schedule_service().resubmit_unsubmitted()
    logger.info("reaper pass", extra=outcome)
    return outcome
