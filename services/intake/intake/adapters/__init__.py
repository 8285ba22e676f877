"""Intake's adapters: its tables in PostgreSQL (and in-memory twins for unit tests)."""
