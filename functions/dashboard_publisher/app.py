"""Custom::DashboardSite: publishes the dashboard (the DashboardSite layer's files) to its S3 bucket."""

from pathlib import Path

from aws_lambda_powertools.utilities.typing import LambdaContext

from synchub.dashboard.deployment import handle
from synchub.observability import logger
from synchub.settings import get_settings


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return handle(event, Path(get_settings().dashboard_site_dir))
