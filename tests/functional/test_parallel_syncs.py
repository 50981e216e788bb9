"""Parallel syncs (``parameters.parallelism``): a full sync split into ranges, each an engine message of its
own, committed once by the last range. The engine's messages are delivered here one at a time, in whatever
order the queue gives them, so the ranges interleave as concurrent invocations would; the crash tests kill a
range mid-way, deliver the last range twice and cancel during the fan-out, and the table holds exactly the
source's rows after each."""

from __future__ import annotations

import json

import boto3
import pytest

from local.orders_server import OrdersServer
from synchub.dal.ranges import RangeStore
from synchub.settings import get_settings
from tests.conftest import FUNCTIONS
from tests.databases import postgres  # noqa: F401 - fixture
from tests.functional.test_engine import OneBatchContext, drain, engine_source
from tests.functional.test_engine import register as register_orders
from tests.lake import commit_ids, crash_once, lake_api, lake_aws, moto_server, no_backoff, read_table  # noqa: F401

pytestmark = pytest.mark.local_destinations
ROWS = 2345


@pytest.fixture(autouse=True)
def small_parts(monkeypatch, lake_aws):
    """Parts of about 10 KB: each batch closes a part, so a range stores its checkpoint many times; and an
    engine allowed more invocations at once than the template's default of 2."""
    monkeypatch.setenv("PART_SIZE_MB", "0.01")
    monkeypatch.setenv("ENGINE_MAX_CONCURRENCY", "16")
    get_settings.cache_clear()


@pytest.fixture
def orders():
    server = OrdersServer(rows=ROWS)
    yield server
    server.close()


def register(api, orders, **extra):
    """The orders API as test_engine registers it, landing in the lake table ds_orders."""
    register_orders(api, orders, destination={"format": "iceberg"}, **extra)


def create(api, parallelism, ds="ds_orders", **parameters):
    created = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": ds,
            "task_type": "full_sync",
            "parameters": {"batch_size": 200, "parallelism": parallelism, **parameters},
        },
    )
    assert created.status == 201, created.text
    return created.json


def table_ids(name="ds_orders"):
    return sorted(read_table(name)["id"].to_pylist())


def assert_exactly_the_source(api, task_id, name="ds_orders"):
    done = api.get(f"/api/sync/tasks/{task_id}").json
    assert done["status"] == "success", (done["error_message"], done)
    assert table_ids(name) == list(range(1, ROWS + 1))
    assert done["processed_rows"] == ROWS and done["result"]["rows_written"] == ROWS
    assert len({commit for commit, _ in commit_ids(name, task_id)}) == 1, commit_ids(name, task_id)
    return done


def queued_messages(aws):
    """The engine messages waiting in the queue (left there: made visible again at once)."""
    sqs = boto3.client("sqs")
    url = aws.attributes["SyncQueue"]["QueueUrl"] if "QueueUrl" in aws.attributes.get("SyncQueue", {}) else None
    url = url or next(a["QueueUrl"] for a in aws.attributes.values() if a.get("QueueUrl", "").endswith("sync"))
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
    return [json.loads(message["Body"]) for message in received]


def test_a_parallel_full_sync_reads_every_range_and_commits_once(lake_api, lake_aws, orders):
    register(lake_api, orders)
    task = create(lake_api, 4)
    assert engine_source(lake_aws).poll_once() == 1  # the run's own message: plan, fan out
    planned = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert planned["status"] == "running" and planned["ranges"] == {"count": 4, "finished": 0, "rows": [0, 0, 0, 0]}
    assert planned["total_rows"] == ROWS
    drain(lake_aws)
    done = assert_exactly_the_source(lake_api, task["id"])
    assert done["progress"] == 100 and done["result"]["ranges"] == 4
    assert done["ranges"]["finished"] == 4 and sum(done["ranges"]["rows"]) == ROWS
    assert min(done["ranges"]["rows"]) > 0  # every range read its share
    keys = [key for key in _object_keys(lake_aws) if "/data/synchub/" in key]
    assert {key.split("/")[5] for key in keys} == {f"r{n}" for n in range(4)}  # tables/t/data/synchub/task/rN


def _object_keys(aws):
    s3 = boto3.client("s3")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=aws.refs["DataLakeBucket"], Prefix="tables/")
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_a_range_crashing_mid_way_resumes_from_its_checkpoint(lake_api, lake_aws, orders, monkeypatch):
    from synchub.connectors.http import HttpSource

    register(lake_api, orders)
    task = create(lake_api, 4)
    original, reads = HttpSource.read, {"n": 0}

    def dies_on_the_fifth_read(self, *args, **kwargs):
        reads["n"] += 1
        if reads["n"] == 5:  # a range with a checkpoint stored (two reads of each range before it)
            raise RuntimeError("engine died mid-range")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HttpSource, "read", dies_on_the_fifth_read)
    drain(lake_aws)
    assert_exactly_the_source(lake_api, task["id"])
    assert reads["n"] == 4 * 3 + 1  # three batches a range, and the one that crashed, read again: nothing more
    pages = -(-ROWS // 100)
    assert orders.requests <= 1 + pages + 2  # the split's first page, every page, the crashed batch's 2 pages


def test_a_duplicate_delivery_of_every_range_commits_once(lake_api, lake_aws, orders, monkeypatch):
    """Each range's message delivered twice, each invocation reading one batch and continuing: two runs of
    each range race through the same checkpoints, and the one behind stops at its next store."""
    from synchub.dal.engine_queue import EngineQueue

    original = EngineQueue.submit_many
    monkeypatch.setattr(
        EngineQueue, "submit_many", lambda self, task, **kw: original(self, task, **{**kw, "extras": kw["extras"] * 2})
    )
    monkeypatch.setattr(FUNCTIONS["SyncEngineFunction"], "context", lambda: OneBatchContext())
    register(lake_api, orders)
    task = create(lake_api, 3)
    drain(lake_aws, rounds=400)
    assert_exactly_the_source(lake_api, task["id"])


def test_the_last_range_dying_around_its_commit_commits_once(lake_api, lake_aws, orders, monkeypatch):
    """Once before the commit (the range counted finished, nothing committed) and once after it (committed,
    the task not finished): each redelivery finds where the other stopped."""
    from synchub.engine.ranges import ParallelSync
    from synchub.tasks.lifecycle import TaskLifecycle

    crash_once(monkeypatch, ParallelSync, "commit", "engine died between the last range and the commit")
    original, crashes = TaskLifecycle.finish_task, {"left": 1}

    def dies_after_the_commit(self, task_id, **kwargs):
        if kwargs.get("status") == "success" and crashes["left"]:
            crashes["left"] -= 1
            raise RuntimeError("engine died after the commit, before recording success")
        return original(self, task_id, **kwargs)

    monkeypatch.setattr(TaskLifecycle, "finish_task", dies_after_the_commit)
    register(lake_api, orders)
    task = create(lake_api, 4)
    for _ in range(5):
        drain(lake_aws)
    assert crashes["left"] == 0
    assert_exactly_the_source(lake_api, task["id"])
    # a message of a range delivered again after the end changes nothing
    engine = FUNCTIONS["SyncEngineFunction"]
    body = {"task_id": task["id"], "run_id": "whoever", "range": 0, "hop": 1, "attempt": 1}
    boto3.client("sqs").send_message(QueueUrl=_queue_url(lake_aws), MessageBody=json.dumps(body))
    assert drain(lake_aws) == 1 and engine is FUNCTIONS["SyncEngineFunction"]
    assert_exactly_the_source(lake_api, task["id"])


def _queue_url(aws):
    return boto3.client("sqs").get_queue_url(QueueName=aws.refs["SyncQueue"].rsplit("/", 1)[-1])["QueueUrl"]


def test_cancelling_during_the_fan_out_leaves_no_commit_and_no_running_range(lake_api, lake_aws, orders, monkeypatch):
    register(lake_api, orders)
    first = create(lake_api, 1)
    drain(lake_aws)
    assert_exactly_the_source(lake_api, first["id"])  # the table as a sequential sync left it

    monkeypatch.setattr(FUNCTIONS["SyncEngineFunction"], "context", lambda: OneBatchContext())
    task = create(lake_api, 4)
    source = engine_source(lake_aws)
    for _ in range(3):  # the plan, then two ranges read a batch each
        assert source.poll_once() == 1
    running = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert running["status"] == "running" and running["processed_rows"] > 0
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    drain(lake_aws)
    cancelled = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert cancelled["status"] == "cancelled" and cancelled["result"] is None
    assert commit_ids("ds_orders", task["id"]) == []  # nothing of the parallel sync reached the table
    assert table_ids() == list(range(1, ROWS + 1))
    assert queued_messages(lake_aws) == []  # no range goes on


def test_a_failed_range_fails_the_task_and_retry_reads_only_the_unfinished_ranges(lake_api, lake_aws, orders):
    register(lake_api, orders)
    task = create(lake_api, 4)
    source = engine_source(lake_aws)
    assert source.poll_once() == 1  # the plan
    assert source.poll_once() == 1  # one range, read to its end
    shown = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert shown["ranges"]["finished"] == 1
    orders.fail(404)  # permanent: the next range fails the task
    drain(lake_aws)
    failed = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert failed["status"] == "failed" and "404" in failed["error_message"], failed
    finished_rows = max(shown["ranges"]["rows"])

    before = orders.requests
    retry = lake_api.post(f"/api/sync/tasks/{task['id']}/retry")
    assert retry.status in (200, 201, 202), retry.text
    drain(lake_aws)
    done = assert_exactly_the_source(lake_api, retry.json["id"])
    assert done["ranges"]["count"] == 4
    assert orders.requests - before <= -(-(ROWS - finished_rows) // 100) + 1  # the finished range not read again


@pytest.mark.parametrize(
    ("task_type", "parameters", "source", "why"),
    [
        ("incremental_sync", {}, {}, "a incremental_sync reads its changes in order"),
        ("full_sync", {"destination": "dynamodb"}, {}, "needs a lake destination"),
        ("full_sync", {"pagination": {"style": "cursor", "cursor_param": "after"}}, {}, "pages by cursor"),
        ("full_sync", {}, {"total_path": None}, "needs its total"),
    ],
)
def test_a_sync_that_cannot_be_split_is_refused_naming_why(
    lake_api, lake_aws, orders, task_type, parameters, source, why
):
    register(lake_api, orders, **source)
    refused = lake_api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_orders", "task_type": task_type, "parameters": {"parallelism": 4, **parameters}},
    )
    assert refused.status == 422, refused.text
    assert why in refused.json["detail"]
    assert lake_api.get("/api/sync/tasks").json["tasks"] == []  # nothing stored


@pytest.mark.parametrize("parallelism", [0, 33, "8", 2.5])
def test_parallelism_is_a_whole_number_from_1_to_32(lake_api, lake_aws, orders, parallelism):
    register(lake_api, orders)
    refused = lake_api.post(
        "/api/sync/tasks",
        {"data_source_id": "ds_orders", "task_type": "full_sync", "parameters": {"parallelism": parallelism}},
    )
    assert refused.status == 422 and "parallelism" in refused.text


def test_a_postgresql_table_with_a_skewed_key_syncs_in_ranges_of_about_as_many_rows(lake_api, lake_aws, postgres):
    import psycopg

    connection = psycopg.connect(**{k: v for k, v in postgres.items() if k != "database"}, dbname=postgres["database"])
    connection.autocommit = True
    connection.execute("DROP TABLE IF EXISTS parallel_orders")
    connection.execute("CREATE TABLE parallel_orders (id bigint PRIMARY KEY, amount numeric(10, 2), note text)")
    # 90 % of the rows in the first tenth of the key's span
    connection.execute("INSERT INTO parallel_orders SELECT g, g / 100.0, 'dense' FROM generate_series(1, 27000) g")
    connection.execute(
        "INSERT INTO parallel_orders SELECT 30000 + g * 90, g / 10.0, 'sparse' FROM generate_series(1, 3000) g"
    )
    body = {
        "id": "ds_parallel_pg",
        "name": "orders in PostgreSQL",
        "type": "postgresql",
        "connection_config": postgres,
        "params_config": {"table_name": "parallel_orders", "destination": {"format": "iceberg"}},
    }
    assert lake_api.post("/api/sync/data-sources", body).status == 201
    task = create(lake_api, 6, ds="ds_parallel_pg", batch_size=1000)
    drain(lake_aws)
    done = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", (done["error_message"], done)
    rows = done["ranges"]["rows"]
    assert len(rows) == 6 and sum(rows) == 30_000 and max(rows) <= 1.5 * min(rows), rows
    expected = [row[0] for row in connection.execute("SELECT id FROM parallel_orders ORDER BY id").fetchall()]
    assert table_ids("ds_parallel_pg") == expected
    assert len({commit for commit, _ in commit_ids("ds_parallel_pg", task["id"])}) == 1
    connection.execute("DROP TABLE parallel_orders")
    connection.close()


def test_no_more_ranges_than_the_engine_may_run_at_once(lake_api, lake_aws, orders, monkeypatch):
    monkeypatch.setenv("ENGINE_MAX_CONCURRENCY", "3")
    get_settings.cache_clear()
    register(lake_api, orders)
    task = create(lake_api, 8)
    drain(lake_aws)
    done = assert_exactly_the_source(lake_api, task["id"])
    assert done["ranges"]["count"] == 3 and done["config"]["parallelism"] == 8


def test_pausing_a_parallel_sync_parks_every_range_and_resume_goes_on_from_their_checkpoints(
    lake_api, lake_aws, orders, monkeypatch
):
    from tests.helpers import statistics_match_the_stored_tasks

    monkeypatch.setattr(FUNCTIONS["SyncEngineFunction"], "context", lambda: OneBatchContext())
    register(lake_api, orders)
    task = create(lake_api, 4)
    source = engine_source(lake_aws)
    for _ in range(5):  # the plan, then the four ranges read a batch each
        assert source.poll_once() == 1
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/pause").status == 202
    drain(lake_aws)
    paused = lake_api.get(f"/api/sync/tasks/{task['id']}").json
    assert paused["status"] == "paused" and queued_messages(lake_aws) == []  # every range stopped
    read_before = orders.requests
    assert lake_api.post(f"/api/sync/tasks/{task['id']}/resume").status in (200, 202)
    drain(lake_aws, rounds=400)
    done = assert_exactly_the_source(lake_api, task["id"])
    assert done["ranges"]["count"] == 4
    pages = -(-ROWS // 100)
    assert orders.requests - read_before <= pages - 4 * 2  # only what the ranges had not read: 2 pages each
    statistics_match_the_stored_tasks(lake_api, lake_aws)  # one task, counted once


def test_an_api_paged_by_offset_splits_into_ranges_of_offsets(lake_api, lake_aws, orders):
    register(lake_api, orders, style="offset")
    task = create(lake_api, 5)
    drain(lake_aws)
    done = assert_exactly_the_source(lake_api, task["id"])
    assert done["ranges"]["count"] == 5 and min(done["ranges"]["rows"]) > 0


def test_deleting_a_parallel_sync_deletes_its_ranges_checkpoints(lake_api, lake_aws, orders):
    register(lake_api, orders)
    task = create(lake_api, 3)
    drain(lake_aws)
    assert_exactly_the_source(lake_api, task["id"])
    store = RangeStore(get_settings())
    assert len(store.checkpoints_of(task["id"], 3)) == 3
    assert lake_api.delete(f"/api/sync/tasks/{task['id']}").status == 204
    assert store.checkpoints_of(task["id"], 3) == {}


def test_a_cancel_reaches_a_range_at_its_next_batch_between_its_reports(lake_api, lake_aws, orders, monkeypatch):
    """Reports a minute apart and parts that never fill: the range still stops after the batch it was reading
    when the cancel came, not at its next report."""
    from synchub.connectors.http import HttpSource

    monkeypatch.setenv("PART_SIZE_MB", "64")
    monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "60")
    get_settings.cache_clear()
    register(lake_api, orders)
    task = create(lake_api, 2, batch_size=100)
    source = engine_source(lake_aws)
    assert source.poll_once() == 1  # the plan
    original, reads = HttpSource.read, {"n": 0}

    def cancelled_during_the_second_read(self, *args, **kwargs):
        reads["n"] += 1
        if reads["n"] == 2:
            assert lake_api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HttpSource, "read", cancelled_during_the_second_read)
    assert source.poll_once() == 1  # one range, until it sees the cancel
    assert reads["n"] == 2
    assert lake_api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "cancelled"
    drain(lake_aws)
    assert reads["n"] == 2  # the other range's message finds the task cancelled and reads nothing
