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
# Connections kept per host: a read ahead beside the run's own reads, and (locally, where invocations share one
# process) a parallel sync's ranges, without discarding connections each time.
_pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=30), maxsize=16)
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
        self.page_range: dict[str, Any] | None = None  # a parallel sync's share: pages (or offsets) first … end

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
        size = min(batch_size, pagination.page_size)
        if self.page_range is not None:  # the pages as split: the size they were counted in
            size = int(self.page_range["size"])
            state = state or {"page" if pagination.style == "page" else "offset": self.page_range["first"]}
        state = dict(state or {})
        rows: list[dict[str, Any]] = []
        total = None
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
        following = self._following(state, document, count, size)
        end = self.page_range.get("end") if self.page_range is not None and following else None
        if end is not None and following and int(following.get("page", following.get("offset", 0))) >= int(end):
            return None  # the next range's first page
        return following

    # ---- ranges ---------------------------------------------------------------------------------
    def split(self, parts: int) -> tuple[list[dict[str, Any]], int | None]:
        """Up to ``parts`` ranges of about as many pages each, counted from the total the first page gives
        (``total_path``), as stored ranges ({index, first, end, size}: pages or offsets, ``end`` exclusive,
        None on the last range, which reads on to the end however many rows came meanwhile); and the total."""
        pagination = self.stream.pagination
        if pagination.style not in ("page", "offset") or not self.stream.total_path:
            raise PermanentSourceError("only an API paged by page number or offset that gives its total can be split")
        size = pagination.page_size
        found = dig(self._fetch(self._url({}, size)), self.stream.total_path)
        if not isinstance(found, (int, float)) or isinstance(found, bool):
            raise PermanentSourceError(f"the source's first page has no number at '{self.stream.total_path}'")
        total = int(found)
        pages = max(1, -(-total // size))
        parts = max(1, min(parts, pages))
        cuts = [pages * part // parts for part in range(parts + 1)]

        def position(page: int) -> int:
            return pagination.first_page + page if pagination.style == "page" else page * size

        return [
            {
                "index": index,
                "first": position(cuts[index]),
                "end": position(cuts[index + 1]) if index < parts - 1 else None,
                "size": size,
            }
            for index in range(parts)
        ], total

    def limit_to(self, page_range: dict[str, Any]) -> None:
        """Read only the range's pages from now on."""
        self.page_range = page_range

    def _following(self, state: dict[str, Any], document: Any, count: int, size: int) -> dict[str, Any] | None:
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
