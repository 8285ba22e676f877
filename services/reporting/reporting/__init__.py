"""Reporting: metrics, the citizen-service index, live events."""
