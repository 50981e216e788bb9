"""PUT /api/sync/tasks/{id}: replace the config of a pending task; PATCH: a JSON Merge Patch of it (RFC 7396)."""

from typing import Annotated, Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import MERGE_PATCH, responses
from synchub.api.params import Body
from synchub.models.tasks import UpdateTaskRequest
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.put(
    "/api/sync/tasks/<task_id>",
    summary="Change a pending task's config",
    tags=["tasks"],
    responses=responses(200, "Task", "Updated", 404, 409),
)
def update_task(task_id: str, request: Annotated[UpdateTaskRequest, Body()]):
    task = task_service().update_task(task_id, request.config.model_dump(exclude_none=True))
    return json_response(200, task)


@app.patch(
    "/api/sync/tasks/<task_id>",
    summary="Change part of a pending task's config (JSON Merge Patch)",
    tags=["tasks"],
    responses=responses(200, "Task", "Updated", 404, 409),
)
def patch_task(task_id: str, patch: Annotated[dict[str, Any], Body(description=MERGE_PATCH)]):
    return json_response(200, task_service().patch_task(task_id, patch))


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
