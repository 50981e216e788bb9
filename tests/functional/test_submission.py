"""Create survives an SQS failure: the task is stored, reported unsubmitted, and the reaper submits it."""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import EndpointConnectionError

from synchub import aws as synchub_aws
from tests.conftest import FUNCTIONS, load_event
from tests.functional.test_tasks_api import CREATE


class FailingSqs:
    """The real client, except that sending fails (as during an SQS outage)."""

    def __init__(self, real):
        self.real = real

    def send_message(self, **kwargs):
        raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")

    def __getattr__(self, name):
        return getattr(self.real, name)


def queued(aws):
    response = boto3.client("sqs").receive_message(QueueUrl=aws.refs["SyncQueue"], MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in response.get("Messages", [])]


def test_sqs_failure_keeps_the_task_and_the_reaper_submits_it(api, aws, data_source, monkeypatch):
    real = synchub_aws.client("sqs")
    synchub_aws.set_client("sqs", FailingSqs(real))
    response = api.post("/api/sync/tasks", CREATE)
    assert response.status == 201, response.text
    task = response.json
    assert task["status"] == "pending" and task["submitted"] is False
    assert api.get(f"/api/sync/tasks/{task['id']}").json["submitted"] is False
    assert queued(aws) == []

    synchub_aws.set_client("sqs", real)
    monkeypatch.setenv("RESUBMIT_AFTER_SECONDS", "0")
    from synchub.settings import get_settings
    from synchub.tasks.lifecycle import task_lifecycle
    from synchub.tasks.maintenance import task_maintenance

    get_settings.cache_clear()
    task_lifecycle.cache_clear()
    task_maintenance.cache_clear()
    outcome = FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json"))
    assert outcome == {"submitted": 1, "cleared": 0, "resumed": 0, "failed": 0}
    assert queued(aws) == [{"task_id": task["id"], "attempt": 1, "hop": 0}]
    assert api.get(f"/api/sync/tasks/{task['id']}").json["submitted"] is True
    assert FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json")) == {
        "submitted": 0,
        "cleared": 0,
        "resumed": 0,
        "failed": 0,
    }


def test_reaper_waits_for_the_grace_period_and_skips_cancelled_tasks(api, aws, data_source, monkeypatch):
    real = synchub_aws.client("sqs")
    synchub_aws.set_client("sqs", FailingSqs(real))
    young = api.post("/api/sync/tasks", CREATE).json
    cancelled = api.post("/api/sync/tasks", CREATE).json
    synchub_aws.set_client("sqs", real)
    assert api.post(f"/api/sync/tasks/{cancelled['id']}/cancel").status == 200
    assert FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json")) == {
        "submitted": 0,
        "cleared": 0,
        "resumed": 0,
        "failed": 0,
    }
    assert queued(aws) == []
    monkeypatch.setenv("RESUBMIT_AFTER_SECONDS", "0")
    from synchub.settings import get_settings
    from synchub.tasks.lifecycle import task_lifecycle
    from synchub.tasks.maintenance import task_maintenance

    get_settings.cache_clear()
    task_lifecycle.cache_clear()
    task_maintenance.cache_clear()
    assert FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json")) == {
        "submitted": 1,
        "cleared": 0,
        "resumed": 0,
        "failed": 0,
    }
    assert [m["task_id"] for m in queued(aws)] == [young["id"]]
