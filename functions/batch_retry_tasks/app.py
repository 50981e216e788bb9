"""POST /api/sync/tasks/batch-retry: retry up to 100 failed tasks; each id gets its own result."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Body
from synchub.models.tasks import BatchRetryRequest
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.post(
    "/api/sync/tasks/batch-retry",
    summary="Retry up to 100 failed tasks",
    tags=["tasks"],
    responses=responses(200, "BatchResult", "Per-id results (each id's 404/409 is in failed)"),
)
def batch_retry_tasks(request: Annotated[BatchRetryRequest, Body()]):
    result = task_service().batch_retry(request.task_ids, restart=request.restart, created_by=caller_of(app))
    logger.info("batch retry", extra={"succeeded": len(result["succeeded"]), "failed": len(result["failed"])})
    return json_response(200, result)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
