"""GET /api/sync/tasks/{id}/output: the files a task wrote (rows, bytes, download URLs) and its first rows."""

from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.observability import logger
from synchub.tasks.output import task_output_service

app = create_app()


@app.get(
    "/api/sync/tasks/<task_id>/output",
    summary="What a task wrote",
    tags=["tasks"],
    responses=responses(
        200,
        "TaskOutput",
        "The task's parts and manifest (download URLs valid a few minutes), and with preview its first rows",
        404,
    ),
)
def get_task_output(
    task_id: str,
    preview: Annotated[Optional[int], Query(ge=1, le=100, description=("also return the first N rows (1-100)"))] = None,
):
    return json_response(200, task_output_service().output(task_id, preview=preview))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
