"""Parallel syncs: rows/s of a ``full_sync`` with ``parallelism`` 1, 2, 4 and 8, under the local stack as
``make run`` starts it (``python -m local``: its queue consumers run up to EngineMaxConcurrency invocations at
once, in one process), each into a lake table of its own, in one run:

- **ds_123**, the demo HTTP API of ``make run`` (10,000 rows, 100 a page, each page about 30 ms): a sync of a
  few seconds, where the plan and the one commit weigh most;
- **latency-bound**: an HTTP API of ``http_rows`` rows (100 a page, each page 30 ms), served from this process,
  long enough that the fixed costs (the plan's first page, the commit) matter less;
- **PostgreSQL**: a table of ``pg_rows`` rows in an embedded server.

A sync's time is the task's own, from its creation to its end (``created_at`` → ``end_time``, stored by the
service), so the polling here adds nothing. The speed-up of each is over parallelism 1 of the same source in
the same run; the goal is ≥ 0.8 × N on the latency-bound source.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PARALLELISMS = (1, 2, 4, 8)
PG_ROWS = 200_000
HTTP_ROWS = 50_000
PAGE_SECONDS = 0.03
GOAL = 0.8  # × N on the latency-bound source
DS_123_GOAL = 4.0  # × at parallelism 8


def _stack(log_dir: str) -> tuple[subprocess.Popen, str]:
    from local.ports import free_port

    port, moto_port, ws_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "local", "--port", str(port), "--moto-port", str(moto_port), "--ws-port", str(ws_port)]
        + ["--no-brokers", "--no-postgres", "--no-schedules"],
        cwd=ROOT,
        env={**env, "PYTHONUNBUFFERED": "1"},
        stdout=open(Path(log_dir) / "stack.log", "w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/_local/health", timeout=1).status_code == 200:
                return process, base
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"the local stack did not start (log in {log_dir})")


def _timed_sync(base: str, data_source_id: str, parallelism: int, table: str) -> dict[str, Any]:
    created = requests.post(
        f"{base}/api/sync/tasks",
        json={
            "data_source_id": data_source_id,
            "task_type": "full_sync",
            "parameters": {"parallelism": parallelism, "destination": {"format": "iceberg", "table": table}},
        },
        timeout=30,
    )
    created.raise_for_status()
    task_id = created.json()["id"]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        task = requests.get(f"{base}/api/sync/tasks/{task_id}", timeout=30).json()
        if task["status"] in ("success", "failed", "cancelled"):
            break
        time.sleep(0.25)
    if task["status"] != "success":
        raise RuntimeError(f"the parallel sync did not succeed: {task}")
    seconds = (_moment(task["end_time"]) - _moment(task["created_at"])).total_seconds()
    return {
        "parallelism": parallelism,
        "ranges": (task.get("ranges") or {}).get("count", 1),
        "rows": task["processed_rows"],
        "seconds": round(seconds, 3),
        "rows_per_s": round(task["processed_rows"] / seconds),
    }


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _series(base: str, data_source_id: str, name: str, parallelisms: tuple[int, ...], goal: Any = None) -> list[dict]:
    """Each parallelism's run; ``goal(parallelism)``: the speed-up wanted over 1 (None: none)."""
    rows = [_timed_sync(base, data_source_id, n, f"{name}_p{n}") for n in parallelisms]
    single = rows[0]["rows_per_s"]
    for row in rows:
        row["speedup"] = round(row["rows_per_s"] / single, 2)
        wanted = goal(row["parallelism"]) if goal else None
        if wanted:
            row["goal_speedup"] = round(wanted, 1)
            row["meets_goal"] = row["speedup"] >= row["goal_speedup"]
    return rows


def measure(
    pg_rows: int = PG_ROWS, http_rows: int = HTTP_ROWS, parallelisms: tuple[int, ...] = PARALLELISMS
) -> dict[str, Any]:
    """Rows/s and speed-up over parallelism 1 for each parallelism, on ds_123, a latency-bound HTTP API and a
    PostgreSQL table."""
    import psycopg

    from bench.environment import embedded_postgres, orders_source
    from local.orders_server import OrdersServer

    api = OrdersServer(http_rows)
    api.delay = PAGE_SECONDS
    with tempfile.TemporaryDirectory(prefix="synchub-bench-parallel-") as log_dir:
        with embedded_postgres("synchub-bench-parallel-pg-") as (uri, connection_config):
            with psycopg.connect(uri, autocommit=True) as source:
                source.execute(
                    "CREATE TABLE parallel_bench (id bigint PRIMARY KEY, amount numeric(12,2) NOT NULL, "
                    "customer text NOT NULL, updated_at timestamptz NOT NULL)"
                )
                source.execute(
                    "INSERT INTO parallel_bench SELECT n, n %% 100000 / 100.0, 'customer-' || (n %% 997), "
                    "now() - n * interval '1 second' FROM generate_series(1, %s) n",
                    [pg_rows],
                )
                source.execute("ANALYZE parallel_bench")
            process, base = _stack(log_dir)
            try:
                requests.post(
                    f"{base}/api/sync/data-sources",
                    json={
                        "id": "ds_parallel_bench",
                        "name": "parallel bench",
                        "type": "postgresql",
                        "connection_config": connection_config,
                        "params_config": {"table_name": "parallel_bench"},
                    },
                    timeout=30,
                ).raise_for_status()
                requests.post(
                    f"{base}/api/sync/data-sources",
                    json=orders_source(
                        "ds_latency_bench", api.base_url, name="latency-bound API", destination={"format": "iceberg"}
                    ),
                    timeout=30,
                ).raise_for_status()
                demo = _series(base, "ds_123", "bench_ds123", parallelisms, lambda n: DS_123_GOAL if n == 8 else None)
                http = _series(base, "ds_latency_bench", "bench_http", parallelisms, lambda n: GOAL * n)
                postgres = _series(base, "ds_parallel_bench", "bench_pg", parallelisms)
            finally:
                api.close()
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
    return {
        "engine_concurrency": 10,
        "cpus": os.cpu_count(),
        "ds_123": {"source": "ds_123 (10,000 rows, 100 a page, ~30 ms a page)", "runs": demo},
        "latency_bound_http": {"source": f"HTTP, {http_rows:,} rows, 100 a page, 30 ms a page", "runs": http},
        "postgresql": {"source": f"a table of {pg_rows:,} rows", "runs": postgres},
        "meets_goal": all(row.get("meets_goal", True) for row in (*demo, *http)),
    }
