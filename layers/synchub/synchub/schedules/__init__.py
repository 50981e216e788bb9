"""Schedules: tasks created by themselves at the times an EventBridge Scheduler expression gives."""
