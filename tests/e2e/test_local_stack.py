"""The local stack over real HTTP: the README's curl examples and every route."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import requests

from tests.e2e.conftest import ROOT, follow

pytestmark = pytest.mark.e2e


def test_seed_examples_work_as_written(stack):
    created = requests.post(
        stack.url("/api/sync/tasks"),
        headers={"Content-Type": "application/json"},
        data='{"data_source_id": "ds_123", "task_type": "full_sync", "parameters": {"batch_size": 1000, "timeout": 300}}',
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert created.headers["Location"] == f"/api/sync/tasks/{task['id']}"
    assert task["status"] in ("pending", "running", "success") and task["config"] == {
        "batch_size": 1000,
        "timeout": 300,
    }

    listing = requests.get(stack.url("/api/sync/tasks?page=1&size=10&status=running"))
    assert listing.status_code == 200
    body = listing.json()
    assert set(body) == {"tasks", "pagination"}
    assert all(t["status"] == "running" for t in body["tasks"])
    assert {"page", "size", "total", "total_pages"} <= set(body["pagination"])

    missing = requests.post(stack.url("/api/sync/tasks/task_123/cancel"))
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/problem+json"
    assert missing.json()["code"] == "TASK_NOT_FOUND"


def test_every_route_over_http(stack):
    source = requests.post(
        stack.url("/api/sync/data-sources"),
        json={
            "id": "ds_e2e",
            "name": "e2e",
            "type": "mysql",
            "connection_config": {"host": "127.0.0.1", "database": "test", "user": "root", "password": "pw-e2e-secret"},
            "params_config": {"table_name": "orders", "cursor_field": "updated_at"},
        },
    )
    assert source.status_code == 201 and source.json()["connection_config"]["password"] == "********"
    assert requests.get(stack.url("/api/sync/data-sources/ds_e2e")).json()["name"] == "e2e"
    assert any(
        s["id"] == "ds_123" for s in requests.get(stack.url("/api/sync/data-sources?size=100")).json()["data_sources"]
    )

    task = requests.post(
        stack.url("/api/sync/tasks"), json={"data_source_id": "ds_e2e", "task_type": "incremental_sync"}
    ).json()
    got = requests.get(stack.url(f"/api/sync/tasks/{task['id']}"))
    assert got.status_code == 200 and got.json()["id"] == task["id"]
    listing = requests.get(stack.url("/api/sync/tasks"), params={"data_source_id": "ds_e2e"}).json()
    assert [t["id"] for t in listing["tasks"]] == [task["id"]]
    stats = requests.get(stack.url("/api/sync/tasks/statistics"), params={"data_source_id": "ds_e2e"}).json()
    assert stats["total_tasks"] == 1 and "engine_statistics" in stats

    assert requests.delete(stack.url("/api/sync/data-sources/ds_e2e")).status_code in (409, 204)
    bad = requests.post(stack.url("/api/sync/tasks"), data="{oops", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.headers["Content-Type"] == "application/problem+json"
    invalid = requests.get(stack.url("/api/sync/tasks?size=1000"))
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["loc"] == ["query", "size"]
    assert requests.get(stack.url("/api/sync/nowhere")).status_code == 404
    assert requests.patch(stack.url("/api/sync/tasks")).status_code == 405
    assert "pw-e2e-secret" not in stack.log()


def test_invoke_runs_one_function_against_the_running_stack(stack):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "local.invoke",
            "TaskStatisticsFunction",
            "events/task_statistics.json",
            "--moto-port",
            str(stack.moto_port),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    response = json.loads(result.stdout[result.stdout.index("{\n") :])
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["data_source_id"] == "ds_123"


@pytest.mark.parametrize("data_source_id", ["ds_123", "ds_pg_demo"])
def test_seed_example_syncs_the_demo_dataset_to_success(stack, data_source_id):
    created = requests.post(
        stack.url("/api/sync/tasks"),
        json={
            "data_source_id": data_source_id,
            "task_type": "full_sync",
            "parameters": {"batch_size": 1000, "timeout": 300},
        },
    )
    assert created.status_code == 201, created.text
    snapshots = follow(stack, created.json()["id"])
    final = snapshots[-1]
    assert final["status"] == "success", final
    assert final["processed_rows"] == 10_000 and final["total_rows"] == 10_000 and final["progress"] == 100
    running = [s for s in snapshots if s["status"] == "running"]
    rows = [s["processed_rows"] for s in running]
    assert rows == sorted(rows)
    if data_source_id == "ds_123":  # the HTTP demo is slow enough to be watched mid-run
        assert len(set(rows)) >= 2 and any(0 < r < 10_000 for r in rows)
        assert all("speed" in s and "current_phase" in s for s in running)
    stats = requests.get(stack.url("/api/sync/tasks/statistics"), params={"data_source_id": data_source_id}).json()
    assert stats["successful_tasks"] >= 1 and stats["processed_rows"] >= 10_000


def test_no_engine_keeps_tasks_pending(tmp_path):
    from tests.e2e.conftest import start_stack, stop_stack

    quiet = start_stack(tmp_path, "--no-engine", "--no-postgres")
    try:
        task = requests.post(
            quiet.url("/api/sync/tasks"), json={"data_source_id": "ds_123", "task_type": "full_sync"}
        ).json()
        import time

        time.sleep(2)
        assert requests.get(quiet.url(f"/api/sync/tasks/{task['id']}")).json()["status"] == "pending"
        stats = requests.get(quiet.url("/api/sync/tasks/statistics")).json()["engine_statistics"]
        assert stats["pending_tasks"] == 1 and stats["queue_length"] == 1
    finally:
        stop_stack(quiet)


def test_the_dashboard_is_served_with_its_config(stack):
    page = requests.get(stack.url("/"), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert 'src="dashboard/app.js"' in page.text and 'href="dashboard/app.css"' in page.text
    for asset, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        served = requests.get(stack.url(f"/dashboard/{asset}"), timeout=10)
        assert served.status_code == 200 and served.headers["Content-Type"].startswith(kind)
    config = requests.get(stack.url("/dashboard/config.json"), timeout=10).json()
    assert config == {"api_base": "", "ws_url": stack.ws_url, "auth": "none"}
    missing = requests.get(stack.url("/dashboard/secrets.txt"), timeout=10)
    assert missing.status_code == 404 and missing.headers["Content-Type"] == "application/problem+json"
    # `make run` says where the dashboard is
    deadline = time.monotonic() + 10
    while f"dashboard: {stack.base_url}/" not in stack.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert f"dashboard: {stack.base_url}/" in stack.log(), stack.log()[-2000:]
    assert f"synced data: GET {stack.base_url}/api/sync/tasks/<id>/output" in stack.log()
    assert f"aws --endpoint-url http://127.0.0.1:{stack.moto_port} s3 ls s3://" in stack.log()


def test_readme_examples_that_register_sources_and_interfaces_work_as_written(stack):
    """Every `curl -X POST` of README's "Try it" section that creates a data source, an interface, or a task on
    an interface, run as written (against this stack's port) with the shell's curl."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Try it") : readme.index("## The `synchub` command")]
    commands = [
        line
        for line in section.splitlines()
        if line.startswith("curl -X POST http://localhost:8080/api/sync/data-sources")
        or (line.startswith("curl -X POST http://localhost:8080/api/sync/tasks") and "interface_id" in line)
    ]
    assert len(commands) == 4, commands  # a database, an API, an interface, a task on it
    for command in commands:
        run = command.replace("http://localhost:8080", stack.base_url) + " -s -o /dev/stderr -w '%{http_code}'"
        result = subprocess.run(run, shell=True, capture_output=True, text=True, timeout=60)
        assert result.stdout == "201", (command, result.stdout, result.stderr)
    shop = requests.get(stack.url("/api/sync/data-sources/ds_shop"), timeout=10).json()
    assert shop["connection_config"]["password"] == "********"
    interface_task = json.loads(result.stderr)
    assert interface_task["interface_id"] == "orders_500"
    assert follow(stack, interface_task["id"])[-1]["processed_rows"] == 10_000


def test_state_kept_in_a_folder_survives_a_restart_and_fresh_forgets_it(tmp_path):
    from local.orders_server import OrdersServer
    from tests.e2e.conftest import start_stack, stop_stack

    state, orders = tmp_path / "state", OrdersServer(rows=3_000)  # a source that outlives both runs
    for name in ("one", "two", "three"):
        (tmp_path / name).mkdir()
    first = start_stack(tmp_path / "one", "--state-dir", str(state), "--no-postgres")
    try:
        source = requests.post(
            first.url("/api/sync/data-sources"),
            json={
                "id": "ds_kept",
                "name": "kept",
                "type": "http",
                "connection_config": {"base_url": orders.base_url, "token": "kept-secret-token"},
                "params_config": {
                    "url_suffix": "/orders",
                    "records_path": "items",
                    "total_path": "meta.total",
                    "primary_key": "id",
                    "pagination": {"style": "page", "size_param": "page_size", "page_size": 1000},
                    "destination": {"format": "jsonl"},  # its files and manifest outlive the restart too
                },
            },
        )
        assert source.status_code == 201, source.text
        interface = requests.post(
            first.url("/api/sync/data-sources/ds_kept/interfaces"),
            json={"id": "orders", "name": "orders", "url_suffix": "/orders"},
        )
        assert interface.status_code == 201, interface.text
        task = requests.post(
            first.url("/api/sync/tasks"), json={"data_source_id": "ds_kept", "task_type": "full_sync"}
        ).json()
        assert follow(first, task["id"])[-1]["status"] == "success"
        before = requests.get(first.url(f"/api/sync/tasks/{task['id']}/output")).json()
        stats = requests.get(first.url("/api/sync/tasks/statistics?data_source_id=ds_kept")).json()
    finally:
        stop_stack(first)
    second = start_stack(tmp_path / "two", "--state-dir", str(state), "--no-postgres")
    try:
        again = requests.get(second.url(f"/api/sync/tasks/{task['id']}")).json()
        assert again["status"] == "success" and again["processed_rows"] == 3_000
        assert requests.get(second.url("/api/sync/data-sources/ds_kept/interfaces/orders")).status_code == 200
        after = requests.get(second.url(f"/api/sync/tasks/{task['id']}/output?preview=1")).json()
        assert [(p["key"], p["rows"], p["bytes"]) for p in after["parts"]] == [
            (p["key"], p["rows"], p["bytes"]) for p in before["parts"]
        ]
        assert after["preview"][0]["id"] == 1
        assert (
            requests.get(second.url("/api/sync/tasks/statistics?data_source_id=ds_kept")).json()["total_tasks"]
            == stats["total_tasks"]
            == 1
        )
        # the secret came back with its source: a new sync authenticates and runs
        rerun = requests.post(
            second.url("/api/sync/tasks"), json={"data_source_id": "ds_kept", "task_type": "full_sync"}
        ).json()
        assert follow(second, rerun["id"])[-1]["processed_rows"] == 3_000
        assert (
            requests.get(second.url("/api/sync/data-sources/ds_kept")).json()["connection_config"]["token"]
            == "********"
        )
    finally:
        stop_stack(second)
    third = start_stack(tmp_path / "three", "--state-dir", str(state), "--no-postgres", "--fresh")
    try:
        assert requests.get(third.url(f"/api/sync/tasks/{task['id']}")).status_code == 404
        assert requests.get(third.url("/api/sync/data-sources/ds_kept")).status_code == 404
    finally:
        stop_stack(third)
        orders.close()


def test_a_request_addressed_to_another_host_name_is_refused(stack):
    """DNS rebinding: a page at evil.example whose name now points at 127.0.0.1 sends `Host: evil.example`."""
    for path in ("/api/sync/tasks", "/_local/token?user=mallory&scope=synchub/write", "/"):
        refused = requests.get(stack.url(path), headers={"Host": "evil.example:8080"}, timeout=10)
        assert refused.status_code == 403 and refused.json()["code"] == "HOST_NOT_ALLOWED", path
    for host in ("localhost", f"127.0.0.1:{stack.base_url.rsplit(':', 1)[1]}", "[::1]:8080"):
        assert requests.get(stack.url("/api/sync/tasks"), headers={"Host": host}, timeout=10).status_code == 200
    posted = requests.post(
        stack.url("/api/sync/tasks"), data='{"data_source_id": "ds_123", "task_type": "full_sync"}', timeout=10
    )  # a body without Content-Type, as a no-cors fetch sends it
    assert posted.status_code == 415 and posted.json()["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_readme_message_system_examples_sync_from_the_demo_brokers(stack):
    """The user guide's Kafka, MQTT and Redis curl examples, run with the shell's curl against make run's demo brokers
    (the Kafka address is this stack's tansu, 127.0.0.1:9092 unless that port was taken)."""
    sources = {
        source["id"]: source
        for source in requests.get(stack.url("/api/sync/data-sources?size=100"), timeout=10).json()["data_sources"]
    }
    missing = {"ds_kafka_demo", "ds_redis_demo", "ds_mqtt_demo"} - set(sources)
    if missing:
        pytest.skip(f"no demo broker for {', '.join(sorted(missing))} on this machine (see the stack's banner)")
    assert "stream demo ds_kafka_demo: Kafka topic demo-orders" in stack.log()
    servers = sources["ds_kafka_demo"]["connection_config"]["bootstrap_servers"]
    guide = (ROOT / "docs" / "user-guide.md").read_text()
    section = guide[guide.index("### Message systems") : guide.index("`make run` adds a demo source")]
    commands = [line for line in section.splitlines() if line.startswith("curl -X POST http://localhost:8080")]
    assert len(commands) >= 10, commands
    tasks = []
    for command in commands:
        run = (
            command.replace("http://localhost:8080", stack.base_url).replace("127.0.0.1:9092", servers)
            + " -s -o /dev/stderr -w '%{http_code}'"
        )
        result = subprocess.run(run, shell=True, capture_output=True, text=True, timeout=60)
        assert result.stdout in ("200", "201"), (command, result.stdout, result.stderr)
        answer = json.loads(result.stderr)
        if "/test" in command:
            assert answer["ok"] is True and answer["rows_read"] == 5, answer
        if answer.get("task_type"):
            tasks.append(answer)
    outcomes = {}
    for task in tasks:
        if task["task_type"] == "realtime_sync":
            continue
        last = follow(stack, task["id"])[-1]
        assert last["status"] == "success", last
        outcomes[(task["data_source_id"], task.get("interface_id"), task["task_type"])] = last["processed_rows"]
    assert outcomes[("ds_orders_topic", None, "full_sync")] == 3_000
    # the incremental copies what the full one had not committed when it started: nothing, or all of it
    assert outcomes[("ds_orders_topic", None, "incremental_sync")] in (0, 3_000)
    assert outcomes[("ds_order_events", None, "full_sync")] >= 3_000
    assert outcomes[("ds_order_events", "customers", "full_sync")] == 100
    assert outcomes[("ds_rooms", None, "full_sync")] >= 20
    realtime = next(task for task in tasks if task["task_type"] == "realtime_sync")
    assert requests.post(stack.url(f"/api/sync/tasks/{realtime['id']}/cancel"), timeout=10).status_code == 202


def test_a_rate_schedule_creates_a_task_each_minute_that_syncs_and_pause_stops_it(stack):
    """make run fires the emulator's Scheduler schedules: rate(1 minute) runs at once and each minute after;
    paused, it creates nothing; trigger runs it at once."""
    created = requests.post(
        stack.url("/api/sync/schedules"),
        json={
            "id": "sch_minutely",
            "name": "each minute",
            "data_source_id": "ds_123",
            "task_type": "full_sync",
            "parameters": {"batch_size": 5000},
            "expression": "rate(1 minute)",
            "overlap": "skip",
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text

    def runs() -> list[dict]:
        return requests.get(stack.url("/api/sync/tasks?schedule_id=sch_minutely&size=100"), timeout=10).json()["tasks"]

    deadline = time.monotonic() + 20
    while not runs() and time.monotonic() < deadline:
        time.sleep(0.5)
    first = runs()
    assert len(first) == 1, first  # at once, as Scheduler starts a rate schedule without a start date
    assert follow(stack, first[0]["id"])[-1]["status"] == "success"
    deadline = time.monotonic() + 75
    while len(runs()) < 2 and time.monotonic() < deadline:
        time.sleep(1)
    second = runs()
    assert len(second) == 2, second  # a minute later
    assert follow(stack, second[0]["id"])[-1]["status"] == "success"
    assert requests.post(stack.url("/api/sync/schedules/sch_minutely/pause"), timeout=10).json()["state"] == "paused"
    triggered = requests.post(stack.url("/api/sync/schedules/sch_minutely/trigger"), timeout=10)
    assert triggered.status_code == 201 and triggered.json()["outcome"] == "created"
    assert len(runs()) == 3
    assert follow(stack, triggered.json()["task"]["id"])[-1]["status"] == "success"
    schedule = requests.get(stack.url("/api/sync/schedules/sch_minutely"), timeout=10).json()
    assert schedule["runs"] == 3 and schedule["next_run_at"] is None
    assert requests.delete(stack.url("/api/sync/schedules/sch_minutely"), timeout=10).status_code == 204


def test_readme_postgresql_example_full_then_incremental_then_ten_new_rows(stack):
    """README's ds_pg_demo commands as written: a full sync (10,000 rows), an incremental one (0), then after
    10 rows are inserted into demo_orders, the incremental one again (10)."""
    import psycopg

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Try it") : readme.index("## The `synchub` command")]
    full, incremental = [
        line for line in section.splitlines() if line.startswith("curl -X POST") and '"ds_pg_demo"' in line
    ]
    assert '"full_sync"' in full and '"incremental_sync"' in incremental

    def run(command: str) -> dict:
        result = subprocess.run(
            command.replace("http://localhost:8080", stack.base_url) + " -s",
            shell=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return follow(stack, json.loads(result.stdout)["id"])[-1]

    assert (done := run(full))["status"] == "success" and done["processed_rows"] == 10_000
    assert (done := run(incremental))["status"] == "success" and done["processed_rows"] == 0
    config = requests.get(stack.url("/api/sync/data-sources/ds_pg_demo"), timeout=10).json()["connection_config"]
    with psycopg.connect(
        host=config["host"], port=config["port"], dbname=config["database"], user=config["user"], autocommit=True
    ) as connection:
        connection.execute(
            "INSERT INTO demo_orders SELECT n, 'customer-new', 1.00, 'EUR', now() FROM generate_series(10001, 10010) n"
        )
        try:
            assert (done := run(incremental))["status"] == "success" and done["processed_rows"] == 10
        finally:
            connection.execute("DELETE FROM demo_orders WHERE id > 10000")  # other tests of this stack count 10,000


def test_every_readme_curl_runs_against_the_stack_without_a_server_error(stack):
    """Each `curl` line of README, run as written against this stack: nothing answers 5xx, and each one that
    creates something (a POST to a collection) answers 201."""
    readme = (ROOT / "README.md").read_text()
    commands = [
        line.strip() for line in readme.splitlines() if line.strip().startswith("curl ") and "localhost:8080" in line
    ]
    assert len(commands) >= 10, commands
    for command in commands:
        run = command.split("  #")[0].replace("http://localhost:8080", stack.base_url)
        result = subprocess.run(
            run + " -s -o /dev/null -w '%{http_code}'", shell=True, capture_output=True, text=True, timeout=60
        )
        status = int(result.stdout or 0)
        assert 200 <= status < 500, (command, result.stdout, result.stderr)
        if command.startswith("curl -X POST") and command.split()[2].rstrip("/").endswith(
            ("/tasks", "/data-sources", "/interfaces")
        ):
            assert status == 201, (command, status)


def test_a_burst_of_64_clients_creating_tasks_at_once_is_served_without_a_refused_connection(stack):
    from local.stop_check import burst

    assert burst(stack.base_url, 64) == {"201": 64}
