"""TransactWriteItems with conflict retries and readable cancellation reasons."""

from __future__ import annotations

import random
import time
from typing import Any

from botocore.exceptions import ClientError

from synchub import aws
from synchub.dal.codec import from_item


class TransactionFailed(Exception):
    """A condition of the transaction failed; ``reasons[i]`` is the code for item ``i`` (or ``None``), and
    ``names[i]`` the name the item was added under (:class:`Transaction`)."""

    def __init__(
        self, reasons: list[str | None], old_items: list[dict[str, Any] | None], names: list[str] | None = None
    ):
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons
        self.old_items = old_items
        self.names = names or []

    def failed(self, name: str) -> bool:
        """Whether the condition of an item added under ``name`` failed."""
        return any(
            item_name == name and reason == "ConditionalCheckFailed"
            for item_name, reason in zip(self.names, self.reasons)
        )


class Transaction:
    """The items of one TransactWriteItems call, each added under a name, so that a failed condition is
    told by what it checked (``failure.failed("data source exists")``), never by its position."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self.names: list[str] = []

    def add(self, name: str, *items: dict[str, Any]) -> "Transaction":
        for item in items:
            self.items.append(item)
            self.names.append(name)
        return self

    def run(self) -> None:
        """Write every item or none; raises :class:`TransactionFailed` with the items' names."""
        try:
            transact_write(self.items)
        except TransactionFailed as failure:
            failure.names = self.names
            raise


class ConditionFailed(Exception):
    """A single conditional write found the item in another state; ``old`` is the item as it was."""

    def __init__(self, old: dict[str, Any] | None):
        super().__init__("condition failed")
        self.old = old


def transact_write(items: list[dict[str, Any]], attempts: int = 6) -> None:
    """Run the transaction; retry when it only lost a race with another transaction on the same items."""
    for attempt in range(attempts):
        try:
            aws.client("dynamodb").transact_write_items(TransactItems=items)
            return
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            raw = error.response.get("CancellationReasons") or []
            reasons = [(r or {}).get("Code") if (r or {}).get("Code") not in ("None", "") else None for r in raw]
            old = [from_item((r or {}).get("Item")) for r in raw]
            if any(code == "ConditionalCheckFailed" for code in reasons):
                raise TransactionFailed(reasons, old) from error
            if attempt == attempts - 1 or not any(
                code in ("TransactionConflict", "ThrottlingError") for code in reasons
            ):
                if not reasons:
                    raise
                raise TransactionFailed(reasons, old) from error
            time.sleep(min(0.5, 0.01 * 2**attempt) * (0.5 + random.random()))
