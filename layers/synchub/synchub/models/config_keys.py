"""The keys each configuration takes, by source type, and the 422 for one it does not: a misspelt key
(``batchsize``, ``sslmod``) is named with the key it was probably meant to be, never silently ignored."""

from __future__ import annotations

import difflib
from typing import Any, Iterable

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

FILE_TYPES = frozenset({"file", "csv", "json", "jsonl"})  # data source types that read files in S3

CONNECTION_KEYS: dict[str, frozenset[str]] = {
    kind: frozenset({*keys, "connect_timeout"})
    for kind, keys in {
        "http": {"base_url", "headers", "token", "api_key", "query_params"},
        "postgresql": {"host", "port", "database", "user", "username", "password", "sslmode"},
        "mysql": {"host", "port", "database", "user", "username", "password"},
        **{kind: {"bucket", "prefix", "format"} for kind in sorted(FILE_TYPES)},
        "kafka": {"bootstrap_servers", "security_protocol", "sasl_mechanism", "username", "password"},
        "mqtt": {"host", "port", "username", "password", "tls"},
        "redis": {"host", "port", "username", "password", "db", "tls"},
    }.items()
}

# What every stream takes, then what each type reads (models.streams.StreamSpec holds them all).
STREAM_COMMON = frozenset({"cursor_field", "primary_key", "destination", "lookback_seconds"})
STREAM_KEYS: dict[str, frozenset[str]] = {
    kind: STREAM_COMMON | keys
    for kind, keys in {
        "http": {"url_suffix", "method", "headers", "query_params", "body", "records_path", "total_path", "pagination"},
        "postgresql": {"table_name", "query", "capture"},
        "mysql": {"table_name", "query", "capture"},
        **{kind: {"prefix", "format", "records_path"} for kind in sorted(FILE_TYPES)},
        "kafka": {"topic", "value_format", "key_field", "consumer_group"},
        "mqtt": {"topic_filter", "qos", "value_format", "idle_seconds"},
        "redis": {"stream_key", "key_pattern"},
    }.items()
}
ANY_STREAM_KEY = frozenset().union(*STREAM_KEYS.values())


def unknown_key_errors(
    given: Any, known: Iterable[str], loc: tuple[str, ...], *, elsewhere: dict[str, frozenset[str]] | None = None
) -> list[InitErrorDetails]:
    """An error for each key of ``given`` not in ``known``, with the closest known key where one is close, or
    the types that do take it (``elsewhere``: keys by type)."""
    if not isinstance(given, dict):
        return []
    known = sorted(known)
    errors = []
    for key in sorted(k for k in given if k not in known):
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        takers = sorted(kind for kind, keys in (elsewhere or {}).items() if key in keys)
        hint = (
            f": did you mean '{close[0]}'?"
            if close
            else f": only {', '.join(takers)} sources take it"
            if takers
            else f" (known: {', '.join(known)})"
        )
        errors.append(
            InitErrorDetails(
                type=PydanticCustomError("unknown_key", "Unknown key '{key}'{hint}", {"key": str(key), "hint": hint}),
                loc=(*loc, str(key)),
                input=given[key],
            )
        )
    return errors


def field_errors(title: str, errors: list[InitErrorDetails]) -> ValidationError:
    """The errors as one pydantic ValidationError: raised in a validator, its ``loc``s stay as given."""
    return ValidationError.from_exception_data(title, errors)


def located(title: str, message: str) -> ValidationError:
    """A configuration problem whose text starts with the field it is about (``connection_config.port must …``)
    as an error located at that field."""
    head = message.split(" ", 1)[0]
    path = tuple(head.split(".")) if head.split(".")[0] in ("connection_config", "params_config") else ()
    return field_errors(
        title, [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=path, input=None)]
    )
