"""POST /api/sync/schedules/{id}/resume: resume a schedule (it fires again at its next time)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.post(
    "/api/sync/schedules/<schedule_id>/resume",
    summary="Resume a schedule",
    tags=["schedules"],
    responses=responses(200, "Schedule", "State enabled", 404),
)
def resume_schedule(schedule_id: str):
    return json_response(200, schedule_service().set_state(schedule_id, "enabled"))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
