"""Demo data for the local stack: the ``ds_123`` data source and the HTTP dataset it points at."""

from __future__ import annotations

import logging
import signal
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("local")

DEMO_DATA_SOURCE_ID = "ds_123"
DEMO_ROWS = 10_000
DEMO_PAGE_SIZE = 100
# Each page answers after this long, as a remote API would: a sync of the 10,000 rows takes a few seconds,
# long enough to watch its progress rise (the engine stores progress about once a second).
DEMO_PAGE_SECONDS = 0.03
_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


def demo_row(number: int) -> dict[str, Any]:
    """Row ``number`` (1-based) of the demo ``orders`` dataset: deterministic, so syncs can be checked."""
    return {
        "id": number,
        "customer": f"customer-{number % 997:03d}",
        "amount": round((number * 7919) % 100_000 / 100, 2),
        "currency": ("EUR", "USD", "GBP")[number % 3],
        "updated_at": (_EPOCH + timedelta(minutes=number)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


class DemoDataset:
    """A paginated REST JSON endpoint: ``GET /_local/demo/orders?page=N&page_size=M``."""

    def __init__(self, rows: int = DEMO_ROWS, page_seconds: float = DEMO_PAGE_SECONDS):
        self.rows = rows
        self.page_seconds = page_seconds

    def serve(self, path: str, query: str) -> tuple[int, Any]:
        if path.rstrip("/") == "/_local/health":
            return 200, {"status": "ok"}
        if path.rstrip("/") != "/_local/demo/orders":
            return 404, {"error": "not found"}
        params = {k: v[-1] for k, v in parse_qs(query).items()}
        try:
            page = max(1, int(params.get("page", 1)))
            size = max(1, min(1000, int(params.get("page_size", DEMO_PAGE_SIZE))))
        except ValueError:
            return 400, {"error": "page and page_size must be integers"}
        time.sleep(self.page_seconds)
        first = (page - 1) * size + 1
        last = min(self.rows, first + size - 1)
        data = [demo_row(n) for n in range(first, last + 1)] if first <= self.rows else []
        return 200, {"data": data, "page": page, "page_size": size, "total": self.rows, "has_more": last < self.rows}


DEMO_PG_DATA_SOURCE_ID = "ds_pg_demo"


# The demo table's rows 1 to %s (rows kept from an earlier run stay as they are).
DEMO_ORDERS_INSERT = (
    "INSERT INTO demo_orders SELECT n, 'customer-' || lpad((n %% 997)::text, 3, '0'), "
    "((n * 7919) %% 100000) / 100.0, (ARRAY['EUR','USD','GBP'])[n %% 3 + 1], "
    "timestamptz '2026-01-01 00:00:00+00' + n * interval '1 minute', 5000000000 + n %% 997 "
    "FROM generate_series(1, %s) AS n ON CONFLICT (id) DO NOTHING"
)


def logical_postgres(data_dir: str) -> Any:
    """pgserver's PostgreSQL on ``data_dir`` with logical decoding on (``wal_level = logical``, which CDC
    needs): a new data directory is started once, set, and restarted."""
    import pgserver
    import psycopg

    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as connection:
        if connection.execute("SHOW wal_level").fetchone()[0] == "logical":  # type: ignore[index]
            return server
        connection.execute("ALTER SYSTEM SET wal_level = logical")
    server.cleanup()  # the last handle: stops the server
    return pgserver.get_server(data_dir, cleanup_mode="stop")


def start_demo_postgres(data_dir: str, rows: int = DEMO_ROWS) -> dict[str, Any] | None:
    """An embedded PostgreSQL (the pgserver package) holding ``demo_orders``; None where it cannot start."""
    try:
        import pgserver  # noqa: F401 - whether the embedded server is installed
        import psycopg
    except ImportError:
        log.warning("pgserver is not installed; the PostgreSQL demo source is not available")
        return None
    try:
        stop_postgres(data_dir)  # one a killed run left behind
        server = logical_postgres(data_dir)
        uri = server.get_uri()
        with psycopg.connect(uri, autocommit=True) as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS demo_orders (id integer PRIMARY KEY, customer text NOT NULL, "
                "amount numeric(10,2) NOT NULL, currency text NOT NULL, updated_at timestamptz NOT NULL, "
                "account_id bigint)"
            )
            connection.execute("ALTER TABLE demo_orders ADD COLUMN IF NOT EXISTS account_id bigint")  # older demos
            connection.execute(DEMO_ORDERS_INSERT, (rows,))
    except Exception:  # noqa: BLE001 - the rest of the stack works without it
        log.warning("the embedded PostgreSQL did not start; the PostgreSQL demo source is not available", exc_info=True)
        return None
    from urllib.parse import parse_qs, urlparse

    parsed = urlparse(uri)
    return {
        "server": server,
        "host": parse_qs(parsed.query).get("host", ["127.0.0.1"])[0],
        "port": parsed.port or 5432,
        "database": parsed.path.lstrip("/") or "postgres",
        "user": parsed.username or "postgres",
    }


def stop_postgres(data_dir: str, *, immediately: bool = False) -> bool:
    """Stop the PostgreSQL server running on ``data_dir``, if one is (True then). pgserver stops its server only
    when every process that ever opened it has exited cleanly, so a killed run would leave it running."""
    import psutil  # noqa: PLC0415 - only needed where the embedded PostgreSQL runs

    try:
        pid = int((Path(data_dir) / "postmaster.pid").read_text().split("\n", 1)[0])
        postmaster = psutil.Process(pid)
        if not postmaster.name().startswith("postgres"):
            return False  # a stale file, its pid reused by another program
        # SIGINT is PostgreSQL's fast shutdown (clients cut, a clean checkpoint); SIGQUIT its immediate one.
        postmaster.send_signal(signal.SIGQUIT if immediately else signal.SIGINT)
        postmaster.wait(8)
    except psutil.TimeoutExpired:
        postmaster.kill()
    except (OSError, ValueError, psutil.Error):
        return False
    (Path(data_dir) / ".handle_pids.json").unlink(missing_ok=True)  # pgserver's count of the processes using it
    log.info("stopped the PostgreSQL server on %s (pid %d)", data_dir, pid)
    return True


def seed_postgres(settings: dict[str, Any]) -> None:
    """Create ``ds_pg_demo`` (the embedded PostgreSQL's ``demo_orders``) unless it exists."""
    from synchub.errors import DataSourceExists
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.sources.data_sources import data_source_service

    request = CreateDataSourceRequest(
        id=DEMO_PG_DATA_SOURCE_ID,
        name="Demo orders (embedded PostgreSQL)",
        type="postgresql",
        description="The demo orders in a PostgreSQL table, read by keyset paging.",
        connection_config={
            "host": settings["host"],
            "port": settings["port"],
            "database": settings["database"],
            "user": settings["user"],
            "sslmode": "disable",
        },
        params_config={
            "table_name": "demo_orders",
            "primary_key": "id",
            "cursor_field": "updated_at",
            "destination": {"format": "iceberg"},  # the table ds_pg_demo, in the lake database
        },
    )
    try:
        data_source_service().create(request, created_by="seed")
        log.info("seeded data source %s", DEMO_PG_DATA_SOURCE_ID)
    except DataSourceExists:  # kept from an earlier run: the embedded server may listen elsewhere now
        data_source_service().patch(
            DEMO_PG_DATA_SOURCE_ID,
            {"connection_config": request.connection_config, "params_config": request.params_config},
        )


def seed(base_url: str) -> None:
    """Create the demo data source ``ds_123`` unless it exists."""
    from synchub.errors import DataSourceExists
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.sources.data_sources import data_source_service

    request = CreateDataSourceRequest(
        id=DEMO_DATA_SOURCE_ID,
        name="Demo orders (local HTTP API)",
        type="http",
        description="10,000 demo orders served by the local stack, 100 per page, each page in about 30 ms.",
        connection_config={"base_url": f"{base_url}/_local/demo", "headers": {"Accept": "application/json"}},
        params_config={
            "url_suffix": "/orders",
            "records_path": "data",
            "total_path": "total",
            "pagination": {
                "style": "page",
                "page_param": "page",
                "size_param": "page_size",
                "page_size": 100,
                "has_more_path": "has_more",
            },
            "primary_key": "id",
            "cursor_field": "updated_at",
            "destination": {"format": "jsonl"},  # the raw-landing example: gzip JSON Lines files and a manifest
        },
    )
    try:
        data_source_service().create(request, created_by="seed")
        log.info("seeded data source %s", DEMO_DATA_SOURCE_ID)
    except DataSourceExists:  # kept from an earlier run, maybe on another port
        data_source_service().patch(DEMO_DATA_SOURCE_ID, {"connection_config": request.connection_config})
