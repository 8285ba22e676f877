"""Thin entry points: Kafka consumer handlers and HTTP routes."""
