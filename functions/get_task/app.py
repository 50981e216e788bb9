"""GET /api/sync/tasks/{id}: one task, with live progress while it runs."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.get(
    "/api/sync/tasks/<task_id>",
    summary="Get a task",
    tags=["tasks"],
    responses=responses(200, "Task", "The task, with live progress while running", 404),
)
def get_task(task_id: str):
    return json_response(200, task_service().get_task(task_id))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
