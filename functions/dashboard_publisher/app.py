"""Custom::DashboardSite: publishes the dashboard (a version of the DashboardSite layer) to its S3 bucket."""

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.dashboard.deployment import handle
from synchub.observability import logger


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event)
