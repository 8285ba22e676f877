"""Adapters: workflow's tables in PostgreSQL, in-memory fakes of the same ports, clocks."""
