"""A table's name: stable, documented, and one Glue accepts (lowercase letters, digits and ``_``)."""

from __future__ import annotations

import re

# Glue table names: lowercase letters, digits and underscores, at most 255 characters.
TABLE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")


def glue_name(text: str) -> str:
    """``text`` as a Glue name: lowercased, every other character as ``_``."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())[:255]


def table_name(data_source_id: str, interface_id: str | None, chosen: str | None = None) -> str:
    """The table a (data source, interface) lands in: the name the destination chose, else the data source's
    id for its default stream and ``{data_source}__{interface}`` for an interface."""
    if chosen:
        return chosen
    if not interface_id or interface_id == "default":
        return glue_name(data_source_id)
    return glue_name(f"{data_source_id}__{interface_id}")
