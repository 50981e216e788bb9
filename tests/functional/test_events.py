"""Every sample event in events/ runs against its function (what `make invoke` and `sam local invoke` use)."""

from __future__ import annotations

import json

import pytest

from local import api_gateway
from tests.conftest import EVENTS, FUNCTIONS, ROUTES, load_event

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations

WEBSOCKET_EVENTS = {
    "WsConnectFunction": "ws_connect.json",
    "WsDisconnectFunction": "ws_disconnect.json",
    "WsSubscribeFunction": "ws_subscribe.json",
}
API_EVENTS = sorted(p.name for p in EVENTS.glob("*.json") if "httpMethod" in json.loads(p.read_text()))
EXPECTED = {
    "create_task.json": 201,
    "list_tasks.json": 200,
    "get_task.json": 404,
    "get_task_output.json": 404,
    "update_task.json": 404,
    "cancel_task.json": 404,
    "pause_task.json": 404,
    "resume_task.json": 404,
    "retry_task.json": 404,
    "delete_task.json": 404,
    "cleanup_tasks.json": 200,
    "task_statistics.json": 200,
    "batch_cancel_tasks.json": 200,
    "batch_retry_tasks.json": 200,
    "batch_delete_tasks.json": 200,
    "create_data_source.json": 201,
    "list_data_sources.json": 200,
    "get_data_source.json": 200,
    "update_data_source.json": 200,
    "delete_data_source.json": 204,
    "test_data_source.json": 200,
    "create_interface.json": 201,
    "list_interfaces.json": 200,
    "get_interface.json": 200,
    "update_interface.json": 200,
    "delete_interface.json": 204,
    "openapi.json": 200,
    "create_schedule.json": 201,
    "list_schedules.json": 200,
    "get_schedule.json": 200,
    "update_schedule.json": 200,
    "delete_schedule.json": 204,
    "pause_schedule.json": 200,
    "resume_schedule.json": 200,
    "trigger_schedule.json": 201,
    "list_tables.json": 200,
    "get_table.json": 404,  # no sync has made ds_pg_demo's table in the test's emulator
    "preview_table.json": 404,
}


def test_every_function_has_a_sample_event():
    covered = set()
    for name in API_EVENTS:
        event = load_event(name)
        route, _, _ = api_gateway.match(ROUTES, event["httpMethod"], event["path"])
        assert route is not None and route.resource == event["resource"], name
        covered.add(route.function)
    covered |= {
        "ReaperFunction",
        "SyncEngineFunction",
        "DeadLetterFunction",  # scheduled, SQS and stream events
        "TaskPublisherFunction",
        "WebhookDeliveryFunction",
        *WEBSOCKET_EVENTS,
        "DashboardPublisherFunction",  # dashboard_publisher.json, in test_dashboard_site
        "FireScheduleFunction",
    }  # fire_schedule.json: EventBridge Scheduler's input
    assert covered == set(FUNCTIONS)
    assert set(API_EVENTS) == set(EXPECTED)


@pytest.fixture
def seeded(api):
    from local.demo import seed

    seed("http://127.0.0.1:8080")


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sample_event_runs(seeded, name):
    if name in ("update_data_source.json", "delete_data_source.json"):
        run("create_data_source.json")
    if name in ("get_interface.json", "update_interface.json", "delete_interface.json"):
        run("create_interface.json")
    if name.endswith("_schedule.json") and name != "create_schedule.json":
        run("create_schedule.json")
    result = run(name)
    assert result["statusCode"] == EXPECTED[name], result["body"]


def run(name):
    event = load_event(name)
    route, _, _ = api_gateway.match(ROUTES, event["httpMethod"], event["path"])
    return FUNCTIONS[route.function].invoke(event)


@pytest.mark.parametrize(
    "function, name",
    [
        ("SyncEngineFunction", "sync_engine.json"),
        ("DeadLetterFunction", "dead_letter.json"),
        ("ReaperFunction", "reaper.json"),
    ],
)
def test_background_sample_events_run(aws, function, name):
    result = FUNCTIONS[function].invoke(load_event(name))
    if function == "ReaperFunction":
        assert result == {"submitted": 0, "cleared": 0, "resumed": 0, "failed": 0}
    else:
        assert result == {"batchItemFailures": []}  # an unknown task: nothing to do, nothing to retry


def test_the_scheduler_sample_event_runs(seeded):
    assert run("create_schedule.json")["statusCode"] == 201
    first = FUNCTIONS["FireScheduleFunction"].invoke(load_event("fire_schedule.json"))
    assert first["outcome"] == "created" and first["task_id"].startswith("task_")
    again = FUNCTIONS["FireScheduleFunction"].invoke(load_event("fire_schedule.json"))  # a duplicate delivery
    assert again == {"outcome": "duplicate", "schedule_id": "sch_nightly", "task_id": first["task_id"]}


def test_stream_and_webhook_sample_events_run(aws, monkeypatch):
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")  # the sample's endpoint is on 127.0.0.1
    import synchub.runtime

    synchub.runtime.reset()
    # A new task's record: its state-change event goes to the bus; nobody subscribes, nothing to retry.
    assert FUNCTIONS["TaskPublisherFunction"].invoke(load_event("task_publisher.json")) == {"batchItemFailures": []}
    # A webhook to an endpoint that is not there: the delivery fails and stays queued for a retry.
    event = load_event("webhook_delivery.json")
    result = FUNCTIONS["WebhookDeliveryFunction"].invoke(event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


def test_websocket_sample_events_run(aws):
    connect = FUNCTIONS["WsConnectFunction"].invoke(load_event("ws_connect.json"))
    assert connect["statusCode"] == 401  # the sample carries no token; AuthMode cognito refuses it
    assert json.loads(connect["body"])["code"] == "UNAUTHENTICATED"
    reply = FUNCTIONS["WsSubscribeFunction"].invoke(load_event("ws_subscribe.json"))
    assert json.loads(reply["body"])["code"] == "CONNECTION_CLOSED"  # that connection was never opened
    assert FUNCTIONS["WsDisconnectFunction"].invoke(load_event("ws_disconnect.json")) == {"statusCode": 200}
