"""Write-only secrets: which fields are credentials, and a configuration with them masked or merged back."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "********"
_SECRET_KEY = re.compile(
    r"^(.*_)?(password|passwd|pwd|token|api_key|apikey|secret|secret_key|access_key|private_key|"
    r"authorization|credential|credentials|client_secret|signing_secret)$"
)


def is_secret_key(key: str) -> bool:
    normalized = re.sub(r"[\s\-]+", "_", key.strip().lower())
    return bool(_SECRET_KEY.match(normalized))


def split_secrets(config: dict[str, Any], path: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """(config with secret values masked, {path: secret value}); paths are ``/``-joined keys."""
    masked: dict[str, Any] = {}
    secrets: dict[str, Any] = {}
    for key, value in config.items():
        here = f"{path}/{key}" if path else str(key)
        if is_secret_key(str(key)) and value not in (None, ""):
            masked[key] = MASK
            secrets[here] = value
        elif isinstance(value, dict):
            masked[key], inner = split_secrets(value, here)
            secrets.update(inner)
        else:
            masked[key] = value
    return masked, secrets


def merge_secrets(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """The full config: masked fields filled back in from ``secrets``."""
    merged = json.loads(json.dumps(config))
    for path, value in secrets.items():
        node = merged
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return merged
