"""Shared runtime of every service: event store, outbox relay, inbox consumer, settings, logging.

It holds no business rules: services bring their own aggregates, handlers and read models.
"""
