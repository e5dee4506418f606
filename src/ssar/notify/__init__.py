"""Notifications: messages are queued in the outbox inside the unit of work, sent after commit."""
