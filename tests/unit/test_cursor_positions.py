"""Cursor values that are positions: Kafka offsets per partition merge, Redis entry ids compare as numbers."""

from __future__ import annotations

from synchub.connectors.base import Batch, newer_than, newest
from synchub.connectors.redis_source import entry_id, id_text
from synchub.engine.checkpoint import after_batch, first


def test_offsets_per_partition_merge_each_taking_the_further_position():
    assert newest({"0": 10, "1": 5}, {"1": 7, "2": 3}) == {"0": 10, "1": 7, "2": 3}
    assert newest({"0": 10, "1": 9}, {"1": 7}) == {"0": 10, "1": 9}
    assert newer_than({"0": 10, "1": 8}, {"0": 10, "1": 7}) and not newer_than({"0": 10}, {"0": 10, "1": 7})


def test_redis_entry_ids_compare_numerically_not_as_text():
    assert newer_than(entry_id("10-0"), entry_id("9-5")) and not newer_than(entry_id("9-5"), entry_id("10-0"))
    assert newer_than([10, 2], [10, 1]) and id_text(entry_id("1700000000000-12")) == "1700000000000-12"
    assert not newer_than("10-0", "9-5")  # as text the order is wrong: why ids travel as [ms, seq]


def test_a_checkpoint_keeps_the_furthest_positions_of_its_batches():
    checkpoint = after_batch(first(), Batch([{"n": 1}], {"next": {}}, cursor={"0": 4, "1": 2}), cursor_field=None)
    checkpoint = after_batch(checkpoint, Batch([{"n": 2}], None, cursor={"1": 6}), cursor_field=None)
    assert checkpoint.max_cursor == {"0": 4, "1": 6} and checkpoint.rows == 2
