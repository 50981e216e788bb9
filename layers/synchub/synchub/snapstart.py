"""Lambda SnapStart (template parameter ApiSnapStart): a function restored from a snapshot shares everything
its init made with every other restore of that snapshot. After a restore each one reseeds ``random`` and
drops its cached AWS clients (their connections were made before the snapshot, and may be long closed). Ids
are ULIDs drawn from ``os.urandom`` at each call, and no idempotency or token cache is made at init.

The runtime's ``snapshot_restore_py`` exists only on Lambda: elsewhere nothing is registered."""

from __future__ import annotations

import random

from synchub import aws


def after_restore() -> None:
    """What a restored function must not share with the other restores of its snapshot."""
    random.seed()
    aws.reset_clients()


def register() -> bool:
    """Register :func:`after_restore` with the runtime; False where there is no SnapStart runtime."""
    try:
        from snapshot_restore_py import register_after_restore  # noqa: PLC0415 - only Lambda's runtime has it
    except ImportError:
        return False
    register_after_restore(after_restore)
    return True
