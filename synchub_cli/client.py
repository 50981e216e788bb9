"""A small client of the SyncHub HTTP API: JSON in and out, problem details turned into ``ApiError``."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

DEFAULT_URL = "http://127.0.0.1:8080"  # where `make run` serves the API


class ApiError(Exception):
    """The API answered with a problem (``status``, ``code``, ``detail``, field ``errors``)."""

    def __init__(self, status: int, problem: dict[str, Any]):
        self.status = status
        self.problem = problem
        super().__init__(f"{problem.get('code', status)}: {problem.get('detail', '')}")


class Unreachable(Exception):
    """No answer from the API (nothing listening, DNS, timeout)."""


@dataclass
class SyncHubClient:
    base_url: str = DEFAULT_URL
    token: str | None = None
    timeout: float = 30.0
    session: requests.Session = field(default_factory=requests.Session)

    @classmethod
    def from_env(cls, url: str | None = None, token: str | None = None) -> "SyncHubClient":
        return cls((url or os.environ.get("SYNCHUB_URL") or DEFAULT_URL).rstrip("/"),
                   token or os.environ.get("SYNCHUB_TOKEN") or None)

    def fetch(self, url: str) -> bytes:
        """The stored bytes behind a pre-signed URL (no SyncHub credentials: the URL carries its own signature;
        a gzip part stays gzip, whatever its Content-Encoding says)."""
        try:
            with requests.get(url, timeout=self.timeout, stream=True) as response:
                if response.status_code != 200:
                    raise ApiError(response.status_code, {"detail": response.text[:300]})
                return response.raw.read(decode_content=False)
        except requests.RequestException as error:
            raise Unreachable(str(error)) from error

    def request(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, parsed body) of a 2xx answer; raises ``ApiError`` for any other, ``Unreachable`` for none."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.session.request(method, f"{self.base_url}/api/sync{path}", json=body, params=query,
                                            headers=sent, timeout=self.timeout)
        except requests.RequestException as error:
            raise Unreachable(f"{self.base_url}: {error.__class__.__name__}: {error}") from error
        try:
            payload = response.json() if response.content else None
        except ValueError:
            payload = {"detail": response.text[:500]}
        if response.status_code >= 400:
            problem = payload if isinstance(payload, dict) else {"detail": str(payload)}
            problem.setdefault("status", response.status_code)
            problem.setdefault("title", response.reason)
            raise ApiError(response.status_code, problem)
        return response.status_code, payload

    def websocket_url(self, explicit: str | None = None) -> str | None:
        """The live-status WebSocket: given, or ``SYNCHUB_WS_URL``, or (for a local stack) its port + 1."""
        found = explicit or os.environ.get("SYNCHUB_WS_URL")
        if found:
            return found
        parts = urlsplit(self.base_url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            return urlunsplit(("ws", f"{parts.hostname}:{parts.port + 1}", "", "", ""))
        return None
