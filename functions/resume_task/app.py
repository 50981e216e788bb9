"""POST /api/sync/tasks/{id}/resume: put a paused task back on the queue, to continue from its checkpoint (202)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/<task_id>/resume",
    summary="Resume a paused task",
    tags=["tasks"],
    responses=responses(
        202,
        "Task",
        "Resumed: pending again, continuing from its checkpoint",
        404,
        409,
        also={200: ("Task", "Running and asked to pause: the request is withdrawn")},
    ),
)
def resume_task(task_id: str):
    task, status = task_service().resume_task(task_id)
    logger.info("task resume", extra={"task_id": task_id, "http_status": status})
    return json_response(status, task)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
