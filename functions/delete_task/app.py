"""DELETE /api/sync/tasks/{id}: remove a finished task (204), with its share of the statistics."""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.delete(
    "/api/sync/tasks/<task_id>",
    summary="Delete a finished task",
    tags=["tasks"],
    responses=responses(204, None, "Deleted (with its share of the statistics)", 404, 409),
)
def delete_task(task_id: str):
    task_service().delete_task(task_id)
    logger.info("task deleted", extra={"task_id": task_id})
    return Response(status_code=204, body="")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
