"""Handlers: load aggregates, decide through the domain, write events, outbox and read models in one
unit of work."""
