"""Change data capture: PostgreSQL's logical replication into a lake table.

- **Changes applied per second**: a CDC ``realtime_sync`` has copied a table of ``keys`` rows; ``changes``
  updates are then made across those keys (every key updated ``changes / keys`` times, a transaction per
  round), and the engine reads them from the slot, folds them per key and commits them to the table. The time
  is the engine's, from the delivery of the poll that first sees them until the table holds the last round
  (checked row by row against the source).
- **Lag at one change a second**: one update a second for ``lag_samples`` seconds, ``poll_interval`` 1; each
  commit's lag is the time from the source's commit of the newest change it applied (from the WAL) to the
  table commit and the slot's advance (the task's ``capture.lag_seconds``): median and p95.

Everything runs in this process against the emulator in a process of its own and one embedded PostgreSQL
with logical decoding on.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

CHANGES = 100_000
KEYS = 10_000
LAG_SAMPLES = 30
BATCH_SIZE = 20_000  # changes a read takes from the slot (whole transactions: one round of KEYS here)


def measure(changes: int = CHANGES, keys: int = KEYS, lag_samples: int = LAG_SAMPLES) -> dict[str, Any]:
    """Changes applied per second, and the commit lag's median and p95 at one change a second."""
    import psycopg

    from bench.environment import bench_stack, embedded_postgres, engine_events
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.models.tasks import CreateTaskRequest

    with (
        embedded_postgres("synchub-bench-cdc-", logical=True) as (uri, connection_config),
        bench_stack(separate_emulator=True) as bench,
    ):
        from synchub.settings import get_settings
        from synchub.sources.data_sources import data_source_service
        from synchub.tables.commit import lake_catalog
        from synchub.tasks.use_cases import task_service

        source = psycopg.connect(uri, autocommit=True)
        source.execute(
            "CREATE TABLE cdc_bench (id integer PRIMARY KEY, amount numeric(12,2) NOT NULL, "
            "updated_at timestamptz NOT NULL, note text)"
        )
        source.execute("INSERT INTO cdc_bench SELECT n, 0, now(), 'row ' || n FROM generate_series(1, %s) n", [keys])
        data_source_service().create(
            CreateDataSourceRequest.model_validate(
                {
                    "id": "ds_cdc_bench",
                    "name": "bench",
                    "type": "postgresql",
                    "connection_config": connection_config,
                    "params_config": {
                        "table_name": "cdc_bench",
                        "capture": "cdc",
                        "destination": {"format": "iceberg"},
                    },
                }
            ),
            "bench",
        )
        task = task_service().create_task(
            CreateTaskRequest(
                data_source_id="ds_cdc_bench",
                task_type="realtime_sync",
                parameters={"batch_size": BATCH_SIZE, "poll_interval": 1},  # type: ignore[arg-type]
            ),
            "bench",
        )
        events = engine_events(bench)

        def capture() -> dict[str, Any]:
            current = task_service().get_task(task["id"])
            assert current["status"] in ("pending", "running"), current
            return current.get("capture") or {}

        def deliver_until(done: Any, seconds: float = 600) -> float:
            """Deliver the engine's messages until ``done()``; the seconds spent inside deliveries."""
            busy, deadline = 0.0, time.monotonic() + seconds
            while not done():
                assert time.monotonic() < deadline, capture()
                started = time.perf_counter()
                delivered = events.poll_once(wait_seconds=1)
                if delivered:
                    busy += time.perf_counter() - started
            return busy

        deliver_until(lambda: capture().get("phase") == "changes")

        def table_amounts() -> dict[int, Any]:
            settings = get_settings()
            table = lake_catalog(settings).load_table((settings.lake_database, "ds_cdc_bench")).scan().to_arrow()
            return dict(zip(table["id"].to_pylist(), table["amount"].to_pylist()))

        rounds = max(1, changes // keys)
        for _ in range(rounds):
            source.execute("UPDATE cdc_bench SET amount = amount + 1, updated_at = now()")
        target = source.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0]  # type: ignore[index]
        from synchub.connectors.pgoutput import lsn_number

        def caught_up() -> bool:
            position = capture().get("position")
            return position is not None and lsn_number(position) >= lsn_number(target)

        seconds = deliver_until(caught_up)
        expected = dict(source.execute("SELECT id, amount FROM cdc_bench").fetchall())
        assert table_amounts() == expected, "the table is not equal to the source after the changes"
        applied = rounds * keys

        lags: list[float] = []
        stop = threading.Event()

        def one_change_a_second() -> None:
            with psycopg.connect(uri, autocommit=True) as writer:
                n = 0
                while not stop.is_set():
                    n += 1
                    writer.execute("UPDATE cdc_bench SET note = %s, updated_at = now() WHERE id = %s", [f"lag {n}", n])
                    stop.wait(1.0)

        writer = threading.Thread(target=one_change_a_second, daemon=True)
        writer.start()
        seen = {capture().get("last_change_at")}  # the throughput rounds' newest change is not a sample
        deadline = time.monotonic() + lag_samples * 3 + 30
        try:
            while len(lags) < lag_samples and time.monotonic() < deadline:
                events.poll_once(wait_seconds=1)
                shown = capture()
                if shown.get("last_change_at") and shown["last_change_at"] not in seen:
                    seen.add(shown["last_change_at"])
                    lags.append(float(shown["lag_seconds"]))
        finally:
            stop.set()
            writer.join(5)
        source.close()
        ordered = sorted(lags)
        return {
            "keys": keys,
            "changes": applied,
            "batch_size": BATCH_SIZE,
            "apply_seconds": round(seconds, 2),
            "changes_per_s": round(applied / seconds),
            "lag": {
                "samples": len(lags),
                "poll_interval_s": 1,
                "median_s": round(statistics.median(ordered), 3) if ordered else None,
                "p95_s": round(ordered[max(0, int(len(ordered) * 0.95) - 1)], 3) if ordered else None,
            },
        }
