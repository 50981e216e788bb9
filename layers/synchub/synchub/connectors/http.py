"""REST JSON source: pages by page number, offset, cursor token or next link.

Credentials (headers, query parameters) go to the ``base_url``'s origin only: a ``next_link`` or a redirect
to another scheme, host or port fails the sync with DESTINATION_NOT_ALLOWED instead of being followed."""

from __future__ import annotations

import json
from typing import Any, Collection
from urllib.parse import urlencode, urljoin

import urllib3

from synchub.connectors.base import (
    Batch,
    DestinationRefused,
    PermanentSourceError,
    StreamSpec,
    TransientSourceError,
    dig,
    not_delivered,
)
from synchub.outbound import url_origin

# No automatic retries (the engine retries through the queue, with backoff) and no automatic redirects: they
# are followed here, within the source's origin.
_pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30))
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpSource:
    def __init__(self, connection: dict[str, Any], stream: StreamSpec):
        self.base_url = str(connection["base_url"]).rstrip("/") + "/"
        self.headers = {"Accept": "application/json", **(connection.get("headers") or {}), **stream.headers}
        token = connection.get("token") or connection.get("api_key")
        if token and not any(k.lower() == "authorization" for k in self.headers):
            self.headers["Authorization"] = f"Bearer {token}"
        self.stream = stream
        # Query parameters that are credentials (api_key=…) live in connection_config, where they are write-only.
        self.query_params = dict(connection.get("query_params") or {})

    def _same_origin(self, url: str, what: str) -> str:
        if url_origin(url) != url_origin(self.base_url):
            raise DestinationRefused(
                f"Not allowed to connect: the source's {what} leads to {url.split('?')[0]}, "
                f"outside its base_url's origin ({'{}://{}:{}'.format(*url_origin(self.base_url))}), "
                "where its credentials would follow"
            )
        return url

    def _url(self, state: dict[str, Any], size: int) -> str:
        if state.get("url"):
            return self._same_origin(urljoin(self.base_url, state["url"]), "next_link")
        pagination = self.stream.pagination
        params = {**self.query_params, **self.stream.query_params}
        if pagination.style != "none" and pagination.size_param:
            params[pagination.size_param] = size
        if pagination.style == "page":
            params[pagination.page_param] = state.get("page", pagination.first_page)
        elif pagination.style == "offset":
            params[pagination.offset_param] = state.get("offset", 0)
        elif pagination.style == "cursor" and state.get("cursor"):
            params[pagination.cursor_param] = state["cursor"]
        url = urljoin(self.base_url, self.stream.url_suffix.lstrip("/"))
        return f"{url}?{urlencode(params, doseq=True)}" if params else url

    def _fetch(self, url: str) -> Any:
        method = self.stream.method
        body = json.dumps(self.stream.body).encode() if self.stream.body is not None else None
        for _ in range(MAX_REDIRECTS + 1):
            headers = dict(self.headers)
            if body is not None:
                headers["Content-Type"] = "application/json"
            try:
                response = _pool.request(method, url, body=body, headers=headers, redirect=False)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise TransientSourceError(f"HTTP request failed: {type(error).__name__}") from error
            if response.status not in REDIRECTS or not response.headers.get("Location"):
                break
            url = self._same_origin(urljoin(url, response.headers["Location"]), f"redirect ({response.status})")
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None  # as browsers and urllib3 do
        else:
            raise PermanentSourceError(f"more than {MAX_REDIRECTS} redirects from the source")
        if response.status == 429 or response.status >= 500:
            raise TransientSourceError(f"HTTP {response.status} from the source")
        if response.status >= 400:
            raise PermanentSourceError(
                f"HTTP {response.status} from the source for {self.stream.method} {url.split('?')[0]}"
            )
        try:
            return json.loads(response.data)
        except ValueError as error:
            raise PermanentSourceError("the source did not return JSON") from error

    def read(
        self,
        state: dict[str, Any] | None,
        batch_size: int,
        watermark: Any = None,
        delivered: Collection[Any] | None = (),
    ) -> Batch:
        """Whole pages until at least ``batch_size`` rows (or the end): checkpoints fall on page boundaries.
        With a cursor field and a watermark, only rows at or past it that were not ``delivered`` at it."""
        pagination = self.stream.pagination
        state = dict(state or {})
        rows: list[dict[str, Any]] = []
        total = None
        size = min(batch_size, pagination.page_size)
        while True:
            document = self._fetch(self._url(state, size))
            records = dig(document, self.stream.records_path)
            if not isinstance(records, list):
                raise PermanentSourceError(f"no list of records at '{self.stream.records_path or '$'}'")
            if self.stream.total_path and total is None:
                found = dig(document, self.stream.total_path)
                total = int(found) if isinstance(found, (int, float)) else None
            page_rows = [r for r in records if isinstance(r, dict)]
            if self.stream.cursor_field and watermark is not None:
                page_rows = not_delivered(
                    page_rows, self.stream.cursor_field, self.stream.primary_key, watermark, delivered
                )
            rows.extend(page_rows)
            next_state = self._next_state(state, document, len(records), size)
            if next_state is None:
                return Batch(rows, None, total)
            state = next_state
            if len(rows) >= batch_size:
                return Batch(rows, state, total)

    def _next_state(self, state: dict[str, Any], document: Any, count: int, size: int) -> dict[str, Any] | None:
        pagination = self.stream.pagination
        if pagination.has_more_path is not None and not dig(document, pagination.has_more_path):
            return None
        if pagination.style == "page":
            return (
                None
                if count == 0 or (pagination.has_more_path is None and count < size)
                else {"page": state.get("page", pagination.first_page) + 1}
            )
        if pagination.style == "offset":
            return (
                None
                if count == 0 or (pagination.has_more_path is None and count < size)
                else {"offset": state.get("offset", 0) + count}
            )
        if pagination.style == "cursor":
            token = dig(document, pagination.cursor_path)
            return {"cursor": token} if token and count else None
        if pagination.style == "next_link":
            link = dig(document, pagination.next_link_path)
            return {"url": link} if link else None
        return None

    def close(self) -> None:
        pass
