"""Engine throughput and memory: a full_sync from PostgreSQL into the data lake, beside a plain
psycopg + gzip JSON Lines + boto3 script that moves the same rows with no bookkeeping.

Both run in this process against the same in-process S3 emulator and the same embedded PostgreSQL
(pgserver), so the ratio compares the engine's overhead, not the machine. Memory is the tracemalloc
peak of a separate run of each (tracemalloc slows Python, so timings come from untraced runs).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tempfile
import time
import tracemalloc
from typing import Any, Callable

BATCH_SIZE = 5000


def _load_rows(uri: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_orders")
        connection.execute("CREATE TABLE bench_orders (id integer PRIMARY KEY, customer text, amount numeric(10,2), "
                           "currency text, updated_at timestamptz)")
        connection.execute(
            "INSERT INTO bench_orders SELECT n, 'customer-' || (n %% 997), (n %% 100000) / 100.0, "
            "(ARRAY['EUR','USD','GBP'])[n %% 3 + 1], timestamptz '2026-01-01' + n * interval '1 second' "
            "FROM generate_series(1, %s) n", (rows,))


def _baseline(uri: str, rows: int, bucket: str) -> int:
    """Read ``rows`` rows by keyset pages and write gzip JSON Lines parts: nothing else."""
    import boto3
    import psycopg

    s3 = boto3.client("s3")
    written, last, part = 0, 0, 0
    with psycopg.connect(uri) as connection:
        while True:
            cursor = connection.execute(
                "SELECT * FROM bench_orders WHERE id <= %s AND id > %s ORDER BY id LIMIT %s", (rows, last, BATCH_SIZE))
            names = [d.name for d in cursor.description]
            batch = cursor.fetchall()
            if not batch:
                return written
            buffer = io.BytesIO()
            with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=6, mtime=0) as stream:
                for raw in batch:
                    stream.write(json.dumps(dict(zip(names, raw)), default=str, separators=(",", ":")).encode())
                    stream.write(b"\n")
            part += 1
            s3.put_object(Bucket=bucket, Key=f"baseline/{rows}/part-{part:05d}.jsonl.gz", Body=buffer.getvalue())
            written += len(batch)
            last = batch[-1][0]


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _peak(action: Callable[[], Any]) -> float:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(sizes: list[int], repeats: int) -> dict[str, Any]:
    """Rows/s and peak memory of the engine and of the baseline for each size (medians of ``repeats``)."""
    import statistics

    import boto3
    import pgserver
    from moto import mock_aws

    from local.resources import create_resources, function_environment
    from local.stack import QueueEventSource, install_functions
    from local.template import load_template

    from local.stack import DUMMY_AWS_ENV

    os.environ.update(DUMMY_AWS_ENV)
    os.environ.pop("AWS_ENDPOINT_URL", None)  # the in-process emulator, not a server
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="synchub-bench-pg-") as data_dir, mock_aws():
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            uri = server.get_uri()
            _load_rows(uri, max(sizes))
            template = load_template()
            stack = create_resources(template, stack_name="synchub-bench")
            functions = install_functions(template, stack)
            for spec in (f.spec for f in functions.values()):
                os.environ.update(function_environment(stack, spec.environment))
            import synchub.runtime  # importable now: install_functions put the layer on the path
            from synchub.models.data_sources import CreateDataSourceRequest
            from synchub.models.tasks import CreateTaskRequest
            from synchub.schedule.data_sources import data_source_service
            from synchub.schedule.tasks import schedule_service

            synchub.runtime.reset()
            from urllib.parse import parse_qs, urlparse

            parsed = urlparse(uri)
            host = parse_qs(parsed.query).get("host", ["127.0.0.1"])[0]
            engine = functions["SyncEngineFunction"]
            events = QueueEventSource.from_template(engine, engine.spec.events_of("SQS")[0], stack, boto3.client("sqs"))
            bucket = stack.refs["DataLakeBucket"]
            for rows in sizes:
                data_source_service().create(CreateDataSourceRequest(
                    id=f"ds_bench_{rows}", name="bench", type="postgresql",
                    connection_config={"host": host, "port": parsed.port or 5432, "database": "postgres",
                                       "user": "postgres", "sslmode": "disable"},
                    params_config={"query": f"SELECT * FROM bench_orders WHERE id <= {rows}", "primary_key": "id"},
                ), "bench")

                def engine_run() -> int:
                    task = schedule_service().create_task(CreateTaskRequest(
                        data_source_id=f"ds_bench_{rows}", task_type="full_sync",
                        parameters={"batch_size": BATCH_SIZE}), "bench")
                    while events.poll_once():
                        pass
                    done = schedule_service().get_task(task["id"])
                    assert done["status"] == "success" and done["processed_rows"] == rows, done
                    return rows

                engine_seconds, baseline_seconds = [], []
                for _ in range(repeats):  # interleaved
                    engine_seconds.append(_timed(engine_run)[0])
                    elapsed, moved = _timed(lambda: _baseline(uri, rows, bucket))
                    assert moved == rows
                    baseline_seconds.append(elapsed)
                engine_rate = rows / statistics.median(engine_seconds)
                baseline_rate = rows / statistics.median(baseline_seconds)
                results.append({
                    "source": "postgresql", "rows": rows, "batch_size": BATCH_SIZE, "repeats": repeats,
                    "engine_rows_per_s": round(engine_rate), "baseline_rows_per_s": round(baseline_rate),
                    "ratio": round(engine_rate / baseline_rate, 3), "goal_ratio": 0.8,
                    "meets_goal": engine_rate / baseline_rate >= 0.8,
                    "engine_peak_mb": round(_peak(engine_run), 1),
                    "baseline_peak_mb": round(_peak(lambda: _baseline(uri, rows, bucket)), 1),
                })
        finally:
            server.cleanup()
    flat = None
    if len(results) >= 2:
        small, large = results[0], results[-1]
        flat = {"rows": [small["rows"], large["rows"]],
                "engine_peak_mb": [small["engine_peak_mb"], large["engine_peak_mb"]],
                "growth": round(large["engine_peak_mb"] / max(small["engine_peak_mb"], 0.1), 2),
                "goal": "peak memory flat as rows grow (growth ≤ 1.2)",
                "meets_goal": large["engine_peak_mb"] <= 1.2 * small["engine_peak_mb"]}
    return {"postgresql_to_s3": results, "memory_flatness": flat}
