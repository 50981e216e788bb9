"""Redis as a source (redis-py): a stream by entry id, or the keys matching a pattern with their values.

A stream (``stream_key``) is read with ``XRANGE`` from the entry id after the checkpoint's, up to the last id
it held when the sync started; entry ids are the cursor, so parts are deterministic and every entry lands
exactly once, in full, incremental (past the committed id) and realtime syncs. A key pattern
(``key_pattern``) is a full sync only: each invocation lists the matching key names with ``SCAN``
(deduplicated and sorted, since ``SCAN`` may repeat a key) and reads them in name order after the
checkpoint's last key, so each key lands once, its value read by its type.
"""

from __future__ import annotations

import bisect
import json
from datetime import datetime, timezone
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from synchub.connectors.base import (
    Batch,
    PermanentSourceError,
    SourceErrors,
    StreamSpec,
    TransientSourceError,
    newer_than,
)

SCAN_COUNT = 1000


def entry_id(ms_seq: str) -> list[int]:
    """A stream entry id ``"1700000000000-5"`` as ``[1700000000000, 5]`` (compared element by element)."""
    ms, _, seq = ms_seq.partition("-")
    return [int(ms), int(seq or 0)]


def id_text(parts: list[Any]) -> str:
    return f"{int(parts[0])}-{int(parts[1])}"


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


def parsed(text: Any) -> Any:
    """A string value as JSON when it is JSON, else as it is."""
    if not isinstance(text, str) or not (text[:1] in ("{", "[", '"') or text in ("true", "false", "null")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


class RedisSource:
    def __init__(self, connection: dict[str, Any], stream: StreamSpec, *, incremental: bool):
        if not stream.stream_key and not stream.key_pattern:
            raise PermanentSourceError("a Redis stream names stream_key (a stream) or key_pattern (keys to copy)")
        if stream.key_pattern and incremental:
            raise PermanentSourceError(
                "keys have no position to continue from: a key_pattern syncs with full_sync "
                "only (use a stream_key for incremental and realtime syncs)"
            )
        self.config = connection
        self.stream = stream
        self._client: Any = None
        self._keys: list[str] | None = None

    # ---- connection and errors -----------------------------------------------------------------
    def client(self) -> Any:
        if self._client is None:
            config = self.config
            self._client = redis.Redis(
                # one attempt: a failure is the engine's to retry (through the queue, with backoff), and a
                # connection test answers at once
                retry=Retry(NoBackoff(), 0),
                host=config["host"],
                port=int(config.get("port") or 6379),
                db=int(config.get("db") or 0),
                username=config.get("username") or None,
                password=config.get("password") or None,
                ssl=bool(config.get("tls")),
                socket_connect_timeout=float(config.get("connect_timeout") or 10),
                socket_timeout=60,
                decode_responses=True,
                encoding_errors="replace",
                client_name="synchub",
            )
        return self._client

    def _call(self, operation: str, *args: Any, **kwargs: Any) -> Any:
        return self._guarded(lambda: getattr(self.client(), operation)(*args, **kwargs))

    def _guarded(self, call: Any) -> Any:
        """``call()``, its Redis failures as transient (unreachable, busy) or permanent (login, commands)."""
        with SourceErrors(self._classify):
            return call()

    def _classify(self, error: Exception) -> Exception | None:
        if isinstance(error, redis.exceptions.AuthenticationError):
            return PermanentSourceError(f"Redis refused the login: {error}")
        if isinstance(error, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            self.close()
            return TransientSourceError(f"Redis unavailable: {error}")
        if isinstance(error, redis.exceptions.ResponseError):
            text = str(error)
            if text.startswith(("WRONGPASS", "NOAUTH", "NOPERM")):
                return PermanentSourceError(f"Redis refused the login: {text}")
            if text.startswith(("LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN")):
                return TransientSourceError(f"Redis is busy: {text}")
            return PermanentSourceError(f"Redis: {text}")
        return None

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    # ---- reading --------------------------------------------------------------------------------
    def read(
        self, state: dict[str, Any] | None, batch_size: int, watermark: Any = None, delivered: Any = ()
    ) -> Batch:  # positions are unique: nothing is delivered at the watermark twice
        if self.stream.stream_key:
            return self._read_stream(state, batch_size, watermark)
        return self._read_keys(state, batch_size)

    def _read_stream(self, state: dict[str, Any] | None, batch_size: int, watermark: Any) -> Batch:
        key = self.stream.stream_key or ""
        total = None
        if state is None:
            kind = self._call("type", key)
            if kind == "none":
                raise PermanentSourceError(f"Redis has no stream '{key}'")
            if kind != "stream":
                raise PermanentSourceError(f"Redis key '{key}' holds a {kind}, not a stream")
            last = self._call("xrevrange", key, "+", "-", count=1)
            if not last:
                return Batch([], None, 0)
            state = {"after": list(watermark) if watermark else None, "end": entry_id(last[0][0])}
            if watermark is None:
                total = int(self._call("xlen", key))
            elif not newer_than(state["end"], list(watermark)):
                return Batch([], None, 0)
        start = f"({id_text(state['after'])}" if state.get("after") else "-"
        entries = self._call("xrange", key, start, id_text(state["end"]), count=batch_size)
        rows = [
            {"stream": key, "id": entry, "timestamp": _iso_ms(entry_id(entry)[0]), "value": fields}
            for entry, fields in entries
        ]
        if not rows:
            return Batch([], None, total)
        last_id = entry_id(rows[-1]["id"])
        done = len(rows) < batch_size or last_id == [int(p) for p in state["end"]]
        return Batch(rows, None if done else {"after": last_id, "end": state["end"]}, total, cursor=last_id)

    def _key_names(self) -> list[str]:
        if self._keys is None:
            pattern = self.stream.key_pattern or "*"
            self._keys = sorted(set(self._call("scan_iter", match=pattern, count=SCAN_COUNT)))
        return self._keys

    def _read_keys(self, state: dict[str, Any] | None, batch_size: int) -> Batch:
        names = self._key_names()
        after = (state or {}).get("after_key")
        start = bisect.bisect_right(names, after) if after is not None else 0
        chosen = names[start : start + batch_size]
        rows = [row for row in self._values(chosen) if row is not None]
        more = start + batch_size < len(names)
        return Batch(
            rows, {"after_key": chosen[-1]} if more and chosen else None, len(names) if state is None else None
        )

    # How each type's value is read, and shaped into a row.
    READS: dict[str, tuple[str, tuple[Any, ...], dict[str, Any]]] = {
        "hash": ("hgetall", (), {}),
        "string": ("get", (), {}),
        "list": ("lrange", (0, -1), {}),
        "set": ("smembers", (), {}),
        "zset": ("zrange", (0, -1), {"withscores": True}),
        "stream": ("xlen", (), {}),
    }

    def _values(self, names: list[str]) -> list[dict[str, Any] | None]:
        if not names:
            return []
        kinds = self._pipeline([("type", (name,), {}) for name in names])
        calls = []
        for name, kind in zip(names, kinds):
            operation, args, options = self.READS.get(kind, ("exists", (), {}))
            calls.append((operation, (name, *args), options))
        rows: list[dict[str, Any] | None] = []
        for name, kind, value in zip(names, kinds, self._pipeline(calls)):
            if kind == "none":
                rows.append(None)  # deleted since it was listed
                continue
            if kind == "string":
                value = parsed(value)
            elif kind == "set":
                value = sorted(value)
            elif kind == "zset":
                value = [{"member": member, "score": score} for member, score in value]
            elif kind == "stream":
                value = {"length": value}
            rows.append({"key": name, "type": kind, "value": value})
        return rows

    def _pipeline(self, calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        def run() -> list[Any]:
            pipe = self.client().pipeline(transaction=False)
            for operation, args, options in calls:
                getattr(pipe, operation)(*args, **options)
            return pipe.execute()

        return self._guarded(run)
