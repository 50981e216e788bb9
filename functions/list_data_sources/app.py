"""GET /api/sync/data-sources: data sources, newest first, paged."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.get(
    "/api/sync/data-sources",
    summary="List data sources",
    tags=["data-sources"],
    responses=responses(200, "DataSourcePage", "A page of data sources"),
)
def list_data_sources(
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 10,
):
    return json_response(200, data_source_service().list(page=page, size=size))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
