"""The task change feed under moto: the tasks table's stream → publisher → WebSocket pushes (through the local
WebSocket API and its management endpoint), EventBridge events and signed webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from local.auth import ALL_SCOPES, LocalUserPool
from local.stack import QueueEventSource
from local.streams import StreamEventSource
from local.websocket import LocalWebSocketApi, serve_management
from synchub.dal.subscriptions import SubscriptionStore
from synchub.notify.webhooks import verify_signature
from synchub.settings import get_settings
from synchub.tasks.use_cases import task_service
from tests.conftest import FUNCTIONS, TEMPLATE, TESTER_TOKEN, USER_POOL
from tests.functional.test_engine import create, drain, orders, register  # noqa: F401 - orders is a fixture
from tests.helpers import RecordingEndpoint, StaticContent


@pytest.fixture
def live(aws, monkeypatch):
    """The local WebSocket API with its management endpoint, the publisher pointed at it, and the user pool's
    keys served where the $connect function fetches them."""
    websocket = LocalWebSocketApi(TEMPLATE, FUNCTIONS, port=0)
    websocket.start()
    management, endpoint = serve_management(websocket)
    keys = StaticContent({"/jwks.json": json.dumps(USER_POOL.jwks()).encode()}, "application/json")
    monkeypatch.setenv("WEBSOCKET_ENDPOINT", endpoint)
    monkeypatch.setenv("JWKS_URL", keys.url("/jwks.json"))
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "0")
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")  # the test's endpoints listen on 127.0.0.1
    import synchub.runtime

    synchub.runtime.reset()
    yield websocket
    websocket.stop()
    management.shutdown()
    keys.close()


def stream_source(aws) -> StreamEventSource:
    function = FUNCTIONS["TaskPublisherFunction"]
    props = {**function.spec.events_of("DynamoDB")[0], "StartingPosition": "TRIM_HORIZON"}
    return StreamEventSource.from_template(function, props, aws, boto3.client("dynamodbstreams"))


def publish(source: StreamEventSource) -> int:
    """Run the publisher over every stream record written so far."""
    total = 0
    while count := source.poll_once():
        total += count
    return total


def subscribe(websocket: LocalWebSocketApi, token: str = TESTER_TOKEN, **body: Any) -> Any:
    client = connect(f"{websocket.url}/?token={token}", open_timeout=5, legacy=True)
    client.send(json.dumps({"action": "subscribe", **body}))
    reply = json.loads(client.recv(timeout=5))
    assert reply["type"] == "subscribed", reply
    return client


def received(client: Any, quiet: float = 0.5) -> list[dict[str, Any]]:
    """Every message that arrives until ``quiet`` seconds pass without one."""
    messages = []
    while True:
        try:
            messages.append(json.loads(client.recv(timeout=quiet)))
        except TimeoutError:
            return messages


def test_subscribers_get_their_tasks_changes_in_order_and_nothing_else(api, aws, live, orders, monkeypatch):
    monkeypatch.setenv("PROGRESS_INTERVAL_SECONDS", "0")  # progress stored after every read, for the test to count
    import synchub.runtime

    synchub.runtime.reset()
    register(api, orders)
    watched, other = create(api), create(api)
    source = stream_source(aws)
    watcher = subscribe(live, task_ids=[watched["id"]])
    bystander = subscribe(live, task_ids=[other["id"]])
    everything = subscribe(live, all=True)
    by_source = subscribe(live, data_source_ids=["ds_orders"])
    task_service().cancel_task(other["id"])  # pending → cancelled: the bystander's own task changes
    drain(aws)  # the engine runs the watched task to the end: 5 batches of 500 rows
    publish(source)

    mine = received(watcher)
    assert {m["task_id"] for m in mine} == {watched["id"]}
    # the last read goes straight to success: its rows arrive with the status change
    assert [m["type"] for m in mine] == ["task.status", "task.status"] + ["task.progress"] * 4 + ["task.status"]
    assert [m["task"]["status"] for m in mine if m["type"] == "task.status"] == ["pending", "running", "success"]
    assert [(m["old_status"], m["new_status"]) for m in mine if m["type"] == "task.status"] == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "success"),
    ]
    rows = [m["task"]["processed_rows"] for m in mine if m["type"] == "task.progress"]
    assert rows == [500, 1000, 1500, 2000]
    progress = [m["task"]["progress"] for m in mine if m["type"] == "task.progress"]
    assert progress == sorted(progress) and 80 <= progress[-1] < 100
    assert mine[-1]["task"]["processed_rows"] == 2345 and mine[-1]["task"]["progress"] == 100
    assert "lease_owner" not in mine[-1]["task"]  # public fields only
    sequences = [int(m["sequence"]) for m in mine]
    assert sequences == sorted(sequences)

    theirs = received(bystander)
    assert {m["task_id"] for m in theirs} == {other["id"]}  # nothing of the watched task
    assert [m["task"]["status"] for m in theirs] == ["pending", "cancelled"]
    assert len(received(everything)) == len(mine) + len(theirs)
    assert len(received(by_source)) == len(mine) + len(theirs)
    for client in (watcher, bystander, everything, by_source):
        client.close()


def test_a_gone_connection_is_removed_and_the_others_still_get_their_messages(api, aws, live, orders):
    register(api, orders)
    store = SubscriptionStore(get_settings())
    # A connection API Gateway has dropped without a $disconnect reaching us (its records remain).
    store.open("gone-connection", "tester@example.com")
    store.subscribe("gone-connection", ["all", "data_source:ds_orders"])
    listener = subscribe(live, all=True)
    source = stream_source(aws)
    task = create(api)
    publish(source)
    assert store.topics("gone-connection") is None
    assert store.subscribers(["all", "data_source:ds_orders"]) == set(live.connections)
    assert [m["task_id"] for m in received(listener)] == [task["id"]]
    listener.close()


def test_the_publisher_closes_connections_whose_token_has_expired(api, aws, live, orders):
    register(api, orders)
    # Expired 30 s ago: inside the 60 s of clock-skew leeway, so it connects, and its first push finds it over.
    stale = subscribe(live, token=USER_POOL.issue("late", ALL_SCOPES, ttl_seconds=-30), all=True)
    fresh = subscribe(live, all=True)
    source = stream_source(aws)
    task = create(api)
    publish(source)
    from websockets.exceptions import ConnectionClosed

    messages = []
    with pytest.raises(ConnectionClosed):  # the publisher closes it after saying why
        while True:
            messages.append(json.loads(stale.recv(timeout=2)))
    assert [(m["type"], m["code"]) for m in messages] == [("error", "TOKEN_EXPIRED")]  # no task change reached it
    assert [m["task_id"] for m in received(fresh)] == [task["id"]]
    store = SubscriptionStore(get_settings())
    open_ones = [c for c in live.connections if store.topics(c) is not None]
    assert len(open_ones) == 1  # the stale connection's records went with it
    fresh.close()


def test_disconnect_forgets_the_connection_and_its_subscriptions(aws, live):
    client = subscribe(live, all=True, task_ids=["task_01M8F5WN6MGNT4KP4MPE6TDYBH"])
    (connection_id,) = live.connections
    store = SubscriptionStore(get_settings())
    assert store.topics(connection_id) == {"all", "task:task_01M8F5WN6MGNT4KP4MPE6TDYBH"}
    client.close()
    for _ in range(50):
        if store.topics(connection_id) is None:
            break
        time.sleep(0.05)
    assert store.topics(connection_id) is None and store.subscribers(["all"]) == set()


def test_connect_is_authenticated_like_the_rest_api(aws, live):
    for token, status in (
        (None, 401),
        ("not-a-token", 401),
        (USER_POOL.issue("x", ["synchub/write"]), 403),
        (USER_POOL.issue("x", ALL_SCOPES, token_use="id"), 401),
        (USER_POOL.issue("x", ALL_SCOPES, ttl_seconds=-90), 401),
        (LocalUserPool().issue("x", ALL_SCOPES), 401),
    ):  # signed by a key the pool never had
        with pytest.raises(InvalidStatus) as refused:
            connect(live.url + (f"/?token={token}" if token else ""), open_timeout=5)
        assert refused.value.response.status_code == status, token
    # Clocks differ by seconds: a token issued "5 s in the future", or expired 10 s ago, still connects.
    for skewed in (
        USER_POOL.issue("x", ALL_SCOPES, issued_at=time.time() + 5),
        USER_POOL.issue("x", ALL_SCOPES, ttl_seconds=-10),
    ):
        with connect(live.url + f"/?token={skewed}", open_timeout=5):
            pass
    # A read-only token may watch; so may a token in the Authorization header (scripts).
    reader = USER_POOL.issue("reader", ["synchub/read"])
    with connect(live.url, additional_headers={"Authorization": f"Bearer {reader}"}, open_timeout=5):
        pass
    assert SubscriptionStore(get_settings()).subscribers(["all"]) == set()


def test_a_key_the_pool_retired_is_not_trusted_past_the_key_sets_hour(aws, monkeypatch):
    """A warm container keeps the user pool's key set an hour; once the pool has retired a key, tokens it
    signed are refused when the set is fetched again, however often that key was used before."""
    from types import SimpleNamespace

    import jwt.jwk_set_cache

    from synchub.auth.callers import Unauthenticated
    from synchub.auth.tokens import verify_access_token

    keys = StaticContent({"/jwks.json": json.dumps(USER_POOL.jwks()).encode()}, "application/json")
    monkeypatch.setenv("JWKS_URL", keys.url("/jwks.json"))
    import synchub.runtime

    synchub.runtime.reset()
    old_token = USER_POOL.issue("old", ALL_SCOPES)
    for _ in range(3):
        assert verify_access_token(old_token, get_settings()).id == "old"
    replacement = LocalUserPool()  # the pool rotates: only the new key is published
    keys.content["/jwks.json"] = json.dumps(replacement.jwks()).encode()
    later = time.monotonic() + 3601  # the cached set's hour has passed (its own clock, not the process's)
    monkeypatch.setattr(jwt.jwk_set_cache, "time", SimpleNamespace(monotonic=lambda: later))
    with pytest.raises(Unauthenticated):
        verify_access_token(old_token, get_settings())
    assert verify_access_token(replacement.issue("new", ALL_SCOPES), get_settings()).id == "new"
    keys.close()


def test_bad_messages_get_problem_answers_and_change_nothing(aws, live):
    with connect(f"{live.url}/?token={TESTER_TOKEN}", open_timeout=5) as client:
        (connection_id,) = live.connections
        for message, code in (
            (b"{not json", "VALIDATION_FAILED"),
            ({"action": "subscribe"}, "VALIDATION_FAILED"),
            ({"action": "subscribe", "task_ids": ["nope"]}, "VALIDATION_FAILED"),
            ({"action": "subscribe", "task_ids": "task_x"}, "VALIDATION_FAILED"),
            ({"action": "subscribe", "all": True, "colour": "red"}, "VALIDATION_FAILED"),
        ):
            client.send(message if isinstance(message, bytes) else json.dumps(message))
            reply = json.loads(client.recv(timeout=5))
            assert (reply["type"], reply["status"], reply["code"]) == ("error", 422, code), reply
        client.send(json.dumps({"action": "dance"}))
        unknown = json.loads(client.recv(timeout=5))  # the $default route answers an unknown action
        assert unknown["code"] == "VALIDATION_FAILED" and unknown["errors"][0]["loc"] == ["action"]
        assert SubscriptionStore(get_settings()).topics(connection_id) == set()
        client.send(
            json.dumps(
                {"action": "subscribe", "task_ids": [f"task_01M8F5WN6MGNT4KP4MPE6T{n:04d}"[:31] for n in range(50)]}
            )
        )
        assert json.loads(client.recv(timeout=5))["type"] == "subscribed"
        client.send(json.dumps({"action": "subscribe", "data_source_ids": [f"ds_{n}" for n in range(50)], "all": True}))
        refused = json.loads(client.recv(timeout=5))
        assert refused["code"] == "VALIDATION_FAILED" and "at most 100" in refused["detail"]
        client.send(
            json.dumps(
                {"action": "unsubscribe", "task_ids": [f"task_01M8F5WN6MGNT4KP4MPE6T{n:04d}"[:31] for n in range(50)]}
            )
        )
        assert json.loads(client.recv(timeout=5))["type"] == "unsubscribed"
        assert SubscriptionStore(get_settings()).topics(connection_id) == set()


def bus_listener(aws) -> str:
    """A rule on the stack's bus for SyncHub state changes, delivering to a queue the test reads."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    url = sqs.create_queue(QueueName="state-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name="synchub-state-changes",
        EventBusName=aws.refs["EventBus"],
        EventPattern=json.dumps({"source": ["synchub"], "detail-type": ["SyncTask State Change"]}),
    )
    events.put_targets(
        Rule="synchub-state-changes", EventBusName=aws.refs["EventBus"], Targets=[{"Id": "queue", "Arn": arn}]
    )
    return url


def read_queue(url: str) -> list[dict[str, Any]]:
    sqs, found = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
    return found


def test_every_status_change_is_an_eventbridge_event(api, aws, live, orders):
    register(api, orders)
    queue = bus_listener(aws)
    source = stream_source(aws)
    task = create(api)
    orders.fail(404, times=1)  # a permanent source error: the task fails
    drain(aws)
    publish(source)
    events = read_queue(queue)
    assert [(e["detail"]["old_status"], e["detail"]["new_status"]) for e in events] == [
        (None, "pending"),
        ("pending", "running"),
        ("running", "failed"),
    ]
    last = events[-1]
    assert last["source"] == "synchub" and last["detail-type"] == "SyncTask State Change"
    assert last["detail"]["task_id"] == task["id"] and last["detail"]["data_source_id"] == "ds_orders"
    assert last["detail"]["task_type"] == "full_sync" and last["detail"]["error_code"] == "SOURCE_ERROR"
    assert last["detail"]["error_message"] and last["detail"]["processed_rows"] == 0


def webhook_source(aws) -> QueueEventSource:
    function = FUNCTIONS["WebhookDeliveryFunction"]
    return QueueEventSource.from_template(function, function.spec.events_of("SQS")[0], aws, boto3.client("sqs"))


def test_a_failing_webhook_is_retried_without_holding_up_the_task(api, aws, live, orders):
    receiver = RecordingEndpoint("/hooks/synchub")
    receiver.statuses = [500, 503]  # the endpoint fails twice, then takes the delivery
    secret = "whsec-0123456789abcdef"
    register(api, orders, ds="ds_hooked")
    updated = api.put(
        "/api/sync/data-sources/ds_hooked",
        {
            **{
                k: v
                for k, v in api.get("/api/sync/data-sources/ds_hooked").json.items()
                if k in ("name", "type", "connection_config", "params_config")
            },
            "notify_url": receiver.url,
            "notify_secret": secret,
        },
    )
    assert updated.status == 200, updated.text
    assert updated.json["notify_secret_set"] is True and secret not in updated.text
    source = stream_source(aws)
    task = create(api, ds="ds_hooked")
    drain(aws)
    publish(source)
    # The task finished, and its changes were published, before any call to the endpoint.
    assert api.get(f"/api/sync/tasks/{task['id']}").json["status"] == "success"
    assert receiver.requests == []
    deliveries = webhook_source(aws)
    for _ in range(3):
        assert deliveries.poll_once() == 1
    assert deliveries.poll_once() == 0  # delivered: nothing left to retry
    assert len(receiver.requests) == 3
    ids = {r["headers"]["synchub-delivery"] for r in receiver.requests}
    assert ids == {f"{task['id']}.success"}
    assert len({r["body"] for r in receiver.requests}) == 1  # the same event every time
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert verify_signature(secret, body, headers["synchub-timestamp"], headers["synchub-signature"])
        # The recipe in the README, by hand: HMAC-SHA256 of "<timestamp>.<raw body>", hex, after "v1=".
        expected = hmac.new(
            secret.encode(), headers["synchub-timestamp"].encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert headers["synchub-signature"] == f"v1={expected}"
        assert not verify_signature(
            "another-secret-of-16", body, headers["synchub-timestamp"], headers["synchub-signature"]
        )
    event = json.loads(receiver.requests[-1]["body"])
    assert event["type"] == "task.success" and event["data"]["task"]["id"] == task["id"]
    assert event["data"]["task"]["processed_rows"] == 2345
    receiver.close()


def test_a_notify_url_is_a_secret_masked_everywhere_but_used_for_delivery(api, aws, live, orders, capsys):
    """Slack-style URLs carry their credential in the path: answers show the origin only, pushes and webhook
    bodies too, logs never hold it, a PUT that sends the mask back keeps it, and the delivery goes to it."""
    receiver = RecordingEndpoint("/hooks/T000/B000/XXXXSECRETXXXX")
    register(api, orders, ds="ds_hooked")
    shown = api.get("/api/sync/data-sources/ds_hooked").json
    updated = api.put(
        "/api/sync/data-sources/ds_hooked",
        {
            **{k: v for k, v in shown.items() if k in ("name", "type", "connection_config", "params_config")},
            "notify_url": receiver.url,
        },
    )
    masked = receiver.url.split("/hooks")[0] + "/********"
    assert updated.status == 200 and updated.json["notify_url"] == masked, updated.text
    again = api.put(
        "/api/sync/data-sources/ds_hooked",
        {
            **{
                k: v
                for k, v in updated.json.items()
                if k in ("name", "type", "connection_config", "params_config", "notify_url")
            },
            "description": "mask kept",
        },
    )
    assert again.status == 200 and again.json["notify_url"] == masked
    task_hook = RecordingEndpoint("/hooks/task-secret-path")
    watcher = subscribe(live, all=True)
    source = stream_source(aws)
    task = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_hooked", "task_type": "full_sync", "notify_url": task_hook.url}
    )
    assert task.status == 201 and task.json["notify_url"] == task_hook.url.split("/hooks")[0] + "/********"
    plain = create(api, ds="ds_hooked")  # no notify_url of its own: the data source's
    drain(aws)
    publish(source)
    deliveries = webhook_source(aws)
    while deliveries.poll_once():
        pass
    assert len(task_hook.requests) == 1 and len(receiver.requests) == 1  # each went to its real URL
    assert json.loads(receiver.requests[0]["body"])["data"]["task"]["id"] == plain["id"]
    pushed = json.dumps(received(watcher))
    listed = api.get("/api/sync/tasks?size=100").text + api.get("/api/sync/data-sources").text
    logged = capsys.readouterr()
    for secret_path in ("XXXXSECRETXXXX", "task-secret-path"):
        for where, text in (
            ("pushes", pushed),
            ("answers", listed),
            ("logs", logged.out + logged.err),
            ("webhook bodies", str([r["body"] for r in task_hook.requests + receiver.requests])),
        ):
            assert secret_path not in text, f"{secret_path} in {where}"
    watcher.close()
    receiver.close()
    task_hook.close()


def test_a_failed_delivery_waits_a_doubling_backoff(api, aws, live, orders, monkeypatch):
    monkeypatch.setenv("WEBHOOK_RETRY_BASE_SECONDS", "10")
    get_settings.cache_clear()
    receiver = RecordingEndpoint("/hooks/synchub")
    receiver.statuses = [500]
    register(api, orders)
    source = stream_source(aws)
    response = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_orders", "task_type": "full_sync", "notify_url": receiver.url}
    )
    assert response.status == 201 and response.json["notify_url"] == receiver.url.replace("/hooks/synchub", "/********")
    drain(aws)
    publish(source)
    deliveries = webhook_source(aws)
    assert deliveries.poll_once() == 1 and len(receiver.requests) == 1
    assert deliveries.poll_once() == 0  # not visible again before its 10 s backoff
    url = aws.refs["WebhookQueue"]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "1"
    # Signed with the stack's secret: the data source has no notify_secret.
    stack_secret = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=aws.refs["WebhookSigningSecret"])["SecretString"]
    )["signing_secret"]
    headers = receiver.requests[0]["headers"]
    assert verify_signature(
        stack_secret, receiver.requests[0]["body"], headers["synchub-timestamp"], headers["synchub-signature"]
    )
    receiver.close()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "not a url", "http://user:pw@example.com/hook", "https://" + "a" * 2050 + ".com"]
)
def test_bad_notify_urls_are_refused(api, aws, url):
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_x",
            "name": "x",
            "type": "http",
            "connection_config": {"base_url": "http://api.example.invalid"},
            "notify_url": url,
        },
    )
    assert response.status == 422 and response.json["errors"][0]["loc"][-1] == "notify_url", response.text
    assert api.get("/api/sync/data-sources/ds_x").status == 404


def test_webhooks_to_private_addresses_are_dropped_not_retried(api, aws, live, orders, monkeypatch):
    receiver = RecordingEndpoint("/hooks/synchub")
    register(api, orders)
    source = stream_source(aws)
    response = api.post(
        "/api/sync/tasks", {"data_source_id": "ds_orders", "task_type": "full_sync", "notify_url": receiver.url}
    )
    assert response.status == 201
    drain(aws)
    publish(source)
    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "false")  # the delivery function runs as deployed
    import synchub.runtime

    synchub.runtime.reset()
    deliveries = webhook_source(aws)
    assert deliveries.poll_once() == 1
    assert deliveries.poll_once() == 0  # dropped: nothing to retry
    url = aws.refs["WebhookQueue"]
    attributes = boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert receiver.requests == []  # 127.0.0.1 was never called
    receiver.close()


class HeldEndpoint:
    """A webhook endpoint on 127.0.0.1 that holds every request until released, counting how many it holds at
    once."""

    def __init__(self) -> None:
        import threading

        from tests.helpers import QuietHandler, serve_on_loopback

        self.release = threading.Event()
        self.lock = threading.Lock()
        self.holding = self.most_at_once = 0
        endpoint = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with endpoint.lock:
                    endpoint.holding += 1
                    endpoint.most_at_once = max(endpoint.most_at_once, endpoint.holding)
                endpoint.release.wait(30)
                with endpoint.lock:
                    endpoint.holding -= 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = serve_on_loopback(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def test_a_batch_of_webhooks_is_posted_in_parallel_and_only_the_late_ones_are_retried(aws, live, monkeypatch):
    """Ten deliveries in sequence, each up to DNS + 5 s + 5 s, could outlast the function's 60 s, and a timeout
    would send all ten again. In parallel within one deadline, the batch ends in time and only the deliveries
    that did not finish come back."""
    import synchub.notify.webhooks

    monkeypatch.setenv("WEBHOOK_DEADLINE_SECONDS", "2")
    get_settings.cache_clear()
    synchub.notify.webhooks.webhook_sender.cache_clear()
    held, quick = HeldEndpoint(), RecordingEndpoint("/hooks")
    sqs, queue = boto3.client("sqs"), aws.refs["WebhookQueue"]
    for number in range(10):
        url = held.url if number % 2 else quick.url
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=json.dumps(
                {
                    "delivery_id": f"task_x.success.{number}",
                    "url": url,
                    "secret_arn": aws.refs["WebhookSigningSecret"],
                    "body": json.dumps({"number": number}),
                }
            ),
        )
    deliveries = webhook_source(aws)
    try:
        assert deliveries.poll_once() == 10  # one invocation (BatchSize 10)
        assert held.most_at_once == 5  # the five slow ones were all in flight together
        assert len(quick.requests) == 5
        held.release.set()
        assert deliveries.poll_once() == 5  # only the late ones come back (no backoff in tests)
        assert len(quick.requests) == 5  # the delivered ones are not sent again
        assert deliveries.poll_once() == 0
    finally:
        held.close()
        quick.close()
        synchub.notify.webhooks.webhook_sender.cache_clear()


def test_pause_and_resume_are_status_changes_on_the_bus(api, aws, live, orders):
    register(api, orders)
    queue = bus_listener(aws)
    source = stream_source(aws)
    task = create(api)
    assert api.post(f"/api/sync/tasks/{task['id']}/pause").status == 200
    assert api.post(f"/api/sync/tasks/{task['id']}/resume").status == 202
    drain(aws)
    publish(source)
    assert [(e["detail"]["old_status"], e["detail"]["new_status"]) for e in read_queue(queue)] == [
        (None, "pending"),
        ("pending", "paused"),
        ("paused", "pending"),
        ("pending", "running"),
        ("running", "success"),
    ]
