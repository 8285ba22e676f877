"""Thin entrypoints: HTTP routes, Kafka handlers, the timer poller."""
