"""A realtime sync under the local stack, committing a poll cycle after another to its lake table while rows
keep arriving: snapshots and data files stay within what maintenance keeps, orphan files go once past the
safety window, and every row lands once (``python -m local.table_check`` runs the same for 200 cycles)."""

from __future__ import annotations

import pytest

from local.table_check import run_check
from synchub.tables.maintenance import FILES_MAX, SNAPSHOTS_KEPT

pytestmark = pytest.mark.e2e


def test_a_realtime_sync_s_table_stays_bounded_and_exact():
    result = run_check(cycles=FILES_MAX + 2, orphan_after=10.0)
    assert result["problems"] == [], result
    assert result["cycles"] >= FILES_MAX + 2
    # each cycle adds at least one data file: more cycles than FILES_MAX and no more files than it is compaction
    assert result["data_files"] <= FILES_MAX and result["snapshots"] <= SNAPSHOTS_KEPT + 2, result
