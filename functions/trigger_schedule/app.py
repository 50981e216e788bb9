"""POST /api/sync/schedules/{id}/trigger: run a schedule once now, by its overlap rule (paused or not)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.post(
    "/api/sync/schedules/<schedule_id>/trigger",
    summary="Run a schedule now",
    tags=["schedules"],
    responses=responses(201, "ScheduleRun", "A task created (or queued behind the previous run)", 404, 409),
)
def trigger_schedule(schedule_id: str):
    run, status = schedule_service().trigger(schedule_id, created_by=caller_of(app))
    return json_response(status, run)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
