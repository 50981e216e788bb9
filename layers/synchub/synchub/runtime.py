"""Process-wide caches (settings, clients, services) and how to reset them between test cases and benchmark
runs. Nothing on a function's path imports this module."""

from __future__ import annotations

from synchub import aws
from synchub.engine.runner import reset_runner
from synchub.notify.publisher import task_publisher
from synchub.notify.webhooks import webhook_sender
from synchub.settings import get_settings
from synchub.sources.data_sources import data_source_service
from synchub.sources.interfaces import interface_service
from synchub.stats.service import statistics_service
from synchub.tables.catalog import table_catalog
from synchub.tasks.lifecycle import task_lifecycle
from synchub.tasks.maintenance import task_maintenance
from synchub.tasks.output import task_output_service
from synchub.tasks.use_cases import task_service


def reset() -> None:
    """Forget cached settings, boto3 clients and services so the next use re-reads the environment."""
    get_settings.cache_clear()
    aws.reset_clients()
    task_lifecycle.cache_clear()
    task_service.cache_clear()
    task_maintenance.cache_clear()
    task_output_service.cache_clear()
    data_source_service.cache_clear()
    interface_service.cache_clear()
    statistics_service.cache_clear()
    table_catalog.cache_clear()
    reset_runner()
    task_publisher.cache_clear()
    webhook_sender.cache_clear()
