"""The one place that builds workflow's concrete adapters and wires them into the app."""

from __future__ import annotations

from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from fastapi import FastAPI

from workflow.settings import WorkflowSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the workflow app; uvicorn runs it, tests mount it."""
    settings = settings or WorkflowSettings()
    runtime = ServiceRuntime(settings, migrations_package="workflow")
    return create_service_app(runtime, title="Workflow: dossier lifecycle, deadlines, officials' tasks, sagas")
