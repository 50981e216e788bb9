"""Statistics: time-bucketed, sharded aggregate counters kept in step with the tasks."""
