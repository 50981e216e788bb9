"""Shared fixtures: AWS under moto with resources built from template.yaml, and an API client that
routes requests to the template's functions as API Gateway would."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from local import api_gateway, moto_dynamodb
from local.auth import ALL_SCOPES, Denied, LocalUserPool, authorize
from local.iam import PolicyGuard
from local.lambda_runtime import LocalFunction
from local.resources import Stack, create_resources, function_environment
from local.template import api_auth, functions, load_template, parameter_defaults

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
# The deploy rules need the SAM translator, which pins its own pydantic and so lives in the tools virtualenv:
# `make deploy-check` runs them there.
collect_ignore = ["deploy"]

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

TEMPLATE = load_template()
FUNCTIONS = {logical_id: LocalFunction(spec) for logical_id, spec in functions(TEMPLATE).items()}
ROUTES = api_gateway.routes_of(functions(TEMPLATE))
# The deployed default (AuthMode cognito): API Gateway's user-pool authorizer, with a local user pool.
API_AUTH = api_auth(TEMPLATE, parameter_defaults(TEMPLATE))
USER_POOL = LocalUserPool()
TESTER = "tester@example.com"
TESTER_TOKEN = USER_POOL.issue(TESTER, ALL_SCOPES)


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text) if self.text else None


class ApiClient:
    """Sends a request through the template's routing and authorizer to its function, like API Gateway +
    Lambda. Requests carry ``token`` (default: a token of ``tester@example.com`` with both scopes)."""

    def __init__(self, token: str | None = TESTER_TOKEN) -> None:
        self.log: list[HttpResult] = []
        self.token = token

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        body: str | bytes | None = None,
        headers: dict[str, str] | None = None,
        token: str | None | type[Ellipsis] = ...,
    ) -> HttpResult:
        path_only, _, query = path.partition("?")
        route, params, exists = api_gateway.match(ROUTES, method, path_only)
        assert route is not None, f"no route for {method} {path} (exists for another method: {exists})"
        raw = body if body is not None else (json.dumps(json_body) if json_body is not None else b"")
        raw_bytes = raw.encode() if isinstance(raw, str) else raw
        token = self.token if token is ... else token
        all_headers = {
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
            **(headers or {}),
        }
        decision = authorize(API_AUTH, USER_POOL, method, route.resource, all_headers)
        if isinstance(decision, Denied):
            outcome = HttpResult(
                decision.status,
                {"content-type": "application/problem+json", **{k.lower(): v for k, v in decision.headers.items()}},
                decision.problem_body(),
            )
            self.log.append(outcome)
            return outcome
        event = api_gateway.proxy_event(
            route, method, path_only, query, list(all_headers.items()), raw_bytes, params, authorizer=decision
        )
        result = FUNCTIONS[route.function].invoke(event)
        response_headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
        for name, values in (result.get("multiValueHeaders") or {}).items():
            response_headers[name.lower()] = ", ".join(values)
        outcome = HttpResult(int(result["statusCode"]), response_headers, result.get("body") or "")
        self.log.append(outcome)
        return outcome

    def get(self, path: str, **kwargs: Any) -> HttpResult:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResult:
        return self.request("POST", path, json_body, **kwargs)

    def put(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResult:
        return self.request("PUT", path, json_body, **kwargs)

    def patch(self, path: str, json_body: Any = None, **kwargs: Any) -> HttpResult:
        """A JSON Merge Patch (sent as application/merge-patch+json)."""
        return self.request(
            "PATCH",
            path,
            json_body,
            headers={"Content-Type": "application/merge-patch+json", **kwargs.pop("headers", {})},
            **kwargs,
        )

    def delete(self, path: str, **kwargs: Any) -> HttpResult:
        return self.request("DELETE", path, **kwargs)


def start_local_aws(monkeypatch: pytest.MonkeyPatch) -> Stack:
    """Inside an active moto mock: build the template's resources and set every function's environment."""
    import synchub.runtime

    moto_dynamodb.install()
    stack = create_resources(TEMPLATE)
    for spec in functions(TEMPLATE).values():
        for key, value in function_environment(stack, spec.environment).items():
            monkeypatch.setenv(key, value)
    synchub.runtime.reset()
    return stack


@pytest.fixture(autouse=True)
def atomic_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates a condition and applies a write in separate steps; DynamoDB does both atomically.
    Serialising the in-process emulator's request handling restores that, so concurrent actors in the
    tests race as whole requests, as they do against the real service."""
    import threading

    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.__call__

    def serialised(self: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(self, *args, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", serialised)


def guard_policies(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> PolicyGuard:
    """Every request a function makes must be allowed by that function's IAM statements in template.yaml."""
    from synchub import aws as synchub_aws

    guard = PolicyGuard(TEMPLATE, stack)
    build = synchub_aws.client

    def guarded(service: str, endpoint_url: str | None = None) -> Any:
        client = build(service, endpoint_url)
        if not getattr(client, "_synchub_guarded", False):
            client.meta.events.register("before-parameter-build", guard.check)
            client._synchub_guarded = True
        return client

    monkeypatch.setattr(synchub_aws, "client", guarded)
    return guard


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto in-process with the template's tables, queues and buckets; functions held to their IAM policies."""
    from moto import mock_aws

    with mock_aws():
        stack = start_local_aws(monkeypatch)
        # Arrow writes tables' files through its own S3 client, which the in-process mock cannot intercept:
        # data sources made here land as JSON Lines (tests of tables run moto's server: tests/lake.py).
        monkeypatch.setenv("DEFAULT_DESTINATION", "jsonl")
        import synchub.runtime

        synchub.runtime.reset()
        guard = guard_policies(stack, monkeypatch)
        yield stack
        assert not guard.denied, "requests the template's IAM policies do not allow:\n" + "\n".join(
            sorted(set(guard.denied))
        )
    import synchub.runtime

    synchub.runtime.reset()


@pytest.fixture
def api(aws: Stack) -> ApiClient:
    return ApiClient()


@pytest.fixture
def data_source(api: ApiClient) -> dict[str, Any]:
    """A registered HTTP data source ``ds_test``."""
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_test",
            "name": "Test source",
            "type": "http",
            "connection_config": {"base_url": "http://api.example.invalid/api"},
        },
    )
    assert response.status == 201, response.text
    return response.json


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())
