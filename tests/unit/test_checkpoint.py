"""A run's checkpoint stays the same size however many batches, polls and retries a task runs: parts are
numbered, not listed, and an earlier attempt is a pointer, not a copy of its history."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from synchub.connectors.base import BOUNDARY_KEYS_MAX, Batch, PermanentSourceError, not_delivered
from synchub.engine.checkpoint import (
    Checkpoint,
    after_batch,
    after_part,
    after_poll,
    first,
    looked_back,
    read_from,
    resumed,
)

BASE = datetime(2026, 12, 2, tzinfo=timezone.utc)


def size(checkpoint: Checkpoint) -> int:
    return len(json.dumps(checkpoint.stored(), default=str))


def batches(count: int, *, rows: int = 10) -> Checkpoint:
    checkpoint = first()
    for number in range(count):
        batch = Batch(rows=[{"id": number * rows + i} for i in range(rows)], state={"after": number * rows + rows})
        checkpoint = after_part(after_batch(checkpoint, batch, cursor_field=None))
    return checkpoint


def test_the_same_size_after_10_or_2000_batches():
    few, many = batches(10), batches(2000)
    assert (few.rows, many.rows, many.next_part) == (100, 20_000, 2001)
    assert size(many) <= size(few) * 1.1  # only the digits of the counts grow


def test_the_same_size_after_10_or_10000_polls():
    def polls(count: int) -> Checkpoint:
        checkpoint = first(since="2026-12-01T00:00:00.000Z")
        for number in range(count):
            moment = BASE + timedelta(seconds=number)  # each poll reads rows past the last (a source's answer)
            batch = Batch(rows=[{"id": number, "updated_at": moment.isoformat()}], state=None)
            checkpoint = after_poll(after_part(after_batch(checkpoint, batch, cursor_field="updated_at")))
        return checkpoint

    few, many = polls(10), polls(10_000)
    assert many.polls == 10_000 and many.next_part == 10_001
    assert size(many) <= size(few) * 1.1


def test_the_same_size_after_20_retries():
    checkpoint = batches(5)
    sizes = []
    for attempt in range(20):
        checkpoint = resumed(
            after_part(
                after_batch(checkpoint, Batch(rows=[{"id": attempt}], state={"after": attempt}), cursor_field=None)
            ),
            f"task_01M8F5WN6MGNT4KP4MPE6TDY{attempt:02d}",
            incremental=False,
        )
        sizes.append(size(checkpoint))
    assert checkpoint.earlier == {"task_id": "task_01M8F5WN6MGNT4KP4MPE6TDY19", "parts": 1}
    assert max(sizes) - min(sizes) <= 2


def test_checkpoints_stored_before_the_change_still_read():
    legacy = {
        "state": {"page": 3},
        "next_part": 3,
        "rows": 20,
        "part_rows": [10, 10],
        "inherited": [{"key": "ds/default/task_a/part-00001.jsonl.gz", "rows": 5}],
    }
    checkpoint = Checkpoint.from_stored(legacy)
    assert (checkpoint.state, checkpoint.rows, list(checkpoint.own_parts)) == ({"page": 3}, 20, [1, 2])
    assert checkpoint.inherited == ({"key": "ds/default/task_a/part-00001.jsonl.gz", "rows": 5},)


def test_the_keys_at_the_newest_cursor_are_kept_and_start_again_when_it_moves():
    checkpoint = first(since="2026-12-02T10:00:00", since_keys=(1, 2))
    same = Batch(rows=[{"id": 3, "t": "2026-12-02T10:00:00"}, {"id": 2, "t": "2026-12-02T10:00:00"}], state=None)
    checkpoint = after_batch(checkpoint, same, cursor_field="t", primary_key="id")
    assert checkpoint.max_cursor_keys == (1, 2, 3)  # the rows met at the watermark join those delivered before
    newer = Batch(
        rows=[
            {"id": 4, "t": "2026-12-02T10:00:01"},
            {"id": 9, "t": "2026-12-02T10:00:01"},
            {"id": 5, "t": "2026-12-02T10:00:00"},
        ],
        state=None,
    )
    checkpoint = after_batch(checkpoint, newer, cursor_field="t", primary_key="id")
    assert (checkpoint.max_cursor, checkpoint.max_cursor_keys) == ("2026-12-02T10:00:01", (4, 9))
    polled = after_poll(checkpoint)
    assert read_from(polled) == ("2026-12-02T10:00:01", (4, 9))
    assert Checkpoint.from_stored(json.loads(json.dumps(polled.stored()))) == polled


def test_past_the_bound_the_keys_are_dropped_and_the_boundary_is_read_whole_next_time():
    rows = [{"id": n, "t": "2026-12-02T10:00:00"} for n in range(BOUNDARY_KEYS_MAX + 1)]
    checkpoint = after_batch(first(), Batch(rows=rows, state=None), cursor_field="t", primary_key="id")
    assert checkpoint.max_cursor == "2026-12-02T10:00:00" and checkpoint.max_cursor_keys is None
    assert size(checkpoint) < 500
    assert read_from(after_poll(checkpoint)) == ("2026-12-02T10:00:00", None)
    # rows without a primary key are told apart by a digest of the whole row
    anonymous = after_batch(first(), Batch(rows=[{"t": "x", "v": 1}, {"t": "x", "v": 2}], state=None), cursor_field="t")
    assert len(set(anonymous.max_cursor_keys)) == 2


def test_rows_at_the_watermark_are_read_less_those_delivered():
    rows = [
        {"id": 1, "t": "2026-12-02T10:00:00"},
        {"id": 2, "t": "2026-12-02T10:00:00"},
        {"id": 3, "t": "2026-12-02T09:59:59"},
        {"id": 4, "t": "2026-12-02T10:00:01"},
    ]
    kept = not_delivered(rows, "t", "id", "2026-12-02T10:00:00", (1,))
    assert [row["id"] for row in kept] == [2, 4]
    assert [row["id"] for row in not_delivered(rows, "t", "id", "2026-12-02T10:00:00", None)] == [1, 2, 4]


def test_a_lookback_reads_a_window_before_the_watermark_whole():
    checkpoint = first(since="2026-12-02T10:00:00.250000+00:00", since_keys=(1,))
    assert read_from(checkpoint, 90) == ("2026-12-02T09:58:30.250000+00:00", ())
    assert looked_back("2026-12-02 10:00:00", 3600) == "2026-12-02 09:00:00"  # MySQL's spelling is kept
    assert looked_back("2026-12-02", 3600) == "2026-12-01"  # a date cursor: the day the window starts
    with pytest.raises(PermanentSourceError, match="date or timestamp cursor"):
        looked_back(1234, 60)
