"""DynamoDB transactions in the emulator at the cost of the items they touch, not of the tables they name.

moto backs up every table a ``TransactWriteItems`` names, once per item, by deep-copying it (stream
records included) and restores the copies on failure. With streams on and thousands of tasks that is the
slowest thing in the test suite, and it grows with every write. This replacement does what DynamoDB
promises with a per-item backup: every condition is checked against the state before the transaction,
then the writes are applied; if one of them fails, the touched items and the stream are put back and
nothing of the transaction stays, as before.
"""

from __future__ import annotations

import copy
from typing import Any

_installed = False


def install() -> None:
    """Replace moto's ``transact_write_items`` (idempotent; call before any request is served)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    _installed = True


def _key_of(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any]:
    if op_type != "Put":
        return op["Key"]
    attrs = op["Item"]
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return key


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    planned: list[tuple[str, dict[str, Any], Any, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    # 1. Every condition against the state before the transaction.
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        original: dict[str, Any] | None = None
        try:
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            table = self.get_table(table_name)
            key = _key_of(table, op_type, op)
            marker = (str(table_name), str(dict(sorted(key.items()))))
            if marker in seen:
                raise MultipleTransactionsException()
            seen.add(marker)
            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if not check.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original)
            planned.append((op_type, op, table, key))
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), original))
        except Exception as error:  # noqa: BLE001 - reported per item, as DynamoDB does
            errors.append((type(error).__name__, str(error), original))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # 2. The writes, with a backup of each touched item and of the stream's length.
    backups: list[tuple[Any, dict[str, Any], Any]] = []
    streams = {id(t): (t, len(t.stream_shard.items)) for _, _, t, _ in planned if t.stream_shard is not None}
    try:
        for op_type, op, table, key in planned:
            if op_type == "ConditionCheck":
                continue
            backups.append((table, key, copy.deepcopy(self.get_item(op["TableName"], key))))
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(
                    op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
                )
            elif op_type == "Delete":
                self.delete_item(
                    op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values
                )
            else:
                self.update_item(
                    op["TableName"],
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception as error:
        for table, key, before in reversed(backups):
            _restore(self, table, key, before)
        for table, length in streams.values():
            del table.stream_shard.items[length:]
        if isinstance(error, (MockValidationException, MultipleTransactionsException)):
            raise
        failed = len(backups) - 1
        raise TransactionCanceledException(
            [
                (type(error).__name__, str(error), None) if n == failed else (None, None, None)
                for n in range(len(transact_items))
            ]
        ) from error


def _restore(backend: Any, table: Any, key: dict[str, Any], before: Any) -> None:
    """Put one item back as it was (or remove it if it did not exist), indexes included."""
    if before is None:
        backend.delete_item(table.name, key)
    else:
        table.put_item(before.to_json()["Attributes"])
