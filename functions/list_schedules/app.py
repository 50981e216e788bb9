"""GET /api/sync/schedules: schedules, newest first, paged by next_token."""

from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.schedules.service import schedule_service

app = create_app()


@app.get(
    "/api/sync/schedules",
    summary="List schedules",
    tags=["schedules"],
    responses=responses(200, "SchedulePage", "A page of schedules, newest first"),
)
def list_schedules(
    size: Annotated[int, Query(ge=1, le=100)] = 20,
    next_token: Annotated[Optional[str], Query(max_length=2048)] = None,
):
    return json_response(200, schedule_service().list(size=size, next_token=next_token))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
