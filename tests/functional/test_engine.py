"""The engine under moto against a real HTTP source: exact rows, continuations, faults, cancel, timeout."""

from __future__ import annotations

import gzip
import json
import threading

import boto3
import pytest

from local.orders_server import PAGINATIONS, OrdersServer
from local.stack import QueueEventSource, _sqs_record
from synchub.tasks.lifecycle import task_lifecycle
from synchub.tasks.use_cases import task_service
from tests.conftest import FUNCTIONS, TEMPLATE
from tests.functional.test_tasks_api import assert_problem
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations


@pytest.fixture(autouse=True)
def immediate_retries(monkeypatch):
    """Failed engine messages come back at once instead of after a backoff (the tests do not wait)."""
    monkeypatch.setenv("ENGINE_RETRY_BASE_SECONDS", "0")
    from synchub.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def one_batch_parts(monkeypatch):
    """Parts of about 10 KB: each batch of these tests (100 rows or more, ~105 bytes a row) closes a part, so
    the part-and-checkpoint protocol runs many times per sync."""
    monkeypatch.setenv("PART_SIZE_MB", "0.01")
    from synchub.settings import get_settings

    get_settings.cache_clear()


@pytest.fixture
def orders():
    server = OrdersServer(rows=2345)
    yield server
    server.close()


def register(api, orders, style="page", ds="ds_orders", **extra):
    body = {
        "id": ds,
        "name": "orders",
        "type": "http",
        "connection_config": {"base_url": orders.base_url, "token": "secret-token"},
        "params_config": {
            "records_path": "items",
            "total_path": "meta.total",
            "primary_key": "id",
            "cursor_field": "updated_at",
            **PAGINATIONS[style],
            **extra,
        },
    }
    response = api.post("/api/sync/data-sources", body)
    assert response.status == 201, response.text


def create(api, ds="ds_orders", task_type="full_sync", **parameters):
    response = api.post(
        "/api/sync/tasks",
        {"data_source_id": ds, "task_type": task_type, "parameters": {"batch_size": 500, **parameters}},
    )
    assert response.status == 201, response.text
    return response.json


def engine_source(aws, function="SyncEngineFunction", queue="SyncQueue"):
    props = FUNCTIONS[function].spec.events_of("SQS")[0]
    return QueueEventSource.from_template(FUNCTIONS[function], props, aws, boto3.client("sqs"))


def drain(aws, rounds=200):
    """Deliver engine messages until the queue is empty; returns the number of deliveries."""
    source, delivered = engine_source(aws), 0
    for _ in range(rounds):
        count = source.poll_once()
        if not count:
            return delivered
        delivered += count
    raise AssertionError("the engine never went idle")


def lake_rows(aws, task):
    """Every row in the task's data-lake parts, in part order."""
    s3 = boto3.client("s3")
    prefix = task["result"]["prefix"]
    keys = sorted(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=aws.refs["DataLakeBucket"], Prefix=prefix).get("Contents", [])
        if "/part-" in o["Key"]
    )
    rows = []
    for key in keys:
        body = gzip.decompress(s3.get_object(Bucket=aws.refs["DataLakeBucket"], Key=key)["Body"].read())
        rows.extend(json.loads(line) for line in body.splitlines())
    return rows


def assert_exact(aws, task, expected_rows):
    rows = lake_rows(aws, task)
    assert [r["id"] for r in rows] == list(range(1, expected_rows + 1))
    assert task["processed_rows"] == expected_rows == task["result"]["rows_written"]


@pytest.mark.parametrize("style", list(PAGINATIONS))
def test_full_sync_writes_exactly_the_source_rows(api, aws, orders, style):
    register(api, orders, style)
    task = create(api)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    assert done["progress"] == 100 and done["total_rows"] == 2345
    assert_exact(aws, done, 2345)
    manifest = json.loads(
        boto3.client("s3").get_object(Bucket=aws.refs["DataLakeBucket"], Key=done["result"]["manifest"])["Body"].read()
    )
    assert manifest["rows"] == 2345 and sum(p["rows"] for p in manifest["parts"]) == 2345
    assert all(p["key"].startswith(f"ds_orders/default/{task['id']}/part-") for p in manifest["parts"])
    statistics_match_the_stored_tasks(api, aws)


def progress_seen_at_each_read(monkeypatch, task_id):
    """(status, processed_rows, progress) of the stored task as the engine adds each batch to a part."""
    from synchub.engine.parts import PartsInProgress

    seen, add = [], PartsInProgress.add

    def spy(self, batch, **kwargs):
        current = task_service().get_task(task_id)
        seen.append((current["status"], current["processed_rows"], current["progress"]))
        return add(self, batch, **kwargs)

    monkeypatch.setattr(PartsInProgress, "add", spy)
    return seen


def count_progress_writes(monkeypatch):
    """The engine's stores: how many carried a checkpoint (a part closed) and how many progress alone."""
    service = task_lifecycle()
    original, counts = service.record_progress, {"checkpoint": 0, "progress": 0}

    def counting(*args, **kwargs):
        counts["checkpoint" if kwargs.get("checkpoint") else "progress"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "record_progress", counting)
    return counts


def test_progress_rises_while_one_part_fills(api, aws, orders, monkeypatch):
    monkeypatch.setenv("PART_SIZE_MB", "32")
    monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "0")  # store progress after every read
    import synchub.runtime

    synchub.runtime.reset()
    register(api, orders)
    task = create(api, batch_size=400)
    seen = progress_seen_at_each_read(monkeypatch, task["id"])
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success" and done["result"]["parts"] == 1  # six reads, one part
    assert_exact(aws, done, 2345)
    rows = [r for _, r, _ in seen]
    assert rows == [0, 400, 800, 1200, 1600, 2000]
    assert all(status == "running" for status, _, _ in seen)
    assert [p for _, _, p in seen] == sorted(p for _, _, p in seen) and seen[-1][2] > 80


def test_parts_close_by_size_and_progress_is_stored_at_most_once_an_interval(api, aws, orders, monkeypatch):
    monkeypatch.setenv("PART_SIZE_MB", "0.1")  # 104,857 bytes: about 990 rows of ~105 bytes
    monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "60")  # longer than the sync: no time-driven store
    import synchub.runtime

    synchub.runtime.reset()
    register(api, orders)
    task = create(api, batch_size=100)
    counts = count_progress_writes(monkeypatch)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert_exact(aws, done, 2345)
    s3 = boto3.client("s3")
    sizes = [
        len(gzip.decompress(s3.get_object(Bucket=aws.refs["DataLakeBucket"], Key=part["key"])["Body"].read()))
        for part in json.loads(
            s3.get_object(Bucket=aws.refs["DataLakeBucket"], Key=done["result"]["manifest"])["Body"].read()
        )["parts"]
    ]
    assert done["result"]["parts"] == len(sizes) == 3  # 24 reads: two full parts and the rest
    limit = int(0.1 * 1024 * 1024)
    assert all(limit <= size < limit + 100 * 120 for size in sizes[:-1]) and sizes[-1] < limit
    # a store per closed part (the last one is the finish), none in between
    assert counts == {"checkpoint": 2, "progress": 0}


class OneBatchContext:
    """A Lambda context whose time runs out after one batch: each invocation does exactly one."""

    def __init__(self):
        self.calls = 0
        self.function_name, self.memory_limit_in_mb, self.aws_request_id = "SyncEngineFunction", 1024, "req"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:SyncEngineFunction"

    def get_remaining_time_in_millis(self):
        self.calls += 1
        return 900_000 if self.calls == 1 else 1


def test_tiny_time_budget_continues_over_many_invocations(api, aws, orders, monkeypatch):
    register(api, orders)
    task = create(api, batch_size=300)
    function = FUNCTIONS["SyncEngineFunction"]
    monkeypatch.setattr(function, "context", lambda: OneBatchContext())
    invocations = drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert invocations == 8  # 2345 rows / 300 per batch: one batch per invocation
    assert_exact(aws, done, 2345)


def test_hop_guard_fails_a_task_that_keeps_continuing(api, aws, orders, monkeypatch):
    monkeypatch.setenv("ENGINE_MAX_HOPS", "3")
    import synchub.runtime

    synchub.runtime.reset()
    register(api, orders)
    task = create(api, batch_size=100)
    monkeypatch.setattr(FUNCTIONS["SyncEngineFunction"], "context", lambda: OneBatchContext())
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "HOP_LIMIT"
    assert (
        done["processed_rows"] == 400
        and len(lake_rows(aws, {"result": {"prefix": f"ds_orders/default/{task['id']}"}})) == 400
    )
    statistics_match_the_stored_tasks(api, aws)


def test_crash_after_write_before_checkpoint_resumes_without_duplicates(api, aws, orders, monkeypatch):
    register(api, orders)
    task = create(api)
    service = task_lifecycle()
    original = service.record_progress
    crashes = {"left": 1, "calls": 0}

    def dies_once(*args, **kwargs):
        crashes["calls"] += 1
        if crashes["calls"] == 3 and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("engine died between the part write and the checkpoint")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "record_progress", dies_once)
    source = engine_source(aws)
    assert source.poll_once() == 1  # fails: the message stays (made visible again after a backoff)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 1000
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert_exact(aws, done, 2345)
    statistics_match_the_stored_tasks(api, aws)


def test_duplicate_and_concurrent_deliveries_write_each_row_once(api, aws, orders):
    register(api, orders)
    task = create(api)
    sqs = boto3.client("sqs")
    message = sqs.receive_message(QueueUrl=aws.refs["SyncQueue"], MaxNumberOfMessages=1)["Messages"][0]
    from local.stack import _sqs_record

    event = {"Records": [_sqs_record(message, "arn:aws:sqs:us-east-1:123456789012:x", "us-east-1")]}
    outcomes = []

    def deliver():
        outcomes.append(FUNCTIONS["SyncEngineFunction"].spec and _invoke_unlocked(event))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _invoke_unlocked(event)  # a third, late duplicate
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert_exact(aws, done, 2345)
    statistics_match_the_stored_tasks(api, aws)


def _invoke_unlocked(event):
    """Invoke the engine handler directly (two concurrent executions, as two Lambda environments)."""
    function = FUNCTIONS["SyncEngineFunction"]
    return function.handler()(event, function.context())


def test_transient_failures_retry_then_succeed(api, aws, orders):
    register(api, orders)
    task = create(api)
    orders.fail(503, times=2)
    source = engine_source(aws)
    source.poll_once()
    waiting = api.get(f"/api/sync/tasks/{task['id']}").json
    assert waiting["status"] == "running" and waiting["current_phase"] == "retrying"  # visible, with its cause
    assert waiting["error_count"] == 1 and "503" in waiting["error_message"] and waiting["next_attempt_at"]
    assert orders.failures == [503]  # one failure left for the redelivery
    drain(aws)
    assert orders.failures == []
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success" and done["error_count"] == 2 and "next_attempt_at" not in done
    assert_exact(aws, done, 2345)
    statistics_match_the_stored_tasks(api, aws)


def received_engine_event(aws) -> dict:
    """The next engine message as Lambda's SQS event source hands it to the function."""
    source = engine_source(aws)
    messages = boto3.client("sqs").receive_message(
        QueueUrl=source.queue_url,
        MaxNumberOfMessages=1,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    return {"Records": [_sqs_record(message, source.queue_arn, source.region) for message in messages]}


def test_a_transient_source_error_is_a_batch_item_failure_not_a_failed_invocation(api, aws, orders, capsys):
    """EngineErrorsAlarm watches the engine's Errors: a source's 503 is retried with backoff, not an error."""
    register(api, orders)
    create(api)
    orders.fail(503, times=1)
    event = received_engine_event(aws)
    response = _invoke_unlocked(event)  # raised (an invocation error) while the whole batch failing did
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert "EngineUnexpectedErrors" not in capsys.readouterr().out


def test_an_unexpected_engine_error_is_counted_for_the_alarm(api, aws, orders, capsys, monkeypatch):
    from synchub.engine.runner import SyncRunner

    register(api, orders)
    create(api)

    def broken(*args, **kwargs):
        raise KeyError("a bug")

    monkeypatch.setattr(SyncRunner, "handle", broken)
    event = received_engine_event(aws)
    response = _invoke_unlocked(event)
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert any(m.get("EngineUnexpectedErrors") in (1.0, [1.0]) for m in metrics), metrics
    alarm = TEMPLATE["Resources"]["EngineErrorsAlarm"]["Properties"]
    watched = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert watched == {"Errors", "EngineUnexpectedErrors"}


@pytest.mark.parametrize("status", [401, 404])
def test_permanent_failure_fails_the_task_at_once(api, aws, orders, status):
    register(api, orders)
    task = create(api)
    orders.fail(status)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "SOURCE_ERROR"
    assert str(status) in done["error_message"] and "secret-token" not in done["error_message"]
    statistics_match_the_stored_tasks(api, aws)


def test_dead_letters_fail_their_tasks(api, aws, orders):
    register(api, orders)
    pending = create(api)
    running = create(api)
    task_lifecycle().start_task(running["id"], lease_owner="lost-engine", lease_seconds=60)
    sqs = boto3.client("sqs")
    discard_messages(aws)
    for task in (pending, running):
        sqs.send_message(QueueUrl=aws.refs["SyncDeadLetterQueue"], MessageBody=json.dumps({"task_id": task["id"]}))
    sqs.send_message(QueueUrl=aws.refs["SyncDeadLetterQueue"], MessageBody="not json")
    assert engine_source(aws, "DeadLetterFunction").poll_once() == 3
    for task in (pending, running):
        got = api.get(f"/api/sync/tasks/{task['id']}").json
        assert got["status"] == "failed" and got["error_code"] == "ENGINE_GAVE_UP"
    assert sqs.receive_message(QueueUrl=aws.refs["SyncDeadLetterQueue"]).get("Messages") is None
    statistics_match_the_stored_tasks(api, aws)


def test_cancel_of_a_running_full_sync_stops_at_the_next_batch(api, aws, orders, monkeypatch):
    register(api, orders)
    task = create(api, batch_size=200)
    from synchub.connectors.lake import LakePart

    original, writes = LakePart.close, []

    def cancel_during_second_batch(self):
        writes.append(int(self.key.rsplit("part-", 1)[1].split(".")[0]))
        if len(writes) == 2:
            assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
        return original(self)

    monkeypatch.setattr(LakePart, "close", cancel_during_second_batch)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled" and writes == [1, 2]
    assert done["processed_rows"] == 400 and done["result"]["rows_written"] == 400
    assert [r["id"] for r in lake_rows(aws, done)] == list(range(1, 401))
    statistics_match_the_stored_tasks(api, aws)


def test_timeout_fails_the_task_with_code_timeout(api, aws, orders):
    register(api, orders)
    orders.delay = 0.4
    task = create(api, batch_size=100, timeout=1)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "TIMEOUT"
    assert 0 < done["processed_rows"] < 2345
    statistics_match_the_stored_tasks(api, aws)


def test_stale_heartbeat_is_resumed_then_given_up(api, aws, orders, monkeypatch):
    register(api, orders)
    task = create(api)
    service = task_lifecycle()
    original = service.record_progress
    calls = {"n": 0}

    def engine_dies_after_first_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("the engine's execution environment vanished")
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "record_progress", engine_dies_after_first_batch)
    with pytest.raises(SystemExit):
        engine_source(aws).poll_once()
    discard_messages(aws)  # the message is gone with the engine
    monkeypatch.setattr(service, "record_progress", original)
    _age_heartbeat(aws, task["id"])
    from tests.conftest import load_event

    outcome = FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json"))
    assert outcome["resumed"] == 1
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success"
    assert_exact(aws, done, 2345)

    # A task whose engine keeps dying is failed after the allowed resumptions.
    second = create(api)
    task_lifecycle().start_task(second["id"], lease_owner="dead", lease_seconds=60)
    discard_messages(aws)
    for _ in range(3):
        _age_heartbeat(aws, second["id"])
        assert FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json"))["resumed"] == 1
        discard_messages(aws)
    _age_heartbeat(aws, second["id"])
    assert FUNCTIONS["ReaperFunction"].invoke(load_event("reaper.json"))["failed"] == 1
    got = api.get(f"/api/sync/tasks/{second['id']}").json
    assert got["status"] == "failed" and got["error_code"] == "HEARTBEAT_LOST"
    statistics_match_the_stored_tasks(api, aws)


def discard_messages(aws):
    """Drop every visible engine message (as if it was lost with its engine)."""
    sqs = boto3.client("sqs")
    while True:
        messages = sqs.receive_message(QueueUrl=aws.refs["SyncQueue"], MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        for message in messages:
            sqs.delete_message(QueueUrl=aws.refs["SyncQueue"], ReceiptHandle=message["ReceiptHandle"])


def _age_heartbeat(aws, task_id):
    boto3.client("dynamodb").update_item(
        TableName=aws.refs["TasksTable"],
        Key={"id": {"S": task_id}},
        UpdateExpression="SET heartbeat_at = :old",
        ExpressionAttributeValues={":old": {"S": "2000-01-01T00:00:00.000Z"}},
    )


def test_dynamodb_destination_upserts_by_primary_key(api, aws, orders):
    register(api, orders)
    for _ in range(2):  # the second full sync overwrites the same items
        task = create(api, destination="dynamodb")
        drain(aws)
        done = api.get(f"/api/sync/tasks/{task['id']}").json
        assert done["status"] == "success", done
        assert done["result"]["destination"] == "dynamodb" and done["result"]["rows_written"] == 2345
    client = boto3.client("dynamodb")
    items, kwargs = (
        [],
        {
            "TableName": aws.refs["DestinationTable"],
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "ds_orders#default"}},
        },
    )
    while True:
        response = client.query(**kwargs)
        items.extend(response["Items"])
        if "LastEvaluatedKey" not in response:
            break
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    assert sorted(int(i["sk"]["S"]) for i in items) == list(range(1, 2346))
    assert all(i["task_id"]["S"] == task["id"] for i in items)
    assert items[0]["data"]["M"]["customer"]["S"].startswith("customer-")


def test_a_source_that_never_recovers_ends_in_the_dead_letter_queue_and_fails(api, aws, orders):
    register(api, orders)
    task = create(api)
    orders.fail(503, times=1000)
    engine = engine_source(aws)
    deliveries = 0
    while engine.poll_once():  # redeliveries come back at once (no backoff in tests)
        deliveries += 1
        assert deliveries < 20
    assert deliveries == 5  # the template's maxReceiveCount
    running = api.get(f"/api/sync/tasks/{task['id']}").json
    assert running["status"] == "running" and running["error_count"] == 5 and running["current_phase"] == "retrying"
    assert engine_source(aws, "DeadLetterFunction").poll_once() == 1
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "failed" and done["error_code"] == "ENGINE_GAVE_UP"
    # the final failure names the cause, and the number of attempts the template gives, which error_count shows
    assert (
        done["error_message"].startswith("The engine gave up after 5 failed attempts. The last one failed with: ")
        and done["error_count"] == 5
    )
    assert "503" in done["error_message"] and "next_attempt_at" not in done
    statistics_match_the_stored_tasks(api, aws)


def test_the_output_lists_what_a_task_wrote_and_previews_its_first_rows(api, aws, orders):
    register(api, orders)
    task = create(api)
    assert api.get(f"/api/sync/tasks/{task['id']}/output").json["parts"] == []  # pending: nothing yet
    drain(aws)
    output = api.get(f"/api/sync/tasks/{task['id']}/output?preview=3")
    assert output.status == 200, output.text
    body = output.json
    assert body["status"] == "success" and body["destination"] == "s3" and body["rows"] == 2345
    lake = {
        o["Key"]: o["Size"]
        for o in boto3.client("s3").list_objects_v2(
            Bucket=aws.refs["DataLakeBucket"], Prefix=body["prefix"] + "/part-"
        )["Contents"]
    }
    assert {p["key"]: p["bytes"] for p in body["parts"]} == lake and sum(p["rows"] for p in body["parts"]) == 2345
    assert all(p["url"].startswith("https://") and "X-Amz-Signature=" in p["url"] for p in body["parts"]), body[
        "parts"
    ][0]
    assert body["manifest"]["key"].endswith("/manifest.json") and body["urls_expire_in"] == 300
    assert [row["id"] for row in body["preview"]] == [1, 2, 3] and body["preview"] == lake_rows(aws, {"result": body})[
        :3
    ]
    assert_problem(api.get(f"/api/sync/tasks/{task['id']}/output?preview=1000"), 422, "VALIDATION_FAILED")
    assert_problem(api.get("/api/sync/tasks/task_123/output"), 404, "TASK_NOT_FOUND")
