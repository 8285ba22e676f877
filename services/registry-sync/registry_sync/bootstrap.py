"""The one place that builds registry-sync's concrete adapters and wires them into the app."""

from __future__ import annotations

from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings
from fastapi import FastAPI

from registry_sync.settings import RegistrySyncSettings


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """Build the registry-sync app; uvicorn runs it, tests mount it."""
    settings = settings or RegistrySyncSettings()
    runtime = ServiceRuntime(settings, migrations_package="registry_sync")
    return create_service_app(runtime, title="Registry sync: national registries and portal synchronisation")
