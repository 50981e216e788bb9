"""One outbound policy on every path that connects where a user says (HTTP source syncs, the connection test,
webhooks, database and broker sources): forbidden addresses in every spelling, names resolving to them, a
name whose answer changes, next links and redirects that leave the source's origin. Refused with
DESTINATION_NOT_ALLOWED, nothing fetched, no credential sent; allowed when the operator lists the network
or under make run's policy."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.functional.test_engine import drain
from tests.network import PRIVATE_ADDRESS, PUBLIC_ADDRESS, PublicServer, Recorder, SimulatedNetwork

TOKEN = "tok-never-leaves-its-origin"
# Every spelling of a forbidden destination, with the port the recorder listens on filled in later.
FORBIDDEN = [
    "127.0.0.1",
    "localhost",
    "[::1]",
    "0.0.0.0",
    "169.254.169.254",
    "2130706433",
    "0x7f000001",
    "[::ffff:127.0.0.1]",
    "private.example",
    "metadata.example",
]
LOCAL_ONLY = ["127.0.0.1", "localhost", "0.0.0.0", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]", "private.example"]
KINDS = ["http", "postgresql", "mysql", "kafka", "mqtt", "redis"]


@pytest.fixture(scope="module")
def servers():
    recorder, public = Recorder(), PublicServer()
    yield recorder, public
    recorder.close()
    public.close()


@pytest.fixture
def network(monkeypatch, servers):
    network = SimulatedNetwork(monkeypatch)
    recorder, public = servers
    recorder.connections.clear()
    public.requests.clear()
    network.recorder, network.public = recorder, public
    network.name("api.public.example", PUBLIC_ADDRESS)
    network.name("private.example", PRIVATE_ADDRESS)
    network.name("metadata.example", "169.254.169.254")
    network.route(PUBLIC_ADDRESS, 80, public.port)
    network.route(PRIVATE_ADDRESS, recorder.port, recorder.port)
    return network


def use_policy(monkeypatch, *, local=False, networks=""):
    from synchub.settings import get_settings

    monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true" if local else "false")
    monkeypatch.setenv("ALLOWED_PRIVATE_NETWORKS", networks)
    get_settings.cache_clear()


def connection(kind, host, port):
    if kind == "http":
        return {"base_url": f"http://{host}:{port}/", "token": TOKEN}
    if kind == "kafka":
        return {"bootstrap_servers": f"{host}:{port}"}
    config = {"host": host.strip("[]") if kind in ("postgresql", "mysql") else host, "port": port, "password": TOKEN}
    if kind in ("postgresql", "mysql"):
        config.update(database="shop", user="sync")
    return config


PARAMS = {
    "http": {"records_path": "items"},
    "postgresql": {"table_name": "orders"},
    "mysql": {"table_name": "orders"},
    "kafka": {"topic": "orders"},
    "mqtt": {"topic_filter": "orders/#"},
    "redis": {"stream_key": "orders"},
}


def saved_source(api, monkeypatch, kind, config, params=None, ds="ds_out"):
    """A data source saved as if before the operator narrowed the policy (the create-time check is skipped):
    the run-time checks are what stands between it and the address."""
    with monkeypatch.context() as saving:
        saving.setattr("synchub.sources.data_sources.refuse_named", lambda *args: None)
        response = api.post(
            "/api/sync/data-sources",
            {
                "id": ds,
                "name": "outbound",
                "type": kind,
                "connection_config": config,
                "params_config": params or PARAMS[kind],
            },
        )
    assert response.status == 201, response.text
    use_policy(monkeypatch)
    return ds


def assert_nothing_reached(network):
    assert network.recorder.connections == [], "a forbidden address was connected to"
    assert all(TOKEN.encode() not in data for data in network.recorder.connections)


@pytest.mark.parametrize("kind", KINDS)
def test_a_host_that_can_never_be_allowed_is_refused_when_saved(api, aws, kind):
    for host in FORBIDDEN[:8]:
        response = api.post(
            "/api/sync/data-sources",
            {
                "id": "ds_out",
                "name": "x",
                "type": kind,
                "connection_config": connection(kind, host, 5000),
                "params_config": PARAMS[kind],
            },
        )
        assert response.status == 422 and response.json["code"] == "DESTINATION_NOT_ALLOWED", (host, response.text)
        assert response.json["errors"][0]["loc"][:2] == ["body", "connection_config"]
        assert api.get("/api/sync/data-sources/ds_out").status == 404  # nothing stored


def test_a_notify_url_that_can_never_be_allowed_is_refused(api, aws, data_source):
    for host in FORBIDDEN[:8]:
        task = api.post(
            "/api/sync/tasks",
            {"data_source_id": "ds_test", "task_type": "full_sync", "notify_url": f"http://{host}:8080/hook"},
        )
        assert task.status == 422 and task.json["code"] == "DESTINATION_NOT_ALLOWED", (host, task.text)
    assert api.get("/api/sync/tasks").json["tasks"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_the_connection_test_never_reaches_a_forbidden_address(api, aws, network, monkeypatch, kind):
    for number, host in enumerate(FORBIDDEN):
        ds = saved_source(api, monkeypatch, kind, connection(kind, host, network.recorder.port), ds=f"ds_{number}")
        result = api.post(f"/api/sync/data-sources/{ds}/test").json
        assert result["ok"] is False and result["error_code"] == "DESTINATION_NOT_ALLOWED", (host, result)
        assert "Not allowed to connect" in result["error_message"] and not result.get("sample")
        assert_nothing_reached(network)


@pytest.mark.parametrize("kind", ["http", "postgresql", "redis"])
def test_a_sync_to_a_forbidden_address_fails_for_good(api, aws, network, monkeypatch, kind):
    for number, host in enumerate(FORBIDDEN):
        ds = saved_source(api, monkeypatch, kind, connection(kind, host, network.recorder.port), ds=f"ds_{number}")
        task = api.post("/api/sync/tasks", {"data_source_id": ds, "task_type": "full_sync"}).json
        drain(aws)
        done = api.get(f"/api/sync/tasks/{task['id']}").json
        assert done["status"] == "failed" and done["error_code"] == "DESTINATION_NOT_ALLOWED", (host, done)
        assert done["error_count"] == 1 and done.get("next_attempt_at") is None  # failed once, not retried
        assert_nothing_reached(network)


def target_url(host, network):
    return f"http://{host}:{network.recorder.port}/items"


@pytest.mark.parametrize("code", [301, 302, 307])
def test_redirects_out_of_the_origin_are_not_followed(api, aws, network, monkeypatch, code):
    network.name("other.public.example", PUBLIC_ADDRESS)
    for number, host in enumerate([*FORBIDDEN, "other.public.example"]):
        network.public.requests.clear()
        ds = saved_source(
            api,
            monkeypatch,
            "http",
            {"base_url": "http://api.public.example/", "token": TOKEN},
            {
                "records_path": "items",
                "url_suffix": "/redirect",
                "query_params": {"code": code, "to": target_url(host, network)},
            },
            ds=f"ds_{number}",
        )
        result = api.post(f"/api/sync/data-sources/{ds}/test").json
        assert result["ok"] is False and result["error_code"] == "DESTINATION_NOT_ALLOWED", (host, result)
        assert [r["path"] for r in network.public.requests] == ["/redirect"]  # the other origin was never asked
        assert_nothing_reached(network)


def test_an_absolute_next_link_to_another_origin_is_not_followed(api, aws, network, monkeypatch):
    network.name("other.public.example", PUBLIC_ADDRESS)
    for number, host in enumerate([*FORBIDDEN, "other.public.example"]):
        network.public.requests.clear()
        ds = saved_source(
            api,
            monkeypatch,
            "http",
            {"base_url": "http://api.public.example/", "token": TOKEN},
            {
                "records_path": "items",
                "url_suffix": "/linked",
                "query_params": {"to": target_url(host, network)},
                "pagination": {"style": "next_link", "next_link_path": "next", "size_param": None},
            },
            ds=f"ds_{number}",
        )
        task = api.post("/api/sync/tasks", {"data_source_id": ds, "task_type": "full_sync"}).json
        drain(aws)
        done = api.get(f"/api/sync/tasks/{task['id']}").json
        assert done["status"] == "failed" and done["error_code"] == "DESTINATION_NOT_ALLOWED", (host, done)
        assert "next_link" in done["error_message"]
        assert [r["path"] for r in network.public.requests] == ["/linked"]
        assert_nothing_reached(network)


def test_a_redirect_and_a_next_link_within_the_origin_are_followed(api, aws, network, monkeypatch):
    ds = saved_source(
        api,
        monkeypatch,
        "http",
        {"base_url": "http://api.public.example/", "token": TOKEN},
        {"records_path": "items", "url_suffix": "/redirect", "query_params": {"code": 307, "to": "/items?page=1"}},
    )
    result = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert result["ok"] is True and [row["id"] for row in result["sample"]] == [1, 2], result
    assert [r["path"] for r in network.public.requests] == ["/redirect", "/items"]
    assert all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in network.public.requests)


def test_a_name_whose_answer_changes_is_resolved_once(api, aws, network, monkeypatch):
    """DNS rebinding: the first answer is public, every later one loopback. The connection goes to the checked
    public address; the loopback listener never hears from SyncHub."""
    network.changing_name("rebind.example", PUBLIC_ADDRESS, "127.0.0.1")
    network.route(PUBLIC_ADDRESS, network.recorder.port, network.public.port)
    ds = saved_source(api, monkeypatch, "http", connection("http", "rebind.example", network.recorder.port))
    result = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert result["ok"] is True and [row["id"] for row in result["sample"]] == [1, 2], result
    assert network.lookups.count("rebind.example") == 1
    assert_nothing_reached(network)


def test_the_first_answer_private_refuses_the_name(api, aws, network, monkeypatch):
    network.changing_name("flip.example", "127.0.0.1", PUBLIC_ADDRESS)
    ds = saved_source(api, monkeypatch, "http", connection("http", "flip.example", network.recorder.port))
    result = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert result["ok"] is False and result["error_code"] == "DESTINATION_NOT_ALLOWED"
    assert "flip.example resolves to 127.0.0.1" in result["error_message"]
    assert_nothing_reached(network)


# ---- webhooks ---------------------------------------------------------------------------------------------
@pytest.fixture
def sender(aws):
    from synchub.notify.webhooks import WebhookSender
    from synchub.settings import get_settings

    arn = boto3.client("secretsmanager").create_secret(
        Name="hook-secret", SecretString=json.dumps({"signing_secret": "whsec"})
    )["ARN"]

    def send(url):
        return WebhookSender(get_settings()).send(
            {"delivery_id": "d1", "url": url, "secret_arn": arn, "body": json.dumps({"id": "d1"})}
        )

    return send


def test_a_webhook_to_a_forbidden_address_is_dropped(network, monkeypatch, sender):
    from synchub.notify.webhooks import Undeliverable

    use_policy(monkeypatch)
    for host in FORBIDDEN:
        with pytest.raises(Undeliverable, match="not allowed to connect"):
            sender(target_url(host, network))
    assert_nothing_reached(network)


@pytest.mark.parametrize("code", [301, 302, 307])
def test_a_webhook_endpoint_that_redirects_is_not_followed(network, monkeypatch, sender, code):
    from urllib.parse import quote

    from synchub.notify.webhooks import DeliveryFailed

    use_policy(monkeypatch)
    for host in [*FORBIDDEN, "api.public.example"]:
        network.public.requests.clear()
        with pytest.raises(DeliveryFailed, match=f"answered {code} \\(redirects are not followed\\)"):
            sender(f"http://api.public.example/redirect?code={code}&to={quote(target_url(host, network))}")
        assert [r["path"] for r in network.public.requests] == ["/redirect"], host
    assert_nothing_reached(network)


# ---- the same addresses where they are allowed -----------------------------------------------------------
def test_make_runs_policy_reaches_this_machine_and_its_networks(api, aws, network, monkeypatch):
    for number, host in enumerate(LOCAL_ONLY):
        ds = saved_source(api, monkeypatch, "http", connection("http", host, network.recorder.port), ds=f"ds_{number}")
        use_policy(monkeypatch, local=True)
        result = api.post(f"/api/sync/data-sources/{ds}/test").json
        assert result["ok"] is True and result["sample"] == [{"id": 999, "stolen": True}], (host, result)
        assert len(network.recorder.connections) == number + 1


@pytest.mark.parametrize("host", ["169.254.169.254", "metadata.example"])
def test_instance_metadata_stays_out_of_reach_under_make_run(api, aws, network, monkeypatch, host):
    ds = saved_source(api, monkeypatch, "http", connection("http", host, network.recorder.port))
    use_policy(monkeypatch, local=True)
    result = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert result["ok"] is False and result["error_code"] == "DESTINATION_NOT_ALLOWED", result


def test_a_private_network_the_operator_lists_is_reached_and_others_are_not(api, aws, network, monkeypatch):
    ds = saved_source(api, monkeypatch, "http", connection("http", "private.example", network.recorder.port))
    use_policy(monkeypatch, networks="10.20.0.0/16,fd00::/8")
    allowed = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert allowed["ok"] is True and len(network.recorder.connections) == 1, allowed
    use_policy(monkeypatch, networks="10.99.0.0/16")
    refused = api.post(f"/api/sync/data-sources/{ds}/test").json
    assert refused["ok"] is False and refused["error_code"] == "DESTINATION_NOT_ALLOWED"
    assert "AllowedPrivateNetworks" in refused["error_message"] and len(network.recorder.connections) == 1
    use_policy(monkeypatch, networks="127.0.0.0/8")  # loopback is never allowed deployed, even listed
    ds2 = saved_source(api, monkeypatch, "http", connection("http", "127.0.0.1", network.recorder.port), ds="ds_lo")
    use_policy(monkeypatch, networks="127.0.0.0/8")
    assert api.post(f"/api/sync/data-sources/{ds2}/test").json["error_code"] == "DESTINATION_NOT_ALLOWED"
    assert len(network.recorder.connections) == 1


# ---- a stored secret stays with its host (issue: PUT with the mask and a new host) -----------------------
def test_a_masked_secret_never_reaches_a_changed_host(api, aws, network, monkeypatch):
    """Even where the new host is allowed (make run's policy, the recorder on this machine), a PUT keeping the
    mask while moving the host is 422, and no connection reaches the new host, by the test or by a sync."""
    use_policy(monkeypatch, local=True)
    for kind in ("postgresql", "mysql", "redis", "mqtt", "http"):
        created = api.post(
            "/api/sync/data-sources",
            {
                "id": f"ds_{kind}",
                "name": kind,
                "type": kind,
                "params_config": PARAMS[kind],
                "connection_config": connection(kind, "db.example.invalid", 5432),
            },
        )
        assert created.status == 201, created.text
        shown = created.json
        moved = {
            **shown["connection_config"],
            **(
                {"base_url": f"http://127.0.0.1:{network.recorder.port}/"}
                if kind == "http"
                else {"host": "127.0.0.1", "port": network.recorder.port}
            ),
        }
        answer = api.put(
            f"/api/sync/data-sources/{shown['id']}",
            {**{k: shown[k] for k in ("name", "type", "params_config")}, "connection_config": moved},
        )
        assert answer.status == 422 and answer.json["errors"][0]["type"] == "secret_bound_to_connection", answer.text
        api.post(f"/api/sync/data-sources/{shown['id']}/test")
        api.post("/api/sync/tasks", {"data_source_id": shown["id"], "task_type": "full_sync"})
    drain(aws)
    assert network.recorder.connections == []  # nothing was sent to the new host, with or without the secret
