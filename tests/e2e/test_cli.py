"""The `synchub` command against the local stack (started with auth on, as deployed): every command as a
table and as --json, `watch` to the end, and the error paths with their exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT, RunningStack
from tests.e2e.test_auth_over_http import demo_token, secured, token  # noqa: F401 - secured: this module's stack

pytestmark = pytest.mark.e2e


def synchub(
    stack: RunningStack, *args: str, auth: str | None = "demo", timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "AWS_"))}
    env.update(SYNCHUB_URL=stack.base_url, SYNCHUB_WS_URL=stack.ws_url, COLUMNS="200")
    if auth == "demo":
        env["SYNCHUB_TOKEN"] = demo_token(stack)
    elif auth:
        env["SYNCHUB_TOKEN"] = auth
    return subprocess.run(
        [sys.executable, "-m", "synchub_cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def as_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr + result.stdout
    return json.loads(result.stdout)


def test_task_commands_as_tables_and_json(secured):
    created = as_json(
        synchub(secured, "tasks", "create", "--source", "ds_123", "--json", "--parameters", '{"batch_size": 2000}')
    )
    assert created["status"] == "pending" and created["created_by"] == "demo"
    task_id = created["id"]
    watched = synchub(secured, "tasks", "watch", task_id)
    assert watched.returncode == 0, watched.stderr
    assert f"{task_id}: success, 10,000 / 10,000 rows" in watched.stdout
    assert "100%" in watched.stderr  # the progress bar

    table = synchub(secured, "tasks", "list", "--source", "ds_123")
    assert table.returncode == 0 and task_id in table.stdout and "success" in table.stdout
    listing = as_json(synchub(secured, "tasks", "list", "--status", "success", "--json"))
    assert task_id in [t["id"] for t in listing["tasks"]] and listing["pagination"]["total"] >= 1
    shown = synchub(secured, "tasks", "get", task_id)
    assert shown.returncode == 0 and "processed_rows" in shown.stdout and "10000" in shown.stdout
    assert as_json(synchub(secured, "tasks", "get", task_id, "--json"))["processed_rows"] == 10_000
    stats = as_json(synchub(secured, "tasks", "stats", "--source", "ds_123", "--json"))
    assert stats["successful_tasks"] >= 1
    assert "successful_tasks" in synchub(secured, "tasks", "stats").stdout
    assert sum(d["successful_tasks"] for d in stats["daily"]) == stats["successful_tasks"]

    # pending → update → cancel, with the engine kept busy by nothing: create, then act at once
    pending = as_json(
        synchub(
            secured, "tasks", "create", "-s", "ds_123", "-t", "realtime_sync", "--json", "-p", '{"poll_interval": 3600}'
        )
    )
    cancelled = synchub(secured, "tasks", "cancel", pending["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    final = synchub(secured, "tasks", "watch", pending["id"], "--json")
    assert final.returncode == 9  # the watched task ended cancelled
    assert json.loads(final.stdout.splitlines()[-1])["status"] == "cancelled"
    deleted = synchub(secured, "tasks", "delete", task_id)
    assert deleted.returncode == 0 and "deleted" in deleted.stdout
    assert synchub(secured, "tasks", "get", task_id).returncode == 3


def test_create_wait_follows_to_the_end_and_json_streams_each_update(secured):
    result = synchub(secured, "tasks", "create", "-s", "ds_123", "--wait", "--json", "-p", '{"batch_size": 1000}')
    assert result.returncode == 0, result.stderr
    states = [json.loads(line) for line in result.stdout.splitlines()]
    assert states[-1]["status"] == "success" and states[-1]["processed_rows"] == 10_000
    rows = [s["processed_rows"] for s in states]
    assert rows == sorted(rows) and len(states) >= 2


def test_retry_of_a_failed_task_and_wrong_states(secured):
    source = {
        "id": "ds_cli_broken",
        "name": "broken",
        "type": "http",
        "connection_config": {"base_url": secured.base_url + "/_local/nothing-here"},
        "params_config": {"records_path": "data"},
    }
    assert as_json(synchub(secured, "sources", "create", json.dumps(source), "--json"))["id"] == "ds_cli_broken"
    broken = synchub(secured, "sources", "test", "ds_cli_broken")
    assert broken.returncode == 1 and "failed ds_cli_broken (permanent)" in broken.stdout
    failed = synchub(secured, "tasks", "create", "-s", "ds_cli_broken", "--wait")
    assert failed.returncode == 8, failed.stdout + failed.stderr  # the watched task failed
    task_id = failed.stdout.split(":")[0].strip()
    retried = as_json(synchub(secured, "tasks", "retry", task_id, "--restart", "--json"))
    assert retried["retry_of"] == task_id and retried["attempt"] == 2
    wrong = synchub(secured, "tasks", "cancel", task_id)
    assert wrong.returncode == 4 and "INVALID_STATE (409)" in wrong.stderr
    problem = synchub(secured, "tasks", "update", task_id, "--config", "{}", "--json")
    assert problem.returncode == 4 and json.loads(problem.stdout)["code"] == "INVALID_STATE"


def test_source_and_interface_commands(secured):
    source = {
        "id": "ds_cli",
        "name": "CLI orders",
        "type": "http",
        "connection_config": {"base_url": secured.base_url + "/_local/demo", "token": "s3cret-value"},
        "params_config": {"url_suffix": "/orders", "records_path": "data", "total_path": "total"},
    }
    created = synchub(secured, "sources", "create", json.dumps(source))
    assert created.returncode == 0 and "********" in created.stdout and "s3cret-value" not in created.stdout
    assert "ds_cli" in synchub(secured, "sources", "list").stdout
    tested = synchub(secured, "sources", "test", "ds_cli")
    assert (
        tested.returncode == 0
        and "ok ds_cli: first read 100 rows" in tested.stdout
        and "10,000 in all" in tested.stdout
    )
    assert as_json(synchub(secured, "sources", "test", "ds_cli", "--json"))["sample"][0]["id"] == 1
    listed = as_json(synchub(secured, "sources", "list", "--json"))
    assert "ds_cli" in [s["id"] for s in listed["data_sources"]]
    shown = as_json(synchub(secured, "sources", "get", "ds_cli", "--json"))
    assert shown["has_secrets"] is True and shown["connection_config"]["token"] == "********"
    updated = as_json(
        synchub(secured, "sources", "update", "ds_cli", json.dumps({**shown, "name": "CLI orders v2"}), "--json")
    )
    assert updated["name"] == "CLI orders v2" and updated["has_secrets"] is True
    interface = {"id": "orders", "name": "Orders", "url_suffix": "/orders", "records_path": "data"}
    made = synchub(secured, "interfaces", "create", "ds_cli", json.dumps(interface))
    assert made.returncode == 0, made.stderr
    assert "orders" in synchub(secured, "interfaces", "list", "ds_cli").stdout
    got = as_json(synchub(secured, "interfaces", "get", "ds_cli", "orders", "--json"))
    assert got["id"] == "orders"
    changed = as_json(
        synchub(
            secured,
            "interfaces",
            "update",
            "ds_cli",
            "orders",
            json.dumps({**interface, "name": "Orders v2"}),
            "--json",
        )
    )
    assert changed["name"] == "Orders v2"
    assert synchub(secured, "interfaces", "delete", "ds_cli", "orders").returncode == 0
    assert synchub(secured, "interfaces", "get", "ds_cli", "orders").returncode == 3
    assert synchub(secured, "sources", "delete", "ds_cli").returncode == 0
    assert synchub(secured, "sources", "get", "ds_cli").returncode == 3


def test_error_paths_have_their_exit_codes_and_messages(secured):
    unknown = synchub(secured, "tasks", "get", "task_01M8F5WN6MGNT4KP4MPE6TDYBH")
    assert unknown.returncode == 3 and "TASK_NOT_FOUND (404)" in unknown.stderr and unknown.stdout == ""
    as_problem = synchub(secured, "tasks", "get", "task_01M8F5WN6MGNT4KP4MPE6TDYBH", "--json")
    assert as_problem.returncode == 3 and json.loads(as_problem.stdout)["code"] == "TASK_NOT_FOUND"
    invalid = synchub(secured, "tasks", "create", "-s", "ds_123", "-t", "sometimes_sync")
    assert invalid.returncode == 6 and "VALIDATION_FAILED (422)" in invalid.stderr and "task_type" in invalid.stderr
    no_auth = synchub(secured, "tasks", "list", auth=None)
    assert no_auth.returncode == 5 and "UNAUTHENTICATED (401)" in no_auth.stderr
    read_only = synchub(secured, "tasks", "create", "-s", "ds_123", auth=token(secured, "reader", "synchub/read"))
    assert read_only.returncode == 5 and "INSUFFICIENT_SCOPE (403)" in read_only.stderr
    unreachable = subprocess.run(
        [sys.executable, "-m", "synchub_cli", "--url", "http://127.0.0.1:9", "tasks", "list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unreachable.returncode == 7 and "UNREACHABLE" in unreachable.stderr
    usage = synchub(secured, "tasks", "create")
    assert usage.returncode == 2  # --source is required
    bad_json = synchub(secured, "tasks", "update", "task_01M8F5WN6MGNT4KP4MPE6TDYBH", "--config", "{nope")
    assert bad_json.returncode == 2 and "not JSON" in bad_json.stderr


def test_watch_falls_back_to_polling_without_a_websocket(secured):
    env_ws = {"SYNCHUB_WS_URL": "ws://127.0.0.1:9"}  # nothing listens there
    created = as_json(synchub(secured, "tasks", "create", "-s", "ds_123", "--json", "-p", '{"batch_size": 2500}'))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCHUB_", "AWS_"))}
    env.update(SYNCHUB_URL=secured.base_url, SYNCHUB_TOKEN=demo_token(secured), **env_ws)
    result = subprocess.run(
        [sys.executable, "-m", "synchub_cli", "tasks", "watch", created["id"], "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["status"] == "success"


def test_tasks_output_shows_downloads_and_previews_what_the_lake_holds(secured, tmp_path):
    import gzip

    task_id = as_json(
        synchub(secured, "tasks", "create", "--source", "ds_123", "--json", "--parameters", '{"batch_size": 2000}')
    )["id"]
    assert synchub(secured, "tasks", "watch", task_id).returncode == 0
    shown = synchub(secured, "tasks", "output", task_id, "--head", "5", "--download", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    assert "10000 rows in s3://" in shown.stdout and "part-00001.jsonl.gz" in shown.stdout
    assert "first 5 rows" in shown.stdout and "customer-005" in shown.stdout
    saved = [json.loads(line) for line in gzip.decompress((tmp_path / "part-00001.jsonl.gz").read_bytes()).splitlines()]
    assert [row["id"] for row in saved[:5]] == [1, 2, 3, 4, 5] and len(saved) == 10_000
    assert json.loads((tmp_path / "manifest.json").read_text())["rows"] == 10_000
    output = as_json(synchub(secured, "tasks", "output", task_id, "--head", "2", "--json"))
    assert [row["id"] for row in output["preview"]] == [1, 2]
    # the pre-signed URL downloads the part with plain curl, no SyncHub credentials
    curl = subprocess.run(["curl", "-sf", output["parts"][0]["url"]], capture_output=True, timeout=60)
    assert curl.returncode == 0 and gzip.decompress(curl.stdout).startswith(b'{"id":1,')


def test_schedule_and_pause_commands(secured):
    created = as_json(
        synchub(
            secured,
            "schedules",
            "create",
            "--json",
            json.dumps(
                {
                    "id": "sch_cli",
                    "name": "cli hourly",
                    "data_source_id": "ds_123",
                    "task_type": "full_sync",
                    "expression": "cron(0 * * * ? *)",
                    "timezone": "Europe/Paris",
                }
            ),
        )
    )
    assert created["state"] == "enabled" and created["next_run_at"].endswith(":00:00Z")
    listing = synchub(secured, "schedules", "list")
    assert listing.returncode == 0 and "sch_cli" in listing.stdout and "cron(0 * * * ? *)" in listing.stdout
    assert as_json(synchub(secured, "schedules", "pause", "sch_cli", "--json"))["state"] == "paused"
    triggered = as_json(synchub(secured, "schedules", "trigger", "sch_cli", "--json"))
    assert triggered["outcome"] == "created" and triggered["task"]["schedule_id"] == "sch_cli"
    task_id = triggered["task"]["id"]
    paused = synchub(secured, "tasks", "pause", task_id)
    assert paused.returncode == 0 and task_id in paused.stdout, paused.stderr
    runs = as_json(synchub(secured, "tasks", "list", "--schedule", "sch_cli", "--json"))
    assert [t["id"] for t in runs["tasks"]] == [task_id]
    resumed = synchub(secured, "tasks", "resume", task_id)
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    watched = synchub(secured, "tasks", "watch", task_id)
    assert watched.returncode == 0 and "success" in watched.stdout, watched.stdout + watched.stderr
    busy = synchub(secured, "schedules", "delete", "nope")
    assert busy.returncode != 0 and "SCHEDULE_NOT_FOUND" in busy.stderr + busy.stdout
    assert synchub(secured, "schedules", "delete", "sch_cli").returncode == 0
