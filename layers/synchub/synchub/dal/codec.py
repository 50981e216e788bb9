"""Python values <-> DynamoDB attribute values (numbers kept exact, floats via Decimal)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_storable(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_storable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_storable(v) for v in value]
    return value


def _from_stored(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_stored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_stored(v) for v in value]
    if isinstance(value, set):
        return sorted(_from_stored(v) for v in value)
    return value


def to_attr(value: Any) -> dict[str, Any]:
    return _serializer.serialize(_to_storable(value))


def to_item(values: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item from a plain dict; ``None`` values are left out."""
    return {k: to_attr(v) for k, v in values.items() if v is not None}


def from_item(item: dict[str, Any] | None) -> dict[str, Any] | None:
    if item is None:
        return None
    return {k: _from_stored(_deserializer.deserialize(v)) for k, v in item.items()}


class UpdateBuilder:
    """Builds an ``UpdateExpression`` with placeholder names and values."""

    def __init__(self) -> None:
        self._set: list[str] = []
        self._remove: list[str] = []
        self._add: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._n = 0

    def name(self, attr: str) -> str:
        for placeholder, actual in self.names.items():
            if actual == attr:
                return placeholder
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attr
        return placeholder

    def value(self, value: Any) -> str:
        self._n += 1
        placeholder = f":v{self._n}"
        self.values[placeholder] = to_attr(value)
        return placeholder

    def set(self, attr: str, value: Any) -> "UpdateBuilder":
        if value is None:
            return self.remove(attr)
        self._set.append(f"{self.name(attr)} = {self.value(value)}")
        return self

    def remove(self, attr: str) -> "UpdateBuilder":
        self._remove.append(self.name(attr))
        return self

    def add(self, attr: str, amount: int | float) -> "UpdateBuilder":
        self._add.append(f"{self.name(attr)} {self.value(amount)}")
        return self

    @property
    def expression(self) -> str:
        parts = []
        if self._set:
            parts.append("SET " + ", ".join(self._set))
        if self._remove:
            parts.append("REMOVE " + ", ".join(self._remove))
        if self._add:
            parts.append("ADD " + ", ".join(self._add))
        return " ".join(parts)
