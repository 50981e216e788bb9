"""POST /api/sync/tasks: store a sync task, then submit it to the engine (idempotent with Idempotency-Key)."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app
from synchub.api.idempotency import IdempotencyKey, idempotent
from synchub.api.openapi import LOCATION, responses
from synchub.api.params import Body
from synchub.models.tasks import CreateTaskRequest
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks",
    summary="Create a sync task",
    tags=["tasks"],
    responses=responses(
        201, "Task", "Created and submitted (or replayed for a repeated Idempotency-Key)", 409, headers=LOCATION
    ),
)
def create_task(request: Annotated[CreateTaskRequest, Body()], idempotency_key: IdempotencyKey = None):
    caller = caller_of(app)

    def create():
        task = task_service().create_task(request, created_by=caller)
        logger.info("task created", extra={"task_id": task["id"], "submitted": task["submitted"]})
        return 201, task, {"Location": f"/api/sync/tasks/{task['id']}"}

    return idempotent(
        idempotency_key,
        caller=caller,
        operation="create_task",
        request=request.model_dump(mode="json"),
        lambda_context=app.lambda_context,
        respond=create,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
