"""GET /api/sync/data-sources/{id}: one data source, secrets masked."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.get(
    "/api/sync/data-sources/<data_source_id>",
    summary="Get a data source",
    tags=["data-sources"],
    responses=responses(200, "DataSource", "The data source (secrets masked)", 404),
)
def get_data_source(data_source_id: str):
    return json_response(200, data_source_service().get(data_source_id))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
