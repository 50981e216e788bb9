"""Live status and notifications: the task change feed, WebSocket pushes, state-change events, webhooks."""
