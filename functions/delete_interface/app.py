"""DELETE /api/sync/data-sources/{id}/interfaces/{interface_id}: remove a stream definition."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app
from synchub.api.openapi import KEEP_SLOTS, responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.delete(
    "/api/sync/data-sources/<data_source_id>/interfaces/<interface_id>",
    summary="Delete an interface",
    tags=["interfaces"],
    responses=responses(204, None, "Deleted", 404, 409),
)
def delete_interface(
    data_source_id: str, interface_id: str, keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False
):
    interface_service().delete(data_source_id, interface_id, keep_slots=keep_slots)
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
