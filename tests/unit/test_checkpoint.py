"""A run's checkpoint stays the same size however many batches, polls and retries a task runs: parts are
numbered, not listed, and an earlier attempt is a pointer, not a copy of its history."""

from __future__ import annotations

import json

from synchub.connectors.base import Batch
from synchub.engine.checkpoint import Checkpoint, after_batch, after_part, after_poll, first, resumed


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
            batch = Batch(rows=[{"id": number, "updated_at": f"2026-12-02T00:00:{number % 60:02d}.000Z"}], state=None)
            checkpoint = after_poll(after_part(after_batch(checkpoint, batch, cursor_field="updated_at")))
        return checkpoint

    few, many = polls(10), polls(10_000)
    assert many.polls == 10_000 and many.next_part == 10_001
    assert size(many) <= size(few) * 1.1


def test_the_same_size_after_20_retries():
    checkpoint = batches(5)
    sizes = []
    for attempt in range(20):
        checkpoint = resumed(after_part(after_batch(checkpoint, Batch(rows=[{"id": attempt}], state={"after": attempt}),
                                                    cursor_field=None)),
                             f"task_01M8F5WN6MGNT4KP4MPE6TDY{attempt:02d}", incremental=False)
        sizes.append(size(checkpoint))
    assert checkpoint.earlier == {"task_id": "task_01M8F5WN6MGNT4KP4MPE6TDY19", "parts": 1}
    assert max(sizes) - min(sizes) <= 2


def test_checkpoints_stored_before_the_change_still_read():
    legacy = {"state": {"page": 3}, "next_part": 3, "rows": 20, "part_rows": [10, 10],
              "inherited": [{"key": "ds/default/task_a/part-00001.jsonl.gz", "rows": 5}]}
    checkpoint = Checkpoint.from_stored(legacy)
    assert (checkpoint.state, checkpoint.rows, list(checkpoint.own_parts)) == ({"page": 3}, 20, [1, 2])
    assert checkpoint.inherited == ({"key": "ds/default/task_a/part-00001.jsonl.gz", "rows": 5},)
