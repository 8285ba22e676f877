"""Intake: the REST API the national portal calls."""
