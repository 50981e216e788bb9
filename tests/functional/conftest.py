"""Functional tests run under the deployed outbound policy: public addresses only. A test whose stand-in
servers listen on this machine is marked ``local_destinations`` and runs under ``make run``'s policy
(loopback and private addresses allowed), as a source in the operator's VPC would with its network listed."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def outbound_policy(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    from synchub.settings import get_settings

    if request.node.get_closest_marker("local_destinations"):
        monkeypatch.setenv("ALLOW_LOCAL_DESTINATIONS", "true")
    else:
        monkeypatch.delenv("ALLOW_LOCAL_DESTINATIONS", raising=False)
    get_settings.cache_clear()
