"""POST /api/sync/schedules: a schedule that creates a sync task at the times its expression gives."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.api.openapi import LOCATION, responses
from synchub.api.params import Body
from synchub.models.schedules import CreateScheduleRequest
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.post(
    "/api/sync/schedules",
    summary="Create a schedule",
    tags=["schedules"],
    responses=responses(201, "Schedule", "Created", 409, headers=LOCATION),
)
def create_schedule(request: Annotated[CreateScheduleRequest, Body()]):
    schedule = schedule_service().create(request, created_by=caller_of(app))
    return json_response(201, schedule, headers={"Location": f"/api/sync/schedules/{schedule['id']}"})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
