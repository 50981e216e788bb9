"""GET /api/sync/data-sources/{id}/interfaces/{interface_id}: one stream of a data source."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.get(
    "/api/sync/data-sources/<data_source_id>/interfaces/<interface_id>",
    summary="Get an interface",
    tags=["interfaces"],
    responses=responses(200, "Interface", "The interface", 404),
)
def get_interface(data_source_id: str, interface_id: str):
    return json_response(200, interface_service().get(data_source_id, interface_id))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
