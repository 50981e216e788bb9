"""Driver rows become JSON-ready dicts column by column, the same values the per-value conversion gives;
decimals stay exact (with their scale), durations read as the source writes them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from synchub.connectors.sql_values import json_rows, jsonable, money

NAMES = ["id", "amount", "at", "tag"]


def test_columns_of_one_foreign_type_use_its_converter_and_keep_nulls():
    raws = [
        (1, Decimal("12.50"), datetime(2026, 1, 1, tzinfo=timezone.utc), None),
        (2, Decimal("3"), None, b"\x01\xff"),
        (3, None, datetime(2026, 1, 2, tzinfo=timezone.utc), UUID(int=5)),
    ]
    assert json_rows(NAMES, raws) == [
        {"id": 1, "amount": Decimal("12.50"), "at": "2026-01-01T00:00:00+00:00", "tag": None},
        {"id": 2, "amount": Decimal("3"), "at": None, "tag": "01ff"},
        {"id": 3, "amount": None, "at": "2026-01-02T00:00:00+00:00", "tag": "00000000-0000-0000-0000-000000000005"},
    ]


def test_non_finite_decimals_become_text_and_naive_times_of_utc_columns_get_their_offset():
    raws = [
        (1, Decimal("NaN"), datetime(2026, 1, 1, 12, 0, 0, 5), timedelta(days=1, hours=2, microseconds=7)),
        (2, Decimal("-Infinity"), None, -timedelta(hours=1)),
    ]
    assert json_rows(NAMES, raws, utc_columns=frozenset({2})) == [
        {"id": 1, "amount": "NaN", "at": "2026-01-01T12:00:00.000005+00:00", "tag": "26:00:00.000007"},
        {"id": 2, "amount": "-Infinity", "at": None, "tag": "-01:00:00"},
    ]


def test_money_reads_as_its_exact_decimal():
    assert [money(text) for text in ("$1,234.50", "-$3.00", "($3.00)", "1.234,50 €", "¥1,234", "$0.05")] == [
        Decimal("1234.50"),
        Decimal("-3.00"),
        Decimal("-3.00"),
        Decimal("1234.50"),
        Decimal("1234"),
        Decimal("0.05"),
    ]


def test_no_rows_is_no_rows():
    assert json_rows(NAMES, []) == []


values = st.one_of(
    st.none(),
    st.integers(),
    st.text(max_size=5),
    st.booleans(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.times(),
    st.datetimes(),
    st.uuids(),
    st.binary(max_size=4),
    st.timedeltas(),
    st.decimals(allow_nan=True, places=2),
)


@given(st.lists(st.tuples(values, values, values, values), max_size=8))
def test_same_values_as_converting_each_value(raws):
    assert json_rows(NAMES, raws) == [{n: jsonable(v) for n, v in zip(NAMES, raw)} for raw in raws]
