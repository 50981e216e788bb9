"""GET /api/sync/tasks: tasks newest first, filtered by data source, status, schedule, task type and creation
time, paged."""

from datetime import datetime
from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.models.tasks import ResourceId, TaskStatus, TaskType
from synchub.observability import logger
from synchub.tasks.use_cases import task_service

app = create_app()


@app.get(
    "/api/sync/tasks",
    summary="List tasks",
    tags=["tasks"],
    responses=responses(200, "TaskPage", "A page of tasks, newest first"),
)
def list_tasks(
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=100)] = 10,
    data_source_id: Annotated[Optional[ResourceId], Query()] = None,
    status: Annotated[Optional[TaskStatus], Query()] = None,
    next_token: Annotated[Optional[str], Query(max_length=2048)] = None,
    schedule_id: Annotated[Optional[ResourceId], Query()] = None,
    task_type: Annotated[Optional[TaskType], Query()] = None,
    created_after: Annotated[Optional[datetime], Query(description="RFC 3339; no offset means UTC")] = None,
    created_before: Annotated[Optional[datetime], Query(description="RFC 3339; no offset means UTC")] = None,
):
    listing = task_service().list_tasks(
        page=page,
        size=size,
        data_source_id=data_source_id,
        status=status,
        next_token=next_token,
        schedule_id=schedule_id,
        task_type=task_type,
        created_after=created_after,
        created_before=created_before,
    )
    return json_response(200, listing)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
