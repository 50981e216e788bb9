"""Write-only secrets: fields named like credentials are moved to AWS Secrets Manager and masked."""

from __future__ import annotations

import json
import re
from typing import Any

from ulid import ULID

from synchub import aws

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


class SecretVault:
    """Secrets Manager storage of one JSON secret per data source."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def create(self, owner_id: str, secrets: dict[str, Any]) -> str:
        response = aws.client("secretsmanager").create_secret(
            Name=f"{self.prefix}/data-sources/{owner_id}/{ULID()}",
            SecretString=json.dumps(secrets),
            Description=f"SyncHub credentials of data source {owner_id}",
        )
        return response["ARN"]

    def read(self, arn: str) -> dict[str, Any]:
        response = aws.client("secretsmanager").get_secret_value(SecretId=arn)
        return json.loads(response["SecretString"])

    def replace(self, arn: str, secrets: dict[str, Any]) -> None:
        aws.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=json.dumps(secrets))

    def delete(self, arn: str) -> None:
        aws.client("secretsmanager").delete_secret(SecretId=arn, RecoveryWindowInDays=7)
