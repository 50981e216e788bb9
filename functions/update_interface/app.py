"""PUT /api/sync/data-sources/{id}/interfaces/{interface_id}: replace a stream definition; PATCH: a JSON Merge
Patch of it (RFC 7396)."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import KEEP_SLOTS, MERGE_PATCH, responses
from synchub.api.params import Body, Query
from synchub.models.interfaces import UpdateInterfaceRequest
from synchub.observability import logger
from synchub.sources.interfaces import interface_service

app = create_app()


@app.put(
    "/api/sync/data-sources/<data_source_id>/interfaces/<interface_id>",
    summary="Replace an interface",
    tags=["interfaces"],
    responses=responses(200, "Interface", "Replaced", 404, 409),
)
def update_interface(
    data_source_id: str,
    interface_id: str,
    request: Annotated[UpdateInterfaceRequest, Body()],
    keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False,
):
    return json_response(200, interface_service().replace(data_source_id, interface_id, request, keep_slots=keep_slots))


@app.patch(
    "/api/sync/data-sources/<data_source_id>/interfaces/<interface_id>",
    summary="Change part of an interface (JSON Merge Patch)",
    tags=["interfaces"],
    responses=responses(200, "Interface", "Updated", 404, 409),
)
def patch_interface(
    data_source_id: str,
    interface_id: str,
    patch: Annotated[dict[str, Any], Body(description=MERGE_PATCH)],
    keep_slots: Annotated[bool, Query(description=KEEP_SLOTS)] = False,
):
    return json_response(200, interface_service().patch(data_source_id, interface_id, patch, keep_slots=keep_slots))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
