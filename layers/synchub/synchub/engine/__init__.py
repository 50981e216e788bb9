"""The engine: runs a task's sync from its message, batch by batch, checkpointing as it goes."""
