"""POST /api/sync/data-sources: register a data source (secret fields go to Secrets Manager)."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.api.openapi import LOCATION, responses
from synchub.api.params import Body
from synchub.models.data_sources import CreateDataSourceRequest
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.post(
    "/api/sync/data-sources",
    summary="Register a data source",
    tags=["data-sources"],
    responses=responses(201, "DataSource", "Created", 409, headers=LOCATION),
)
def create_data_source(request: Annotated[CreateDataSourceRequest, Body()]):
    source = data_source_service().create(request, created_by=caller_of(app))
    logger.info("data source created", extra={"data_source_id": source["id"]})
    return json_response(201, source, headers={"Location": f"/api/sync/data-sources/{source['id']}"})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
