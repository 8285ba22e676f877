"""Intake's handlers: plain async functions taking a command or event and their dependencies."""
