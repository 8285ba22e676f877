"""Thin entry points: HTTP routes and Kafka consumers turn input into commands and call handlers."""
