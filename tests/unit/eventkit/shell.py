"""A service app built by the shared HTTP shell around a test router, never started (nothing
connects: the database URL names a port nobody listens on), and a client that calls it in-process."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI

from eventkit.http import create_service_app
from eventkit.runtime import ServiceRuntime
from eventkit.settings import ServiceSettings

NOWHERE = "postgresql+asyncpg://u@127.0.0.1:1/x"


def shell_app(router: APIRouter) -> FastAPI:
    settings = ServiceSettings(database_url=NOWHERE, kafka_bootstrap_servers="127.0.0.1:1")
    return create_service_app(ServiceRuntime(settings, migrations_package="eventkit"), title="t", routers=[router])


def app_client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)  # an error that escaped the app is raised in the test
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


def shell_client(router: APIRouter) -> httpx.AsyncClient:
    return app_client(shell_app(router))
