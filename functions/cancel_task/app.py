"""POST /api/sync/tasks/{id}/cancel: cancel a pending task (200) or ask a running one to stop (202)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/<task_id>/cancel",
    summary="Cancel a task",
    tags=["tasks"],
    responses=responses(
        200,
        "Task",
        "Cancelled (was pending)",
        404,
        409,
        also={202: ("Task", "Cancel requested (running; the engine stops at its next batch)")},
    ),
)
def cancel_task(task_id: str):
    task, status = task_service().cancel_task(task_id)
    logger.info("task cancel", extra={"task_id": task_id, "http_status": status})
    return json_response(status, task)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
