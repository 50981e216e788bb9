"""The in-process stack the request-level benchmarks run on: moto with the template's resources, the
template's functions loadable in this process, and a meter on the service's AWS clients."""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import urlencode

import boto3

from bench.meter import AwsMeter
from local.api_gateway import Route, proxy_event
from local.auth import authorized
from local.lambda_runtime import LocalFunction
from local.resources import Stack, create_resources
from local.stack import DUMMY_AWS_ENV, install_functions
from local.template import load_template

# The benchmarks' sources and endpoints listen on 127.0.0.1: they run under make run's outbound policy.
LOCAL_DESTINATIONS = {"ALLOW_LOCAL_DESTINATIONS": "true"}

SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "events")


@dataclass
class BenchStack:
    stack: Stack
    functions: dict[str, LocalFunction]
    meter: AwsMeter

    def api(
        self,
        function: str,
        method: str,
        resource: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
    ) -> tuple[int, Any, float]:
        """Invoke a route's function as API Gateway would: (status, decoded body, seconds)."""
        import json
        import time

        route = Route.build(method, resource, function)
        found = route.pattern.match(path)
        assert found, (resource, path)
        raw = json.dumps(body).encode() if body is not None else b""
        headers = [("Content-Type", "application/json")] if body is not None else []
        event = proxy_event(
            route, method, path, urlencode(query or {}), headers, raw, found.groupdict(), authorizer=authorized("bench")
        )
        started = time.perf_counter()
        response = self.functions[function].invoke(event)
        elapsed = time.perf_counter() - started
        text = response.get("body") or ""
        return response["statusCode"], json.loads(text) if text else None, elapsed


@contextmanager
def emulator_process() -> Iterator[str]:
    """moto's server in a process of its own: what it stores and allocates is not this process's memory."""
    import subprocess
    import sys
    import time

    from local.ports import free_port, in_use

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not in_use(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the emulator process did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextmanager
def bench_stack(stack_name: str = "synchub-bench", *, separate_emulator: bool = False) -> Iterator[BenchStack]:
    """The template's resources on moto, in this process (default) or in a process of its own; the
    service's clients carry an :class:`AwsMeter`."""
    from contextlib import ExitStack

    from moto import mock_aws

    os.environ.update(DUMMY_AWS_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(LOCAL_DESTINATIONS)
    with ExitStack() as scope:
        if separate_emulator:
            os.environ["AWS_ENDPOINT_URL"] = scope.enter_context(emulator_process())
            scope.callback(os.environ.pop, "AWS_ENDPOINT_URL", None)
        else:
            scope.enter_context(mock_aws())
            # Arrow writes tables through its own S3 client, which the in-process mock cannot intercept
            os.environ["DEFAULT_DESTINATION"] = "jsonl"
            scope.callback(os.environ.pop, "DEFAULT_DESTINATION", None)
        template = load_template()
        stack = create_resources(template, stack_name=stack_name)
        functions = install_functions(template, stack)
        import synchub.runtime
        from synchub import aws
        from synchub.observability import logger

        logger.setLevel("WARNING")  # keeps the report readable; an INFO line costs tens of microseconds
        synchub.runtime.reset()
        meter = AwsMeter(boto3.session.Session().client("dynamodb"))
        for service in SERVICES:
            meter.attach(aws.client(service))
        try:
            yield BenchStack(stack, functions, meter)
        finally:
            synchub.runtime.reset()


def orders_source(
    data_source_id: str,
    base_url: str,
    *,
    name: str = "Orders API",
    page_size: int | None = None,
    destination: dict | None = None,
) -> dict:
    """The benchmarks' HTTP source as a create request's body: ``/orders`` of a
    local.orders_server.OrdersServer, paged by page number, with its total."""
    pagination = {"style": "page", "size_param": "page_size", **({"page_size": page_size} if page_size else {})}
    return {
        "id": data_source_id,
        "name": name,
        "type": "http",
        "connection_config": {"base_url": base_url},
        "params_config": {
            "url_suffix": "/orders",
            "records_path": "items",
            "total_path": "meta.total",
            "primary_key": "id",
            "pagination": pagination,
            "destination": destination or {"format": "jsonl"},
        },
    }


def register_orders_source(data_source_id: str, base_url: str, **options: Any) -> None:
    """:func:`orders_source` registered through the service (call inside :func:`bench_stack`, once the stack's
    environment is in place)."""
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.sources.data_sources import data_source_service

    data_source_service().create(
        CreateDataSourceRequest.model_validate(orders_source(data_source_id, base_url, **options)), "bench"
    )


@contextmanager
def engine_setting(name: str, value: str) -> Iterator[None]:
    """One environment setting of the engine's (``PART_SIZE_MB`` …) for the block, put back after it."""
    import synchub.runtime

    previous = os.environ.get(name)
    os.environ[name] = value
    synchub.runtime.reset()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
        synchub.runtime.reset()


@contextmanager
def embedded_postgres(prefix: str, *, logical: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """A PostgreSQL server of its own (pgserver, in a temporary folder; ``logical``: with logical decoding, for
    CDC): its URI, and the connection_config of a data source that reads it."""
    import tempfile
    from urllib.parse import parse_qs, urlparse

    import pgserver

    from local.demo import logical_postgres

    with tempfile.TemporaryDirectory(prefix=prefix) as data_dir:
        server = logical_postgres(data_dir) if logical else pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            uri = server.get_uri()
            parsed = urlparse(uri)
            yield (
                uri,
                {
                    "host": parse_qs(parsed.query).get("host", ["127.0.0.1"])[0],
                    "port": parsed.port or 5432,
                    "database": "postgres",
                    "user": "postgres",
                    "sslmode": "disable",
                },
            )
        finally:
            server.cleanup()


def engine_events(bench: BenchStack) -> Any:
    """The engine's SQS event source, as Lambda's delivers the sync queue's messages."""
    from local.stack import QueueEventSource

    engine = bench.functions["SyncEngineFunction"]
    return QueueEventSource.from_template(engine, engine.spec.events_of("SQS")[0], bench.stack, boto3.client("sqs"))


def sync_through_engine(events: Any, data_source_id: str, task_type: str, batch_size: int, expected_rows: int) -> str:
    """Create a task, deliver the engine's messages until none is left, check it succeeded with
    ``expected_rows``; its id."""
    from synchub.models.tasks import CreateTaskRequest
    from synchub.tasks.use_cases import task_service

    task = task_service().create_task(
        CreateTaskRequest(data_source_id=data_source_id, task_type=task_type, parameters={"batch_size": batch_size}),
        "bench",
    )
    while events.poll_once():
        pass
    done = task_service().get_task(task["id"])
    assert done["status"] == "success" and done["processed_rows"] == expected_rows, done
    return task["id"]
