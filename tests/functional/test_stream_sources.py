"""Kafka, MQTT and Redis sources against real brokers: each record lands exactly once (Kafka, Redis streams) or
at least once and never lost (MQTT), through full, incremental and realtime syncs, crashes and redeliveries."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from local.ports import free_port
from tests.brokers import KafkaTopic, kafka, mosquitto, mosquitto_with_login, publish, redis_server  # noqa: F401
from tests.functional.test_engine import drain, engine_source, immediate_retries, lake_rows  # noqa: F401
from tests.helpers import statistics_match_the_stored_tasks

# The stand-in sources and endpoints listen on 127.0.0.1: make run's outbound policy (tests/functional/conftest.py).
pytestmark = pytest.mark.local_destinations


@pytest.fixture(autouse=True)
def small_parts(monkeypatch, immediate_retries):
    """Parts of about 10 KB: every batch of these tests closes a part, so parts and checkpoints alternate."""
    monkeypatch.setenv("PART_SIZE_MB", "0.01")
    from synchub.settings import get_settings

    get_settings.cache_clear()


def create_source(api, ds, body):
    response = api.post("/api/sync/data-sources", {"id": ds, "name": ds, **body})
    assert response.status == 201, response.text


def run(api, aws, ds, task_type="full_sync", **parameters):
    response = api.post(
        "/api/sync/tasks",
        {"data_source_id": ds, "task_type": task_type, "parameters": {"batch_size": 1000, **parameters}},
    )
    assert response.status == 201, response.text
    drain(aws)
    return api.get(f"/api/sync/tasks/{response.json['id']}").json


def crash_once_between_write_and_checkpoint(monkeypatch, at_call=3):
    """The engine dies once, after writing a part and before storing the checkpoint that follows it."""
    from synchub.tasks.lifecycle import task_lifecycle

    service = task_lifecycle()
    original = service.record_progress
    calls = {"n": 0}

    def dies_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at_call and kwargs.get("checkpoint") is not None:
            raise RuntimeError("engine died between the part write and the checkpoint")
        if calls["n"] == at_call:
            calls["n"] -= 1  # wait for a call that stores a checkpoint
        return original(*args, **kwargs)

    monkeypatch.setattr(service, "record_progress", dies_once)
    return calls


# ---- Kafka ------------------------------------------------------------------------------------------
@pytest.fixture
def topic(kafka):
    topic = KafkaTopic(kafka, partitions=3)
    yield topic
    topic.close()


def kafka_source(api, servers, topic, ds="ds_kafka", **params):
    create_source(
        api,
        ds,
        {
            "type": "kafka",
            "connection_config": {"bootstrap_servers": servers},
            "params_config": {"topic": topic.name, "value_format": "json", **params},
        },
    )


def offsets(rows):
    return [(row["partition"], row["offset"]) for row in rows]


def test_kafka_full_then_incremental_lands_each_record_once(api, aws, kafka, topic):
    topic.produce(30_000)
    kafka_source(api, kafka, topic)
    full = run(api, aws, "ds_kafka")
    assert full["status"] == "success", full
    rows = lake_rows(aws, full)
    assert len(rows) == 30_000 and len(set(offsets(rows))) == 30_000
    assert sorted(row["value"]["n"] for row in rows) == list(range(30_000))
    assert full["total_rows"] == 30_000 and full["processed_rows"] == 30_000
    first = rows[0]
    assert set(first) == {"topic", "partition", "offset", "timestamp", "key", "value"}
    assert first["topic"] == topic.name and first["key"] == str(first["value"]["n"]) and first["timestamp"]
    assert full["result"]["watermark"] == {"0": 10_000, "1": 10_000, "2": 10_000}  # next offset per partition

    topic.produce(5_000)
    incremental = run(api, aws, "ds_kafka", "incremental_sync")
    assert incremental["status"] == "success", incremental
    new = lake_rows(aws, incremental)
    assert sorted(row["value"]["n"] for row in new) == list(range(30_000, 35_000))
    assert incremental["total_rows"] == 5_000
    assert run(api, aws, "ds_kafka", "incremental_sync")["processed_rows"] == 0  # nothing new
    statistics_match_the_stored_tasks(api, aws)


def test_kafka_crash_between_part_and_checkpoint_then_redelivery_keeps_each_record_once(
    api, aws, kafka, topic, monkeypatch
):
    topic.produce(6_000)
    kafka_source(api, kafka, topic)
    crash_once_between_write_and_checkpoint(monkeypatch)
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_kafka", "task_type": "full_sync", "parameters": {"batch_size": 500}}
    ).json
    source = engine_source(aws)
    assert source.poll_once() == 1  # the run dies; its message comes back
    died = api.get(f"/api/sync/tasks/{task['id']}").json
    assert died["status"] == "running" and 0 < died["processed_rows"] < 6_000
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "success", done
    rows = lake_rows(aws, done)
    assert len(rows) == 6_000 and len(set(offsets(rows))) == 6_000
    statistics_match_the_stored_tasks(api, aws)


def test_kafka_realtime_picks_up_new_records_and_cancels_within_a_batch(api, aws, kafka, topic, monkeypatch):
    topic.produce(300)
    kafka_source(api, kafka, topic)
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_kafka",
            "task_type": "realtime_sync",
            "parameters": {"batch_size": 100, "poll_interval": 1},
        },
    ).json
    drain(aws)
    waiting = api.get(f"/api/sync/tasks/{task['id']}").json
    assert waiting["status"] == "running" and waiting["current_phase"] == "waiting"
    assert waiting["processed_rows"] == 300
    topic.produce(250)  # produced while the task runs
    time.sleep(1.2)
    drain(aws)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 550

    # a cancel asked while a poll is reading stops it after the batch in hand
    topic.produce(2_000)
    import synchub.connectors.kafka_source as kafka_module

    original, reads = kafka_module.KafkaSource.read, {"n": 0}

    def read_then_cancel(self, *args, **kwargs):
        reads["n"] += 1
        if reads["n"] == 2:
            assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
        return original(self, *args, **kwargs)

    monkeypatch.setattr(kafka_module.KafkaSource, "read", read_then_cancel)
    time.sleep(1.2)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled"
    assert 550 < done["processed_rows"] <= 550 + 2 * 100  # the batch in hand and at most one read ahead
    rows = lake_rows(aws, done)
    assert len(rows) == done["processed_rows"] and len(set(offsets(rows))) == len(rows)
    # realtime committed what it wrote: an incremental run copies exactly the rest
    rest = run(api, aws, "ds_kafka", "incremental_sync")
    assert rest["processed_rows"] == 2_550 - done["processed_rows"]
    everything = rows + lake_rows(aws, rest)
    assert sorted(row["value"]["n"] for row in everything) == list(range(2_550))


def test_kafka_consumer_group_sees_the_written_offsets(api, aws, kafka, topic):
    from kafka import KafkaConsumer, TopicPartition

    topic.produce(900)
    group = f"synchub-lag-{uuid.uuid4().hex[:6]}"
    kafka_source(api, kafka, topic, consumer_group=group)
    assert run(api, aws, "ds_kafka")["status"] == "success"
    consumer = KafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False)
    committed = {p: consumer.committed(TopicPartition(topic.name, p)) for p in range(3)}
    consumer.close()
    assert committed == {0: 300, 1: 300, 2: 300}


def test_kafka_connection_tests(api, aws, kafka, topic):
    topic.produce(20)
    kafka_source(api, kafka, topic)
    good = api.post("/api/sync/data-sources/ds_kafka/test").json
    # total_rows: the high-water marks known after one read (tansu answers ListOffsets with the last batch's
    # base offset + 1, so partitions not yet fetched count short; a sync corrects them as it fetches each)
    assert good["ok"] is True and good["rows_read"] == 5 and 5 <= good["total_rows"] <= 20
    assert {"partition", "offset", "value"} <= set(good["sample"][0])
    create_source(
        api,
        "ds_kafka_port",
        {
            "type": "kafka",
            "connection_config": {"bootstrap_servers": f"127.0.0.1:{free_port()}", "connect_timeout": 2},
            "params_config": {"topic": "x"},
        },
    )
    closed = api.post("/api/sync/data-sources/ds_kafka_port/test").json
    assert closed["ok"] is False and closed["error_kind"] == "transient", closed
    kafka_source(api, kafka, type("T", (), {"name": "no-such-topic-here"})(), ds="ds_kafka_missing")
    missing = api.post("/api/sync/data-sources/ds_kafka_missing/test").json
    assert missing["ok"] is False and missing["error_kind"] == "permanent"
    assert "no topic 'no-such-topic-here'" in missing["error_message"]


# ---- Redis ------------------------------------------------------------------------------------------
@pytest.fixture
def redis_db(redis_server):
    import redis

    client = redis.Redis(**redis_server, decode_responses=True)
    prefix = f"synchub-test-{uuid.uuid4().hex[:8]}"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def add_entries(client, key, first, count):
    pipe = client.pipeline(transaction=False)
    for number in range(first, first + count):
        pipe.xadd(key, {"n": str(number), "customer": f"c-{number % 97}"})
    pipe.execute()


def test_redis_stream_syncs_exactly_once_in_full_then_incrementally(api, aws, redis_server, redis_db, monkeypatch):
    client, prefix = redis_db
    key = f"{prefix}:orders"
    add_entries(client, key, 0, 20_000)
    create_source(
        api,
        "ds_redis",
        {"type": "redis", "connection_config": dict(redis_server), "params_config": {"stream_key": key}},
    )
    crash_once_between_write_and_checkpoint(monkeypatch, at_call=4)
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_redis", "task_type": "full_sync", "parameters": {"batch_size": 1000}}
    ).json
    assert engine_source(aws).poll_once() == 1  # dies between a part and its checkpoint
    drain(aws)
    full = api.get(f"/api/sync/tasks/{task['id']}").json
    assert full["status"] == "success" and full["total_rows"] == 20_000
    rows = lake_rows(aws, full)
    assert [int(row["value"]["n"]) for row in rows] == list(range(20_000))  # in id order, each once
    assert len({row["id"] for row in rows}) == 20_000 and rows[0]["stream"] == key and rows[0]["timestamp"]
    add_entries(client, key, 20_000, 700)
    incremental = run(api, aws, "ds_redis", "incremental_sync")
    assert [int(row["value"]["n"]) for row in lake_rows(aws, incremental)] == list(range(20_000, 20_700))
    assert run(api, aws, "ds_redis", "incremental_sync")["processed_rows"] == 0
    statistics_match_the_stored_tasks(api, aws)


def test_redis_key_pattern_copies_each_key_once_with_its_value_by_type(api, aws, redis_server, redis_db):
    client, prefix = redis_db
    for number in range(1_500):
        client.hset(f"{prefix}:customer:{number:04d}", mapping={"name": f"c-{number}", "tier": str(number % 3)})
    for number in range(1_500):
        client.set(f"{prefix}:order:{number:04d}", json.dumps({"id": number, "items": [number, number + 1]}))
    client.set(f"{prefix}:note", "not json")
    client.rpush(f"{prefix}:queue", "a", "b")
    client.sadd(f"{prefix}:tags", "y", "x")
    client.zadd(f"{prefix}:scores", {"ann": 2.5, "bob": 1})
    client.set("other-prefix-not-copied", "1")
    create_source(
        api,
        "ds_keys",
        {"type": "redis", "connection_config": dict(redis_server), "params_config": {"key_pattern": f"{prefix}:*"}},
    )
    done = run(api, aws, "ds_keys", batch_size=400)
    assert done["status"] == "success" and done["total_rows"] == 3_004
    rows = {row["key"]: row for row in lake_rows(aws, done)}
    assert len(rows) == done["processed_rows"] == 3_004  # each key once
    assert rows[f"{prefix}:customer:0007"] == {
        "key": f"{prefix}:customer:0007",
        "type": "hash",
        "value": {"name": "c-7", "tier": "1"},
    }
    assert rows[f"{prefix}:order:0042"]["value"] == {"id": 42, "items": [42, 43]}  # a JSON string, parsed
    assert rows[f"{prefix}:note"]["value"] == "not json"
    assert rows[f"{prefix}:queue"]["value"] == ["a", "b"] and rows[f"{prefix}:tags"]["value"] == ["x", "y"]
    assert rows[f"{prefix}:scores"]["value"] == [{"member": "bob", "score": 1.0}, {"member": "ann", "score": 2.5}]
    refused = api.post("/api/sync/tasks", {"data_source_id": "ds_keys", "task_type": "incremental_sync"})
    assert refused.status == 422 and "key_pattern" in refused.json["detail"]
    client.delete("other-prefix-not-copied")


def test_redis_connection_tests(api, aws, redis_server, redis_db):
    client, prefix = redis_db
    add_entries(client, f"{prefix}:s", 0, 12)
    create_source(
        api,
        "ds_r",
        {"type": "redis", "connection_config": dict(redis_server), "params_config": {"stream_key": f"{prefix}:s"}},
    )
    good = api.post("/api/sync/data-sources/ds_r/test").json
    assert good["ok"] is True and good["rows_read"] == 5 and good["total_rows"] == 12
    create_source(
        api,
        "ds_r_port",
        {
            "type": "redis",
            "connection_config": {"host": "127.0.0.1", "port": free_port(), "connect_timeout": 2},
            "params_config": {"stream_key": "s"},
        },
    )
    assert api.post("/api/sync/data-sources/ds_r_port/test").json["error_kind"] == "transient"
    user = f"{prefix}-user"
    client.execute_command("ACL", "SETUSER", user, "on", ">right-password", "~*", "+@all")
    try:
        create_source(
            api,
            "ds_r_login",
            {
                "type": "redis",
                "connection_config": {**redis_server, "username": user, "password": "wrong-password"},
                "params_config": {"stream_key": "s"},
            },
        )
        wrong = api.post("/api/sync/data-sources/ds_r_login/test").json
        assert wrong["ok"] is False and wrong["error_kind"] == "permanent", wrong
        assert "wrong-password" not in json.dumps(wrong)
    finally:
        client.execute_command("ACL", "DELUSER", user)
    create_source(
        api,
        "ds_r_missing",
        {"type": "redis", "connection_config": dict(redis_server), "params_config": {"stream_key": f"{prefix}:absent"}},
    )
    missing = api.post("/api/sync/data-sources/ds_r_missing/test").json
    assert missing["ok"] is False and missing["error_kind"] == "permanent" and "no stream" in missing["error_message"]


# ---- MQTT -------------------------------------------------------------------------------------------
def mqtt_source(api, broker, ds, topic_filter, **params):
    create_source(
        api,
        ds,
        {
            "type": "mqtt",
            "connection_config": dict(broker),
            "params_config": {"topic_filter": topic_filter, "qos": 1, "idle_seconds": 0.5, **params},
        },
    )


def values(rows):
    return sorted(row["value"]["n"] for row in rows)


def test_mqtt_realtime_keeps_its_session_between_polls_and_loses_nothing_across_a_crash(
    api, aws, mosquitto, monkeypatch
):
    base = f"synchub-test/{uuid.uuid4().hex[:8]}"
    mqtt_source(api, mosquitto, "ds_mqtt", f"{base}/#")
    task = api.post(
        "/api/sync/tasks",
        {
            "data_source_id": "ds_mqtt",
            "task_type": "realtime_sync",
            "parameters": {"batch_size": 50, "poll_interval": 1},
        },
    ).json
    drain(aws)  # connects, subscribes (the session starts), finds nothing, waits
    assert api.get(f"/api/sync/tasks/{task['id']}").json["current_phase"] == "waiting"
    # published while no engine run is connected: the broker keeps them for the session
    publish(mosquitto, [(f"{base}/sensor/{n % 4}", json.dumps({"n": n})) for n in range(120)])
    time.sleep(1.2)
    drain(aws)
    after_first = api.get(f"/api/sync/tasks/{task['id']}").json
    assert after_first["processed_rows"] == 120

    # published while a run is connected and reading
    import synchub.connectors.mqtt_source as mqtt_module

    original, reads = mqtt_module.MqttSource.read, {"n": 0}

    def read_while_publishing(self, *args, **kwargs):
        reads["n"] += 1
        if reads["n"] == 1:
            publish(mosquitto, [(f"{base}/live", json.dumps({"n": n})) for n in range(120, 150)])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(mqtt_module.MqttSource, "read", read_while_publishing)
    time.sleep(1.2)
    drain(aws)
    assert api.get(f"/api/sync/tasks/{task['id']}").json["processed_rows"] == 150

    # the engine dies after writing a part and storing its checkpoint, before acknowledging the messages
    monkeypatch.setattr(mqtt_module.MqttSource, "read", original)
    publish(mosquitto, [(f"{base}/sensor/1", json.dumps({"n": n})) for n in range(150, 190)])

    def dies_before_ack(self, state, cursor=None):
        raise RuntimeError("engine died after the checkpoint, before the acknowledgement")

    acknowledge = mqtt_module.MqttSource.acknowledge
    monkeypatch.setattr(mqtt_module.MqttSource, "acknowledge", dies_before_ack)
    time.sleep(1.2)
    assert engine_source(aws).poll_once() == 1
    monkeypatch.setattr(mqtt_module.MqttSource, "acknowledge", acknowledge)
    time.sleep(1.2)
    drain(aws)
    assert api.post(f"/api/sync/tasks/{task['id']}/cancel").status == 202
    time.sleep(1.2)
    drain(aws)
    done = api.get(f"/api/sync/tasks/{task['id']}").json
    assert done["status"] == "cancelled"
    rows = lake_rows(aws, done)
    assert set(values(rows)) == set(range(190))  # nothing lost
    redelivered = [row for row in rows if row["duplicate"]]
    assert len(rows) == 190 + len(redelivered) and {row["value"]["n"] for row in redelivered} <= set(range(150, 190))
    # acknowledged messages are not sent again: a new run of the same session finds nothing
    quiet = run(api, aws, "ds_mqtt", "incremental_sync")
    assert quiet["status"] == "success" and quiet["processed_rows"] == 0


def test_mqtt_full_sync_reads_the_retained_messages(api, aws, mosquitto):
    base = f"synchub-test/{uuid.uuid4().hex[:8]}"
    publish(mosquitto, [(f"{base}/room/{n}", json.dumps({"n": n, "celsius": 20 + n})) for n in range(25)], retain=True)
    publish(mosquitto, [(f"{base}/room/3", json.dumps({"n": 3, "celsius": 99}))], retain=True)  # the current value
    try:
        mqtt_source(api, mosquitto, "ds_retained", f"{base}/room/+")
        done = run(api, aws, "ds_retained", batch_size=10)
        assert done["status"] == "success" and done["total_rows"] == 25
        rows = lake_rows(aws, done)
        assert [row["topic"] for row in rows] == sorted(f"{base}/room/{n}" for n in range(25))
        assert next(row for row in rows if row["topic"].endswith("/3"))["value"]["celsius"] == 99
        assert all(row["retain"] for row in rows)
        sample = api.post("/api/sync/data-sources/ds_retained/test").json
        assert sample["ok"] is True and sample["rows_read"] == 5 and sample["total_rows"] == 25
    finally:
        publish(mosquitto, [(f"{base}/room/{n}", "") for n in range(25)], retain=True)  # clears them


def test_mqtt_connection_tests(api, aws, mosquitto_with_login):
    broker = mosquitto_with_login
    mqtt_source(api, broker, "ds_m_ok", "t/#")
    assert api.post("/api/sync/data-sources/ds_m_ok/test").json["ok"] is True
    mqtt_source(api, {**broker, "password": "wrong-password"}, "ds_m_login", "t/#")
    wrong = api.post("/api/sync/data-sources/ds_m_login/test").json
    assert wrong["ok"] is False and wrong["error_kind"] == "permanent" and "refused" in wrong["error_message"]
    mqtt_source(api, {**broker, "port": free_port()}, "ds_m_port", "t/#")
    assert api.post("/api/sync/data-sources/ds_m_port/test").json["error_kind"] == "transient"
    mqtt_source(api, broker, "ds_m_filter", "t/#/bad")
    bad = api.post("/api/sync/data-sources/ds_m_filter/test").json
    assert bad["ok"] is False and bad["error_kind"] == "permanent"
