"""SnapStart's after-restore hooks: each restore of a snapshot reseeds ``random`` and drops the AWS clients
made before the snapshot; the shared resolver registers them where the runtime offers SnapStart."""

from __future__ import annotations

import random
import sys
import types

from synchub import aws, snapstart


def test_after_restore_reseeds_random_and_drops_cached_clients():
    random.seed(7)
    snapshot_state = random.getstate()  # what every restore of one snapshot would start from
    client = aws.client("s3")
    snapstart.after_restore()
    assert random.getstate() != snapshot_state
    assert aws.client("s3") is not client


def test_the_resolver_registers_the_hook_where_the_runtime_offers_it(monkeypatch):
    registered = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_after_restore = registered.append
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)
    from synchub.api.resolver import create_app

    create_app()
    assert registered == [snapstart.after_restore]


def test_without_the_runtime_nothing_is_registered(monkeypatch):
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as off Lambda
    assert snapstart.register() is False
