"""POST /api/sync/tasks/{id}/retry: a new task repeating a failed one."""

from typing import Annotated, Optional

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.models.tasks import RetryTaskRequest
from synchub.observability import logger
from synchub.schedule.tasks import schedule_service

app = create_app()


@app.post("/api/sync/tasks/<task_id>/retry")
def retry_task(task_id: str, request: Annotated[Optional[RetryTaskRequest], Body()] = None):
    restart = bool(request and request.restart)
    task = schedule_service().retry_task(task_id, restart=restart, created_by=caller_of(app))
    logger.info("task retried", extra={"task_id": task_id, "retry_task_id": task["id"]})
    return json_response(201, task, headers={"Location": f"/api/sync/tasks/{task['id']}"})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
