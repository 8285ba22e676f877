"""Run a service's app factory under uvicorn on the port its settings name."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from eventkit.logging import configure_logging
from eventkit.settings import ServiceSettings


def serve(settings: ServiceSettings, app_factory: Callable[[ServiceSettings], FastAPI]) -> None:
    """Configure logging and serve until SIGINT/SIGTERM (uvicorn's graceful shutdown)."""
    configure_logging(settings.service_name, level=settings.log_level, fmt=settings.log_format)
    uvicorn.run(
        app_factory(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=10,
    )
