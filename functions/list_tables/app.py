"""GET /api/sync/tables: the lake tables, with their rows, files, bytes and last commit."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tables.catalog import table_catalog

app = create_app()


@app.get(
    "/api/sync/tables",
    summary="List the lake tables",
    tags=["tables"],
    responses=responses(200, "TableList", "Every Iceberg table of the stack's Glue database, by name"),
)
def list_tables():
    return json_response(200, {"items": table_catalog().list()})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
