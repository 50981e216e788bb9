"""DELETE /api/sync/data-sources/{id}: remove a data source that has no pending or running task."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app
from synchub.api.openapi import KEEP_SLOTS, responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.delete(
    "/api/sync/data-sources/<data_source_id>",
    summary="Delete a data source",
    tags=["data-sources"],
    responses=responses(204, None, "Deleted", 404, 409),
)
def delete_data_source(data_source_id: str, keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False):
    data_source_service().delete(data_source_id, keep_slots=keep_slots)
    logger.info("data source deleted", extra={"data_source_id": data_source_id})
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
