"""``synchub``: the SyncHub command line (tasks, data sources, interfaces, live progress)."""
