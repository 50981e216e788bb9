"""POST /api/sync/tasks/batch-delete: delete up to 100 finished tasks; each id gets its own result."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Body
from synchub.models.tasks import BatchRequest
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/batch-delete",
    summary="Delete up to 100 finished tasks",
    tags=["tasks"],
    responses=responses(200, "BatchResult", "Per-id results (each id's 404/409 is in failed)"),
)
def batch_delete_tasks(request: Annotated[BatchRequest, Body()]):
    result = task_service().batch_delete(request.task_ids)
    logger.info("batch delete", extra={"succeeded": len(result["succeeded"]), "failed": len(result["failed"])})
    return json_response(200, result)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
