"""The one place that builds intake's concrete adapters and wires them into the app."""

from __future__ import annotations

from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from fastapi import FastAPI

from intake.settings import IntakeSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the intake app; uvicorn runs it, tests mount it."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(settings, migrations_package="intake")
    return create_service_app(runtime, title="Intake: the REST API the national portal calls")
