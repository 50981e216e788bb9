"""GET /api/sync/tasks/statistics: task statistics over a window, plus the engine's live figures."""

from datetime import datetime
from typing import Annotated, Optional

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.api import create_app, json_response
from synchub.api.openapi import responses
from synchub.api.params import Query
from synchub.models.tasks import ResourceId
from synchub.observability import logger
from synchub.stats.service import statistics_service

app = create_app()


@app.get(
    "/api/sync/tasks/statistics",
    summary="Task statistics",
    tags=["tasks"],
    responses=responses(200, "Statistics", "Statistics of the tasks created in the window", 404),
)
def task_statistics(
    data_source_id: Annotated[Optional[ResourceId], Query()] = None,
    start_time: Annotated[Optional[datetime], Query()] = None,
    end_time: Annotated[Optional[datetime], Query()] = None,
    schedule_id: Annotated[Optional[ResourceId], Query()] = None,
):
    statistics = statistics_service().statistics(
        data_source_id=data_source_id, start_time=start_time, end_time=end_time, schedule_id=schedule_id
    )
    return json_response(200, statistics)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
