"""DELETE /api/sync/schedules/{id}: delete a schedule and its EventBridge Scheduler schedule (its tasks stay)."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.delete(
    "/api/sync/schedules/<schedule_id>",
    summary="Delete a schedule",
    tags=["schedules"],
    responses=responses(204, None, "Deleted", 404),
)
def delete_schedule(schedule_id: str):
    schedule_service().delete(schedule_id)
    logger.info("schedule deleted", extra={"schedule_id": schedule_id})
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
