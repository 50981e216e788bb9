"""Per route: the AWS requests a call makes (by operation), the DynamoDB capacity it consumes, and its warm
handler time beside the same requests made directly with boto3.

Each route runs in a warm function on the in-process stack. The first call of a route is metered (requests,
capacity); the requests it made are kept, and each timed call is paired with a replay of them through a
plain boto3 client against an identical fresh state (ids of the fresh state substituted), so the ratio is
what the handler adds to the AWS work it cannot avoid: routing, validation, models, logging.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3
from botocore.exceptions import ClientError

from bench.environment import BenchStack, bench_stack

DATA_SOURCE = {
    "id": "ds_bench",
    "name": "Bench orders",
    "type": "http",
    "connection_config": {"base_url": "http://127.0.0.1:9/api"},
}
INTERFACE = {
    "id": "orders",
    "name": "Orders",
    "url_suffix": "/orders",
    "records_path": "data",
    "pagination": {"style": "page", "size_param": "page_size", "page_size": 100},
    "primary_key": "id",
}
CREATE_TASK = {"data_source_id": "ds_bench", "task_type": "full_sync", "parameters": {"batch_size": 1000}}


@dataclass
class Scenario:
    """One route call. ``setup`` makes a fresh state and returns the names it created (substituted in the
    path, and in the replayed requests); ``needs`` is the requests the route's job takes, and why."""

    name: str
    function: str
    method: str
    resource: str
    path: str
    status: int
    needs: dict[str, int]
    why: str
    body: Any = None
    query: dict[str, Any] = field(default_factory=dict)
    setup: Callable[[BenchStack, int], dict[str, str]] | None = None
    created: Callable[[Any], dict[str, str]] | None = None  # names the call itself made (e.g. the new task id)


def _new_task(bench: BenchStack, _: int) -> dict[str, str]:
    from synchub.models.tasks import CreateTaskRequest
    from synchub.tasks.use_cases import task_service

    task = task_service().create_task(CreateTaskRequest.model_validate(CREATE_TASK), created_by="bench")
    return {"task_id": task["id"]}


def _failed_task(bench: BenchStack, n: int) -> dict[str, str]:
    from local.seeding import run_task

    names = _new_task(bench, n)
    run_task(names["task_id"], outcome="failed")
    return names


def _finished_task(bench: BenchStack, n: int) -> dict[str, str]:
    from local.seeding import run_task

    names = _new_task(bench, n)
    run_task(names["task_id"], outcome="success")
    return names


def _new_data_source(bench: BenchStack, n: int) -> dict[str, str]:
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.sources.data_sources import data_source_service

    identifier = f"ds_spare_{n}"
    data_source_service().create(CreateDataSourceRequest.model_validate({**DATA_SOURCE, "id": identifier}), "bench")
    return {"data_source_id": identifier}


def _new_interface(bench: BenchStack, n: int) -> dict[str, str]:
    from synchub.models.interfaces import CreateInterfaceRequest
    from synchub.sources.interfaces import interface_service

    identifier = f"spare_{n}"
    interface_service().create("ds_bench", CreateInterfaceRequest.model_validate({**INTERFACE, "id": identifier}))
    return {"interface_id": identifier}


def _fresh_ids(prefix: str) -> Callable[[BenchStack, int], dict[str, str]]:
    return lambda bench, n: {"new_id": f"{prefix}_{n}"}


def _created_task(body: Any) -> dict[str, str]:
    return {"created_task_id": body["id"]}


TASK_READ = "GetItem of the task (consistent: the caller may have just written it)"
STATS_TXN = (
    "one TransactWriteItems: the task, conditional on its status and version, plus its statistics "
    "deltas (day bucket and status gauge, for all tasks and for its data source)"
)
SCENARIOS = [
    Scenario(
        "POST /tasks",
        "CreateTaskFunction",
        "POST",
        "/api/sync/tasks",
        "/api/sync/tasks",
        201,
        {"dynamodb.TransactWriteItems": 1, "sqs.SendMessage": 1, "dynamodb.UpdateItem": 1},
        STATS_TXN + ", with a ConditionCheck that the data source exists; submit to the queue; mark the task "
        "submitted (until then the reaper owns its resubmission)",
        body=CREATE_TASK,
        created=_created_task,
    ),
    Scenario(
        "GET /tasks/{id}",
        "GetTaskFunction",
        "GET",
        "/api/sync/tasks/{id}",
        "/api/sync/tasks/{task_id}",
        200,
        {"dynamodb.GetItem": 1},
        TASK_READ,
        setup=_new_task,
    ),
    Scenario(
        "GET /tasks",
        "ListTasksFunction",
        "GET",
        "/api/sync/tasks",
        "/api/sync/tasks",
        200,
        {"dynamodb.Query": 4, "dynamodb.BatchGetItem": 1},
        "one Query (Limit = page size) per shard of the ByAll index, merged newest first; one BatchGetItem "
        "of the 4 status gauges for the total",
    ),
    Scenario(
        "GET /tasks?data_source_id",
        "ListTasksFunction",
        "GET",
        "/api/sync/tasks",
        "/api/sync/tasks",
        200,
        {"dynamodb.Query": 1, "dynamodb.BatchGetItem": 1},
        "one Query of the ByDataSource index; the data source's 4 gauges for the total",
        query={"data_source_id": "ds_bench"},
    ),
    Scenario(
        "PUT /tasks/{id}",
        "UpdateTaskFunction",
        "PUT",
        "/api/sync/tasks/{id}",
        "/api/sync/tasks/{task_id}",
        200,
        {"dynamodb.UpdateItem": 1},
        "one UpdateItem conditional on status pending (ALL_OLD on failure tells 404 from 409)",
        body={"config": {"batch_size": 500}},
        setup=_new_task,
    ),
    Scenario(
        "POST /tasks/{id}/cancel",
        "CancelTaskFunction",
        "POST",
        "/api/sync/tasks/{id}/cancel",
        "/api/sync/tasks/{task_id}/cancel",
        200,
        {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1},
        TASK_READ + "; " + STATS_TXN,
        setup=_new_task,
    ),
    Scenario(
        "POST /tasks/{id}/retry",
        "RetryTaskFunction",
        "POST",
        "/api/sync/tasks/{id}/retry",
        "/api/sync/tasks/{task_id}/retry",
        201,
        {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1, "sqs.SendMessage": 1, "dynamodb.UpdateItem": 1},
        TASK_READ + " (the new attempt copies it); then as create, the transaction also marking the failed "
        "task retried",
        body={},
        setup=_failed_task,
        created=_created_task,
    ),
    Scenario(
        "DELETE /tasks/{id}",
        "DeleteTaskFunction",
        "DELETE",
        "/api/sync/tasks/{id}",
        "/api/sync/tasks/{task_id}",
        204,
        {"dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1},
        TASK_READ + " (only finished tasks go); one transaction deleting it on condition of its status and "
        "version and taking its statistics deltas back",
        setup=_finished_task,
    ),
    Scenario(
        "GET /tasks/statistics",
        "TaskStatisticsFunction",
        "GET",
        "/api/sync/tasks/statistics",
        "/api/sync/tasks/statistics",
        200,
        {"dynamodb.Query": 4, "dynamodb.BatchGetItem": 1, "sqs.GetQueueAttributes": 1},
        "one Query per statistics shard over the day buckets of the window; one BatchGetItem of the 4 gauges; "
        "the queue's depth (queued messages are part of the answer)",
    ),
    Scenario(
        "POST /data-sources",
        "CreateDataSourceFunction",
        "POST",
        "/api/sync/data-sources",
        "/api/sync/data-sources",
        201,
        {"dynamodb.PutItem": 1},
        "one PutItem conditional on the id being new (this body has no secrets, so no Secrets Manager call)",
        body={**DATA_SOURCE, "id": "{new_id}"},
        setup=_fresh_ids("ds_new"),
    ),
    Scenario(
        "GET /data-sources",
        "ListDataSourcesFunction",
        "GET",
        "/api/sync/data-sources",
        "/api/sync/data-sources",
        200,
        {"dynamodb.Query": 1},
        "one Query of the ByCreated index",
    ),
    Scenario(
        "GET /data-sources/{id}",
        "GetDataSourceFunction",
        "GET",
        "/api/sync/data-sources/{id}",
        "/api/sync/data-sources/ds_bench",
        200,
        {"dynamodb.GetItem": 1},
        "GetItem of the data source",
    ),
    Scenario(
        "PUT /data-sources/{id}",
        "UpdateDataSourceFunction",
        "PUT",
        "/api/sync/data-sources/{id}",
        "/api/sync/data-sources/ds_bench",
        200,
        {"dynamodb.GetItem": 1, "dynamodb.PutItem": 1},
        "GetItem (to keep masked secrets and created_at); PutItem conditional on the version read",
        body={k: v for k, v in DATA_SOURCE.items() if k != "id"},
    ),
    Scenario(
        "DELETE /data-sources/{id}",
        "DeleteDataSourceFunction",
        "DELETE",
        "/api/sync/data-sources/{id}",
        "/api/sync/data-sources/{data_source_id}",
        204,
        {"dynamodb.GetItem": 1, "dynamodb.Query": 1, "dynamodb.TransactWriteItems": 1},
        "GetItem (its secrets to delete, if any); a Query of the schedules' data-source index (a source with "
        "schedules stays); one transaction deleting it on condition that its gauges show no pending, "
        "running or paused task",
        setup=_new_data_source,
    ),
    Scenario(
        "POST /data-sources/{id}/interfaces",
        "CreateInterfaceFunction",
        "POST",
        "/api/sync/data-sources/{id}/interfaces",
        "/api/sync/data-sources/ds_bench/interfaces",
        201,
        {"dynamodb.TransactWriteItems": 1},
        "one transaction: Put of the interface, ConditionCheck that the data source exists",
        body={**INTERFACE, "id": "{new_id}"},
        setup=_fresh_ids("iface_new"),
    ),
    Scenario(
        "GET /data-sources/{id}/interfaces",
        "ListInterfacesFunction",
        "GET",
        "/api/sync/data-sources/{id}/interfaces",
        "/api/sync/data-sources/ds_bench/interfaces",
        200,
        {"dynamodb.GetItem": 1, "dynamodb.Query": 1},
        "GetItem of the data source (404 if unknown); one Query of its interfaces",
    ),
    Scenario(
        "GET /interfaces/{id}",
        "GetInterfaceFunction",
        "GET",
        "/api/sync/data-sources/{id}/interfaces/{interface_id}",
        "/api/sync/data-sources/ds_bench/interfaces/orders",
        200,
        {"dynamodb.BatchGetItem": 1},
        "one BatchGetItem of the interface and its data source (a deleted data source's interfaces are 404)",
    ),
    Scenario(
        "PUT /interfaces/{id}",
        "UpdateInterfaceFunction",
        "PUT",
        "/api/sync/data-sources/{id}/interfaces/{interface_id}",
        "/api/sync/data-sources/ds_bench/interfaces/orders",
        200,
        {"dynamodb.BatchGetItem": 1, "dynamodb.PutItem": 1},
        "read as GET (created_at is kept); PutItem conditional on the interface existing",
        body={k: v for k, v in INTERFACE.items() if k != "id"},
    ),
    Scenario(
        "DELETE /interfaces/{id}",
        "DeleteInterfaceFunction",
        "DELETE",
        "/api/sync/data-sources/{id}/interfaces/{interface_id}",
        "/api/sync/data-sources/ds_bench/interfaces/{interface_id}",
        204,
        {"dynamodb.BatchGetItem": 1, "dynamodb.DeleteItem": 1},
        "read as GET (the 404s); DeleteItem conditional on the interface existing",
        setup=_new_interface,
    ),
]


def _fill(value: Any, names: dict[str, str]) -> Any:
    text = json.dumps(value)
    for name, replacement in names.items():
        text = text.replace("{" + name + "}", replacement)
    return json.loads(text)


def _substitute(calls: list[tuple[str, str, dict[str, Any]]], old: dict[str, str], new: dict[str, str]) -> list:
    text = json.dumps(calls)
    for name, value in old.items():
        text = text.replace(value, new[name])
    return json.loads(text)


def _replay(clients: dict[str, Any], calls: list) -> float:
    """The same requests through plain boto3 clients; returns seconds."""
    from botocore import xform_name

    started = time.perf_counter()
    for service, operation, params in calls:
        try:
            getattr(clients[service], xform_name(operation))(**params)
        except ClientError:
            pass  # a condition the handler's own call met differently; the request was still made
    return time.perf_counter() - started


def _new_ulid() -> str:
    from ulid import ULID

    return str(ULID())


def measure(repeats: int) -> list[dict[str, Any]]:
    """Requests, capacity and warm time (handler vs direct) of every scenario."""
    results = []
    with bench_stack() as bench:
        from synchub.models.data_sources import CreateDataSourceRequest
        from synchub.models.interfaces import CreateInterfaceRequest
        from synchub.sources.data_sources import data_source_service
        from synchub.sources.interfaces import interface_service

        data_source_service().create(CreateDataSourceRequest.model_validate(DATA_SOURCE), "bench")
        interface_service().create("ds_bench", CreateInterfaceRequest.model_validate(INTERFACE))
        for n in range(30):
            _new_task(bench, n)
        session = boto3.session.Session()
        direct = {service: session.client(service) for service in ("dynamodb", "sqs", "s3", "secretsmanager")}
        counter = 0
        for scenario in SCENARIOS:

            def prepare() -> dict[str, str]:
                nonlocal counter
                counter += 1
                return scenario.setup(bench, counter) if scenario.setup else {}

            def call(names: dict[str, str]) -> tuple[int, Any, float]:
                return bench.api(
                    scenario.function,
                    scenario.method,
                    scenario.resource,
                    _fill(scenario.path, names),
                    query=scenario.query,
                    body=_fill(scenario.body, names),
                )

            call(prepare())  # warm the function (its cold start is measured elsewhere)
            names = prepare()
            bench.meter.start()
            status, body, _ = call(names)
            usage = bench.meter.stop()
            assert status == scenario.status, (scenario.name, status, body)
            recorded = bench.meter.calls
            if scenario.created:
                names = {**names, **scenario.created(body)}
            handler_s, direct_s = [], []
            for _ in range(repeats):  # interleaved pairs, so machine noise hits both alike
                fresh = prepare()
                handler_s.append(call(fresh)[2])
                replay_names = prepare()
                if scenario.created:
                    replay_names["created_task_id"] = _new_ulid()
                direct_s.append(_replay(direct, _substitute(recorded, names, replay_names)))
            handler, baseline = statistics.median(handler_s), statistics.median(direct_s)
            requests = usage.as_dict()
            results.append(
                {
                    "route": scenario.name,
                    "function": scenario.function,
                    **requests,
                    "needed_requests": scenario.needs,
                    "why": scenario.why,
                    "only_needed_requests": requests["requests"] == scenario.needs,
                    "warm_ms": round(handler * 1000, 2),
                    "direct_ms": round(baseline * 1000, 2),
                    "added_ms": round((handler - baseline) * 1000, 2),
                    "ratio": round(handler / baseline, 3),
                    "goal_ratio": 1.3,
                    "meets_goal": handler / baseline <= 1.3,
                    "repeats": repeats,
                }
            )
    return results
