"""Lake tables: PostgreSQL rows into an Iceberg table.

- **Full sync**: the engine's ``full_sync`` of 50,000 and 200,000 rows into a table (typed Parquet parts, one
  commit) beside a plain script doing the same read → Arrow → Parquet → one Iceberg append (psycopg keyset
  pages into Arrow batches, pyiceberg's ``append``), interleaved, medians of the repeats.
- **Merge**: 10,000 changed source rows merged by ``incremental_sync`` into the 200,000-row table.
- **Memory**: the peak of what this process holds while the engine syncs (Python's heap as tracemalloc sees it
  plus Arrow's memory pool, sampled), at both sizes: flat while parts stay the same size.
- **Dollars per million rows landed**: a separate run of each through a proxy in front of the emulator that
  counts every request by service and kind (SigV4 names the service; Arrow's S3 client is counted as boto3's
  is), priced with ``bench/prices-us-east-1.json``; Lambda GB-seconds from the engine's measured time at its
  configured memory.

Everything runs in this process against the emulator in a process of its own and one embedded PostgreSQL.
"""

from __future__ import annotations

import http.client
import os
import re
import statistics
import threading
import time
import tracemalloc
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import urlparse

BATCH_SIZE = 5000
PART_SIZE_MB = 2.0  # parts of 2 MB of Arrow data: both sizes span several, so peak memory shows one part's cost
CHANGED = 10_000
PER = 1_000_000
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


class CountingProxy:
    """An HTTP proxy in front of the emulator that counts requests by (service, kind): S3's ``put`` (PUT,
    POST, COPY and LIST are priced alike), ``get`` (GET, HEAD) and ``delete``; other services' requests."""

    def __init__(self, upstream: str):
        target = urlparse(upstream)
        self.counts: Counter[tuple[str, str]] = Counter()
        lock = threading.Lock()
        counts = self.counts

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def _forward(self) -> None:
                body = self._body()
                service = CREDENTIAL_SCOPE.search(self.headers.get("Authorization", ""))
                name = service.group(1) if service else "unsigned"
                kind = self.command
                if name == "s3":
                    listing = self.command == "GET" and ("list-type=" in self.path or self.path.count("/") <= 1)
                    kind = (
                        "put"
                        if self.command in ("PUT", "POST") or listing
                        else "delete"
                        if self.command == "DELETE"
                        else "get"
                    )
                with lock:
                    counts[(name, kind)] += 1
                upstream_connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                dropped = ("connection", "host", "transfer-encoding", "content-length", "expect")
                headers = {key: value for key, value in self.headers.items() if key.lower() not in dropped}
                headers["Content-Length"] = str(len(body or b""))
                headers["Host"] = target.netloc  # the emulator tells path-style S3 requests by its own address
                upstream_connection.request(self.command, self.path, body=body, headers=headers)
                answer = upstream_connection.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(key, value)
                # a HEAD answer's length is the object's (what Arrow sizes its reads by), not its empty body's
                length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream_connection.close()

            def _body(self) -> bytes | None:
                """The request's body, de-chunked where it came in chunks (Arrow's S3 client streams parts)."""
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    length = int(self.headers.get("Content-Length") or 0)
                    return self.rfile.read(length) if length else None
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def endpoint(url: str) -> Iterator[None]:
    """Every client made from now on (boto3, pyiceberg, Arrow) talks to ``url``."""
    import synchub.runtime

    previous = os.environ["AWS_ENDPOINT_URL"]
    os.environ["AWS_ENDPOINT_URL"] = url
    synchub.runtime.reset()
    try:
        yield
    finally:
        os.environ["AWS_ENDPOINT_URL"] = previous
        synchub.runtime.reset()


class PeakMemory:
    """The peak, over a run, of Python's traced heap plus Arrow's allocated bytes (sampled every 5 ms)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()

    def _sample(self) -> None:
        import pyarrow as pa

        while not self._stop.wait(0.005):
            self.peak = max(self.peak, tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes())

    def measure(self, action: Callable[[], Any]) -> float:
        """MB at the peak, above what was held before ``action``."""
        import pyarrow as pa

        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0] + pa.total_allocated_bytes()
            sampler = threading.Thread(target=self._sample, daemon=True)
            sampler.start()
            action()
            self._stop.set()
            sampler.join()
            self.peak = max(self.peak, tracemalloc.get_traced_memory()[1] + pa.total_allocated_bytes())
            return round((self.peak - before) / 2**20, 1)
        finally:
            tracemalloc.stop()


def _load_rows(uri: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS lake_orders")
        connection.execute(
            "CREATE TABLE lake_orders (id integer PRIMARY KEY, account_id bigint, customer text, "
            "amount numeric(10,2), currency text, updated_at timestamptz)"
        )
        connection.execute(
            "INSERT INTO lake_orders SELECT n, 5000000000 + n %% 997, 'customer-' || (n %% 997), "
            "(n %% 100000) / 100.0, (ARRAY['EUR','USD','GBP'])[n %% 3 + 1], "
            "timestamptz '2026-01-01' + n * interval '1 second' FROM generate_series(1, %s) n",
            (rows,),
        )


def _plain_script(uri: str, rows: int, name: str) -> int:
    """Read ``rows`` rows by keyset pages into Arrow (the columns' types written out), then one append to a new
    Iceberg table: pyiceberg writes the Parquet file and commits once. Nothing else."""
    import psycopg
    import pyarrow as pa

    from synchub.settings import get_settings
    from synchub.tables.commit import lake_catalog

    schema = pa.schema(
        [
            ("id", pa.int32()),
            ("account_id", pa.int64()),
            ("customer", pa.string()),
            ("amount", pa.decimal128(10, 2)),
            ("currency", pa.string()),
            ("updated_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    batches, last = [], 0
    with psycopg.connect(uri) as connection:
        while True:
            cursor = connection.execute(
                "SELECT * FROM lake_orders WHERE id <= %s AND id > %s ORDER BY id LIMIT %s", (rows, last, BATCH_SIZE)
            )
            page = cursor.fetchall()
            if not page:
                break
            columns = list(zip(*page))
            batches.append(
                pa.record_batch(
                    [pa.array(column, type=field.type) for column, field in zip(columns, schema)], schema=schema
                )
            )
            last = page[-1][0]
    settings = get_settings()
    catalog = lake_catalog(settings)
    identifier = (settings.lake_database, name)
    if catalog.table_exists(identifier):
        catalog.drop_table(identifier)
    table = catalog.create_table(identifier, schema, location=f"s3://{settings.data_lake_bucket}/tables/{name}")
    data = pa.Table.from_batches(batches, schema=schema)
    table.append(data)
    return data.num_rows


def measure(sizes: list[int], repeats: int, changed: int = CHANGED) -> dict[str, Any]:
    """Rows/s of the engine and the plain script per size, the merge, peak memory and dollars per million rows."""
    import json

    import psycopg

    from bench.dollars import PRICES
    from bench.environment import bench_stack, embedded_postgres, engine_events, engine_setting, sync_through_engine

    price = json.loads(PRICES.read_text())["prices_usd"]
    results: list[dict[str, Any]] = []
    with (
        engine_setting("PART_SIZE_MB", str(PART_SIZE_MB)),
        embedded_postgres("synchub-bench-lake-") as (uri, connection_config),
        bench_stack(separate_emulator=True) as bench,
    ):
        from synchub.models.data_sources import CreateDataSourceRequest
        from synchub.sources.data_sources import data_source_service
        from synchub.tables.commit import lake_catalog

        memory_gb = bench.functions["SyncEngineFunction"].spec.memory / 1024
        _load_rows(uri, max(sizes))

        def sync(data_source_id: str, task_type: str, expected: int) -> str:
            # the event source made anew: after ``endpoint`` its SQS client talks to the counting proxy
            return sync_through_engine(engine_events(bench), data_source_id, task_type, BATCH_SIZE, expected)

        def table_rows(name: str) -> int:
            from synchub.settings import get_settings

            settings = get_settings()
            return lake_catalog(settings).load_table((settings.lake_database, name)).scan().to_arrow().num_rows

        for rows in sizes:
            data_source_id = f"ds_lake_{rows}"
            data_source_service().create(
                CreateDataSourceRequest.model_validate(
                    {
                        "id": data_source_id,
                        "name": "bench",
                        "type": "postgresql",
                        "connection_config": connection_config,
                        "params_config": {
                            "query": f"SELECT * FROM lake_orders WHERE id <= {rows}",
                            "primary_key": "id",
                            "cursor_field": "updated_at",
                            "destination": {"format": "iceberg"},
                        },
                    }
                ),
                "bench",
            )
            engine_seconds, plain_seconds = [], []
            for _ in range(repeats):  # interleaved, so machine noise hits both alike
                started = time.perf_counter()
                sync(data_source_id, "full_sync", rows)
                engine_seconds.append(time.perf_counter() - started)
                started = time.perf_counter()
                assert _plain_script(uri, rows, f"plain_{rows}") == rows
                plain_seconds.append(time.perf_counter() - started)
            assert table_rows(data_source_id) == rows == table_rows(f"plain_{rows}")
            engine_rate = rows / statistics.median(engine_seconds)
            plain_rate = rows / statistics.median(plain_seconds)
            results.append(
                {
                    "rows": rows,
                    "repeats": repeats,
                    "engine_seconds": round(statistics.median(engine_seconds), 2),
                    "engine_rows_per_s": round(engine_rate),
                    "plain_rows_per_s": round(plain_rate),
                    "ratio": round(engine_rate / plain_rate, 3),
                    "goal_ratio": 0.8,
                    "meets_goal": engine_rate / plain_rate >= 0.8,
                    "engine_peak_mb": PeakMemory().measure(lambda: sync(data_source_id, "full_sync", rows)),
                    "plain_peak_mb": PeakMemory().measure(lambda: _plain_script(uri, rows, f"plain_{rows}")),
                }
            )

        # ---- the merge: `changed` source rows change, an incremental sync merges them by id
        largest = max(sizes)
        merged_source = f"ds_lake_{largest}"

        def change_rows(shift: str) -> None:
            with psycopg.connect(uri, autocommit=True) as connection:
                connection.execute(
                    "UPDATE lake_orders SET amount = amount + 1, updated_at = updated_at + %s::interval WHERE id <= %s",
                    (shift, changed),
                )

        change_rows("1 year")
        started = time.perf_counter()
        sync(merged_source, "incremental_sync", changed)
        merge_seconds = time.perf_counter() - started
        assert table_rows(merged_source) == largest
        merge = {
            "table_rows": largest,
            "changed_rows": changed,
            "seconds": round(merge_seconds, 2),
            "rows_per_s": round(changed / merge_seconds),
        }

        # ---- dollars: a full sync and a merge again, every request counted through the proxy
        proxy = CountingProxy(os.environ["AWS_ENDPOINT_URL"])
        try:
            with endpoint(proxy.url):
                started = time.perf_counter()
                sync(merged_source, "full_sync", largest)
                full_seconds = time.perf_counter() - started
                full_counts = Counter(proxy.counts)
                proxy.counts.clear()
                change_rows("2 years")
                started = time.perf_counter()
                sync(merged_source, "incremental_sync", changed)
                merge_metered_seconds = time.perf_counter() - started
                merge_counts = Counter(proxy.counts)
        finally:
            proxy.close()
    small, large = results[0], results[-1]
    return {
        "part_size_mb": PART_SIZE_MB,
        "batch_size": BATCH_SIZE,
        "full_sync": results,
        "merge": merge,
        "memory_flatness": {
            "rows": [small["rows"], large["rows"]],
            "engine_peak_mb": [small["engine_peak_mb"], large["engine_peak_mb"]],
            "growth": round(large["engine_peak_mb"] / max(small["engine_peak_mb"], 0.1), 2),
            "goal": "peak memory flat as rows grow (growth ≤ 1.2)",
            "meets_goal": large["engine_peak_mb"] <= 1.2 * small["engine_peak_mb"],
        },
        "dollars": {
            "full_sync": _priced(full_counts, full_seconds, memory_gb, largest, price),
            "merge": _priced(merge_counts, merge_metered_seconds, memory_gb, changed, price),
        },
    }


def _priced(
    counts: Counter[tuple[str, str]], seconds: float, memory_gb: float, rows: int, price: dict[str, float]
) -> dict[str, Any]:
    """The run's requests and the engine's GB-seconds, each priced and scaled to one million rows landed."""
    scale = PER / rows
    unit_prices = {
        ("s3", "put"): price["s3_put_request"],
        ("s3", "get"): price["s3_get_request"],
        ("s3", "delete"): 0.0,  # S3 does not charge DELETE requests
        ("glue", "POST"): price["glue_catalog_request"],
        ("sqs", "POST"): price["sqs_standard_request"],
    }
    items = [
        {
            "item": "Lambda GB-seconds (engine)",
            "count": round(seconds * memory_gb * scale, 1),
            "usd_per_million_rows": round(seconds * memory_gb * price["lambda_gb_second_arm64"] * scale, 5),
        }
    ]
    for (service, kind), count in sorted(counts.items()):
        unit = unit_prices.get((service, kind))
        items.append(
            {
                "item": f"{service} {kind} requests",
                "count": round(count * scale),
                "usd_per_million_rows": round(count * unit * scale, 5) if unit is not None else None,
            }
        )
    return {
        "rows": rows,
        "engine_seconds": round(seconds, 2),
        "line_items": items,
        "usd_per_million_rows": round(sum(item["usd_per_million_rows"] or 0 for item in items), 4),
        "not_priced": [item["item"] for item in items if item["usd_per_million_rows"] is None],
    }
