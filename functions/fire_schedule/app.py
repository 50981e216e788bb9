"""EventBridge Scheduler's target: one firing of a schedule ({schedule_id, scheduled_time}) becomes a task,
once per scheduled time (a retried or duplicate delivery finds the firing recorded)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.observability import logger
from synchub.schedules.service import schedule_service, scheduled_time_of


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    outcome = schedule_service().fire(str(event["schedule_id"]), scheduled_time_of(event))
    logger.info("schedule firing", extra={"schedule_id": event["schedule_id"], "outcome": outcome["outcome"]})
    return {key: value for key, value in outcome.items() if key != "task"} | (
        {"task_id": outcome["task"]["id"]} if outcome.get("task") else {}
    )
