"""Data-source registry routes, and secrets that are write-only."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from local.seeding import SEEDING_LEASE_OWNER, run_task
from synchub.models.secrets import MASK
from tests.functional.test_tasks_api import CREATE, assert_problem

SECRET_VALUES = ("hunter2-pg-password", "tok_live_abcdef", "Bearer very-secret-jwt", "sk-api-key-999")

PG = {
    "id": "ds_pg",
    "name": "Orders DB",
    "type": "postgresql",
    "connection_config": {
        "host": "db.internal",
        "port": 5432,
        "database": "shop",
        "user": "reader",
        "password": SECRET_VALUES[0],
    },
    "params_config": {"table_name": "orders"},
}
HTTP = {
    "id": "ds_http",
    "name": "CRM API",
    "type": "http",
    "connection_config": {
        "base_url": "https://crm.example.com/v2",
        "token": SECRET_VALUES[1],
        "headers": {"Authorization": SECRET_VALUES[2], "X-Api-Key": SECRET_VALUES[3], "Accept": "application/json"},
    },
}


def test_crud_round_trip(api):
    created = api.post("/api/sync/data-sources", PG)
    assert created.status == 201, created.text
    assert created.headers["location"] == "/api/sync/data-sources/ds_pg"
    source = created.json
    assert source["connection_config"]["password"] == "********"
    assert source["connection_config"]["host"] == "db.internal" and source["has_secrets"] is True
    assert api.get("/api/sync/data-sources/ds_pg").json == source

    listing = api.get("/api/sync/data-sources").json
    assert [s["id"] for s in listing["data_sources"]] == ["ds_pg"]

    replaced = api.put(
        "/api/sync/data-sources/ds_pg", {**{k: v for k, v in PG.items() if k != "id"}, "name": "Orders (replica)"}
    )
    assert replaced.status == 200 and replaced.json["name"] == "Orders (replica)"

    assert api.delete("/api/sync/data-sources/ds_pg").status == 204
    assert_problem(api.get("/api/sync/data-sources/ds_pg"), 404, "DATA_SOURCE_NOT_FOUND")
    assert_problem(api.delete("/api/sync/data-sources/ds_pg"), 404, "DATA_SOURCE_NOT_FOUND")


def test_generated_id_and_listing_newest_first(api):
    ids = []
    for n in range(3):
        body = {**HTTP, "name": f"api {n}"}
        body.pop("id")
        ids.append(api.post("/api/sync/data-sources", body).json["id"])
    assert all(i.startswith("ds_") for i in ids)
    listing = api.get("/api/sync/data-sources?size=2").json
    assert [s["id"] for s in listing["data_sources"]] == ids[::-1][:2] and listing["pagination"]["has_more"]
    assert [s["id"] for s in api.get("/api/sync/data-sources?size=2&page=2").json["data_sources"]] == ids[:1]


def test_secrets_live_in_secrets_manager_and_a_masked_value_keeps_them(api, aws):
    from synchub.sources.data_sources import data_source_service

    api.post("/api/sync/data-sources", HTTP)
    _, resolved = data_source_service().resolved_connection("ds_http")
    assert resolved["token"] == SECRET_VALUES[1]
    assert resolved["headers"]["Authorization"] == SECRET_VALUES[2]
    stored = boto3.client("dynamodb").get_item(TableName=aws.refs["DataSourcesTable"], Key={"id": {"S": "ds_http"}})[
        "Item"
    ]
    assert not any(secret in json.dumps(stored) for secret in SECRET_VALUES)

    shown = api.get("/api/sync/data-sources/ds_http").json
    body = {k: v for k, v in shown.items() if k in ("name", "type", "connection_config", "params_config")}
    body["connection_config"]["headers"]["X-Api-Key"] = "sk-rotated"
    assert api.put("/api/sync/data-sources/ds_http", body).status == 200
    _, resolved = data_source_service().resolved_connection("ds_http")
    assert resolved["token"] == SECRET_VALUES[1] and resolved["headers"]["X-Api-Key"] == "sk-rotated"

    body["connection_config"] = {"base_url": "https://crm.example.com/v3"}
    api.put("/api/sync/data-sources/ds_http", body)
    assert api.get("/api/sync/data-sources/ds_http").json["has_secrets"] is False


def test_mask_without_a_stored_secret_is_422(api):
    body = {**PG, "connection_config": {**PG["connection_config"], "password": "********"}}
    assert_problem(api.post("/api/sync/data-sources", body), 422, "VALIDATION_FAILED")


@pytest.mark.parametrize(
    "body",
    [
        {**PG, "type": "oracle-ish"},
        {**PG, "connection_config": {"host": "db"}},
        {**PG, "connection_config": {**PG["connection_config"], "port": "5432"}},
        {**HTTP, "connection_config": {"base_url": "ftp://x"}},
        {**HTTP, "connection_config": {"base_url": "https://x", "headers": ["a"]}},
        {"id": "ds_f", "name": "files", "type": "file", "connection_config": {"bucket": "b", "format": "xml"}},
        {**PG, "id": "bad id!"},
        {**PG, "name": ""},
        {**PG, "extra": 1},
    ],
)
def test_invalid_data_sources_are_422(api, body):
    assert_problem(api.post("/api/sync/data-sources", body), 422, "VALIDATION_FAILED")
    assert api.get("/api/sync/data-sources").json["data_sources"] == []


def test_duplicate_id_is_409(api):
    api.post("/api/sync/data-sources", PG)
    assert_problem(api.post("/api/sync/data-sources", PG), 409, "DATA_SOURCE_EXISTS")


def test_delete_with_pending_or_running_tasks_is_409(api):
    api.post("/api/sync/data-sources", {**HTTP, "id": "ds_test"})
    first = api.post("/api/sync/tasks", CREATE).json
    second = api.post("/api/sync/tasks", CREATE).json
    run_task(second["id"], outcome="running")
    assert_problem(api.delete("/api/sync/data-sources/ds_test"), 409, "DATA_SOURCE_IN_USE")
    api.post(f"/api/sync/tasks/{first['id']}/cancel")
    assert_problem(api.delete("/api/sync/data-sources/ds_test"), 409, "DATA_SOURCE_IN_USE")
    from synchub.tasks.lifecycle import task_lifecycle

    task_lifecycle().finish_task(second["id"], lease_owner=SEEDING_LEASE_OWNER, status="success", changes={})
    assert api.delete("/api/sync/data-sources/ds_test").status == 204
    assert_problem(api.post("/api/sync/tasks", CREATE), 422, "DATA_SOURCE_NOT_FOUND")
    # finished tasks keep their history
    assert api.get("/api/sync/tasks?data_source_id=ds_test").json["pagination"]["total"] == 2


def test_secrets_never_appear_in_responses_or_logs(api, capsys, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="synchub")
    api.post("/api/sync/data-sources", PG)
    api.post("/api/sync/data-sources", HTTP)
    api.get("/api/sync/data-sources/ds_pg")
    api.get("/api/sync/data-sources/ds_http")
    api.get("/api/sync/data-sources")
    edited = {**{k: v for k, v in HTTP.items() if k != "id"}}
    api.put("/api/sync/data-sources/ds_http", edited)
    api.put("/api/sync/data-sources/ds_http", {**edited, "type": "bogus"})
    api.post("/api/sync/data-sources", HTTP)  # duplicate: an error response
    api.post("/api/sync/data-sources", {**PG, "id": "ds_pg2", "connection_config": {"password": SECRET_VALUES[0]}})
    task = api.post("/api/sync/tasks", {**CREATE, "data_source_id": "ds_http"}).json
    api.get(f"/api/sync/tasks/{task['id']}")
    api.delete("/api/sync/data-sources/ds_pg")
    captured = capsys.readouterr()
    everything = "\n".join(
        [captured.out, captured.err, caplog.text] + [r.text + json.dumps(r.headers) for r in api.log]
    )
    assert len(api.log) == 12 and "ds_http" in everything
    for secret in SECRET_VALUES:
        assert secret not in everything


@pytest.mark.parametrize("query", ["size=0", "size=101", "page=0", "page=abc"])
def test_list_bad_queries_are_422(api, query):
    assert_problem(api.get(f"/api/sync/data-sources?{query}"), 422, "VALIDATION_FAILED")


def test_unknown_ids_and_bad_bodies(api):
    body = {k: v for k, v in PG.items() if k != "id"}
    assert_problem(api.put("/api/sync/data-sources/ds_none", body), 404, "DATA_SOURCE_NOT_FOUND")
    assert_problem(api.get("/api/sync/data-sources/%3Cscript%3E"), 404, "DATA_SOURCE_NOT_FOUND")
    assert_problem(api.post("/api/sync/data-sources", body="{"), 400, "MALFORMED_REQUEST")
    api.post("/api/sync/data-sources", PG)
    assert_problem(api.put("/api/sync/data-sources/ds_pg", {**body, "id": "other"}), 422, "VALIDATION_FAILED")
    assert_problem(
        api.put("/api/sync/data-sources/ds_pg", {**body, "connection_config": {"x" * 10: "y" * 300_000}}),
        413,
        "PAYLOAD_TOO_LARGE",
    )


def test_put_takes_back_what_get_answered_and_refuses_changed_read_only_fields(api, aws):
    created = api.post("/api/sync/data-sources", {**HTTP, "notify_secret": "a-signing-secret-of-16+"}).json
    shown = api.get("/api/sync/data-sources/ds_http").json
    assert shown["has_secrets"] and shown["notify_secret_set"]
    again = api.put("/api/sync/data-sources/ds_http", shown)  # exactly what GET answered
    assert again.status == 200, again.text
    assert {k: v for k, v in again.json.items() if k != "updated_at"} == {
        k: v for k, v in shown.items() if k != "updated_at"
    }  # secrets and the signing secret kept
    vault = boto3.client("secretsmanager")
    own = [s for s in vault.list_secrets()["SecretList"] if "/data-sources/" in s["Name"]]
    assert len(own) == 2 and created["notify_secret_set"]  # the credentials and the signing secret, neither deleted

    now = api.get("/api/sync/data-sources/ds_http").json
    changed = api.put(
        "/api/sync/data-sources/ds_http", {**now, "name": "CRM", "created_at": "2020-01-01T00:00:00Z", "id": "ds_other"}
    )
    assert_problem(changed, 422, "VALIDATION_FAILED")
    assert [e["loc"] for e in changed.json["errors"]] == [["body", "id"], ["body", "created_at"]]
    assert "Read-only field(s) id, created_at cannot be changed" in changed.json["detail"]
    assert api.get("/api/sync/data-sources/ds_http").json["name"] == "CRM API"  # nothing changed


def test_an_empty_patch_keeps_the_webhook_signing_secret(api, aws):
    """A replacement that keeps the signing secret (notify_secret_set, as GET shows it) must not schedule it
    for deletion: the next change then failed on a secret marked deleted (500, found by schemathesis)."""
    api.post("/api/sync/data-sources", {**HTTP, "notify_secret": "a-signing-secret-of-16+"})
    for _ in range(2):
        assert api.patch("/api/sync/data-sources/ds_http", {}).status == 200
    record = boto3.client("dynamodb").get_item(TableName=aws.refs["DataSourcesTable"], Key={"id": {"S": "ds_http"}})
    arn = record["Item"]["notify_secret_arn"]["S"]
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=arn)  # not marked deleted
    assert "a-signing-secret-of-16+" in secret["SecretString"]


def test_patch_merges_into_what_get_shows_and_validates_the_result(api, aws):
    api.post("/api/sync/data-sources", HTTP)
    patched = api.patch(
        "/api/sync/data-sources/ds_http",
        {"description": "the CRM", "connection_config": {"headers": {"X-Api-Key": None}}},
    )
    assert patched.status == 200, patched.text
    config = patched.json["connection_config"]
    assert patched.json["description"] == "the CRM" and patched.json["name"] == "CRM API"
    assert config["headers"] == {"Authorization": "********", "Accept": "application/json"}  # X-Api-Key removed
    assert config["token"] == "********" and config["base_url"] == HTTP["connection_config"]["base_url"]
    vault = boto3.client("secretsmanager")
    (secret,) = [found for found in vault.list_secrets()["SecretList"] if "/data-sources/ds_http/" in found["Name"]]
    stored = vault.get_secret_value(SecretId=secret["ARN"])["SecretString"]
    assert SECRET_VALUES[1] in stored and SECRET_VALUES[2] in stored and SECRET_VALUES[3] not in stored

    bad = api.patch("/api/sync/data-sources/ds_http", {"connection_config": {"base_url": "ftp://x"}})
    assert_problem(bad, 422, "VALIDATION_FAILED")
    assert_problem(api.patch("/api/sync/data-sources/ds_http", {"id": "ds_new"}), 422, "VALIDATION_FAILED")
    assert_problem(api.patch("/api/sync/data-sources/ds_http", ["not", "an", "object"]), 422, "VALIDATION_FAILED")
    assert_problem(api.patch("/api/sync/data-sources/ds_nope", {"name": "x"}), 404, "DATA_SOURCE_NOT_FOUND")
    assert api.get("/api/sync/data-sources/ds_http").json["description"] == "the CRM"  # the failures changed nothing


def test_a_sql_query_without_a_primary_key_is_refused_when_created(api):
    response = api.post("/api/sync/data-sources", {**PG, "params_config": {"query": "SELECT * FROM orders"}})
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert "params_config.query needs params_config.primary_key" in json.dumps(response.json["errors"])
    assert (
        api.post(
            "/api/sync/data-sources", {**PG, "params_config": {"query": "SELECT * FROM orders", "primary_key": "id"}}
        ).status
        == 201
    )


@pytest.mark.parametrize(
    "change, moved",
    [
        ({"host": "attacker.example.com"}, "host"),
        ({"port": 6543}, "port"),
        ({"sslmode": "disable"}, "sslmode"),
    ],
)
def test_a_stored_secret_does_not_follow_a_changed_connection(api, aws, change, moved):
    api.post("/api/sync/data-sources", PG)
    shown = api.get("/api/sync/data-sources/ds_pg").json
    for attempt in (
        api.put(
            "/api/sync/data-sources/ds_pg", {**shown, "connection_config": {**shown["connection_config"], **change}}
        ),
        api.patch("/api/sync/data-sources/ds_pg", {"connection_config": change}),
    ):
        assert_problem(attempt, 422, "VALIDATION_FAILED")
        assert attempt.json["errors"] == [
            {
                "loc": ["body", "connection_config", "password"],
                "type": "secret_bound_to_connection",
                "msg": f"send the secret again ({moved} changed)",
            }
        ]
        assert "send connection_config.password again" in attempt.json["detail"]
    assert api.get("/api/sync/data-sources/ds_pg").json["connection_config"]["host"] == "db.internal"
    # sent again with the change, the new secret goes with it; a change that moves nothing keeps the mask
    again = api.patch("/api/sync/data-sources/ds_pg", {"connection_config": {**change, "password": "new-password"}})
    assert again.status == 200, again.text
    assert api.patch("/api/sync/data-sources/ds_pg", {"name": "renamed"}).status == 200


def test_an_http_secret_stays_with_the_base_urls_origin(api, aws):
    api.post("/api/sync/data-sources", HTTP)
    path_only = api.patch(
        "/api/sync/data-sources/ds_http", {"connection_config": {"base_url": "https://crm.example.com/v3"}}
    )
    assert path_only.status == 200, path_only.text  # same origin: the token still goes there
    elsewhere = api.patch(
        "/api/sync/data-sources/ds_http", {"connection_config": {"base_url": "https://collector.example.net/v3"}}
    )
    assert_problem(elsewhere, 422, "VALIDATION_FAILED")
    assert "The connection's base_url's origin changed" in elsewhere.json["detail"]
    assert {tuple(e["loc"][2:]) for e in elsewhere.json["errors"]} == {
        ("token",),
        ("headers", "Authorization"),
        ("headers", "X-Api-Key"),
    }
    shown = api.get("/api/sync/data-sources/ds_http").json
    moved_back = api.put(
        "/api/sync/data-sources/ds_http",
        {**shown, "connection_config": {**shown["connection_config"], "base_url": "https://CRM.example.com:443/v2"}},
    )
    assert moved_back.status == 200, moved_back.text  # the same origin written differently: the secrets stay
    retyped = api.put(
        "/api/sync/data-sources/ds_http",
        {
            **shown,
            "updated_at": moved_back.json["updated_at"],
            "type": "postgresql",
            "connection_config": {**shown["connection_config"], "host": "h", "database": "d"},
        },
    )
    assert_problem(retyped, 422, "VALIDATION_FAILED")


def _cli_examples() -> list[dict]:
    """The data sources the ``synchub sources create --help`` examples register."""
    import re

    from synchub_cli.main import sources_create

    text = sources_create.__doc__ or ""
    bodies = re.findall(r"synchub sources create '(\{.*?\})'", text.replace("\n", " "), flags=re.S)
    return [json.loads(re.sub(r"\s+", " ", body)) for body in bodies]


def test_the_cli_examples_register_each_kind_of_source(api):
    examples = _cli_examples()
    assert {example["type"] for example in examples} >= {"postgresql", "kafka", "mqtt", "redis"}
    for example in examples:
        response = api.post("/api/sync/data-sources", example)
        assert response.status == 201, (example["type"], response.text)
        assert response.json["connection_config"].get("password") in (None, MASK), response.json


@pytest.mark.parametrize(
    "body, complaint",
    [
        ({"type": "kafka", "connection_config": {}}, "bootstrap_servers"),
        ({"type": "kafka", "connection_config": {"bootstrap_servers": "no-port"}}, "bootstrap_servers"),
        (
            {"type": "kafka", "connection_config": {"bootstrap_servers": ["b:9092"], "security_protocol": "TLS"}},
            "security_protocol",
        ),
        (
            {"type": "kafka", "connection_config": {"bootstrap_servers": "b:9092", "security_protocol": "SASL_SSL"}},
            "username and password",
        ),
        (
            {
                "type": "kafka",
                "connection_config": {
                    "bootstrap_servers": "b:9092",
                    "security_protocol": "SASL_SSL",
                    "sasl_mechanism": "GSSAPI",
                    "username": "u",
                    "password": "p",
                },
            },
            "sasl_mechanism",
        ),
        ({"type": "mqtt", "connection_config": {"port": 1883}}, "host"),
        ({"type": "mqtt", "connection_config": {"host": "m", "port": 70000}}, "port"),
        ({"type": "mqtt", "connection_config": {"host": "m", "tls": "yes"}}, "tls"),
        ({"type": "redis", "connection_config": {"host": "r", "db": -1}}, "db"),
        (
            {
                "type": "redis",
                "connection_config": {"host": "r"},
                "params_config": {"stream_key": "s", "key_pattern": "k*"},
            },
            "not both",
        ),
        ({"type": "redis", "connection_config": {"host": "r"}, "params_config": {"stream_key": ""}}, "stream_key"),
    ],
)
def test_invalid_message_system_sources_are_422_naming_the_field(api, body, complaint):
    response = api.post("/api/sync/data-sources", {"name": "broker", **body})
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert complaint in response.text
    assert api.get("/api/sync/data-sources").json["data_sources"] == []  # nothing stored


SHAPED = {  # (where in connection_config's free-form headers and query_params, the secret value): each is kept
    # write-only
    "dbPassword": ("query_params/dbPassword", "s3cr3t-camel"),
    "access-token": ("headers/access-token", "s3cr3t-kebab"),
    "clientSecret": ("query_params/clientSecret", "s3cr3t-client"),
    "Cookie header": ("headers/Cookie", "session=s3cr3t-cookie"),
    "in a list": ("query_params/accounts/1/api_key", "s3cr3t-in-list"),
    "query parameter": ("query_params/apiKey", "s3cr3t-query"),
}


@pytest.mark.parametrize("shape", list(SHAPED))
def test_each_secret_shape_is_kept_in_secrets_manager_and_masked(api, aws, shape):
    from synchub.models.secrets import merge_secrets
    from synchub.sources.data_sources import data_source_service

    path, value = SHAPED[shape]
    config = merge_secrets(
        {
            "base_url": "https://crm.example.com/v2",
            "headers": {"Accept": "application/json"},
            "query_params": {"accounts": [{"name": "a"}, {"name": "b"}]},
        },
        {path: value},
    )
    created = api.post(
        "/api/sync/data-sources", {"id": "ds_shape", "name": "shape", "type": "http", "connection_config": config}
    )
    assert created.status == 201, created.text
    for answer in (
        created.json,
        api.get("/api/sync/data-sources/ds_shape").json,
        api.get("/api/sync/data-sources").json,
    ):
        assert value not in json.dumps(answer) and MASK in json.dumps(answer)
    stored = boto3.client("dynamodb").get_item(TableName=aws.refs["DataSourcesTable"], Key={"id": {"S": "ds_shape"}})
    assert value not in json.dumps(stored["Item"])
    _, resolved = data_source_service().resolved_connection("ds_shape")
    assert json.dumps(value) in json.dumps(resolved)  # the engine still gets it


def test_an_unknown_credential_key_is_refused_without_echoing_its_value(api, aws):
    response = api.post(
        "/api/sync/data-sources",
        {
            "id": "ds_key",
            "name": "key",
            "type": "http",
            "connection_config": {"base_url": "https://crm.example.com/v2", "clientSecret": "s3cr3t-client"},
        },
    )
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert "clientSecret" in response.text and "s3cr3t" not in response.text
    assert api.get("/api/sync/data-sources/ds_key").status == 404


@pytest.mark.parametrize(
    "body, where",
    [
        ({"connection_config": {"base_url": "https://sync:hunter2@crm.example.com/v2"}}, "connection_config.base_url"),
        (
            {
                "connection_config": {"base_url": "https://crm.example.com"},
                "params_config": {"query_params": {"access_token": "s3cr3t"}},
            },
            "params_config.query_params.access_token",
        ),
        (
            {
                "connection_config": {"base_url": "https://crm.example.com"},
                "params_config": {"headers": {"X-Api-Key": "s3cr3t"}},
            },
            "params_config.headers.X-Api-Key",
        ),
    ],
)
def test_credentials_where_they_would_be_shown_are_refused(api, aws, body, where):
    response = api.post("/api/sync/data-sources", {"id": "ds_leak", "name": "leak", "type": "http", **body})
    assert_problem(response, 422, "VALIDATION_FAILED")
    assert where in response.text and "s3cr3t" not in response.text and "hunter2" not in response.text
    api.post(
        "/api/sync/data-sources",
        {"id": "ds_ok", "name": "ok", "type": "http", "connection_config": {"base_url": "https://crm.example.com"}},
    )
    refused = api.post(
        "/api/sync/data-sources/ds_ok/interfaces",
        {"id": "i", "name": "i", "body": {"auth": {"clientSecret": "s3cr3t"}}},
    )
    assert_problem(refused, 422, "VALIDATION_FAILED")
    assert "body.auth.clientSecret" in refused.text
