"""Driver rows become JSON-ready dicts column by column, the same values the per-value conversion gives."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import given, strategies as st

from synchub.connectors.sql import json_rows, jsonable

NAMES = ["id", "amount", "at", "tag"]


def test_columns_of_one_foreign_type_use_its_converter_and_keep_nulls():
    raws = [(1, Decimal("12.50"), datetime(2026, 1, 1, tzinfo=timezone.utc), None),
            (2, Decimal("3"), None, b"\x01\xff"),
            (3, None, datetime(2026, 1, 2, tzinfo=timezone.utc), UUID(int=5))]
    assert json_rows(NAMES, raws) == [
        {"id": 1, "amount": 12.5, "at": "2026-01-01T00:00:00+00:00", "tag": None},
        {"id": 2, "amount": 3, "at": None, "tag": "01ff"},
        {"id": 3, "amount": None, "at": "2026-01-02T00:00:00+00:00", "tag": "00000000-0000-0000-0000-000000000005"},
    ]


def test_no_rows_is_no_rows():
    assert json_rows(NAMES, []) == []


values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False),
                   st.decimals(allow_nan=False, allow_infinity=False, places=2), st.dates(), st.times(),
                   st.datetimes(), st.uuids(), st.binary(max_size=4))


@given(st.lists(st.tuples(values, values, values, values), max_size=8))
def test_same_values_as_converting_each_value(raws):
    assert json_rows(NAMES, raws) == [{n: jsonable(v) for n, v in zip(NAMES, raw)} for raw in raws]
