"""Sync tasks: their records, state machine and leases, the API's use cases, and maintenance."""
