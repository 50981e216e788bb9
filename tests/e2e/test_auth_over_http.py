"""`make run ARGS=--auth`: the local stack enforces the template's API auth over real HTTP."""

from __future__ import annotations

import re
from typing import Iterator

import pytest
import requests

from tests.conftest import ROUTES
from tests.e2e.conftest import RunningStack, start_stack, stop_stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_stack(tmp_path_factory.mktemp("secured"), "--auth", "--no-postgres", "--no-schedules")
    yield running
    stop_stack(running)


def demo_token(stack: RunningStack) -> str:
    for _ in range(50):
        found = re.search(r"export SYNCHUB_TOKEN=(\S+)", stack.log())
        if found:
            return found.group(1)
        import time

        time.sleep(0.1)
    raise AssertionError(f"no demo token printed: {stack.log()[-2000:]}")


def token(stack: RunningStack, user: str, scope: str) -> str:
    response = requests.get(stack.url("/_local/token"), params={"user": user, "scope": scope}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    return response.json()["access_token"]


PUBLIC = {("GET", "/api/sync/openapi.json"), ("GET", "/api/sync/docs"), ("GET", "/api/sync/docs/{asset}")}


def test_every_route_refuses_a_request_without_a_token(secured):
    for route in ROUTES:
        if (route.method, route.resource) in PUBLIC:
            path = route.resource.replace("{asset}", "swagger-ui.css")
            assert requests.get(secured.url(path), timeout=30).status_code == 200
            continue
        path = re.sub(r"\{[^}]+\}", "x_1", route.resource)
        response = requests.request(route.method, secured.url(path), json={}, timeout=30)
        assert response.status_code == 401, (route.method, path, response.text)
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "UNAUTHENTICATED"


def test_every_route_refuses_the_other_scope(secured):
    tokens = {scope: token(secured, "gina", scope) for scope in ("synchub/read", "synchub/write")}
    for route in ROUTES:
        if (route.method, route.resource) in PUBLIC:
            continue
        needed = "synchub/read" if route.method == "GET" else "synchub/write"
        other = "synchub/write" if needed == "synchub/read" else "synchub/read"
        path = re.sub(r"\{[^}]+\}", "x_1", route.resource)
        response = requests.request(
            route.method, secured.url(path), json={}, timeout=30, headers={"Authorization": f"Bearer {tokens[other]}"}
        )
        assert response.status_code == 403, (route.method, path, response.text)
        assert response.json()["required_scope"] == needed


def test_demo_token_works_and_the_task_records_its_user(secured):
    headers = {"Authorization": f"Bearer {demo_token(secured)}"}
    created = requests.post(
        secured.url("/api/sync/tasks"),
        headers=headers,
        timeout=30,
        json={"data_source_id": "ds_123", "task_type": "full_sync"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "demo"
    task_id = created.json()["id"]
    reader = {"Authorization": f"Bearer {token(secured, 'dana', 'synchub/read')}"}
    fetched = requests.get(secured.url(f"/api/sync/tasks/{task_id}"), headers=reader, timeout=30)
    assert fetched.status_code == 200 and fetched.json()["id"] == task_id


def test_wrong_scope_is_forbidden(secured):
    reader = {"Authorization": f"Bearer {token(secured, 'dana', 'synchub/read')}"}
    response = requests.post(
        secured.url("/api/sync/tasks"),
        headers=reader,
        timeout=30,
        json={"data_source_id": "ds_123", "task_type": "full_sync"},
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "INSUFFICIENT_SCOPE" and response.json()["required_scope"] == "synchub/write"
    writer = {"Authorization": f"Bearer {token(secured, 'erin', 'synchub/write')}"}
    listed = requests.get(secured.url("/api/sync/tasks"), headers=writer, timeout=30)
    assert listed.status_code == 403 and listed.json()["required_scope"] == "synchub/read"
    foreign = {"Authorization": f"Bearer {token(secured, 'frank', 'openid')}"}
    assert requests.get(secured.url("/api/sync/tasks"), headers=foreign, timeout=30).status_code == 401


def test_the_websocket_takes_the_same_tokens(secured):
    import json

    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    for query, status in (("", 401), (f"?token={token(secured, 'writer', 'synchub/write')}", 403)):
        with pytest.raises(InvalidStatus) as refused:
            connect(secured.ws_url + "/" + query, open_timeout=10)
        assert refused.value.response.status_code == status
    reader = token(secured, "reader", "synchub/read")
    with connect(secured.ws_url, additional_headers={"Authorization": f"Bearer {reader}"}, open_timeout=10) as client:
        client.send(json.dumps({"action": "subscribe", "all": True}))
        assert json.loads(client.recv(timeout=10)) == {"type": "subscribed", "topics": ["all"]}
    with connect(f"{secured.ws_url}/?token={demo_token(secured)}", open_timeout=10) as client:
        client.send(json.dumps({"action": "subscribe", "data_source_ids": ["ds_123"]}))
        assert json.loads(client.recv(timeout=10))["type"] == "subscribed"
