"""GET /api/sync/data-sources/{id}/interfaces: the streams of a data source, in id order."""

from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.models.tasks import ResourceId
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.get(
    "/api/sync/data-sources/<data_source_id>/interfaces",
    summary="List a data source's interfaces",
    tags=["interfaces"],
    responses=responses(200, "InterfacePage", "A page of interfaces", 404),
)
def list_interfaces(
    data_source_id: str,
    size: Annotated[int, Query(ge=1, le=100)] = 50,
    next_token: Annotated[Optional[ResourceId], Query()] = None,
):
    return json_response(200, interface_service().list(data_source_id, size=size, after=next_token))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
