"""Write-only secrets: fields named like credentials are kept in AWS Secrets Manager, one secret per owner."""

from __future__ import annotations

import json
from typing import Any

from ulid import ULID

from synchub import aws


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
