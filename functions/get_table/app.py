"""GET /api/sync/tables/{name}: one lake table, its columns with their types and its latest snapshots."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tables.catalog import table_catalog

app = create_app()


@app.get(
    "/api/sync/tables/<name>",
    summary="Get a lake table",
    tags=["tables"],
    responses=responses(200, "TableDetail", "The table, its schema and its latest snapshots with their tasks", 404),
)
def get_table(name: str):
    return json_response(200, table_catalog().get(name))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
