"""Operator tooling for deploy/: the process catalogue, facts read from the settings classes, the
generated configuration reference and the compose stack's topic-creation step. Run from the
repository root (``python -m deploy.tools.<module>``); nothing here is imported by a service."""
