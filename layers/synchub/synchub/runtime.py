"""Process-wide caches (settings, clients, services) and how to reset them between test cases."""

from __future__ import annotations


def reset() -> None:
    """Forget cached settings, boto3 clients and services so the next use re-reads the environment."""
    from synchub import aws
    from synchub.engine.runner import reset_runner
    from synchub.notify.publisher import task_publisher
    from synchub.notify.webhooks import webhook_sender
    from synchub.schedule.data_sources import data_source_service
    from synchub.schedule.interfaces import interface_service
    from synchub.schedule.tasks import schedule_service
    from synchub.settings import get_settings
    from synchub.stats.service import statistics_service

    get_settings.cache_clear()
    aws.reset_clients()
    schedule_service.cache_clear()
    data_source_service.cache_clear()
    interface_service.cache_clear()
    statistics_service.cache_clear()
    reset_runner()
    task_publisher.cache_clear()
    webhook_sender.cache_clear()
