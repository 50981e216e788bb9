"""PUT /api/sync/data-sources/{id}/interfaces/{interface_id}: replace a stream definition."""

from typing import Annotated

from synchub.api.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.models.interfaces import UpdateInterfaceRequest
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.put(
    "/api/sync/data-sources/<data_source_id>/interfaces/<interface_id>",
    summary="Replace an interface", tags=["interfaces"],
    responses=responses(200, "Interface", "Replaced", 404),
)
def update_interface(data_source_id: str, interface_id: str, request: Annotated[UpdateInterfaceRequest, Body()]):
    return json_response(200, interface_service().replace(data_source_id, interface_id, request))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
