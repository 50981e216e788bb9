"""POST /api/sync/tasks/cleanup: delete finished tasks created before a date, a bounded number per call."""

from typing import Annotated

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Body
from synchub.models.tasks import CleanupRequest
from synchub.observability import logger
from synchub.tasks.maintenance import task_maintenance

app = create_app()


@app.post(
    "/api/sync/tasks/cleanup",
    summary="Delete finished tasks created before a date",
    tags=["tasks"],
    responses=responses(200, "CleanupResult", "What this call deleted; send next_token back while done is false"),
)
def cleanup_tasks(request: Annotated[CleanupRequest, Body()]):
    result = task_maintenance().cleanup(request)
    logger.info(
        "tasks cleaned up", extra={"deleted": result["deleted"], "skipped": result["skipped"], "done": result["done"]}
    )
    return json_response(200, result)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
