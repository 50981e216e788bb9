"""Scheduled reaper: submits tasks whose submission failed, and resumes (or fails) running tasks whose
engine stopped sending heartbeats."""

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.observability import logger, metrics
from synchub.tasks.maintenance import task_maintenance


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    service = task_maintenance()
    outcome = {**service.resubmit_unsubmitted(), **service.resume_stale_running()}
    # Running tasks whose engine stopped reporting (StuckTasksAlarm fires on any).
    metrics.add_metric(name="StuckTasksFound", unit=MetricUnit.Count, value=outcome["resumed"] + outcome["failed"])
    logger.info("reaper pass", extra=outcome)
    return outcome
