"""PUT /api/sync/schedules/{id}: replace a schedule (its EventBridge Scheduler schedule follows)."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Body
from synchub.models.schedules import UpdateScheduleRequest
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.put(
    "/api/sync/schedules/<schedule_id>",
    summary="Replace a schedule",
    tags=["schedules"],
    responses=responses(200, "Schedule", "Replaced", 404),
)
def update_schedule(schedule_id: str, request: Annotated[UpdateScheduleRequest, Body()]):
    return json_response(200, schedule_service().replace(schedule_id, request))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
