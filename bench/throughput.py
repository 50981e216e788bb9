"""Engine throughput and memory: a full_sync from PostgreSQL and from an HTTP JSON API into the data
lake, each beside a plain script (psycopg or urllib3, gzip JSON Lines, boto3) that moves the same rows in
the same parts with no bookkeeping. Parts are closed at 1 MB of rows here (``PART_SIZE_MB``; the default
32 MB would hold either size in one part), so both sizes span several parts and peak memory shows what
one part costs, not what the whole sync would.

Both run in this process against the same emulator (moto's server, in a process of its own), the same
embedded PostgreSQL (pgserver) and the same local HTTP server, so the ratio compares the engine's
overhead, not the machine. Memory is the tracemalloc peak of a separate run of each (tracemalloc slows
Python, so timings come from untraced runs).
"""

from __future__ import annotations

import gzip
import json
import time
import tracemalloc
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Callable

BATCH_SIZE = 5000
HTTP_PAGE_SIZE = 1000
PART_SIZE_MB = 1.0
PART_BYTES = int(PART_SIZE_MB * 1024 * 1024)


def _load_rows(uri: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS bench_orders")
        connection.execute(
            "CREATE TABLE bench_orders (id integer PRIMARY KEY, customer text, amount numeric(10,2), "
            "currency text, updated_at timestamptz)"
        )
        connection.execute(
            "INSERT INTO bench_orders SELECT n, 'customer-' || (n %% 997), (n %% 100000) / 100.0, "
            "(ARRAY['EUR','USD','GBP'])[n %% 3 + 1], timestamptz '2026-01-01' + n * interval '1 second' "
            "FROM generate_series(1, %s) n",
            (rows,),
        )


def _plain_json(value: Any) -> Any:
    """What a plain script would write for values JSON has no type for: numbers stay numbers, times ISO 8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _encoded(records: list[dict[str, Any]]) -> bytes:
    return b"".join(
        json.dumps(record, default=_plain_json, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for record in records
    )


class _Parts:
    """The plain script's parts: batches appended as JSON Lines, a part written once it holds PART_BYTES."""

    def __init__(self, s3: Any, bucket: str, prefix: str):
        self.s3, self.bucket, self.prefix = s3, bucket, prefix
        self.number, self.pending = 0, bytearray()

    def add(self, records: list[dict[str, Any]]) -> None:
        self.pending += _encoded(records)
        if len(self.pending) >= PART_BYTES:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.number += 1
            self.s3.put_object(
                Bucket=self.bucket,
                Key=f"{self.prefix}/part-{self.number:05d}.jsonl.gz",
                Body=gzip.compress(bytes(self.pending), compresslevel=6, mtime=0),
            )
            self.pending = bytearray()


def _http_baseline(base_url: str, rows: int, bucket: str) -> int:
    """Read ``rows`` rows page by page over HTTP, BATCH_SIZE rows a batch, into gzip JSON Lines parts."""
    import boto3
    import urllib3

    parts = _Parts(boto3.client("s3"), bucket, f"baseline-http/{rows}")
    http = urllib3.PoolManager()
    written, page, batch = 0, 1, []
    while True:
        response = http.request("GET", f"{base_url}/orders?page={page}&page_size={HTTP_PAGE_SIZE}")
        records = json.loads(response.data)["items"]
        batch.extend(records)
        page += 1
        if len(batch) >= BATCH_SIZE or not records:
            parts.add(batch)
            written += len(batch)
            batch = []
        if not records:
            parts.flush()
            return written


def _baseline(uri: str, rows: int, bucket: str) -> int:
    """Read ``rows`` rows by keyset pages of BATCH_SIZE into gzip JSON Lines parts: nothing else."""
    import boto3
    import psycopg

    parts = _Parts(boto3.client("s3"), bucket, f"baseline/{rows}")
    written, last = 0, 0
    with psycopg.connect(uri) as connection:
        while True:
            cursor = connection.execute(
                "SELECT * FROM bench_orders WHERE id <= %s AND id > %s ORDER BY id LIMIT %s", (rows, last, BATCH_SIZE)
            )
            names = [d.name for d in cursor.description]
            batch = cursor.fetchall()
            if not batch:
                parts.flush()
                return written
            parts.add([dict(zip(names, raw)) for raw in batch])
            written += len(batch)
            last = batch[-1][0]


def _first_parts_equal(bucket: str, engine_prefix: str, task_id: str, baseline_prefix: str, rows: int) -> bool:
    """Whether the engine's first part holds the same JSON Lines as the baseline's (the same work was done)."""
    import boto3

    s3 = boto3.client("s3")
    keys = sorted(
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=engine_prefix).get("Contents", [])
        if task_id in o["Key"] and "/part-" in o["Key"]
    )
    engine = s3.get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    baseline = s3.get_object(Bucket=bucket, Key=f"{baseline_prefix}{rows}/part-00001.jsonl.gz")["Body"].read()
    return gzip.decompress(engine) == gzip.decompress(baseline)


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def _peak(action: Callable[[], Any]) -> float:
    """Peak memory traced while ``action`` runs (the emulator runs in its own process, so its storage does
    not count, as in Lambda)."""
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _flatness(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    if len(results) < 2:
        return None
    small, large = results[0], results[-1]
    return {
        "rows": [small["rows"], large["rows"]],
        "engine_peak_mb": [small["engine_peak_mb"], large["engine_peak_mb"]],
        "growth": round(large["engine_peak_mb"] / max(small["engine_peak_mb"], 0.1), 2),
        "goal": "peak memory flat as rows grow (growth ≤ 1.2)",
        "meets_goal": large["engine_peak_mb"] <= 1.2 * small["engine_peak_mb"],
    }


def measure(sizes: list[int], repeats: int) -> dict[str, Any]:
    """Rows/s and peak memory of the engine and of the baselines for each source and size (medians of ``repeats``)."""
    import statistics

    from bench.environment import bench_stack, embedded_postgres, engine_events, engine_setting, sync_through_engine
    from local.orders_server import OrdersServer

    results: dict[str, list[dict[str, Any]]] = {"postgresql": [], "http": []}
    with (
        engine_setting("PART_SIZE_MB", str(PART_SIZE_MB)),
        embedded_postgres("synchub-bench-pg-") as (uri, connection_config),
        bench_stack(separate_emulator=True) as bench,
    ):
        from synchub.models.data_sources import CreateDataSourceRequest
        from synchub.sources.data_sources import data_source_service

        _load_rows(uri, max(sizes))
        events = engine_events(bench)
        bucket = bench.stack.refs["DataLakeBucket"]
        for rows in sizes:
            http_server = OrdersServer(rows)
            flows = {
                "postgresql": (
                    {
                        "type": "postgresql",
                        "connection_config": connection_config,
                        "params_config": {
                            "query": f"SELECT * FROM bench_orders WHERE id <= {rows}",
                            "primary_key": "id",
                            "destination": {"format": "jsonl"},  # beside a JSON Lines script
                        },
                    },
                    lambda: _baseline(uri, rows, bucket),
                ),
                "http": (
                    {
                        "type": "http",
                        "connection_config": {"base_url": http_server.base_url},
                        "params_config": {
                            "url_suffix": "/orders",
                            "records_path": "items",
                            "total_path": "meta.total",
                            "primary_key": "id",
                            "pagination": {"style": "page", "size_param": "page_size", "page_size": HTTP_PAGE_SIZE},
                            "destination": {"format": "jsonl"},
                        },
                    },
                    lambda: _http_baseline(http_server.base_url, rows, bucket),
                ),
            }
            for source, (definition, baseline) in flows.items():
                data_source_id = f"ds_bench_{source}_{rows}"
                data_source_service().create(
                    CreateDataSourceRequest.model_validate({"id": data_source_id, "name": "bench", **definition}),
                    "bench",
                )

                def engine_run() -> str:
                    return sync_through_engine(events, data_source_id, "full_sync", BATCH_SIZE, rows)

                engine_seconds, baseline_seconds = [], []
                for _ in range(repeats):  # interleaved
                    elapsed, task_id = _timed(engine_run)
                    engine_seconds.append(elapsed)
                    elapsed, moved = _timed(baseline)
                    assert moved == rows, (source, moved, rows)
                    baseline_seconds.append(elapsed)
                same = _first_parts_equal(
                    bucket,
                    f"{data_source_id}/",
                    task_id,
                    "baseline/" if source == "postgresql" else "baseline-http/",
                    rows,
                )
                engine_rate = rows / statistics.median(engine_seconds)
                baseline_rate = rows / statistics.median(baseline_seconds)
                results[source].append(
                    {
                        "source": source,
                        "rows": rows,
                        "batch_size": BATCH_SIZE,
                        "part_size_mb": PART_SIZE_MB,
                        "repeats": repeats,
                        "engine_rows_per_s": round(engine_rate),
                        "baseline_rows_per_s": round(baseline_rate),
                        "ratio": round(engine_rate / baseline_rate, 3),
                        "goal_ratio": 0.8,
                        "meets_goal": engine_rate / baseline_rate >= 0.8,
                        "same_first_part": same,
                        "engine_peak_mb": round(_peak(engine_run), 1),
                        "baseline_peak_mb": round(_peak(baseline), 1),
                    }
                )
            http_server.close()
    return {
        "postgresql_to_s3": results["postgresql"],
        "http_to_s3": results["http"],
        "memory_flatness": {source: _flatness(rows) for source, rows in results.items()},
    }
