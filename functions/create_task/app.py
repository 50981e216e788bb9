"""POST /api/sync/tasks: store a sync task, then submit it to the engine."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import caller_of, create_app, json_response
from synchub.models.tasks import CreateTaskRequest
from synchub.observability import logger
from synchub.schedule.tasks import schedule_service

app = create_app()


@app.post("/api/sync/tasks")
def create_task(request: Annotated[CreateTaskRequest, Body()]):
    task = schedule_service().create_task(request, created_by=caller_of(app))
    logger.info("task created", extra={"task_id": task["id"], "submitted": task["submitted"]})
    return json_response(201, task, headers={"Location": f"/api/sync/tasks/{task['id']}"})


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
