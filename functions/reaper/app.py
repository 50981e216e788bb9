"""Scheduled reaper: submits tasks whose submission failed, and resumes (or fails) running tasks whose
engine stopped sending heartbeats."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.observability import logger
from synchub.schedule.tasks import schedule_service


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    service = schedule_service()
    outcome = {**service.resubmit_unsubmitted(), **service.resume_stale_running()}
    logger.info("reaper pass", extra=outcome)
    return outcome
