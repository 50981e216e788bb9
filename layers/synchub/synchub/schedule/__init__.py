"""ScheduleService: task records and their state machine; DataSourceService: the source registry."""
