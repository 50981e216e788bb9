"""Write-only secrets: which fields are credentials, and a configuration with them masked or merged back."""

from __future__ import annotations

import json
import re
from typing import Any

MASK = "********"
_SECRET_KEY = re.compile(
    r"^(.*_)?(password|passwd|pwd|passphrase|token|api_key|apikey|secret|secret_key|access_key|private_key|"
    r"authorization|credential|credentials|client_secret|signing_secret|cookie|set_cookie)$"
)


def masked_url(url: str | None) -> str | None:
    """A URL as answers show it when it may carry a credential in its path or query (a Slack-style
    ``notify_url``): its origin, then the mask."""
    if not url:
        return url
    scheme, _, rest = url.partition("://")
    origin, slash, tail = rest.partition("/")
    origin, query, _ = origin.partition("?")
    return f"{scheme}://{origin}/{MASK}" if (slash and tail) or query else url


def unmasked_url(sent: str | None, stored: str | None) -> str | None:
    """What to store for a URL sent back as answers showed it: the stored one when ``sent`` is its mask."""
    return stored if sent is not None and stored and sent != stored and sent == masked_url(stored) else sent


def normalized_key(key: str) -> str:
    """A field name in snake_case whatever it was written in: ``dbPassword``, ``db-password`` and
    ``DB_PASSWORD`` are all ``db_password``."""
    split = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", key.strip())
    return re.sub(r"[\s\-.]+", "_", split).lower()


def is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY.match(normalized_key(key)))


def secret_paths(value: Any, path: str = "", *, named: bool = True) -> list[str]:
    """Where credentials sit in a document: fields named like one (unless ``named`` is false), inside objects
    and lists, and URLs with a password in their user part (``https://user:pass@host``)."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            here = f"{path}.{key}" if path else str(key)
            if named and is_secret_key(str(key)) and inner not in (None, ""):
                found.append(here)
            else:
                found.extend(secret_paths(inner, here, named=named))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(secret_paths(inner, f"{path}[{index}]", named=named))
    elif isinstance(value, str) and URL_WITH_PASSWORD.match(value):
        found.append(path)
    return found


URL_WITH_PASSWORD = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^/@\s:]*:[^/@\s]*@")


def split_secrets(config: Any, path: str = "") -> tuple[Any, dict[str, Any]]:
    """(config with secret values masked, {path: secret value}); paths are ``/``-joined keys and list
    indexes."""
    secrets: dict[str, Any] = {}
    if isinstance(config, list):
        masked_list = []
        for index, value in enumerate(config):
            masked_value, inner = split_secrets(value, f"{path}/{index}" if path else str(index))
            masked_list.append(masked_value)
            secrets.update(inner)
        return masked_list, secrets
    if not isinstance(config, dict):
        return config, secrets
    masked: dict[str, Any] = {}
    for key, value in config.items():
        here = f"{path}/{key}" if path else str(key)
        if is_secret_key(str(key)) and value not in (None, ""):
            masked[key] = MASK
            secrets[here] = value
        else:
            masked[key], inner = split_secrets(value, here)
            secrets.update(inner)
    return masked, secrets


def merge_secrets(config: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """The full config: masked fields filled back in from ``secrets``."""
    merged = json.loads(json.dumps(config))
    for path, value in secrets.items():
        node: Any = merged
        *parents, leaf = path.split("/")
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        if isinstance(node, list):
            node[int(leaf)] = value
        else:
            node[leaf] = value
    return merged
