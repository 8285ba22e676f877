"""Intake's business rules: pure Python, no web framework, database or broker imports."""
