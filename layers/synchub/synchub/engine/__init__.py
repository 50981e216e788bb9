"""SyncEngine: hands tasks to the sync queue and (in the engine function) executes them."""

from synchub.engine.submit import SyncEngine

__all__ = ["SyncEngine"]
