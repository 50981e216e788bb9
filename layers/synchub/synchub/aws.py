"""The one place that builds boto3 clients: lazily, once per process, and injectable for tests."""

from __future__ import annotations

import threading
from typing import Any

# SQS's longest delay, for a message (DelaySeconds) and for a received message's return (a visibility change
# the service uses as a retry backoff).
SQS_MAX_DELAY_SECONDS = 900

_clients: dict[str, Any] = {}
_session: Any = None
_lock = threading.Lock()


def client(service: str, endpoint_url: str | None = None) -> Any:
    """A shared boto3 client for ``service`` (created on first use; honours ``AWS_ENDPOINT_URL``), or for an
    explicit ``endpoint_url`` (the WebSocket API's management endpoint)."""
    name = f"{service}@{endpoint_url}" if endpoint_url else service
    found = _clients.get(name)
    if found is not None:
        return found
    with _lock:
        found = _clients.get(name)
        if found is None:
            global _session
            import boto3  # noqa: PLC0415 - boto3 loads with the first client a process needs
            from botocore.config import Config

            if _session is None:
                # One session for every client: its loader caches the service data files they share.
                _session = boto3.session.Session()
            found = _session.client(
                service,
                endpoint_url=endpoint_url,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 4},
                    connect_timeout=3,
                    read_timeout=10,
                    tcp_keepalive=True,
                    # pre-signed URLs (task output) with Signature Version 4, which every region accepts
                    **({"signature_version": "s3v4"} if service == "s3" else {}),
                ),
            )
            _clients[name] = found
    return found


def set_client(service: str, instance: Any) -> None:
    """Inject a client (a stubbed or wrapped one) for ``service``."""
    _clients[service] = instance


def reset_clients() -> None:
    """Forget every client, so the next call builds fresh ones from the current environment."""
    global _session
    _clients.clear()
    _session = None
