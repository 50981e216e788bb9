"""Continuation tokens, secret masking and route precedence."""

import base64
import json

import pytest

from local import api_gateway
from local.template import functions, load_template
from synchub.dal.paging import DONE, InvalidToken, PageState, ShardedIndex, decode_token, encode_token, read_page
from synchub.models.secrets import MASK, is_secret_key, merge_secrets, split_secrets

INDEX = ShardedIndex("t", "ByStatus", "lk_status", "pending", 4)


def test_token_round_trip_and_binding():
    state = PageState(cursors=["task_B", None, DONE, "task_A"], page=3)
    assert decode_token(INDEX, encode_token(INDEX, state)) == state
    other = ShardedIndex("t", "ByStatus", "lk_status", "running", 4)
    with pytest.raises(InvalidToken):
        decode_token(other, encode_token(INDEX, state))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        base64.urlsafe_b64encode(b"[]").decode(),
        base64.urlsafe_b64encode(json.dumps({"i": "ByStatus", "f": "pending", "c": [None], "p": 1}).encode()).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"i": "ByStatus", "f": "pending", "c": [1, 2, 3, 4], "p": 1}).encode()
        ).decode(),
        base64.urlsafe_b64encode(
            json.dumps({"i": "ByStatus", "f": "pending", "c": [None] * 4, "p": 0}).encode()
        ).decode(),
    ],
)
def test_tampered_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        decode_token(INDEX, token)


def fake_query(data):
    """A Query over {partition: [sort keys]} honouring Limit, ExclusiveStartKey and descending order."""

    def query(**params):
        partition = params["ExpressionAttributeValues"][":pk"]["S"]
        keys = sorted(data.get(partition, []), reverse=True)
        start = params.get("ExclusiveStartKey")
        if start:
            keys = [k for k in keys if k < start["id"]["S"]]
        page = keys[: params["Limit"]]
        response = {"Items": [{"id": {"S": k}} for k in page]}
        if len(page) == params["Limit"] and len(keys) > len(page):
            response["LastEvaluatedKey"] = {"id": {"S": page[-1]}}
        return response

    return query


def test_merged_pages_cover_every_item_once_in_order():
    data = {f"pending#{s}": [f"task_{s}{n:03d}" for n in range(s * 7 + 3)] for s in range(4)}
    everything = sorted((k for keys in data.values() for k in keys), reverse=True)
    query = fake_query(data)
    state, seen = PageState(cursors=[None] * 4), []
    while True:
        page = read_page(query, INDEX, state, 5)
        seen.extend(item["id"] for item in page.items)
        state = page.state
        if not page.has_more:
            break
    assert seen == everything


def test_secret_fields_are_split_masked_and_merged_back():
    config = {
        "host": "h",
        "password": "p",
        "headers": {"Authorization": "Bearer x", "Accept": "json"},
        "api-key": "k",
        "token_url": "https://auth",
        "client_secret": "c",
    }
    masked, secrets = split_secrets(config)
    assert masked == {
        "host": "h",
        "password": MASK,
        "headers": {"Authorization": MASK, "Accept": "json"},
        "api-key": MASK,
        "token_url": "https://auth",
        "client_secret": MASK,
    }
    assert secrets == {"password": "p", "headers/Authorization": "Bearer x", "api-key": "k", "client_secret": "c"}
    assert merge_secrets(masked, secrets) == config


@pytest.mark.parametrize(
    "key, secret",
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("access_token", True),
        ("X-API-Key", True),
        ("secret", True),
        ("token_url", False),
        ("user", False),
        ("passwords_policy", False),
    ],
)
def test_secret_key_names(key, secret):
    assert is_secret_key(key) is secret


def test_literal_routes_win_over_parameters():
    routes = api_gateway.routes_of(functions(load_template()))
    route, params, _ = api_gateway.match(routes, "GET", "/api/sync/tasks/statistics")
    assert route.function == "TaskStatisticsFunction" and params == {}
    route, params, _ = api_gateway.match(routes, "GET", "/api/sync/tasks/task_1")
    assert route.function == "GetTaskFunction" and params == {"id": "task_1"}
    assert api_gateway.match(routes, "POST", "/api/sync/tasks/task_1")[0:3:2] == (None, True)
