"""POST /api/sync/data-sources/{id}/test: read the first rows of a data source as a sync would."""

from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.ids import NAME_ID_PATTERN
from synchub.observability import logger
from synchub.sources.data_sources import data_source_service

app = create_app()


@app.post(
    "/api/sync/data-sources/<data_source_id>/test",
    summary="Test a data source's connection",
    tags=["data-sources"],
    responses=responses(200, "ConnectionTest", "What the source answered (ok false: why it failed)", 404, 422),
)
def test_data_source(
    data_source_id: str,
    interface_id: Annotated[
        Optional[str], Query(pattern=NAME_ID_PATTERN.pattern, description="read this interface's stream")
    ] = None,
):
    result = data_source_service().test_connection(data_source_id, interface_id)
    logger.info(
        "data source tested",
        extra={"data_source_id": data_source_id, "ok": result["ok"], "latency_ms": result["latency_ms"]},
    )
    return json_response(200, result)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
