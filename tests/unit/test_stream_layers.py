"""A task's stream: the data source's params_config, its interface over it, the task's parameters over both."""

from __future__ import annotations

from synchub.connectors.registry import stream_for


def test_a_layer_naming_what_to_read_one_way_replaces_the_other_way_below_it():
    redis = {"type": "redis", "params_config": {"stream_key": "orders"}}
    keys = stream_for(redis, {"interface_id": "customers"}, {"key_pattern": "customer:*"})
    assert keys.key_pattern == "customer:*" and keys.stream_key is None and keys.interface_id == "customers"
    table = stream_for(
        {"type": "postgresql", "params_config": {"query": "SELECT 1 AS id"}}, {"config": {"table_name": "orders"}}
    )
    assert table.table_name == "orders" and table.query is None
    assert stream_for(redis, {}).stream_key == "orders"  # nothing above: the source's own


def test_an_interface_answer_shows_every_field_a_request_can_set():
    from synchub.models.interfaces import InterfaceBody
    from synchub.models.responses import Interface

    assert set(InterfaceBody.model_fields) <= set(Interface.model_fields)
