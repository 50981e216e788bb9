"""PUT /api/sync/data-sources/{id}: replace a data source (a masked secret keeps its stored value); PATCH: a
JSON Merge Patch of it (RFC 7396)."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import KEEP_SLOTS, MERGE_PATCH, responses
from synchub.api.params import Body, Query
from synchub.models.data_sources import UpdateDataSourceRequest
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.put(
    "/api/sync/data-sources/<data_source_id>",
    summary="Replace a data source",
    tags=["data-sources"],
    responses=responses(200, "DataSource", "Replaced", 404, 409),
)
def update_data_source(
    data_source_id: str,
    request: Annotated[UpdateDataSourceRequest, Body()],
    keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False,
):
    return json_response(200, data_source_service().replace(data_source_id, request, keep_slots=keep_slots))


@app.patch(
    "/api/sync/data-sources/<data_source_id>",
    summary="Change part of a data source (JSON Merge Patch)",
    tags=["data-sources"],
    responses=responses(200, "DataSource", "Updated", 404, 409),
)
def patch_data_source(
    data_source_id: str,
    patch: Annotated[dict[str, Any], Body(description=MERGE_PATCH)],
    keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False,
):
    return json_response(200, data_source_service().patch(data_source_id, patch, keep_slots=keep_slots))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
