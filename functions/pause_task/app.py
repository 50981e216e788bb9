"""POST /api/sync/tasks/{id}/pause: pause a pending task (200) or ask a running one to pause at its next batch (202)."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/<task_id>/pause",
    summary="Pause a task",
    tags=["tasks"],
    responses=responses(
        200,
        "Task",
        "Paused (was pending, or already paused)",
        404,
        409,
        also={
            202: ("Task", "Pause requested (running; the engine pauses at its next batch, with its checkpoint kept)")
        },
    ),
)
def pause_task(task_id: str):
    task, status = task_service().pause_task(task_id)
    logger.info("task pause", extra={"task_id": task_id, "http_status": status})
    return json_response(status, task)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
