"""Free-form JSON a client may store (task parameters, connection and interface settings) must be
something DynamoDB stores as it is: no empty attribute names, no unpaired UTF-16 surrogates, at most 32
levels of nesting, numbers within DynamoDB's range (38 significant digits, magnitude 1e-130 to 1e126).
Anything else is a 422 here rather than a failed write later.

A configuration (a data source's connection and stream settings together, an interface, a task's parameters)
is at most 32 KB as compact JSON: a full page of 100 of them stays well under Lambda's 6 MB response limit, and
a task with its parameters under the WebSocket's 128 KB message limit."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DEPTH = 32
MAX_CONFIG_BYTES = 32 * 1024


def check_size(what: str, *parts: Any) -> None:
    """ValueError when ``parts`` together take more than MAX_CONFIG_BYTES as compact JSON."""
    size = sum(
        len(json.dumps(part, separators=(",", ":"), ensure_ascii=False, default=str).encode())
        for part in parts
        if part is not None
    )
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"{what} takes {size:,} bytes as JSON: at most 32 KB ({MAX_CONFIG_BYTES:,} bytes)")


def _check(value: Any, path: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError(f"{path or 'value'} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        magnitude = abs(value)
        digits = len(str(magnitude).rstrip("0")) if isinstance(value, int) else 0
        if (
            (isinstance(value, float) and not math.isfinite(value))
            or magnitude >= 1e126
            or digits > 38
            or (magnitude and magnitude < 1e-130)
        ):
            raise ValueError(
                f"{path or 'value'} is a number DynamoDB cannot store (|x| from 1e-130 to 1e126, at most 38 digits)"
            )
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{path or 'value'} holds text that is not valid Unicode") from None
    elif isinstance(value, dict):
        for key, inner in value.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"{path or 'object'} has an empty key")
            _check(key, f"{path}.{key}" if path else "key", depth)
            _check(inner, f"{path}.{key}" if path else key, depth + 1)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check(inner, f"{path}[{index}]", depth + 1)


def storable(value: Any) -> Any:
    """``value`` unchanged when DynamoDB can store it; ValueError naming the offending place otherwise."""
    _check(value, "", 1)
    return value


StorableDict = Annotated[dict[str, Any], AfterValidator(storable)]
