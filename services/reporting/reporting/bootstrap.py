"""The one place that builds reporting's concrete adapters and wires them into the app."""

from __future__ import annotations

from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from fastapi import FastAPI

from reporting.settings import ReportingSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the reporting app; uvicorn runs it, tests mount it."""
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(settings, migrations_package="reporting")
    return create_service_app(runtime, title="Reporting: metrics, the citizen-service index, live events")
