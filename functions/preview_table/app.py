"""GET /api/sync/tables/{name}/preview: a lake table's first rows, as it stands."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.tables.catalog import table_catalog

app = create_app()


@app.get(
    "/api/sync/tables/<name>/preview",
    summary="A lake table's first rows",
    tags=["tables"],
    responses=responses(200, "TablePreview", "The first rows of the table's current snapshot", 404),
)
def preview_table(
    name: str,
    limit: Annotated[int, Query(ge=1, le=1000, description="rows to return (1-1000)")] = 20,
):
    return json_response(200, table_catalog().preview(name, limit))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
