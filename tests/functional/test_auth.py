"""Every route behind the template's user-pool authorizer (AuthMode cognito, the deployed default):
401 without a token, 401 with a token of no SyncHub scope, 403 with the other SyncHub scope, success with
exactly the route's scope, and ``created_by`` is the caller."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from local.seeding import run_task
from synchub.auth.callers import READ_SCOPE, WRITE_SCOPE, required_scope
from tests.conftest import ROUTES, USER_POOL, ApiClient
from tests.functional.test_openapi import answer_matches_the_document
from tests.lake import register_empty_table

CREATE = {"data_source_id": "ds_test", "task_type": "full_sync"}
SOURCE = {
    "id": "ds_auth",
    "name": "Auth source",
    "type": "http",
    "connection_config": {"base_url": "http://api.example.invalid/api"},
}
INTERFACE = {"id": "if_auth", "name": "Orders", "url_suffix": "/orders"}


def _task(admin: ApiClient, outcome: str | None = None) -> str:
    task_id = admin.post("/api/sync/tasks", CREATE).json["id"]
    if outcome:
        run_task(task_id, outcome=outcome)
    return task_id


def _paused(admin: ApiClient) -> str:
    task_id = _task(admin)
    assert admin.post(f"/api/sync/tasks/{task_id}/pause").status == 200
    return task_id


SCHEDULE = {
    "id": "sch_test",
    "name": "hourly",
    "data_source_id": "ds_auth",
    "task_type": "full_sync",
    "expression": "rate(1 hour)",
}


def _schedule(admin: ApiClient) -> str:
    _source(admin)
    assert admin.post("/api/sync/schedules", SCHEDULE).status == 201
    return SCHEDULE["id"]


def _table() -> str:
    """A lake table (with no commit: the in-process mock cannot hold data files pyiceberg writes)."""
    import boto3

    glue = boto3.client("glue")
    try:
        glue.get_table(DatabaseName="synchub", Name="ds_auth")
    except glue.exceptions.EntityNotFoundException:
        register_empty_table("ds_auth")
    return "ds_auth"


def _source(admin: ApiClient) -> str:
    assert admin.post("/api/sync/data-sources", SOURCE).status == 201
    return SOURCE["id"]


def _interface(admin: ApiClient) -> tuple[str, str]:
    assert admin.post("/api/sync/data-sources/ds_test/interfaces", INTERFACE).status == 201
    return "ds_test", INTERFACE["id"]


# (method, resource) → prepares state with a full-scope client; returns (path, body) of a request that succeeds.
Scenario = Callable[[ApiClient], tuple[str, Any]]
SCENARIOS: dict[tuple[str, str], Scenario] = {
    ("POST", "/api/sync/tasks"): lambda a: ("/api/sync/tasks", CREATE),
    ("GET", "/api/sync/tasks"): lambda a: ("/api/sync/tasks", None),
    ("GET", "/api/sync/tasks/statistics"): lambda a: ("/api/sync/tasks/statistics", None),
    ("GET", "/api/sync/tasks/{id}"): lambda a: (f"/api/sync/tasks/{_task(a)}", None),
    ("PUT", "/api/sync/tasks/{id}"): lambda a: (f"/api/sync/tasks/{_task(a)}", {"config": {"batch_size": 10}}),
    ("PATCH", "/api/sync/tasks/{id}"): lambda a: (f"/api/sync/tasks/{_task(a)}", {"config": {"batch_size": 20}}),
    ("GET", "/api/sync/tasks/{id}/output"): lambda a: (f"/api/sync/tasks/{_task(a)}/output", None),
    ("DELETE", "/api/sync/tasks/{id}"): lambda a: (f"/api/sync/tasks/{_task(a, 'success')}", None),
    ("POST", "/api/sync/tasks/{id}/cancel"): lambda a: (f"/api/sync/tasks/{_task(a)}/cancel", None),
    ("POST", "/api/sync/tasks/{id}/pause"): lambda a: (f"/api/sync/tasks/{_task(a)}/pause", None),
    ("POST", "/api/sync/tasks/{id}/resume"): lambda a: (f"/api/sync/tasks/{_paused(a)}/resume", None),
    ("POST", "/api/sync/tasks/{id}/retry"): lambda a: (f"/api/sync/tasks/{_task(a, 'failed')}/retry", None),
    ("POST", "/api/sync/tasks/cleanup"): lambda a: ("/api/sync/tasks/cleanup", {"before_date": "2099-01-01"}),
    ("POST", "/api/sync/tasks/batch-cancel"): lambda a: ("/api/sync/tasks/batch-cancel", {"task_ids": [_task(a)]}),
    ("POST", "/api/sync/tasks/batch-retry"): lambda a: (
        "/api/sync/tasks/batch-retry",
        {"task_ids": [_task(a, "failed")]},
    ),
    ("POST", "/api/sync/tasks/batch-delete"): lambda a: (
        "/api/sync/tasks/batch-delete",
        {"task_ids": [_task(a, "success")]},
    ),
    ("POST", "/api/sync/data-sources"): lambda a: ("/api/sync/data-sources", SOURCE),
    ("GET", "/api/sync/data-sources"): lambda a: ("/api/sync/data-sources", None),
    ("GET", "/api/sync/data-sources/{id}"): lambda a: (f"/api/sync/data-sources/{_source(a)}", None),
    ("PUT", "/api/sync/data-sources/{id}"): lambda a: (
        f"/api/sync/data-sources/{_source(a)}",
        {k: v for k, v in SOURCE.items() if k != "id"},
    ),
    ("PATCH", "/api/sync/data-sources/{id}"): lambda a: (f"/api/sync/data-sources/{_source(a)}", {"name": "renamed"}),
    ("DELETE", "/api/sync/data-sources/{id}"): lambda a: (f"/api/sync/data-sources/{_source(a)}", None),
    ("POST", "/api/sync/data-sources/{id}/test"): lambda a: (f"/api/sync/data-sources/{_source(a)}/test", None),
    ("POST", "/api/sync/data-sources/{id}/interfaces"): lambda a: (
        "/api/sync/data-sources/ds_test/interfaces",
        INTERFACE,
    ),
    ("GET", "/api/sync/data-sources/{id}/interfaces"): lambda a: ("/api/sync/data-sources/ds_test/interfaces", None),
    ("GET", "/api/sync/data-sources/{id}/interfaces/{interface_id}"): lambda a: (
        "/api/sync/data-sources/{}/interfaces/{}".format(*_interface(a)),
        None,
    ),
    ("PUT", "/api/sync/data-sources/{id}/interfaces/{interface_id}"): lambda a: (
        "/api/sync/data-sources/{}/interfaces/{}".format(*_interface(a)),
        {k: v for k, v in INTERFACE.items() if k != "id"},
    ),
    ("PATCH", "/api/sync/data-sources/{id}/interfaces/{interface_id}"): lambda a: (
        "/api/sync/data-sources/{}/interfaces/{}".format(*_interface(a)),
        {"name": "renamed"},
    ),
    ("DELETE", "/api/sync/data-sources/{id}/interfaces/{interface_id}"): lambda a: (
        "/api/sync/data-sources/{}/interfaces/{}".format(*_interface(a)),
        None,
    ),
    ("POST", "/api/sync/schedules"): lambda a: ("/api/sync/schedules", {**SCHEDULE, "data_source_id": _source(a)}),
    ("GET", "/api/sync/schedules"): lambda a: ("/api/sync/schedules", None),
    ("GET", "/api/sync/schedules/{id}"): lambda a: (f"/api/sync/schedules/{_schedule(a)}", None),
    ("PUT", "/api/sync/schedules/{id}"): lambda a: (
        f"/api/sync/schedules/{_schedule(a)}",
        {k: v for k, v in SCHEDULE.items() if k != "id"},
    ),
    ("DELETE", "/api/sync/schedules/{id}"): lambda a: (f"/api/sync/schedules/{_schedule(a)}", None),
    ("POST", "/api/sync/schedules/{id}/pause"): lambda a: (f"/api/sync/schedules/{_schedule(a)}/pause", None),
    ("POST", "/api/sync/schedules/{id}/resume"): lambda a: (f"/api/sync/schedules/{_schedule(a)}/resume", None),
    ("POST", "/api/sync/schedules/{id}/trigger"): lambda a: (f"/api/sync/schedules/{_schedule(a)}/trigger", None),
    ("GET", "/api/sync/tables"): lambda a: ("/api/sync/tables", None),
    ("GET", "/api/sync/tables/{name}"): lambda a: (f"/api/sync/tables/{_table()}", None),
    ("GET", "/api/sync/tables/{name}/preview"): lambda a: (f"/api/sync/tables/{_table()}/preview?limit=5", None),
}
PROTECTED = sorted((r.method, r.resource) for r in ROUTES if (r.method, r.resource) in SCENARIOS)


def test_every_route_has_an_auth_scenario():
    assert {
        (r.method, r.resource)
        for r in ROUTES
        if r.resource.startswith("/api/sync/")
        and r.resource not in ("/api/sync/openapi.json", "/api/sync/docs", "/api/sync/docs/{asset}")
    } == set(SCENARIOS)


def _problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json
    assert body["status"] == status and body["code"] == code and body["detail"]
    return body


@pytest.fixture
def admin(api, data_source) -> ApiClient:
    return api


@pytest.mark.parametrize("method, resource", PROTECTED)
def test_route_refuses_no_token_and_the_other_scope(admin, method, resource):
    path, body = SCENARIOS[(method, resource)](admin)
    response = ApiClient(token=None).request(method, path, body)
    problem = _problem(response, 401, "UNAUTHENTICATED")
    assert "Bearer" in response.headers["www-authenticate"] and "Authorization" in problem["detail"]
    no_synchub_scope = ApiClient(token=USER_POOL.issue("mallory", ["openid", "profile"]))
    _problem(no_synchub_scope.request(method, path, body), 401, "UNAUTHENTICATED")

    needed = required_scope(method)
    other = WRITE_SCOPE if needed == READ_SCOPE else READ_SCOPE
    response = ApiClient(token=USER_POOL.issue("bob", [other])).request(method, path, body)
    problem = _problem(response, 403, "INSUFFICIENT_SCOPE")
    assert problem["required_scope"] == needed and needed in problem["detail"]
    assert f'scope="{needed}"' in response.headers["www-authenticate"]


@pytest.mark.parametrize("method, resource", PROTECTED)
def test_route_succeeds_with_its_scope_alone(admin, method, resource):
    path, body = SCENARIOS[(method, resource)](admin)
    caller = ApiClient(token=USER_POOL.issue("carol@example.com", [required_scope(method)]))
    response = caller.request(method, path, body)
    assert 200 <= response.status < 300, response.text
    created = response.json if response.text else None
    answer_matches_the_document(method, resource, response)
    if (method, resource) in {("POST", "/api/sync/tasks"), ("POST", "/api/sync/data-sources")}:
        assert created["created_by"] == "carol@example.com"
    if resource == "/api/sync/tasks/{id}/retry":
        assert created["created_by"] == "carol@example.com"
    if resource == "/api/sync/tasks/batch-retry":
        assert created["succeeded"][0]["task"]["created_by"] == "carol@example.com"


def test_a_client_credentials_token_records_its_app_client(data_source):
    """Scripts use the ScriptsClient's client-credentials tokens: no user name, so the task records the client."""
    machine = ApiClient(token=USER_POOL.issue(None, [WRITE_SCOPE], client_id="nightly-etl"))
    task = machine.post("/api/sync/tasks", CREATE)
    assert task.status == 201 and task.json["created_by"] == "nightly-etl"


def test_expired_forged_and_id_tokens_are_refused(api, data_source):
    from local.auth import LocalUserPool

    expired = USER_POOL.issue("eve", [READ_SCOPE], ttl_seconds=-10)
    forged = LocalUserPool().issue("eve", [READ_SCOPE])  # signed by another key
    id_token = USER_POOL.issue("eve", [READ_SCOPE], token_use="id")
    for token in (expired, forged, id_token, "not-a-jwt"):
        _problem(ApiClient(token=token).get("/api/sync/tasks"), 401, "UNAUTHENTICATED")


def test_function_refuses_an_event_without_claims_even_behind_a_misconfigured_api(aws):
    """Defence in depth: a function under AuthMode cognito never serves an event API Gateway did not authorise."""
    from local import api_gateway
    from tests.conftest import FUNCTIONS

    route, params, _ = api_gateway.match(ROUTES, "GET", "/api/sync/tasks")
    event = api_gateway.proxy_event(route, "GET", "/api/sync/tasks", "", [], b"", params)
    result = FUNCTIONS[route.function].invoke(event)
    assert result["statusCode"] == 401 and '"UNAUTHENTICATED"' in result["body"]


def test_iam_mode_takes_the_caller_from_the_signed_identity(aws, data_source, monkeypatch):
    from local import api_gateway
    from synchub.settings import get_settings
    from tests.conftest import FUNCTIONS

    monkeypatch.setenv("AUTH_MODE", "iam")
    get_settings.cache_clear()
    try:
        route, params, _ = api_gateway.match(ROUTES, "POST", "/api/sync/tasks")
        arn = "arn:aws:sts::123456789012:assumed-role/etl/runner"
        event = api_gateway.proxy_event(
            route,
            "POST",
            "/api/sync/tasks",
            "",
            [("Content-Type", "application/json")],
            b'{"data_source_id":"ds_test","task_type":"full_sync"}',
            params,
            authorizer={"identity": {"userArn": arn}},
        )
        result = FUNCTIONS[route.function].invoke(event)
        assert result["statusCode"] == 201 and f'"created_by":"{arn}"' in result["body"]
        unsigned = api_gateway.proxy_event(route, "POST", "/api/sync/tasks", "", [], b"{}", params)
        assert FUNCTIONS[route.function].invoke(unsigned)["statusCode"] == 401
    finally:
        monkeypatch.setenv("AUTH_MODE", "cognito")
        get_settings.cache_clear()
