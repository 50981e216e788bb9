"""POST /api/sync/tasks/{id}/retry: a new task repeating a failed one (idempotent with Idempotency-Key)."""

from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app
from synchub.api.idempotency import IdempotencyKey, idempotent
from synchub.api.openapi import LOCATION, responses
from synchub.api.params import Body
from synchub.models.tasks import RetryTaskRequest
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/<task_id>/retry",
    summary="Retry a failed task",
    tags=["tasks"],
    responses=responses(
        201, "Task", "The new retry task (or replayed for a repeated Idempotency-Key)", 404, 409, headers=LOCATION
    ),
)
def retry_task(
    task_id: str, request: Annotated[Optional[RetryTaskRequest], Body()] = None, idempotency_key: IdempotencyKey = None
):
    caller = caller_of(app)
    restart = bool(request and request.restart)

    def retry():
        task = task_service().retry_task(task_id, restart=restart, created_by=caller)
        logger.info("task retried", extra={"task_id": task_id, "retry_task_id": task["id"]})
        return 201, task, {"Location": f"/api/sync/tasks/{task['id']}"}

    return idempotent(
        idempotency_key,
        caller=caller,
        operation="retry_task",
        request={"task_id": task_id, "restart": restart},
        lambda_context=app.lambda_context,
        respond=retry,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
