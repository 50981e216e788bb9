"""GET /api/sync/schedules/{id}: a schedule with its next and last runs."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.get(
    "/api/sync/schedules/<schedule_id>",
    summary="Get a schedule",
    tags=["schedules"],
    responses=responses(200, "Schedule", "The schedule", 404),
)
def get_schedule(schedule_id: str):
    return json_response(200, schedule_service().get(schedule_id))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
