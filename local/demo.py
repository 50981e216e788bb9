"""Demo data for the local stack: the ``ds_123`` data source and the HTTP dataset it points at."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs

log = logging.getLogger("synchub.local")

DEMO_DATA_SOURCE_ID = "ds_123"
DEMO_ROWS = 10_000
DEMO_PAGE_SIZE = 100
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

    def __init__(self, rows: int = DEMO_ROWS):
        self.rows = rows

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
        first = (page - 1) * size + 1
        last = min(self.rows, first + size - 1)
        data = [demo_row(n) for n in range(first, last + 1)] if first <= self.rows else []
        return 200, {"data": data, "page": page, "page_size": size, "total": self.rows,
                     "has_more": last < self.rows}


def seed(base_url: str) -> None:
    """Create the demo data source ``ds_123`` unless it exists."""
    from synchub.errors import DataSourceExists
    from synchub.models.data_sources import CreateDataSourceRequest
    from synchub.schedule.data_sources import data_source_service

    request = CreateDataSourceRequest(
        id=DEMO_DATA_SOURCE_ID,
        name="Demo orders (local HTTP API)",
        type="http",
        description="10,000 demo orders served by the local stack, 100 per page.",
        connection_config={"base_url": f"{base_url}/_local/demo", "headers": {"Accept": "application/json"}},
        params_config={
            "url_suffix": "/orders",
            "records_path": "data",
            "total_path": "total",
            "pagination": {"style": "page", "page_param": "page", "size_param": "page_size", "page_size": 100,
                           "has_more_path": "has_more"},
            "primary_key": "id",
            "cursor_field": "updated_at",
        },
    )
    try:
        data_source_service().create(request, created_by="seed")
        log.info("seeded data source %s", DEMO_DATA_SOURCE_ID)
    except DataSourceExists:
        pass
