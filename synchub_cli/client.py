"""A small client of the SyncHub HTTP API: JSON in and out, problem details turned into ``ApiError``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

DEFAULT_URL = "http://127.0.0.1:8080"  # where `make run` serves the API unless PORT says otherwise
# Where `make run` records the addresses it serves (api_url, websocket_url, aws_endpoint_url, pid).
STACK_RECORD = Path(".local-state") / "endpoint.json"
CHECKOUT = Path(__file__).resolve().parent.parent


def local_stack() -> dict[str, Any]:
    """What the running `make run` of this checkout recorded (from the working folder, or the checkout the
    command is installed from); empty when none runs."""
    for folder in dict.fromkeys((Path.cwd(), CHECKOUT)):
        try:
            record = json.loads((folder / STACK_RECORD).read_text())
            os.kill(int(record["pid"]), 0)  # still running
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(record, dict):
            return record
    return {}


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
        found = url or os.environ.get("SYNCHUB_URL") or local_stack().get("api_url") or DEFAULT_URL
        return cls(str(found).rstrip("/"), token or os.environ.get("SYNCHUB_TOKEN") or None)

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

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """(status, parsed body) of a 2xx answer; raises ``ApiError`` for any other, ``Unreachable`` for none."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.session.request(
                method, f"{self.base_url}/api/sync{path}", json=body, params=query, headers=sent, timeout=self.timeout
            )
        except requests.RequestException as error:
            raise Unreachable(
                f"No answer from {self.base_url} ({error.__class__.__name__}). Is `make run` running? "
                "Set SYNCHUB_URL (or --url) to the API's address: make run prints it."
            ) from error
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
        """The live-status WebSocket: given, or ``SYNCHUB_WS_URL``, or what `make run` recorded for this API, or
        (for a local stack) its port + 1."""
        found = explicit or os.environ.get("SYNCHUB_WS_URL")
        if found:
            return found
        recorded = local_stack()
        if recorded.get("api_url") == self.base_url and recorded.get("websocket_url"):
            return str(recorded["websocket_url"])
        parts = urlsplit(self.base_url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            return urlunsplit(("ws", f"{parts.hostname}:{parts.port + 1}", "", "", ""))
        return None
