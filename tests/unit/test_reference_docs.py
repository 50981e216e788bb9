"""The reference's table of configuration keys is the one the API enforces (models.config_keys)."""

from __future__ import annotations

import re

from synchub.models.config_keys import CONNECTION_KEYS, STREAM_COMMON, STREAM_KEYS
from tests.conftest import ROOT


def test_the_configuration_keys_table_lists_what_each_type_takes():
    reference = (ROOT / "docs" / "reference.md").read_text()
    table = reference[reference.index("## Configuration keys") :]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = tuple(set(re.findall(r"`(\w+)`", cell)) for cell in cells[1:])
    assert rows == {
        kind: (set(CONNECTION_KEYS[kind]), set(STREAM_KEYS[kind] - STREAM_COMMON)) for kind in CONNECTION_KEYS
    }
    assert all(f"`{key}`" in table for key in STREAM_COMMON)
