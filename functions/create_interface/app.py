"""POST /api/sync/data-sources/{id}/interfaces: add a stream to a data source."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import LOCATION, responses
from synchub.api.params import Body
from synchub.models.interfaces import CreateInterfaceRequest
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.post(
    "/api/sync/data-sources/<data_source_id>/interfaces",
    summary="Add an interface to a data source",
    tags=["interfaces"],
    responses=responses(201, "Interface", "Created", 404, 409, headers=LOCATION),
)
def create_interface(data_source_id: str, request: Annotated[CreateInterfaceRequest, Body()]):
    interface = interface_service().create(data_source_id, request)
    location = f"/api/sync/data-sources/{data_source_id}/interfaces/{interface['id']}"
    return json_response(201, interface, headers={"Location": location})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
